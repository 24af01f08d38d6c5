"""Share links, end to end: what a page records of the learner's requests, the URL that says what is on screen,
and opening a link, which brings the same screen back. (What a link's text means is `strategies.share`.)

Every Read, Write, action button, Crash and fast-forward a learner sends on a page is recorded (`record`) as
an action, preceded by the settings that changed since the last one and the simulated time that passed (the
wall clock between clicks), so a link replays the same requests on the same settings at the same moments: the
same diagram, tables and step counter. A guided scenario is the link's base: requests sent after it are
recorded on top of it. Two-client requests are not carried by links (yet): the page says so.

The URL carries the scenario (if one is loaded), the requests sent since (`do`), the request on the diagram
when it is not the latest (`show`), the step (`step`) and presenter mode (`present`). `sync` writes it at the
end of every run and every tick of the panel; `from_url` acts only on a URL the page did not write itself (a
pasted or opened link): it resets the page's lab, loads the scenario, replays the requests and goes to the
step. A link with a bad part says which and why, and changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar
from urllib.parse import urlencode

import streamlit as st

from strategies import PATTERNS, Lab
from strategies.knobs import ACTIONS, Knob
from strategies.narration import shorten
from strategies.share import MAX_SECONDS, Action, InvalidLink, encode, fits, parse, perform

from . import playback, scenarios
from .learner import flash, learner, safely
from .narration import plain
from .state import PageState, Recording
from .text import page_file, say

T = TypeVar("T")
LINK_PARTS = ("scenario", "do", "show", "step")
DEFAULT_ORIGIN = "http://localhost:8501"


# ---- what a page records ---------------------------------------------------------------------------------
def recording(page: PageState) -> Recording:
    """This page's recording; the first one starts from the knobs' defaults, as a link's replay does."""
    return page.recording if page.recording is not None else start(page, None)


def start(page: PageState, base: str | None) -> Recording:
    """A fresh recording, from a reset lab (the defaults are its starting point) or from a scenario just
    loaded (the settings it put in place are)."""
    lab = learner().lab(page.pattern)
    settings = current_settings(page, lab) if base else {knob.name: knob.default for knob in lab.page_knobs()}
    page.recording = Recording(base=base, settings=settings, mark=lab.clock.now())
    return page.recording


def current_settings(page: PageState, lab: Lab) -> dict[str, object]:
    return {knob.name: page.value(knob) for knob in lab.page_knobs()}


def two_clients_used(page: PageState) -> None:
    recording(page).two_clients = True


def record(page: PageState, action: Action, run: Callable[[], T]) -> T:
    """Perform a free-form request (`run`) and record it (with the time and settings before it) once it
    returned."""
    lab = learner().lab(page.pattern)
    record = recording(page)
    waited = lab.clock.now() - record.mark
    before = current_settings(page, lab)
    result = run()
    if record.shareable:
        added: list[Action] = []
        if waited >= 0.05:
            # A day is longer than any TTL, delay or lease the lab allows: more says nothing more.
            added.append(Action("t", seconds=round(min(waited, MAX_SECONDS), 1)))
        knobs = {knob.name: knob for knob in lab.page_knobs()}
        added += [Action("s", key=name, value=knobs[name].encode(value))
                  for name, value in before.items() if record.settings.get(name) != value]
        added.append(action)
        if fits(record.actions + added):
            record.actions += added
            record.settings = before
        else:
            record.overflow = True
    record.mark = lab.clock.now()
    return result


# ---- opening a link ----------------------------------------------------------------------------------
def signature(params: dict[str, object]) -> tuple:
    """What a URL says about the lab (presenter mode aside), comparable across runs."""
    do = params.get("do") or ()
    return (params.get("scenario") or "", tuple([do] if isinstance(do, str) else do),
            params.get("show") or "", params.get("step") or "")


def url_params() -> dict[str, object]:
    q = st.query_params
    return {"scenario": q.get("scenario"), "do": q.get_all("do"), "show": q.get("show"), "step": q.get("step")}


def from_url(page: PageState) -> None:
    """Open the link in the URL, once (a rerun of the URL this page wrote itself does nothing)."""
    params = url_params()
    if not params["scenario"] and not params["do"]:
        return
    seen = signature(params)
    if page.url_written == seen:
        return
    page.url_written = seen
    open_link(page, params)


@safely
def open_link(page: PageState, params: dict) -> None:
    slug, items, show_text, step_text = params["scenario"], params["do"], params["show"], params["step"]
    lab = learner().lab(page.pattern)
    try:
        refused = scenarios.why_not(page.pattern, slug, lab) if slug else None
        if refused is not None:            # another page's, none at all, or one this lab's cache cannot run
            raise InvalidLink(refused)
        actions = parse(items)
        settings = check_actions(lab, actions)
        step = whole_number(step_text, "step")
        show = whole_number(show_text, "show")
    except InvalidLink as err:
        flash(plain(say("link-bad", reason=err)), "warning")    # it may quote the link: shown literally
        return
    page.forget_requests()
    if slug:
        scenarios.load(page, slug, step if not actions else None)
    else:
        lab.reset(restart_clock=True)
        for knob in lab.page_knobs():
            page.remember(knob, knob.default)
            knob.apply(lab, knob.default)
        learner().follow_wall_clock(lab, catch_up=False)
        start(page, None)
    if not actions:
        return
    last = None
    for action in actions:
        if action.kind == "s":
            knob, value = settings[action.key], settings[action.key, action.value]
            page.remember(knob, value)
            knob.apply(lab, value)
            continue
        traces = record(page, action, lambda action=action: perform(lab, action))
        last = traces[-1] if traces else last
    sent = [action.client for action in actions if action.kind in ("r", "w")]
    if sent:
        page.client = sent[-1]          # "Send via" (on a lab of several app instances) says who sent the last one
    if show is not None:
        last = lab.request(show)
        if last is None:
            flash(say("link-show-missing", number=show), "info")
    if last is None:
        return
    playback.play(page, last, playing=False)
    if step is not None:
        playback.go_to(page, step)
        shown = playback.playback(page).frame
        if shown != step:
            flash(say("link-step-clamped", asked=step, total=len(last.steps), shown=shown), "info")


def check_actions(lab: Lab, actions: list[Action]) -> dict:
    """The lab's Knob for every name the link sets, and each value typed; InvalidLink on a knob the lab does
    not have, a value it cannot take, or a button this page does not have."""
    known: dict[str, Knob] = {knob.name: knob for knob in lab.page_knobs()}
    buttons = {action.kind for action in lab.page_actions()}
    found: dict = {}
    for number, action in enumerate(actions, start=1):
        if action.kind in ACTIONS and action.kind not in buttons:
            raise InvalidLink(say("link-action-elsewhere", number=number, action=ACTIONS[action.kind].label,
                                  pages=" or ".join(pages_with(action.kind))))
        if action.kind != "s":
            continue
        knob = known.get(action.key)
        if knob is None:
            raise InvalidLink(say("link-setting-unknown", number=number, setting=shorten(action.key)))
        try:
            value = knob.decode(action.value)
        except ValueError:
            raise InvalidLink(say("link-setting-bad", number=number, setting=knob.label,
                                  value=shorten(action.value))) from None
        found[action.key] = knob
        found[action.key, action.value] = value
    return found


def pages_with(kind: str) -> list[str]:
    """The patterns whose page has the button of this action."""
    return [name for name in PATTERNS if any(action.kind == kind for action in learner().lab(name).page_actions())]


def whole_number(text: str | None, part: str) -> int | None:
    if not text:
        return None
    if not text.isdigit() or not 1 <= int(text) <= 100_000:
        raise InvalidLink(say("link-number-bad", part=part, value=shorten(text)))
    return int(text)


# ---- the URL of what is on screen ------------------------------------------------------------------------
def wanted(page: PageState) -> dict[str, object]:
    """The URL parameters that say what this page shows now."""
    pb = playback.playback(page)
    record = recording(page)
    params: dict[str, object] = {}
    if record.base:
        params["scenario"] = record.base
    if record.shareable and record.actions:
        params["do"] = [encode(action) for action in record.actions]
    if pb is not None and record.shareable:
        if pb.scenario is None and len(pb.scenes) == 1 and len(pb.scenes[0].numbers) == 1:
            lab = learner().lab(page.pattern)
            number = pb.scenes[0].numbers[0]
            if lab.log and number != next(reversed(lab.log)):
                params["show"] = str(number)
        if params:
            params["step"] = str(pb.frame)
    if presenting():
        params["present"] = "1"
    return params


def sync(page: PageState) -> None:
    """Make the URL say what is on screen: when anything changed, the whole query string in one message
    (each message about the URL is one more update for the browser to handle; a click used to send two)."""
    params = wanted(page)
    current = {**url_params(), "present": st.query_params.get("present")}
    ours = (*LINK_PARTS, "present")

    def differs(name: str) -> bool:
        value, have = params.get(name), current.get(name)
        if name == "do":
            return list(value or []) != list(have or [])
        return value != have and bool(value or have)

    if any(differs(name) for name in ours):
        others = {name: st.query_params.get_all(name) for name in st.query_params if name not in ours}
        st.query_params.from_dict(others | {name: params[name] for name in ours if params.get(name)})
    page.url_written = signature(params)
    st.session_state["present-in-url"] = params.get("present")


def presenting() -> bool:
    """Presenter mode: from `?present=1` when a link says so, else the toggle's last word."""
    asked = st.query_params.get("present")
    if asked != st.session_state.get("present-in-url"):
        st.session_state["present"] = asked == "1"
        st.session_state["present-in-url"] = asked
    return bool(st.session_state.get("present"))


def link(page: PageState) -> str:
    """The full URL of what is on screen, to copy."""
    origin = (st.context.url or DEFAULT_ORIGIN).split("?")[0].rstrip("/")
    query = urlencode({k: v for k, v in wanted(page).items() if k != "present"}, doseq=True)
    return f"{origin}/{page_file(page.pattern)}" + (f"?{query}" if query else "")


def share_section(page: PageState) -> None:
    """The link to what is on screen, to copy (drawn in the page's More menu)."""
    record = recording(page)
    if record.two_clients:
        st.info(say("share-two-clients"))
    elif record.overflow:
        st.info(say("share-too-long"))
    st.caption(say("share-how"))
    st.code(link(page), language=None, wrap_lines=True)
