"""The Scenario picker, and loading a scenario (also from a link: `links.py`).

Loading a scenario resets this page's lab, runs the scenario's script against it (real requests, as
always), and puts the settings it used into the page's own settings, so the popover shows them and the
requests a learner sends afterwards behave the same way.
"""

from __future__ import annotations

import streamlit as st

from strategies.narration import shorten
from strategies.scenario import run_scenario
from strategies.scenarios import SCENARIOS, for_pattern

from . import clients, playback, share
from .controls import FAULTS, TTL, Setting
from .learner import flash, learner, safely
from .text import say

FREE = ""


def choice_key(pattern: str) -> str:
    return f"{pattern}:scenario-choice"


@safely
def load(pattern: str, slug: str, settings: tuple[Setting, ...], step: int | None = None) -> None:
    scenario = SCENARIOS.get(slug)
    if scenario is None or scenario.pattern != pattern:
        flash(say("scenario-unknown", slug=shorten(slug)), "warning")
        return
    session = learner()
    lab = session.lab(pattern)
    clients.forget(pattern)
    run = run_scenario(scenario, lab)
    session.follow_wall_clock(lab, catch_up=False)     # the scenario's clock starts now, not at the last click
    remember_knobs(pattern, settings, scenario.knobs)
    pb = playback.Playback(run.scenes, 1, playing=False, scenario=slug, summary=run.what_you_saw)
    if step is not None:
        pb.frame = min(max(step, 1), pb.total)
        if pb.frame != step:
            flash(say("scenario-step-clamped", asked=step, total=pb.total, shown=pb.frame), "info")
    playback.show(pattern, pb)
    share.start(pattern, slug)
    st.session_state[choice_key(pattern)] = slug
    if not st.session_state.get("present"):      # on a slide the toast would cover the scenario's caption
        st.toast(say("scenario-loaded"))


def own_settings_key(pattern: str) -> str:
    return f"{pattern}:settings-before-scenario"


def remember_knobs(pattern: str, settings: tuple[Setting, ...], knobs: dict) -> None:
    """The scenario's knobs become the page's settings; its faults are off (the script restored them). The
    learner's own settings are kept aside (from before the first scenario), for free play to give back."""
    st.session_state.setdefault(own_settings_key(pattern),
                                {setting.name: setting.value(pattern) for setting in (TTL, *settings)})
    for setting in (TTL, *settings):
        if setting.knob in knobs:
            value = knobs[setting.knob]
            setting.remember(pattern, 0 if value is None else value)
    for setting in FAULTS:
        setting.remember(pattern, setting.default)


def picked(pattern: str, settings: tuple[Setting, ...]) -> None:
    slug = st.session_state.get(choice_key(pattern)) or FREE
    if slug == FREE:
        free_play(pattern, settings)
        return
    load(pattern, slug, settings)


def picked_settings(pattern: str, settings: tuple[Setting, ...]) -> None:
    """Back from a scenario: the settings the learner had before it, not the scenario's."""
    own = st.session_state.pop(own_settings_key(pattern), None)
    for setting in (TTL, *settings):
        if own is not None and setting.name in own:
            setting.remember(pattern, own[setting.name])


@safely
def free_play(pattern: str, settings: tuple[Setting, ...] = ()) -> None:
    """Leave the scenario: this page's lab starts afresh with the learner's own settings back, and so does
    its link."""
    picked_settings(pattern, settings)
    session = learner()
    lab = session.lab(pattern)
    clients.forget(pattern)
    lab.reset(restart_clock=True)
    session.follow_wall_clock(lab, catch_up=False)
    st.session_state.pop(playback.key(pattern), None)
    share.start(pattern, None)
    st.toast(say("free-play"))


def picker(pattern: str, settings: tuple[Setting, ...], *, labelled: bool = True) -> None:
    """The Scenario picker; presenting, without its visible label (a slide's row is one line high)."""
    options = [FREE] + [scenario.slug for scenario in for_pattern(pattern)]
    if st.session_state.get(choice_key(pattern)) not in options:
        st.session_state[choice_key(pattern)] = FREE
    st.selectbox("Scenario", options, key=choice_key(pattern), on_change=picked, args=(pattern, settings),
                 format_func=lambda slug: SCENARIOS[slug].title if slug else say("scenario-free"),
                 help=say("scenario-help"), width=230, label_visibility="visible" if labelled else "collapsed")
