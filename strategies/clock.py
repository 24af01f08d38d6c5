"""Simulated time: the lab's clock, the moments its cached keys expire, and moving both forward together.

Time is simulated: a step advances an injected clock by its modelled cost, and `advance_time()` moves the
clock and every TTL in the learner's cache together, so tests and the UI control time (as
`cachetools.TTLCache(timer=...)` does) and nothing ever sleeps. Keys whose time runs out are recorded as an
"expiry" event, and background work (a part's `tick`) runs at the moment it falls due.
"""

from __future__ import annotations

import heapq
from typing import TYPE_CHECKING

from .request import Request
from .state import Change
from .trace import CACHE_SERVER

if TYPE_CHECKING:
    from .state import CacheItem
    from .trace import Trace


class SimClock:
    """Simulated time in seconds; it only moves when somebody advances it."""

    def __init__(self, start: float = 0.0) -> None:
        self._now = start

    def now(self) -> float:
        return self._now

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("time does not run backwards")
        self._now += seconds

    def advance_to(self, moment: float) -> None:
        """Move to `moment` if it is later than now (never backwards)."""
        if moment > self._now:
            self._now = moment

    def restart(self) -> None:
        """Back to 0 (a scenario that must replay exactly)."""
        self._now = 0.0

    def rewind_to(self, moment: float) -> None:
        """Back to `moment` (never before 0), for requests that overlap in time: a scenario's director
        performs their calls in the order they start, each at its own request's time (`Director.side_by_side`),
        so a call may start before the previous one, made by another request, has ended."""
        if moment < self._now:
            self._now = max(0.0, moment)


class Expiries:
    """When each cached key expires: a heap of (moment, key). A moment is stale once its key was deleted or set
    again (the tables no longer say it expires then); stale moments are skipped, not searched for."""

    def __init__(self) -> None:
        self._heap: list[tuple[float, str]] = []

    def add(self, at: float, key: str) -> None:
        heapq.heappush(self._heap, (at, key))

    def next(self, cache: dict[str, CacheItem]) -> float | None:
        """The next moment a key of `cache` expires, or None."""
        heap = self._heap
        while heap:
            at, key = heap[0]
            item = cache.get(key)
            if item is not None and item.expires_at == at:
                return at
            heapq.heappop(heap)
        return None

    def pop_due(self, now: float, cache: dict[str, CacheItem]) -> list[tuple[str, CacheItem]]:
        """The keys of `cache` whose time has run out at `now`, with their entries, soonest first."""
        due = []
        heap = self._heap
        while heap and heap[0][0] <= now:
            at, key = heapq.heappop(heap)
            item = cache.get(key)
            if item is not None and item.expires_at == at:
                due.append((key, item))
        return due

    def clear(self) -> None:
        self._heap.clear()


class Timekeeping:
    """The lab's time: fast-forwards, the wall clock catching up, expiries and background work falling due."""

    def advance_time(self, seconds: float) -> list[Trace]:
        """Fast-forward: move the clock and every TTL in the learner's cache by `seconds`. Keys whose time runs
        out are gone (on fakeredis and on a real Redis alike), and background work that falls due runs at its
        moment. Returns the traces of what happened meanwhile, oldest first."""
        if seconds < 0:
            raise ValueError("time does not run backwards")
        traces = self._run_until(self.clock.now() + seconds)
        self._sync_ttls()
        return traces

    def wall_time_passed(self, seconds: float) -> list[Trace]:
        """Real time went by (the page follows the wall clock): the cache's own TTLs already moved, so only the
        lab's clock catches up, expiring keys and running background work that fell due."""
        return self._run_until(self.clock.now() + max(0.0, seconds))

    def next_expiry_in(self) -> float | None:
        """Seconds until the next cached key expires, or None if no key has a TTL."""
        at = self.expiries.next(self.state.cache)
        return None if at is None else max(0.0, at - self.clock.now())

    def moves_with_time(self) -> bool:
        """Whether what the page shows changes while time passes: a key's TTL counting down, or a part's
        (a write waiting for its flush). The expiry heap answers, not a scan."""
        return self.next_expiry_in() is not None or any(part.moves_with_time() for part in self.parts)

    def _next_event_at(self) -> float | None:
        moments = [self.expiries.next(self.state.cache)] + [part.due_at() for part in self.parts]
        moments = [at for at in moments if at is not None]
        return min(moments) if moments else None

    def _run_until(self, target: float) -> list[Trace]:
        traces: list[Trace] = []
        for _ in range(10_000):          # bounded; every round expires keys or runs the work that was due
            at = self._next_event_at()
            if at is None or at > target:
                break
            self.clock.advance_to(at)
            ran = self.run_due()
            if not ran:
                break                    # a safety net: nothing due could run, so waiting longer cannot help
            traces += ran
        self.clock.advance_to(target)
        return traces

    def run_due(self) -> list[Trace]:
        """Expire what has run out, then let each part's background work that is due run."""
        traces = [self.expire_due()] + [part.tick() for part in self.parts]
        return [trace for trace in traces if trace is not None]

    def tick(self) -> Trace | None:
        """Let the background work that is due run now; the trace of the last that ran, if any."""
        ran = [trace for trace in (part.tick() for part in self.parts) if trace is not None]
        return ran[-1] if ran else None

    def expire_due(self) -> Trace | None:
        due = self.expiries.pop_due(self.clock.now(), self.state.cache)
        if not due:
            return None
        # The cache's own clock: make sure the keys are gone there too (its TTLs may lag by a few ms).
        self.quietly(lambda: self.cache.delete(*[self.redis_key(key) for key, _ in due]))
        self.counters.expired += len(due)
        t = Request(self, self.new_trace("expiry", due[0][0] if len(due) == 1 else None, client=CACHE_SERVER))
        for key, item in due:
            t.step("Cache", "Cache", "EXPIRE", key=key, value=item.value, command=f"TTL of {key} ran out",
                   changes=(Change("cache", key, item, None, "expired"),), note=("cache-expired", None))
        return self.finished(t.trace)

    def _sync_ttls(self) -> None:
        """After a fast-forward, set each cached key's TTL in Redis to what the lab's clock says is left."""
        now = self.clock.now()
        timed = [(key, item.expires_at) for key, item in self.state.cache.items() if item.expires_at is not None]
        if not timed:
            return

        def resync() -> None:
            pipe = self.cache.pipeline(transaction=False)
            for key, at in timed:
                pipe.pexpire(self.redis_key(key), max(1, int((at - now) * 1000)))
            pipe.execute()

        self.quietly(resync)
