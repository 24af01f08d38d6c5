"""Find the race's share links: the URL says which search is on screen and at which step, and opening it brings the
same screen back.

    /find_the_race?read=GET,SELECT,SET-TTL&write=UPDATE,DEL&clients=rw&fault=db:B1&step=5&present=1

`sync` writes it at the end of every run; `from_url` acts only on a URL the page did not write itself (a pasted or
opened link): it checks every part first and, if one is wrong, says which and changes nothing; otherwise it puts
the paths, clients and fault into the widgets, runs the search and goes to the step. Presenter mode (`present=1`)
is read from the URL only, so a link always opens as it was shared.
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlencode, urlsplit

import streamlit as st

from strategies.narration import shorten
from strategies.races import CLIENTS, Fault, Race
from strategies.races.cards import say

PARTS = ("read", "write", "clients", "fault", "step")
WRITTEN = "race:url-written"
PAGE = "find_the_race"
DEFAULT_ORIGIN = "http://localhost:8501"
MAX_STEP = 100_000


class BadLink(ValueError):
    """A part of the link that cannot be used; the message says which and why."""


def presenting() -> bool:
    return st.query_params.get("present") == "1"


def toggle_presenting() -> None:
    if st.session_state.get("race:present"):
        st.query_params["present"] = "1"
    else:
        st.query_params.pop("present", None)


def params_now() -> dict[str, str | None]:
    return {part: st.query_params.get(part) for part in PARTS}


def wanted(shown, step: int) -> dict[str, str]:
    """The URL parts that say what is on screen (none while nothing has been searched)."""
    if shown is None:
        return {}
    race = shown.race
    found = {"read": ",".join(race.read), "write": ",".join(race.write), "clients": race.clients}
    if race.fault is not None:
        found["fault"] = race.fault.code
    if shown.steps:
        found["step"] = str(step)
    return found


def parse(params: dict[str, str | None]) -> tuple[Race, int | None]:
    """The race and step a link describes; BadLink naming the first part that is wrong."""
    def codes(part: str) -> tuple[str, ...]:
        text = params.get(part) or ""
        return tuple(code for code in text.split(",") if code)

    clients = params.get("clients") or "rw"
    if clients not in CLIENTS:
        raise BadLink(say("link-part-bad", part="clients", value=shorten(clients), what=say("link-what-clients")))
    fault = None
    if params.get("fault"):
        try:
            fault = Fault.parse(params["fault"])
        except ValueError:
            raise BadLink(say("link-part-bad", part="fault", value=shorten(params["fault"]),
                              what=say("link-what-fault", database=Fault("database", "B", 1).code,
                                       cache=Fault("cache", "A", 2).code))) from None
    step = None
    if params.get("step"):
        text = params["step"]
        if not text.isdigit() or not 1 <= int(text) <= MAX_STEP:
            raise BadLink(say("link-part-bad", part="step", value=shorten(text), what=say("link-what-step")))
        step = int(text)
    race = Race(codes("read"), codes("write"), clients, fault)
    problems = race.problems()
    if problems:
        raise BadLink(problems[0])
    return race, step


def from_url(open_race: Callable[[Race, int], None]) -> None:
    """Open the link in the URL, once (a rerun of the URL this page wrote itself does nothing): `open_race(race,
    step)` puts it on screen."""
    params = params_now()
    if not any(params[part] for part in ("read", "write", "clients", "fault")):
        return
    signature = tuple(params.values())
    if st.session_state.get(WRITTEN) == signature:
        return
    st.session_state[WRITTEN] = signature
    try:
        race, step = parse(params)
    except BadLink as err:
        st.warning(say("link-bad", reason=err), icon=":material/link_off:")
        return
    open_race(race, step or 1)


def sync(shown, step: int) -> None:
    """Make the URL say what is on screen, in one message when anything changed; presenter mode stays as it is."""
    params = wanted(shown, step)
    current = params_now()
    if any((params.get(part) or None) != (current.get(part) or None) for part in PARTS):
        others = {name: st.query_params.get_all(name) for name in st.query_params if name not in PARTS}
        st.query_params.from_dict(others | params)
    st.session_state[WRITTEN] = tuple(params.get(part) for part in PARTS)


def link(shown, step: int) -> str:
    """The full URL of what is on screen, to copy."""
    parts = urlsplit(st.context.url or DEFAULT_ORIGIN)
    base = parts.path.rstrip("/").rsplit("/", 1)[0] if parts.path.rstrip("/").endswith(PAGE) else parts.path.rstrip("/")
    query = urlencode(wanted(shown, step))
    return f"{parts.scheme}://{parts.netloc}{base}/{PAGE}" + (f"?{query}" if query else "")
