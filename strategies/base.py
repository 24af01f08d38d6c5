"""What every pattern shares: the real cache and database calls, each recorded as one step.

A request is a generator that performs one real call, yields the Step it recorded, and waits to be
advanced before the next call. `Request.advance()` moves it one step, so two clients' requests can
be interleaved against the same cache and database; `Lab.read()` / `Lab.write()` simply run one to
the end. A call that fails is recorded as a failed step and ends the request (`RequestFailed`): a
fault is part of the simulation, it shows up in the trace and is never raised to the caller.

Transitions every helper below may record (source → target: action):
    X → Cache: GET / SET / DEL       X → Database: SELECT / UPSERT, then Database → X: reply
    A → B: REPLY                      Cache → Cache: CRASH
"""

from __future__ import annotations

import uuid
from collections import deque
from collections.abc import Generator
from dataclasses import dataclass
from typing import ClassVar

import redis

from .database import SELECT_SQL, UPSERT_SQL, Database, DatabaseUnavailable, Row
from .diagram_model import Topology
from .trace import Costs, Counters, Outcome, Recorder, SimClock, Step, Trace
from .validation import validate_key, validate_value

Steps = Generator[Step, None, "str | None"]
CallFailures = (DatabaseUnavailable, redis.RedisError, OSError)
LOG_LIMIT = 500


class RequestFailed(Exception):
    """Raised inside a request after its failed step was recorded; ends the request."""


@dataclass(frozen=True)
class CacheEntry:
    key: str
    value: str
    ttl_seconds: int | None
    pending: bool = False


@dataclass(frozen=True)
class Snapshot:
    """What the learner's tables show at one moment: the cache, the database, write-behind's queue."""

    cache: tuple[CacheEntry, ...]
    rows: tuple[Row, ...]
    queue: tuple[dict[str, str], ...] = ()

    def cached(self, key: str) -> CacheEntry | None:
        return next((entry for entry in self.cache if entry.key == key), None)

    def stored(self, key: str) -> Row | None:
        return next((row for row in self.rows if row.key == key), None)


def shorten(text: str | None, limit: int = 40) -> str:
    """Text fit for a one-line explanation: repr-quoted and cut with an ellipsis."""
    if text is None:
        return "nothing"
    return repr(text if len(text) <= limit else text[: limit - 1] + "…")


class Request:
    """One request in flight. `advance()` performs its next call and returns the recorded step."""

    __slots__ = ("lab", "trace", "_body", "done")

    def __init__(self, lab: Lab, trace: Trace, body: Steps) -> None:
        self.lab = lab
        self.trace = trace
        self._body = body
        self.done = False

    def advance(self) -> Step | None:
        """Perform the next call; None once the request has finished (its trace is then complete)."""
        if self.done:
            return None
        try:
            step = next(self._body)
        except StopIteration as finished:
            if self.trace.operation == "read":
                self.trace.value = finished.value
            step = None
        except RequestFailed:
            step = self.trace.steps[-1]   # the failed call: it ends the request
            self.done = True
        if step is not None and self.lab.record_states:
            self.trace.states.append(self.lab.snapshot())
        if step is None or self.done:
            self.done = True
            self.lab._finish(self.trace)
        return step

    def run(self) -> Trace:
        while not self.done:
            self.advance()
        return self.trace


class Lab:
    """A learner's cache + database, and the pattern that connects them (subclasses say how)."""

    name: ClassVar[str]
    title: ClassVar[str]
    topology: ClassVar[Topology]
    has_queue: ClassVar[bool] = False

    def __init__(
        self,
        cache: redis.Redis,
        db: Database,
        *,
        namespace: str | None = None,
        clock: SimClock | None = None,
        costs: Costs | None = None,
        ttl_seconds: int | None = 60,
        client: str = "A",
    ) -> None:
        self.cache = cache
        self.db = db
        self.namespace = namespace if namespace is not None else f"lab:{uuid.uuid4().hex[:12]}:"
        self.clock = clock or SimClock()
        self.costs = costs or Costs()
        self.ttl_seconds = ttl_seconds
        self.client = client
        self.counters = Counters()
        self.record_states = False   # the UI turns this on; it costs a few reads per step
        self.log: deque[Trace] = deque(maxlen=LOG_LIMIT)   # bounded: a long class must not grow it forever

    # ---- the requests -------------------------------------------------------------------------
    def read(self, key: str) -> Trace:
        return self.start_read(key).run()

    def write(self, key: str, value: str) -> Trace:
        return self.start_write(key, value).run()

    def start_read(self, key: str) -> Request:
        """Validate, then return the read as a steppable Request (nothing touched yet)."""
        key = validate_key(key)
        trace = Trace(self.name, "read", key=key, client=self.client)
        return Request(self, trace, self._read(Recorder(trace, self.clock), key))

    def start_write(self, key: str, value: str) -> Request:
        key, value = validate_key(key), validate_value(value)
        trace = Trace(self.name, "write", key=key, value=value, client=self.client)
        return Request(self, trace, self._write(Recorder(trace, self.clock), key, value))

    def _run(self, trace: Trace, body: Steps) -> Trace:
        return Request(self, trace, body).run()

    def _read(self, t: Recorder, key: str) -> Steps:
        raise NotImplementedError

    def _write(self, t: Recorder, key: str, value: str) -> Steps:
        raise NotImplementedError

    def tick(self) -> Trace | None:
        """Let background work that is due run (only write-behind has any)."""
        return None

    def _finish(self, trace: Trace) -> None:
        if trace.operation == "read" and trace.ok:
            if trace.hit is True:
                self.counters.hits += 1
            elif trace.hit is False:
                self.counters.misses += 1
            if self._is_stale(trace):
                trace.stale = True
                self.counters.stale_reads += 1
        self.log.append(trace)

    def latest_value(self, key: str) -> str | None:
        """The newest acknowledged value of `key`: the database's committed one, unless a pattern
        holds newer acknowledged writes elsewhere (write-behind's queue)."""
        return self.db.peek(key)

    def _is_stale(self, trace: Trace) -> bool:
        """A stale read returned a value other than the database's committed one."""
        return trace.value != self.db.peek(trace.key)

    # ---- the calls, each recorded as one step ---------------------------------------------------
    def redis_key(self, key: str) -> str:
        return f"{self.namespace}kv:{key}"

    def _cache_failed(self, t: Recorder, source: str, action: str, err: Exception, *, key: str,
                      value: str | None, command: str, background: bool) -> RequestFailed:
        t.fail(source, "Cache", action, f"cache unavailable: {err}", key=key, value=value, command=command,
               explanation=f"The cache did not answer {action}: {err}.", cost_ms=self.costs.cache_ms,
               background=background)
        return RequestFailed(err)

    def cache_get(self, t: Recorder, source: str, key: str, *, background: bool = False) -> Steps:
        command = f"GET {key}"
        try:
            found = self.cache.get(self.redis_key(key))
        except CallFailures as err:
            raise self._cache_failed(t, source, "GET", err, key=key, value=None, command=command,
                                     background=background) from err
        yield t.step(source, "Cache", "GET", key=key, command=command, outcome="miss" if found is None else "hit",
                     cost_ms=self.costs.cache_ms, background=background,
                     explanation=f"{source} looks up {shorten(key)} in the cache.")
        return found

    def cache_set(self, t: Recorder, source: str, key: str, value: str, *, ttl: int | None = None,
                  background: bool = False) -> Steps:
        command = f"SET {key} … EX {ttl}" if ttl else f"SET {key} …"
        try:
            self.cache.set(self.redis_key(key), value, ex=ttl or None)
        except CallFailures as err:
            raise self._cache_failed(t, source, "SET", err, key=key, value=value, command=command,
                                     background=background) from err
        lasting = f"for {ttl} s" if ttl else "with no expiry"
        yield t.step(source, "Cache", "SET", key=key, value=value, command=command, cost_ms=self.costs.cache_ms,
                     background=background,
                     explanation=f"{source} stores {shorten(value)} under {shorten(key)} in the cache, {lasting}.")
        return value

    def cache_delete(self, t: Recorder, source: str, key: str, *, background: bool = False) -> Steps:
        command = f"DEL {key}"
        try:
            self.cache.delete(self.redis_key(key))
        except CallFailures as err:
            raise self._cache_failed(t, source, "DEL", err, key=key, value=None, command=command,
                                     background=background) from err
        yield t.step(source, "Cache", "DEL", key=key, command=command, cost_ms=self.costs.cache_ms,
                     background=background,
                     explanation=f"{source} deletes {shorten(key)} from the cache (invalidates it), so the next "
                                 "read loads the new value from the database.")
        return None

    def reply(self, t: Recorder, source: str, target: str, key: str | None, value: str | None, *,
              command: str, explanation: str, outcome: Outcome = "ok", background: bool = False,
              action: str = "REPLY") -> Steps:
        """A message along an arrow that is not a Redis or SQL call of its own (an answer, a hand-over):
        its cost is in the call it answers."""
        yield t.step(source, target, action, key=key, value=value, command=command, explanation=explanation,
                     outcome=outcome, background=background)
        return value

    def db_select(self, t: Recorder, source: str, key: str) -> Steps:
        cost = self.costs.db_read_ms * self.db.slowdown
        try:
            value = self.db.get(key)
        except CallFailures as err:
            t.fail(source, "Database", "SELECT", err, key=key, command=SELECT_SQL, cost_ms=cost,
                   explanation=f"{source} asks the database for {shorten(key)}, but the database is unavailable.")
            raise RequestFailed from err
        self.counters.db_reads += 1
        yield t.step(source, "Database", "SELECT", key=key, command=SELECT_SQL, cost_ms=cost,
                     explanation=f"{source} reads {shorten(key)} from the database (a parameterised SELECT).")
        found, outcome = ("1 row", "ok") if value is not None else ("no row", "miss")
        yield from self.reply(t, "Database", source, key, value, command=found, outcome=outcome,
                              explanation=f"The database answers with {found}: {shorten(value)}.")
        return value

    def db_upsert(self, t: Recorder, source: str, key: str, value: str) -> Steps:
        cost = self.costs.db_write_ms * self.db.slowdown
        try:
            self.db.put(key, value)
        except CallFailures as err:
            t.fail(source, "Database", "UPSERT", err, key=key, value=value, command=UPSERT_SQL, cost_ms=cost,
                   explanation=f"{source} tries to write {shorten(key)} to the database, but it is unavailable: "
                               "nothing was committed.")
            raise RequestFailed from err
        self.counters.db_writes += 1
        yield t.step(source, "Database", "UPSERT", key=key, value=value, command=UPSERT_SQL, cost_ms=cost,
                     explanation=f"{source} writes {shorten(value)} under {shorten(key)} to the database "
                                 "and commits (the version goes up by one).")
        yield from self.reply(t, "Database", source, key, None, command="OK (committed)",
                              explanation="The database confirms the commit.")
        return value

    # ---- what the learner sees and resets -------------------------------------------------------
    def cache_entries(self, queue: list[dict[str, str]] | None = None) -> list[CacheEntry]:
        """The learner's cached keys with their values and remaining TTL, ordered by key; pass the
        queue's entries if you already read them."""
        prefix = self.redis_key("")
        pending = {e["key"] for e in (self.queue_entries() if queue is None else queue)}
        entries = []
        for redis_key in sorted(self.cache.scan_iter(match=_glob_escape(prefix) + "*", count=500)):
            value = self.cache.get(redis_key)
            if value is None:  # expired between SCAN and GET
                continue
            ttl = self.cache.ttl(redis_key)
            key = redis_key[len(prefix):]
            entries.append(CacheEntry(key, value, ttl if ttl >= 0 else None, key in pending))
        return entries

    def queue_entries(self, count: int | None = None) -> list[dict[str, str]]:
        """Writes queued for the database, oldest first (only write-behind queues any)."""
        return []

    def pending_keys(self) -> set[str]:
        """Keys with a queued write the database has not received yet."""
        return {e["key"] for e in self.queue_entries()}

    def snapshot(self) -> Snapshot:
        """The cache, the database and the queue as they are now (read past a simulated outage)."""
        queue = self.queue_entries()
        return Snapshot(tuple(self.cache_entries(queue)), tuple(self.db.rows()), tuple(queue))

    def clear_cache(self) -> int:
        """Delete this learner's keys only (never FLUSHALL on a shared server); returns how many."""
        names = list(self.cache.scan_iter(match=_glob_escape(self.namespace) + "*", count=500))
        return self.cache.delete(*names) if names else 0

    def crash_cache(self) -> Trace:
        """Fault: the cache loses everything it held for this learner, queued writes included."""
        trace = Trace(self.name, "crash", client=self.client)
        lost = self._queued_count()
        self.clear_cache()
        self.counters.lost_writes += lost
        lost_text = (f" {lost} queued write(s), acknowledged but never written to the database, are lost."
                     if self.has_queue else " The database still holds every committed row.")
        Recorder(trace, self.clock).step(
            "Cache", "Cache", "CRASH", command="cache restarted empty", outcome="error",
            explanation="The cache crashed and came back empty." + lost_text)
        if self.record_states:
            trace.states.append(self.snapshot())
        self.log.append(trace)
        return trace

    def _queued_count(self) -> int:
        return 0

    def reset(self) -> None:
        """Back to the seeded database, an empty cache, zero counters and an empty log."""
        self.clear_cache()
        self.db.reset()
        self.counters = Counters()
        self.log.clear()


def _glob_escape(text: str) -> str:
    """Escape Redis glob metacharacters so a namespace matches only itself."""
    return "".join("\\" + c if c in "*?[]\\" else c for c in text)
