"""What a share link carries for free-form requests: the short list of what a learner did, as URL text.

A link names no learner and holds no learner data beyond the keys and values typed into it; opening it
replays the same actions on a fresh lab, so the same diagram and tables come back. Each action is one
`do` query parameter:

    r~<key>                 a Read (client A)
    w~<key>~<value>         a Write (client A)
    rB~<key>, wB~<key>~<v>  the same sent as another client (B to E): with near caches on, the client says which
                            app instance serves the request (B and D: App 2), so a link replays it there too
    <letter>                a button a pattern or part adds (write-behind's "Flush now" is `f`: its LabAction)
    x                       Crash the cache
    t~<seconds>             simulated time passed (a fast-forward, or the wall clock between clicks)
    s~<setting>~<value>     a setting or a fault changed (the page knows which names exist)

`~` and `%` inside a key or a value are percent-escaped, so any text a learner may type survives. Links
are bounded (`MAX_ACTIONS`, `MAX_LINK_CHARS`); `parse` checks every part before anything runs and raises
`InvalidLink` naming the first broken part, so a bad link changes nothing. `perform` is what an action does
to a lab.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .knobs import ACTIONS
from .validation import InvalidInput, validate_key, validate_value

if TYPE_CHECKING:
    from .lab import Lab
    from .trace import Trace

MAX_ACTIONS = 40
MAX_LINK_CHARS = 4000
MAX_SECONDS = 86_400.0
SEPARATOR = "~"
KINDS = {"r": 1, "w": 2, "x": 0, "t": 1, "s": 2}     # kind -> how many fields follow it (an action's: none)
CLIENTS = "ABCDE"                  # who may send a read or a write (A, the default, is not written in a link)


class InvalidLink(ValueError):
    """A share link that cannot be replayed; the message says which part and why."""


@dataclass(frozen=True)
class Action:
    kind: str                    # one of KINDS, or the letter of a declared action (`strategies.knobs.ACTIONS`)
    key: str | None = None       # r, w: the key; s: the setting's name
    value: str | None = None     # w: the value; s: the setting's value
    seconds: float | None = None  # t
    client: str = "A"            # r, w: who sent it


def _escape(text: str) -> str:
    return text.replace("%", "%25").replace(SEPARATOR, "%7E")


def _unescape(text: str) -> str:
    return text.replace("%7E", SEPARATOR).replace("%7e", SEPARATOR).replace("%25", "%")


def encode(action: Action) -> str:
    if action.kind == "t":
        return f"t{SEPARATOR}{action.seconds:g}"
    kind = action.kind + (action.client if action.client != "A" else "")
    fields = [kind] + [_escape(part) for part in (action.key, action.value) if part is not None]
    return SEPARATOR.join(fields)


def decode(text: str, *, position: int = 1) -> Action:
    """One `do` parameter as an Action; raises InvalidLink saying what is wrong with it."""
    kind, *fields = text.split(SEPARATOR)
    client = "A"
    if len(kind) == 2 and kind[0] in "rw" and kind[1] in CLIENTS:
        kind, client = kind[0], kind[1]
    if kind not in KINDS and kind not in ACTIONS:
        raise InvalidLink(f"request {position} of the link is not one the lab knows ({kind[:12]!r}).")
    wanted = KINDS.get(kind, 0)
    if len(fields) != wanted:
        raise InvalidLink(f"request {position} of the link has {len(fields)} parts; "
                          f"a {kind!r} request has {wanted}.")
    fields = [_unescape(field) for field in fields]
    try:
        if kind == "t":
            seconds = float(fields[0])
            if not math.isfinite(seconds) or not 0 < seconds <= MAX_SECONDS:
                raise InvalidLink(f"request {position} of the link moves time by {fields[0][:12]!r} s; "
                                  f"a link may move it by more than 0 and at most {MAX_SECONDS:g} s.")
            return Action("t", seconds=seconds)
        if kind == "r":
            return Action("r", key=validate_key(fields[0]), client=client)
        if kind == "w":
            return Action("w", key=validate_key(fields[0]), value=validate_value(fields[1]), client=client)
        if kind == "s":
            return Action("s", key=fields[0], value=fields[1])
    except InvalidLink:
        raise
    except InvalidInput as err:
        raise InvalidLink(f"request {position} of the link: {err}") from None
    except ValueError:
        raise InvalidLink(f"request {position} of the link moves time by a number it cannot read "
                          f"({fields[0][:12]!r}).") from None
    return Action(kind)


def parse(items: Iterable[str]) -> list[Action]:
    """Every `do` parameter of a link, checked and bounded; raises InvalidLink on the first bad one."""
    items = list(items)
    if len(items) > MAX_ACTIONS:
        raise InvalidLink(f"the link holds {len(items)} requests; a link may hold at most {MAX_ACTIONS}.")
    size = sum(len(item) for item in items)
    if size > MAX_LINK_CHARS:
        raise InvalidLink(f"the link's requests are {size:,} characters long; at most {MAX_LINK_CHARS:,}.")
    return [decode(item, position=number) for number, item in enumerate(items, start=1)]


def fits(actions: list[Action]) -> bool:
    """Whether these actions still fit in a link."""
    return len(actions) <= MAX_ACTIONS and sum(len(encode(a)) for a in actions) <= MAX_LINK_CHARS


def perform(lab: Lab, action: Action) -> list[Trace]:
    """What a recorded action does to a lab; the traces it produced (time may produce none)."""
    if action.kind == "r":
        return [lab.read(action.key, client=action.client)]
    if action.kind == "w":
        return [lab.write(action.key, action.value, client=action.client)]
    if action.kind == "x":
        return [lab.crash_cache()]
    if action.kind == "t":
        return lab.advance_time(action.seconds)
    declared = next((found for found in lab.page_actions() if found.kind == action.kind), None)
    if declared is None:
        raise ValueError(f"not a request of {lab.name}: {action.kind}")
    return [declared.perform(lab)]
