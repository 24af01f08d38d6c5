"""Reconciliation with a real Redis: reading what the cache really holds, and making the tables follow it.

The lab keeps its own record of the cache (every change a step made). A real server can lose keys behind its
back — a restart without persistence, an operator's FLUSHALL, a key deleted by another tool — so after the
cache failed to answer, or answered other than the lab expected, the lab compares notes: what differs is
recorded as one RESYNC step, and what that cost (acknowledged writes gone with the cache) is counted.
"""

from __future__ import annotations

from .cache import glob_escape, scan_keys
from .calls import CallFailures
from .faults import SCAN_COUNT
from .request import Request, helper
from .state import CacheItem, Change, LabState
from .trace import CACHE_SERVER, Step, Trace


class Reconciliation:
    """What the cache really holds, and the tables following it."""

    def read_real_state(self) -> LabState:
        """The learner's cache (and what each part keeps there) as Redis holds it now, and the database as
        SQLite does: what the lab's own record must agree with (the tests check it; `resync` repairs it)."""
        real = LabState(self.db.rows(), self.clock.now())
        prefix = self._kv
        names = sorted(scan_keys(self.cache, glob_escape(prefix) + "*", namespace=self.namespace, count=SCAN_COUNT))
        if names:
            pipe = self.cache.pipeline(transaction=False)
            for name in names:
                pipe.get(name)
                pipe.pttl(name)
            answers = pipe.execute()
            known = self.state.cache
            for name, value, pttl in zip(names, answers[::2], answers[1::2], strict=True):
                if value is None or pttl == -2:     # gone; or its TTL ran out between the GET and the PTTL
                    continue
                key = name[len(prefix):]
                expires = self.clock.now() + pttl / 1000 if pttl >= 0 else None
                item = known.get(key)
                real.cache[key] = CacheItem(value, expires, item.version if item and item.value == value else None)
        for part in self.parts:
            part.read_real(real)
        return real

    def resync(self) -> Trace | None:
        """Compare notes with the cache after it failed to answer (a real server that restarted may have lost
        keys): record what differs as one step, so the tables show the cache as it really is."""
        try:
            real = self.read_real_state()
        except CallFailures as err:
            self.cache_error, self._resync_needed = str(err), True
            return None
        self._resync_needed = False
        self.cache_error = None
        if not self._differences(real):
            self._sync_ttls()        # fast-forwards made while the cache did not answer reach its TTLs now
            return None
        t = Request(self, self.new_trace("resync", client=CACHE_SERVER))
        self.record_resync(t, real)
        return self.finished(t.trace)

    def _differences(self, real: LabState) -> list[Change]:
        """How the cache really is (`real`) differs from the lab's tables, as changes to them."""
        changes = []
        for table in self.cache_tables():
            mine, theirs = getattr(self.state, table), getattr(real, table)
            for key in set(mine) | set(theirs):
                before, after = mine.get(key), theirs.get(key)
                if before is None or after is None or _differs(before, after):
                    changes.append(Change(table, key, before, after, "vanished" if after is None else "found"))
        return changes

    @helper
    def record_resync(self, t: Request, real: LabState, *, background: bool = False) -> Step:
        """Record, as one step of `t`, the tables following the cache (`real`), and what that cost."""
        self._resync_needed = False
        changes = self._differences(real)
        for change in changes:
            item = change.after
            if change.table == "cache" and item is not None and item.expires_at is not None:
                self.expiries.add(item.expires_at, change.key)       # it expires like any other
        losses = self.count_losses(t.trace, real, held=self.held_entries())
        vanished = sum(change.after is None for change in changes)
        step = t.step("Cache", "Cache", "RESYNC", command="compared with the cache server", outcome="error",
                      changes=(*changes, *losses), background=background,
                      note=("resync", {"vanished": vanished, "found": len(changes) - vanished,
                                       "lost": len(t.trace.lost)}))
        self._sync_ttls()
        return step


def _differs(mine: object, theirs: object) -> bool:
    """Whether two entries differ in what matters (a cached value: its value, not a few ms of TTL)."""
    if isinstance(mine, CacheItem) and isinstance(theirs, CacheItem):
        return mine.value != theirs.value or (mine.expires_at is None) != (theirs.expires_at is None)
    return mine != theirs
