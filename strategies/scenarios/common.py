"""What every scenario script shares: the keys and values it uses, and the figures it reads off a run."""

from __future__ import annotations

from collections.abc import Callable

from ..narration import shorten
from ..request import Request
from ..scenario import Director, ScenarioRun
from ..trace import Step

HOT_KEY = "user:1"
OLD, NEW = "Ada Lovelace", "Ada King"          # user:1 as seeded, and the value the scripts write
READERS = ("A", "B", "C", "D", "E")


def is_db_reply(step: Step) -> bool:
    return step.source == "Database" and step.action == "REPLY"


def overtake(d: Director, slow: Request, other: Callable[[], object], *, before: str, after: str) -> None:
    """The race of the stale-value scenarios: `slow` (client A's request) runs until the database has answered
    it, then `other` (another client's request) runs whole, captioned `before`, then A finishes what it was
    about to do with the answer it had, captioned `after`."""
    d.step_until(slow, is_db_reply)
    d.say(before)
    other()
    d.say(after)
    d.finish(slow)


def cached(run: ScenarioRun, key: str = HOT_KEY) -> str:
    """What the cache holds under `key` at the end, as a caption quotes it."""
    item = run.lab.live().cache.get(key)
    if item is None:
        return "nothing"
    return '"not found"' if item.value.startswith("\x00") else shorten(item.value)


def stored(run: ScenarioRun, key: str = HOT_KEY) -> str:
    row = run.lab.live().db.get(key)
    return "no row" if row is None else shorten(row.value)


def agree(run: ScenarioRun, key: str = HOT_KEY) -> str:
    """'agree' or 'disagree': does the cache hold nothing, or exactly the database's value?"""
    state = run.lab.live()
    item, row = state.cache.get(key), state.db.get(key)
    return "agree" if item is None or (row is not None and item.value == row.value) else "disagree"


def loader_of(lab) -> str:
    """Who loads a row into the cache: the application (cache-aside) or the cache's own loader (read-through)."""
    return getattr(lab, "loader", "App")


def loader_name(lab) -> str:
    """The loader, as a caption names it (a figure of every scenario that runs on both read pages)."""
    return "the application" if loader_of(lab) == "App" else "the cache's loader"


def stale_reads(run: ScenarioRun) -> int:
    return sum(trace.stale for trace in run.traces)
