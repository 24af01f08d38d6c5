"""Share links: the URL always says what is on screen, and opening it brings the same screen back.

The URL carries the scenario (if one is loaded), the free-form requests sent since (`do`, see
`strategies.share`), the request on the diagram when it is not the latest (`show`), the step (`step`)
and presenter mode (`present`). `sync` writes it at the end of every run and every tick of the panel;
`from_url` acts only on a URL the page did not write itself (a pasted or opened link): it resets the
page's lab, loads the scenario, replays the requests and goes to the step. A link with a bad part says
which and why, and changes nothing.
"""

from __future__ import annotations

from urllib.parse import urlencode

import streamlit as st

from strategies.narration import shorten
from strategies.scenarios import SCENARIOS
from strategies.share import Action, InvalidLink, encode, parse

from . import clients, playback, scenarios, share
from .learner import flash, learner, safely
from .narration import plain
from .text import PAGE_FILES, say

LINK_PARTS = ("scenario", "do", "show", "step")
DEFAULT_ORIGIN = "http://localhost:8501"


def written_key(pattern: str) -> str:
    return f"{pattern}:url-written"


def signature(params: dict[str, object]) -> tuple:
    """What a URL says about the lab (presenter mode aside), comparable across runs."""
    do = params.get("do") or ()
    return (params.get("scenario") or "", tuple([do] if isinstance(do, str) else do),
            params.get("show") or "", params.get("step") or "")


def url_params() -> dict[str, object]:
    q = st.query_params
    return {"scenario": q.get("scenario"), "do": q.get_all("do"), "show": q.get("show"), "step": q.get("step")}


def from_url(pattern: str) -> None:
    """Open the link in the URL, once (a rerun of the URL this page wrote itself does nothing)."""
    params = url_params()
    if not params["scenario"] and not params["do"]:
        return
    seen = signature(params)
    if st.session_state.get(written_key(pattern)) == seen:
        return
    st.session_state[written_key(pattern)] = seen
    open_link(pattern, params)


@safely
def open_link(pattern: str, params: dict) -> None:
    slug, items, show_text, step_text = params["scenario"], params["do"], params["show"], params["step"]
    try:
        if slug and slug in SCENARIOS and SCENARIOS[slug].pattern != pattern:
            raise InvalidLink(say("scenario-other-page", title=SCENARIOS[slug].title,
                                  page=f"/{PAGE_FILES[SCENARIOS[slug].pattern]}"))
        if slug and slug not in SCENARIOS:
            raise InvalidLink(say("scenario-unknown", slug=shorten(slug)))
        actions = parse(items)
        settings = check_settings(pattern, actions)
        step = whole_number(step_text, "step")
        show = whole_number(show_text, "show")
    except InvalidLink as err:
        flash(plain(say("link-bad", reason=err)), "warning")    # it may quote the link: shown literally
        return
    lab = learner().lab(pattern)
    clients.forget(pattern)
    if slug:
        scenarios.load(pattern, slug, share.PAGE_SETTINGS.get(pattern, ()), step if not actions else None)
    else:
        lab.reset(restart_clock=True)
        for setting in share.PAGE_SETTINGS.get(pattern, ()):
            setting.remember(pattern, setting.default)
            setting.apply(lab, setting.default)
        learner().follow_wall_clock(lab, catch_up=False)
        share.start(pattern, None)
        st.session_state.pop(playback.key(pattern), None)
    if not actions:
        return
    last = None
    for action in actions:
        if action.kind == "s":
            setting, value = settings[action.key], settings[action.key, action.value]
            setting.remember(pattern, value)
            setting.apply(lab, value)
            continue
        traces = share.run(pattern, action, lambda action=action: share.perform(lab, action))
        last = traces[-1] if traces else last
    if show is not None:
        last = lab.request(show)
        if last is None:
            flash(say("link-show-missing", number=show), "info")
    if last is None:
        return
    playback.play(pattern, last, playing=False)
    if step is not None:
        playback.go_to(pattern, step)
        shown = playback.playback(pattern).frame
        if shown != step:
            flash(say("link-step-clamped", asked=step, total=len(last.steps), shown=shown), "info")


def check_settings(pattern: str, actions: list[Action]) -> dict:
    """The page's Setting for every name the link sets, and each value typed; InvalidLink otherwise."""
    known = {setting.name: setting for setting in share.PAGE_SETTINGS.get(pattern, ())}
    found: dict = {}
    for number, action in enumerate(actions, start=1):
        if action.kind == "f" and pattern != "write-behind":
            raise InvalidLink(say("link-no-flush", number=number))
        if action.kind != "s":
            continue
        setting = known.get(action.key)
        if setting is None:
            raise InvalidLink(say("link-setting-unknown", number=number, setting=shorten(action.key)))
        try:
            value = share.decode_setting(setting.default, action.value, setting.options)
        except ValueError:
            raise InvalidLink(say("link-setting-bad", number=number, setting=setting.label,
                                  value=shorten(action.value))) from None
        found[action.key] = setting
        found[action.key, action.value] = value
    return found


def whole_number(text: str | None, part: str) -> int | None:
    if not text:
        return None
    if not text.isdigit() or not 1 <= int(text) <= 100_000:
        raise InvalidLink(say("link-number-bad", part=part, value=shorten(text)))
    return int(text)


def wanted(pattern: str) -> dict[str, object]:
    """The URL parameters that say what this page shows now."""
    pb = playback.playback(pattern)
    record = share.recording(pattern)
    params: dict[str, object] = {}
    if record.base:
        params["scenario"] = record.base
    if record.shareable and record.actions:
        params["do"] = [encode(action) for action in record.actions]
    if pb is not None and record.shareable:
        if pb.scenario is None and len(pb.scenes) == 1 and len(pb.scenes[0].numbers) == 1:
            lab = learner().lab(pattern)
            number = pb.scenes[0].numbers[0]
            if lab.log and number != next(reversed(lab.log)):
                params["show"] = str(number)
        if params:
            params["step"] = str(pb.frame)
    if presenting():
        params["present"] = "1"
    return params


def sync(pattern: str) -> None:
    """Make the URL say what is on screen: when anything changed, the whole query string in one message
    (each message about the URL is one more update for the browser to handle; a click used to send two)."""
    params = wanted(pattern)
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
    st.session_state[written_key(pattern)] = signature(params)
    st.session_state["present-in-url"] = params.get("present")


def presenting() -> bool:
    """Presenter mode: from `?present=1` when a link says so, else the toggle's last word."""
    asked = st.query_params.get("present")
    if asked != st.session_state.get("present-in-url"):
        st.session_state["present"] = asked == "1"
        st.session_state["present-in-url"] = asked
    return bool(st.session_state.get("present"))


def link(pattern: str) -> str:
    """The full URL of what is on screen, to copy."""
    origin = (st.context.url or DEFAULT_ORIGIN).split("?")[0].rstrip("/")
    query = urlencode({k: v for k, v in wanted(pattern).items() if k != "present"}, doseq=True)
    return f"{origin}/{PAGE_FILES[pattern]}" + (f"?{query}" if query else "")


def share_section(pattern: str) -> None:
    """The link to what is on screen, to copy (drawn in the page's More menu)."""
    record = share.recording(pattern)
    if record.two_clients:
        st.info(say("share-two-clients"))
    elif record.overflow:
        st.info(say("share-too-long"))
    st.caption(say("share-how"))
    st.code(link(pattern), language=None, wrap_lines=True)
