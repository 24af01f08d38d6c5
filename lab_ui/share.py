"""The learner's free-form requests, kept as a share link can carry them (`strategies.share`).

Every Read, Write, Flush now, Crash and fast-forward a learner sends on a page is recorded here as an
action, preceded by the settings that changed since the last one and the simulated time that passed
(the wall clock between clicks), so a link replays the same requests on the same settings at the same
moments: the same diagram, tables and step counter. A guided scenario is the link's base: requests sent
after it are recorded on top of it. Two-client requests are not carried by links (yet): the page says so.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import streamlit as st

from strategies import Trace
from strategies.share import MAX_SECONDS, Action, fits

from .learner import learner

T = TypeVar("T")
# Each page registers its settings (its own, TTL and the faults) when it runs: names a link may set.
PAGE_SETTINGS: dict[str, tuple[Any, ...]] = {}


@dataclass
class Recording:
    base: str | None = None                        # the scenario the requests start from, if any
    actions: list[Action] = field(default_factory=list)
    settings: dict[str, object] = field(default_factory=dict)   # as last recorded
    mark: float = 0.0                              # the lab's clock after the last recorded action
    overflow: bool = False                         # too many requests for a link
    two_clients: bool = False                      # holds two-client requests, which links do not carry

    @property
    def shareable(self) -> bool:
        return not self.overflow and not self.two_clients


def register(pattern: str, settings: tuple[Any, ...]) -> None:
    PAGE_SETTINGS[pattern] = settings


def recording(pattern: str) -> Recording:
    """This page's recording; the first one starts from the settings' defaults, as a link's replay does."""
    found = st.session_state.get(f"{pattern}:recording")
    if found is None:
        found = start(pattern, None)
    return found


def start(pattern: str, base: str | None) -> Recording:
    """A fresh recording, from a reset lab (the defaults are its starting point) or from a scenario just
    loaded (the settings it put in place are)."""
    settings = current_settings(pattern) if base else {s.name: s.default for s in PAGE_SETTINGS.get(pattern, ())}
    fresh = Recording(base=base, settings=settings, mark=learner().lab(pattern).clock.now())
    st.session_state[f"{pattern}:recording"] = fresh
    return fresh


def forget(pattern: str) -> None:
    st.session_state.pop(f"{pattern}:recording", None)


def current_settings(pattern: str) -> dict[str, object]:
    return {setting.name: setting.value(pattern) for setting in PAGE_SETTINGS.get(pattern, ())}


def run(pattern: str, action: Action, perform: Callable[[], T]) -> T:
    """Perform a free-form request and record it (with the time and settings before it) once it returned."""
    lab = learner().lab(pattern)
    record = recording(pattern)
    waited = lab.clock.now() - record.mark
    before = current_settings(pattern)
    result = perform()
    if record.shareable:
        added: list[Action] = []
        if waited >= 0.05:
            # A day is longer than any TTL, delay or lease the lab allows: more says nothing more.
            added.append(Action("t", seconds=round(min(waited, MAX_SECONDS), 1)))
        added += [Action("s", key=name, value=encode_setting(value))
                  for name, value in before.items() if record.settings.get(name) != value]
        added.append(action)
        if fits(record.actions + added):
            record.actions += added
            record.settings = before
        else:
            record.overflow = True
    record.mark = lab.clock.now()
    return result


def perform(lab: Any, action: Action) -> list[Trace]:
    """What a recorded action does to a lab; the traces it produced (time may produce none)."""
    if action.kind == "r":
        return [lab.read(action.key)]
    if action.kind == "w":
        return [lab.write(action.key, action.value)]
    if action.kind == "f":
        return [lab.flush()]
    if action.kind == "x":
        return [lab.crash_cache()]
    if action.kind == "t":
        return lab.advance_time(action.seconds)
    raise ValueError(f"not a request: {action.kind}")


def two_clients_used(pattern: str) -> None:
    recording(pattern).two_clients = True


def encode_setting(value: object) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    return f"{value:g}" if isinstance(value, float) else str(value)


def decode_setting(default: object, text: str, options: dict) -> object:
    """A setting's value from a link, typed like its default; ValueError if it cannot be one."""
    if isinstance(default, bool):
        if text not in {"0", "1"}:
            raise ValueError(text)
        return text == "1"
    if isinstance(default, int):
        value: object = int(text)
    elif isinstance(default, float):
        value = float(text)
        if not math.isfinite(value):
            raise ValueError(text)
    else:
        value = text
    choices = options.get("options")
    if choices is not None and value not in choices:
        raise ValueError(text)
    low, high = options.get("min_value"), options.get("max_value")
    if (low is not None and value < low) or (high is not None and value > high):
        raise ValueError(text)
    return value
