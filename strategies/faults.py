"""Faults and crashes: the cache restarting empty, and the cache's own machinery failing quietly.

The other faults are switches the calls read: `lab.cache_down` (every cache call fails, see `calls`) and the
database's `down` and `slowdown`. A crash deletes only this learner's keys (never FLUSHALL on a shared server);
what it costs — acknowledged writes a part still held in the cache — each part says (`losses`).
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Any

from .cache import glob_escape, scan_keys
from .calls import CallFailures
from .request import Request
from .state import Change, LabState
from .trace import CACHE_SERVER, Trace

SCAN_COUNT = 500


class Faults:
    """Crashing the cache, and counting what a crash, a wipe or a failed batch cost."""

    def crash_cache(self) -> Trace:
        """Fault: the cache restarts empty; this learner's cached values and what parts kept there are gone."""
        t = Request(self, self.new_trace("crash", client=CACHE_SERVER))
        try:
            self.delete_all_keys()
        except CallFailures as err:
            t.fail("Cache", "Cache", "CRASH", err, command="could not reach the cache server",
                   note=("crash-unreachable", {"error": str(err)}))
            return self.finished(t.trace)
        state = self.state
        changes = [Change(table, key, item, None, "crashed")
                   for table in self.cache_tables() for key, item in getattr(state, table).items()]
        losses = self.count_losses(t.trace, LabState(), held=self.held_entries())
        note = next((found for part in self.parts if (found := part.crash_note(t.trace.lost, losses))), None)
        t.step("Cache", "Cache", "CRASH", command="cache restarted empty", outcome="error",
               changes=(*changes, *losses), note=note or ("crash", None))
        return self.finished(t.trace)

    def held_entries(self) -> tuple[str, ...]:
        """Entries of the cache a part has read and still holds (a flush in flight): not lost with the cache."""
        return tuple(entry for part in self.parts for entry in part.held())

    def count_losses(self, trace: Trace, left: LabState, *, held: Collection[str] = ()) -> list[Change]:
        """The changes recording acknowledged writes as lost for good, now that the cache holds only what `left`
        says (empty, after a crash) and a part still holds the entries `held`: counted on the lab and named on
        `trace` (what the learner is told was lost)."""
        losses = [change for part in self.parts for change in part.losses(left, held)]
        lost = tuple((change.after.key, change.after.value) for change in losses if change.table == "lost")
        self.counters.lost_writes += len(lost)
        trace.lost += lost
        return losses

    def delete_all_keys(self) -> int:
        """Delete this learner's keys only (never FLUSHALL on a shared server); returns how many."""
        names = list(scan_keys(self.cache, glob_escape(self.namespace) + "*", namespace=self.namespace,
                               count=SCAN_COUNT))
        return self.cache.delete(*names) if names else 0

    def quietly(self, call: Callable[[], Any]) -> Any:
        """A call the cache's own machinery makes (its clock, a restart): no step of a request, and a cache
        that does not answer only means the lab must compare notes with it later."""
        try:
            return call()
        except CallFailures as err:
            self.cache_error, self._resync_needed = str(err), True
            return None
