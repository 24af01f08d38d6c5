"""Negative caching: remember "not found", so reads of a missing key stop reaching the database.

read miss, no row:  ... Database → App no row, App → Cache SET key ∅ EX negative_ttl            (5 steps)
read of the marker: App → Cache GET, Cache → App "not found (cached)": returns None, no SELECT  (2 steps)

A write DELs the key as usual, so a row created later is read on the next miss — unless a read that found no
row stores its marker after that write (the same race as a stale set; leases refuse such a marker too).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..knobs import Knob
from ..narration import explain_warning
from ..part import Part
from ..request import FAILED, REFUSED, Request, Steps
from ..state import NOT_FOUND_MARKER

if TYPE_CHECKING:
    from ..cache_aside import CacheAside


class NegativeCaching(Part):
    """Its knob is the lab's `negative_ttl` (seconds; None: off)."""

    heading = "part-negative"
    lab: CacheAside
    knobs = (Knob("negative-ttl", "Negative TTL (s)", "number", 0, "negative_ttl", low=0, high=3600, step=5,
                  help="negative-ttl-help", zero_is_none=True),)

    @staticmethod
    def is_marker(cached: str) -> bool:
        return cached == NOT_FOUND_MARKER

    def answer(self, t: Request, key: str) -> Steps:
        """A hit on the marker: the database had no row, so there is no need to ask it again."""
        yield from self.lab.reply(t, "Cache", "App", key, None, command="not found (cached)", outcome="hit",
                                  note=("cache-aside-negative-hit", None))
        return None

    def remember(self, t: Request, key: str) -> Steps:
        """Store the marker under `key` for negative_ttl seconds (without leases; with them, the lease's fill)."""
        lab, ttl = self.lab, self.lab.negative_ttl
        stored = yield from lab.cache_call(
            t, "App", "Cache", "SET", lambda: lab.cache.set(lab.redis_key(key), NOT_FOUND_MARKER, ex=ttl),
            command=f"SET {key} ∅ EX {ttl}", key=key, tolerate=True,
            changes=lambda _, at: (lab.cached(key, NOT_FOUND_MARKER, ttl, None, at),),
            note=("cache-aside-negative-set", {"ttl": ttl}), stores=((key, NOT_FOUND_MARKER, ttl),), refusable=True)
        if stored is FAILED:
            t.trace.degraded = True
            t.trace.warning = explain_warning("cache-aside-fill-failed")
        elif stored is REFUSED:
            t.trace.warning = explain_warning("fill-refused")
