"""Settings and faults: every knob the lab declares (`Lab.knob_groups`), drawn the same way, Crash and Reset.

A knob's value lives in the page's state (`PageState.settings`), not in its widget's key, so it survives
the runs in which its widget is not drawn (the More menu is closed); it is applied to the lab on every run,
and the widget, when drawn, starts from it. A pattern or part that declares a knob gets its widget here,
with no page edit, under the heading that part declares: a teacher finds a knob under the feature it belongs to.
"""

from __future__ import annotations

import streamlit as st

from strategies import Lab
from strategies.knobs import Knob, KnobGroup
from strategies.share import Action

from .learner import learner, safely
from .sending import send
from .state import PageState, visited
from .text import say


def apply_settings(page: PageState, lab: Lab) -> None:
    """Every knob's page value onto the lab: cheap, and done on every run."""
    for knob in lab.page_knobs():
        knob.apply(lab, page.value(knob))


def widget_arguments(knob: Knob) -> tuple[object, dict]:
    """The Streamlit widget that draws a knob of this kind, and its own arguments (bounds, choices)."""
    if knob.kind == "toggle":
        return st.toggle, {}
    if knob.kind == "number":
        bounds = {"min_value": knob.low, "max_value": knob.high, "step": knob.step}
        return st.number_input, {name: value for name, value in bounds.items() if value is not None}
    if knob.kind == "choice":
        return st.radio, {"options": list(knob.choices), "horizontal": True}
    return st.select_slider, {"options": list(knob.choices)}


def keep_value(page: PageState, name: str) -> None:
    page.settings[name] = st.session_state[page.key(f"{name}:widget")]


def draw(page: PageState, lab: Lab, knob: Knob) -> None:
    widget_key = page.key(f"{knob.name}:widget")
    if widget_key not in st.session_state:
        st.session_state[widget_key] = page.value(knob)
    widget, arguments = widget_arguments(knob)
    widget(knob.label, key=widget_key, help=say(knob.help) if knob.help else None, on_change=keep_value,
           args=(page, knob.name), disabled=knob.is_locked(lab), **arguments)


def settings_and_faults(page: PageState, lab: Lab) -> None:
    """The lab's settings grouped by who declares them (the pattern, then each part, under its heading), then its
    faults, Crash the cache and Reset my lab."""
    groups = lab.knob_groups()
    with st.container(key=page.box("knob-groups")):
        for first in range(0, len(groups), 2):           # two groups a row: the menu stays about a screen high
            for column, group in zip(st.columns(2, gap="medium"), groups[first:first + 2], strict=False):
                with column:
                    knob_group(page, lab, group)
    with st.container(horizontal=True):
        st.button("Crash the cache", key=page.key("crash"), icon=":material/bolt:", help=say("crash-help"),
                  on_click=crash, args=(page,))
        st.button("Reset my lab", key=page.key("reset"), icon=":material/restart_alt:", help=say("reset-help"),
                  on_click=reset_lab)
    st.caption(say("backend", backend=learner().backend))


def knob_group(page: PageState, lab: Lab, group: KnobGroup) -> None:
    """One group's heading, its sentence if it has one, and its knobs in order (switching faults side by side)."""
    st.subheader(say(group.heading, title=lab.title), anchor=False)
    if group.note:
        st.caption(say(group.note))
    switches = [knob for knob in group.knobs if knob.fault and knob.kind == "toggle"]
    if switches:
        with st.container(horizontal=True, vertical_alignment="center"):
            for knob in switches:
                draw(page, lab, knob)
    for knob in group.knobs:
        if knob not in switches:
            draw(page, lab, knob)


@safely
def crash(page: PageState) -> None:
    send(page, Action("x"))


@safely
def reset_lab() -> None:
    """Every page's lab back to its seed, with its faults off and its playback, requests in flight and link
    forgotten; the learner's preferences stay."""
    session = learner()
    session.reset()
    for page in visited():
        for knob in session.lab(page.pattern).page_knobs():
            if knob.fault:
                page.settings.pop(knob.name, None)
                st.session_state.pop(page.key(f"{knob.name}:widget"), None)
        page.forget_requests()
        st.session_state.pop(page.key("scenario-choice"), None)
    st.toast(say("reset-done"))
