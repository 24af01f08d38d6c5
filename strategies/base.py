"""What every pattern shares: the real cache and database calls, each recorded as one step.

A request is a generator that performs one real call, yields the Step it recorded, and waits to be
advanced before the next call. `Request.advance()` moves it one step, so several clients' requests can
be interleaved against the same cache and database; `Lab.read()` / `Lab.write()` simply run one to the
end. A call that fails is recorded as a failed step: it ends the request, unless the pattern tolerates
it (cache-aside reads around a cache that does not answer). A fault is part of the simulation: it shows
up in the trace and is never raised to the caller.

Every step carries the changes its call made; the lab applies them to its `LabState` (the tables the
learner sees) and keeps them in one ordered history, so the tables at any step are the live state with
the later changes undone (`state_at`). Time is the lab's `SimClock`: `advance_time()` moves it and every
TTL in the learner's cache together, expiring keys and running background work as they fall due.

Transitions every helper below may record (source → target: action):
    X → Cache: GET / SET / DEL / script      X → Database: SELECT / UPSERT, then Database → X: reply
    A → B: REPLY, WRITE (a hand-over)         Cache → Cache: EXPIRE (TTL ran out), CRASH, RESYNC
"""

from __future__ import annotations

import heapq
import itertools
import sqlite3
import sys
import uuid
from collections.abc import Callable, Collection, Generator
from types import FrameType
from typing import Any, ClassVar, NamedTuple

import redis
from redis.exceptions import RedisClusterException

from .cache import hash_tag, is_cluster, scan_keys
from .database import SELECT_SQL, UPSERT_SQL, Database, DatabaseUnavailable, Row
from .diagram_model import Topology
from .state import CacheItem, Change, LabState
from .trace import HELPER_CODE_IDS, CodeRef, Costs, Counters, Outcome, SimClock, Step, Trace, helper
from .validation import validate_key, validate_value

Steps = Generator[Step, None, Any]
# A cluster client raises RedisClusterException (not a RedisError) when, say, no node serves a slot.
CallFailures = (DatabaseUnavailable, redis.RedisError, RedisClusterException, OSError, sqlite3.Error)
LOG_LIMIT = 500          # requests a lab remembers (numbers stay; the oldest are forgotten)
TRIM_BATCH = 50
SCAN_COUNT = 500
READS = frozenset({"read", "report"})


class CacheDown(redis.ConnectionError):
    """The simulated outage: while `lab.cache_down` is set, every cache call fails like this."""

    def __init__(self) -> None:
        super().__init__("connection refused (the cache is down)")


class RequestFailed(Exception):
    """Raised inside a request after its failed step was recorded; ends the request."""


class _Failed:
    """What a tolerated call returns when it failed (its failed step is already recorded)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "FAILED"


FAILED = _Failed()


class Loaded(NamedTuple):
    """A row as a SELECT returned it."""

    value: str
    version: int


# Notes without fields, made once.
_GET_NOTE, _SET_FOREVER_NOTE, _DEL_NOTE = ("cache-get", None), ("cache-set-forever", None), ("cache-del", None)
_SELECT_NOTE, _NO_ROW_NOTE, _UPSERT_NOTE = ("db-select", None), ("db-no-row", None), ("db-upsert", None)
_getframe = sys._getframe
_tuple_new = tuple.__new__          # Step(...) without its keyword-binding constructor: this runs on every call
# id(code) + bytecode offset -> its CodeRef. By id: hashing a code object hashes its constants and names on
# every call. The sum names one instruction: a code object holds its bytecode, so id + offset stays inside it,
# and no two live code objects overlap (the CodeRef keeps its code alive, so nothing else takes its place).
# Only pattern code is memoised, never a recording helper's: a lookup that finds something found the line.
_CODE_REFS: dict[int, CodeRef] = {}


def _locate(frame: FrameType) -> CodeRef:
    """The line of the first frame from `frame` up that is not a recording helper (the pattern's own code),
    memoised by instruction. Called when the memo does not know `frame`'s instruction: a new line, or a
    helper that was called by another helper (write-through's hand-over replies through reply())."""
    while id(frame.f_code) in HELPER_CODE_IDS:
        frame = frame.f_back
    where = id(frame.f_code) + frame.f_lasti
    ref = _CODE_REFS.get(where)
    if ref is None:
        ref = _CODE_REFS[where] = CodeRef(frame.f_code, frame.f_lineno)
    return ref


def as_one_step(steps: Steps) -> Steps:
    """Perform `steps` within one `advance()`: arrows that draw one atomic call (a script and what it did)
    are recorded together, so no other client's step can come between them; yields the last of them."""
    last = None
    while True:
        try:
            last = next(steps)
        except StopIteration as done:
            if last is not None:
                yield last
            return done.value


class Request:
    """One request in flight, and the recorder of its steps (the `t` every pattern method and helper takes).

    `advance()` performs its next call and returns the recorded step; `run()` runs it to the end. A Request
    without a body only records: events that are not requests (an expiry, a crash) use it so. The request and
    its recorder are one object because every lab.read()/write() makes one.
    """

    __slots__ = ("lab", "trace", "steps", "_body", "done", "client")

    def __init__(self, lab: Lab, trace: Trace, body: Steps | None = None) -> None:
        self.lab = lab
        self.trace = trace
        self.client = trace.client    # who performs the steps it records now (background work: its worker)
        self.steps = trace.steps      # record() appends here on every call: one attribute away, not two
        self._body = body
        self.done = False

    def advance(self) -> Step | None:
        """Perform the next call; None once the request has finished (its trace is then complete)."""
        if self.done:
            return None
        lab = self.lab
        if lab._resync_needed:
            lab.resync()                         # the cache failed to answer before: compare notes first
        heap = lab._expiries
        if heap and heap[0][0] <= lab.clock._now:
            lab._expire_due()                    # keys whose time ran out are gone before this call
        try:
            return next(self._body)
        except StopIteration as finished:
            self.done = True
            lab._finish(self.trace, finished.value)
            return None
        except RequestFailed:
            self.done = True
            lab._finish(self.trace, None)        # the failed call ends the request
            return self.trace.steps[-1]

    def run(self) -> Trace:
        """`advance()` until the request has finished, its loop inlined (every lab.read()/write() runs here)."""
        if self.done:
            return self.trace
        lab, body = self.lab, self._body
        clock = lab.clock
        try:
            while True:
                if lab._resync_needed:
                    lab.resync()
                heap = lab._expiries
                if heap and heap[0][0] <= clock._now:
                    lab._expire_due()
                next(body)
        except StopIteration as finished:
            self.done = True
            lab._finish(self.trace, finished.value)
        except RequestFailed:
            self.done = True
            lab._finish(self.trace, None)
        return self.trace

    # ---- recording: each call a helper makes becomes one Step ----------------------------------------
    def step(self, source: str, target: str, action: str, *, command: str, note: tuple[str, dict | None],
             key: str | None = None, value: str | None = None, outcome: Outcome = "ok", cost_ms: float = 0.0,
             background: bool = False, changes: tuple[Change, ...] = ()) -> Step:
        """Append a Step, apply its changes to the lab's tables and advance the clock by its cost."""
        return self.record(source, target, action, key, value, outcome, cost_ms, command, background, changes, note)

    def record(self, source: str, target: str, action: str, key: str | None, value: str | None, outcome: Outcome,
               cost_ms: float, command: str, background: bool, changes: tuple[Change, ...],
               note: tuple[str, dict | None]) -> Step:
        """`step()` with every field given in order: the helpers' fast path (this runs on every call). Called
        only from recording helpers (step() included), so the frame that called it is never the pattern's."""
        lab = self.lab
        clock = lab.clock
        if cost_ms:
            clock._now += cost_ms / 1000
        # The pattern's own line that made this call: the first frame outside the recording helpers (the helper
        # that called this one is skipped unseen: looking at a frame makes Python build an object for it).
        # Only the code object and the instruction are taken here; the line's text is read when it is shown.
        frame = _getframe(2)
        code = _CODE_REFS.get(id(frame.f_code) + frame.f_lasti) or _locate(frame)
        lab._seq = seq = lab._seq + 1
        steps = self.steps
        step = _tuple_new(Step, (len(steps) + 1, source, target, action, key, value, outcome, cost_ms, command,
                                 clock._now * 1000, background, self.client, seq, changes, code, note))
        if changes:
            apply = lab.state.apply
            for change in changes:
                apply(change)
        steps.append(step)
        lab.history.append(step)
        return step

    step = helper(step)      # a step recorded through step() names the line that called step()

    @helper
    def fail(self, source: str, target: str, action: str, error: Exception | str, **details) -> Step:
        """Record a failed call; the request ends with ok=False and this error."""
        self.trace.ok = False
        self.trace.error = str(error)
        return self.step(source, target, action, outcome="error", **details)


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
        # The braces are a Redis Cluster hash tag: every key of one lab lives in one slot.
        self.namespace = namespace if namespace is not None else f"lab:{{{uuid.uuid4().hex[:12]}}}:"
        if is_cluster(cache) and hash_tag(self.namespace) is None:
            # Every key is namespace + suffix: without a tag of its own the learner's key would pick the slot,
            # and the scripts (which touch several keys at once) would fail with CROSSSLOT.
            raise ValueError(f"on a Redis Cluster a lab's namespace needs a hash tag, as in 'lab:{{id}}:': "
                             f"{self.namespace!r} has none")
        self._kv = f"{self.namespace}kv:"
        self.clock = clock or SimClock()
        self.costs = costs or Costs()
        self.ttl_seconds = ttl_seconds
        self.client = client
        self.cache_down = False      # the simulated outage: every cache call fails while set
        self.cache_error: str | None = None   # a real failure to reach the cache, until a call succeeds
        self._resync_needed = False
        self._reset_memory()

    def _reset_memory(self) -> None:
        """What the lab remembers of its own doing: counters, requests, history and the tables."""
        self.counters = Counters()
        self.log: dict[int, Trace] = {}      # number -> trace, in the order requests started; bounded
        # Every step of the logged requests, in the order performed. record() numbers each step it appends here
        # one after the other (`seq`), so history[i].seq == history[0].seq + i: trimming needs no search.
        self.history: list[Step] = []
        self.state = LabState(self.db.rows(), self.clock.now())
        self._seq = 0
        self._numbers = 0
        self._expiries: list[tuple[float, str]] = []   # heap of (expires_at, key); stale ones are skipped

    # ---- the requests -------------------------------------------------------------------------
    def read(self, key: str, *, client: str | None = None) -> Trace:
        return self.start_read(key, client=client).run()

    def write(self, key: str, value: str, *, client: str | None = None) -> Trace:
        return self.start_write(key, value, client=client).run()

    def start_read(self, key: str, *, client: str | None = None) -> Request:
        """Validate, then return the read as a steppable Request (nothing touched yet)."""
        key = validate_key(key)
        trace = self._new_trace("read", key, None, client)
        trace.fresh = self.state.latest(key)     # a read returning this was not stale, whatever wrote meanwhile
        # `_request(trace, self._read, key)`, written out: every read and write starts here, and the *args call
        # costs a measurable share of the core's overhead (strategies.bench).
        request = Request(self, trace)
        request._body = self._read(request, key)
        return request

    def start_report(self, key: str, *, client: str = "R") -> Request:
        """A query that goes straight to the database, around the cache (a reporting job, another service):
        it sees what the database holds, which may be older than what the cache acknowledged."""
        key = validate_key(key)
        trace = self._new_trace("report", key, None, client)
        trace.fresh = self.state.latest(key)
        return self._request(trace, self._report, key)

    def report(self, key: str, *, client: str = "R") -> Trace:
        return self.start_report(key, client=client).run()

    def _report(self, t: Request, key: str) -> Steps:
        loaded = yield from self.db_select(t, "App", key)
        return loaded.value if loaded is not None else None

    def start_write(self, key: str, value: str, *, client: str | None = None) -> Request:
        key, value = validate_key(key), validate_value(value)
        trace = self._new_trace("write", key, value, client)
        request = Request(self, trace)          # `_request(...)` written out, as in start_read
        request._body = self._write(request, key, value)
        return request

    def _request(self, trace: Trace, body: Callable[..., Steps], *args: Any) -> Request:
        """A Request for `trace` that runs `body(request, *args)`: the request records its own steps."""
        request = Request(self, trace)
        request._body = body(request, *args)
        return request

    def _read(self, t: Request, key: str) -> Steps:
        raise NotImplementedError

    def _write(self, t: Request, key: str, value: str) -> Steps:
        raise NotImplementedError

    def _new_trace(self, operation: str, key: str | None = None, value: str | None = None,
                   client: str | None = None) -> Trace:
        self._numbers = number = self._numbers + 1
        trace = Trace(number, self.name, operation, key, value, client or self.client)
        log = self.log
        log[number] = trace
        if len(log) > LOG_LIMIT + TRIM_BATCH:
            self._forget(TRIM_BATCH)
        return trace

    def _forget(self, count: int) -> None:
        """The oldest requests leave the log (a batch at a time, so a long class pays this rarely), and their
        steps leave the history: the tables no longer replay them."""
        log, history = self.log, self.history
        oldest = list(itertools.islice(log, count))
        last = max((log[number].steps[-1].seq for number in oldest if log[number].steps), default=0)
        for number in oldest:
            del log[number]
        if history and history[0].seq <= last:
            del history[:last - history[0].seq + 1]

    def _finish(self, trace: Trace, value: Any) -> None:
        """A request ended (`value`: what its body returned): a read keeps its value; count how it went."""
        if trace.operation in READS and trace.ok:
            trace.value = value
        trace.finished = True
        counters = self.counters
        if trace.hit is True:
            counters.hits += 1
        elif trace.hit is False:
            counters.misses += 1       # a miss counts even if the request then failed at the database
        if not trace.ok:
            counters.failed += 1
        elif trace.operation in READS and trace.value != trace.fresh and trace.value != self.state.latest(trace.key):
            # Stale: neither the newest value when the read started nor the newest now. A read that
            # overlapped a write and returned either side of it is not stale; what it left behind may be.
            trace.stale = True
            counters.stale_reads += 1
        if trace.degraded:
            counters.degraded += 1

    def _finished(self, trace: Trace) -> Trace:
        """For events that are not requests (expiry, crash, resync): done as soon as recorded."""
        trace.finished = True
        return trace

    def request(self, number: int) -> Trace | None:
        """Request #number, while it is still in the log."""
        return self.log.get(number)

    def latest_value(self, key: str) -> str | None:
        """The newest acknowledged value of `key`: the database's committed one, unless a pattern
        holds newer acknowledged writes elsewhere (write-behind's queue)."""
        return self.state.latest(key)

    # ---- the calls, each recorded as one step ---------------------------------------------------
    def redis_key(self, key: str) -> str:
        return self._kv + key

    @helper
    def _cache_failed(self, t: Request, source: str, target: str, action: str, err: Exception, *,
                      key: str | None, value: str | None, command: str, tolerate: bool, background: bool) -> Steps:
        """Record a cache call that failed. Fatal unless `tolerate`: then the request goes on, degraded."""
        if not isinstance(err, CacheDown):
            self.cache_error, self._resync_needed = str(err), True
        details = dict(key=key, value=value, command=command, cost_ms=self.costs.cache_ms, background=background,
                       note=("cache-failed", {"action": action, "error": str(err)}))
        if not tolerate:
            t.fail(source, target, action, f"cache unavailable: {err}", **details)
            raise RequestFailed(err)
        yield t.step(source, target, action, outcome="error", **details)
        return FAILED

    def _cache_answered(self) -> None:
        self.cache_error = None

    @helper
    def cache_get(self, t: Request, source: str, key: str, *, tolerate: bool = False,
                  background: bool = False) -> Steps:
        try:
            if self.cache_down:
                raise CacheDown()
            found = self.cache.get(self._kv + key)
        except CallFailures as err:
            return (yield from self._cache_failed(t, source, "Cache", "GET", err, key=key, value=None,
                                                  command=f"GET {key}", tolerate=tolerate, background=background))
        if self.cache_error:
            self._cache_answered()
        item = self.state.cache.get(key)
        known = item.value if item is not None else None
        changes = () if known == found else (self._correction(key, item, found),)
        if changes and changes[0].why == "vanished":
            self._resync_needed = True    # a key lost before its time: what else did the cache lose? (next call)
        yield t.record(source, "Cache", "GET", key, None, "miss" if found is None else "hit", self.costs.cache_ms,
                       f"GET {key}", background, changes,
                       _GET_NOTE if not changes else (f"cache-get-{changes[0].why}", None))
        return found

    def _correction(self, key: str, item: CacheItem | None, found: str | None) -> Change:
        """The cache answered differently from what the lab last saw: the key's time ran out (or the
        server lost it), or it holds a value the lab did not set. The tables follow the cache."""
        if found is None:
            expired = item.expires_at is not None and item.expires_at <= self.clock.now() + 1.0
            return Change("cache", key, item, None, "expired" if expired else "vanished")
        return Change("cache", key, item, CacheItem(found, item.expires_at if item else None, None), "found")

    @helper
    def cache_set(self, t: Request, source: str, key: str, value: str, *, ttl: int | None, version: int | None,
                  tolerate: bool = False, background: bool = False) -> Steps:
        command = f"SET {key} … EX {ttl}" if ttl else f"SET {key} …"
        try:
            if self.cache_down:
                raise CacheDown()
            self.cache.set(self._kv + key, value, ex=ttl or None)
        except CallFailures as err:
            return (yield from self._cache_failed(t, source, "Cache", "SET", err, key=key, value=value, command=command,
                                                  tolerate=tolerate, background=background))
        if self.cache_error:
            self._cache_answered()
        cost = self.costs.cache_ms
        expires = None
        if ttl:
            expires = self.clock._now + cost / 1000 + ttl
            heapq.heappush(self._expiries, (expires, key))
        change = _tuple_new(Change, ("cache", key, self.state.cache.get(key),
                                     _tuple_new(CacheItem, (value, expires, version)), ""))
        yield t.record(source, "Cache", "SET", key, value, "ok", cost, command, background, (change,),
                       ("cache-set-ttl", {"ttl": ttl}) if ttl else _SET_FOREVER_NOTE)
        return value

    @helper
    def cache_delete(self, t: Request, source: str, key: str, *, tolerate: bool = False,
                     background: bool = False) -> Steps:
        command = f"DEL {key}"
        try:
            if self.cache_down:
                raise CacheDown()
            self.cache.delete(self._kv + key)
        except CallFailures as err:
            return (yield from self._cache_failed(t, source, "Cache", "DEL", err, key=key, value=None, command=command,
                                                  tolerate=tolerate, background=background))
        if self.cache_error:
            self._cache_answered()
        item = self.state.cache.get(key)
        changes = (_tuple_new(Change, ("cache", key, item, None, "deleted")),) if item is not None else ()
        yield t.record(source, "Cache", "DEL", key, None, "ok", self.costs.cache_ms, command, background, changes,
                       _DEL_NOTE)
        return None

    @helper
    def cache_call(self, t: Request, source: str, target: str, action: str, call: Callable[[], Any], *,
                   command: str, note: tuple[str, dict | None] | Callable[[Any], tuple[tuple, Outcome]],
                   key: str | None = None, value: str | None = None,
                   changes: Callable[[Any, float], tuple[Change, ...]] | None = None, tolerate: bool = False,
                   background: bool = False) -> Steps:
        """Any other Redis call (a script, a stream or hash command): `changes(result, at)` says what it did;
        `note` may be a function of the answer giving (note, outcome), for a call that can say no."""
        try:
            if self.cache_down:
                raise CacheDown()
            result = call()
        except CallFailures as err:
            return (yield from self._cache_failed(t, source, target, action, err, key=key, value=value,
                                                  command=command, tolerate=tolerate, background=background))
        if self.cache_error:
            self._cache_answered()
        cost = self.costs.cache_ms
        made = changes(result, self.clock.now() + cost / 1000) if changes else ()
        note, outcome = note(result) if callable(note) else (note, "ok")
        yield t.step(source, target, action, key=key, value=value, command=command, cost_ms=cost,
                     background=background, changes=made, note=note, outcome=outcome)
        return result

    @helper
    def reply(self, t: Request, source: str, target: str, key: str | None, value: str | None, *,
              command: str, note: tuple[str, dict | None], outcome: Outcome = "ok", background: bool = False,
              action: str = "REPLY") -> tuple[Step]:
        """A message along an arrow that is not a Redis or SQL call of its own (an answer, a hand-over):
        its cost is in the call it answers. Used as `yield from self.reply(...)`, like the calls."""
        return (t.record(source, target, action, key, value, outcome, 0.0, command, background, (), note),)

    @helper
    def db_select(self, t: Request, source: str, key: str) -> Steps:
        cost = self.costs.db_read_ms * self.db.slowdown
        try:
            found = self.db.get(key)
        except CallFailures as err:
            t.fail(source, "Database", "SELECT", err, key=key, command=SELECT_SQL, cost_ms=cost,
                   note=("db-select-failed", {"error": str(err)}))
            raise RequestFailed from err
        self.counters.db_reads += 1
        yield t.record(source, "Database", "SELECT", key, None, "ok", cost, SELECT_SQL, False, (), _SELECT_NOTE)
        if found is None:
            yield t.record("Database", source, "REPLY", key, None, "miss", 0.0, "no row", False, (), _NO_ROW_NOTE)
            return None
        yield t.record("Database", source, "REPLY", key, found[0], "ok", 0.0, f"1 row (v{found[1]})", False, (),
                       ("db-row", {"version": found[1]}))
        return _tuple_new(Loaded, found)

    @helper
    def db_upsert(self, t: Request, source: str, key: str, value: str) -> Steps:
        cost = self.costs.db_write_ms * self.db.slowdown
        at = self.clock._now + cost / 1000
        try:
            version = self.db.put(key, value, at)
        except CallFailures as err:
            t.fail(source, "Database", "UPSERT", err, key=key, value=value, command=UPSERT_SQL, cost_ms=cost,
                   note=("db-upsert-failed", {"error": str(err)}))
            raise RequestFailed from err
        self.counters.db_writes += 1
        change = _tuple_new(Change, ("db", key, self.state.db.get(key), _tuple_new(Row, (key, value, version, at)), ""))
        yield t.record(source, "Database", "UPSERT", key, value, "ok", cost, UPSERT_SQL, False, (change,),
                       _UPSERT_NOTE)
        yield t.record("Database", source, "REPLY", key, None, "ok", 0.0, f"OK (committed v{version})", False, (),
                       ("db-committed", {"version": version}))
        return version

    # ---- time ---------------------------------------------------------------------------------
    def advance_time(self, seconds: float) -> list[Trace]:
        """Fast-forward: move the clock and every TTL in the learner's cache by `seconds`. Keys whose time
        runs out are gone (on fakeredis and on a real Redis alike), and background work that falls due
        runs at its moment. Returns the traces of what happened meanwhile, oldest first."""
        if seconds < 0:
            raise ValueError("time does not run backwards")
        traces = self._run_until(self.clock.now() + seconds)
        self._sync_ttls()
        return traces

    def wall_time_passed(self, seconds: float) -> list[Trace]:
        """Real time went by (the page follows the wall clock): the cache's own TTLs already moved, so
        only the lab's clock catches up, expiring keys and running background work that fell due."""
        return self._run_until(self.clock.now() + max(0.0, seconds))

    def next_expiry_in(self) -> float | None:
        """Seconds until the next cached key expires, or None if no key has a TTL."""
        at = self._next_expiry()
        return None if at is None else max(0.0, at - self.clock.now())

    def _next_expiry(self) -> float | None:
        heap, cached = self._expiries, self.state.cache
        while heap:
            at, key = heap[0]
            item = cached.get(key)
            if item is not None and item.expires_at == at:
                return at
            heapq.heappop(heap)       # the key was deleted or set again since: forget this moment
        return None

    def _background_due_at(self) -> float | None:
        """When background work (write-behind's flusher) is next due; None if none is waiting."""
        return None

    def _next_event_at(self) -> float | None:
        moments = [at for at in (self._next_expiry(), self._background_due_at()) if at is not None]
        return min(moments) if moments else None

    def _run_until(self, target: float) -> list[Trace]:
        traces: list[Trace] = []
        for _ in range(10_000):          # bounded; every round expires keys or runs the work that was due
            at = self._next_event_at()
            if at is None or at > target:
                break
            self.clock.advance_to(at)
            ran = self._run_due()
            if not ran:
                break                    # a safety net: nothing due could run, so waiting longer cannot help
            traces += ran
        self.clock.advance_to(target)
        return traces

    def _run_due(self) -> list[Trace]:
        """Expire what has run out, then let due background work run."""
        return [trace for trace in (self._expire_due(), self.tick()) if trace is not None]

    def tick(self) -> Trace | None:
        """Let background work that is due run (only write-behind has any)."""
        return None

    def _expire_due(self) -> Trace | None:
        now, heap, cached = self.clock.now(), self._expiries, self.state.cache
        due = []
        while heap and heap[0][0] <= now:
            at, key = heapq.heappop(heap)
            item = cached.get(key)
            if item is not None and item.expires_at == at:
                due.append((key, item))
        if not due:
            return None
        # The cache's own clock: make sure the keys are gone there too (its TTLs may lag by a few ms).
        self._quietly(lambda: self.cache.delete(*[self._kv + key for key, _ in due]))
        trace = self._new_trace("expiry", due[0][0] if len(due) == 1 else None)
        t = Request(self, trace)
        for key, item in due:
            t.step("Cache", "Cache", "EXPIRE", key=key, value=item.value, command=f"TTL of {key} ran out",
                   changes=(Change("cache", key, item, None, "expired"),), note=("cache-expired", None))
        return self._finished(trace)

    def _sync_ttls(self) -> None:
        """After a fast-forward, set each cached key's TTL in Redis to what the lab's clock says is left."""
        now = self.clock.now()
        timed = [(key, item.expires_at) for key, item in self.state.cache.items() if item.expires_at is not None]
        if not timed:
            return

        def resync() -> None:
            pipe = self.cache.pipeline(transaction=False)
            for key, at in timed:
                pipe.pexpire(self._kv + key, max(1, int((at - now) * 1000)))
            pipe.execute()

        self._quietly(resync)

    def _quietly(self, call: Callable[[], Any]) -> Any:
        """A call the cache's own machinery makes (its clock, a restart): no step of a request, and a cache
        that does not answer only means the lab must compare notes with it later."""
        try:
            return call()
        except CallFailures as err:
            self.cache_error, self._resync_needed = str(err), True
            return None

    # ---- faults ---------------------------------------------------------------------------------
    def crash_cache(self) -> Trace:
        """Fault: the cache restarts empty; this learner's cached values and queued writes are gone."""
        trace = self._new_trace("crash")
        t = Request(self, trace)
        try:
            self._delete_all_keys()
        except CallFailures as err:
            t.fail("Cache", "Cache", "CRASH", err, command="could not reach the cache server",
                   note=("crash-unreachable", {"error": str(err)}))
            return self._finished(trace)
        state = self.state
        changes = [Change("cache", key, item, None, "crashed") for key, item in state.cache.items()]
        for table in ("queue", "pending", "lease"):        # a restarted cache keeps no queue and no lease
            changes += [Change(table, key, item, None, "crashed") for key, item in getattr(state, table).items()]
        losses = self._count_losses(trace, remaining=(), held=self._held_entries())
        held = len(state.acked) - sum(change.table == "acked" for change in losses)
        if trace.lost:
            note = ("crash-lost", {"lost": len(trace.lost), "found": tuple(key for key, _ in trace.lost),
                                   "held": held})
        elif held:
            note = ("crash-batch-held", {"held": held})
        else:
            note = ("crash-queue-empty" if self.has_queue else "crash", None)
        t.step("Cache", "Cache", "CRASH", command="cache restarted empty", outcome="error",
               changes=(*changes, *losses), note=note)
        return self._finished(trace)

    def _losses(self, remaining: Collection[str], *, held: Collection[str] = ()) -> list[Change]:
        """The changes that record acknowledged writes as lost for good, now that only the queue entries in
        `remaining` are left and the flusher holds those in `held` (write-behind's ledger; none here)."""
        return []

    def _count_losses(self, trace: Trace, remaining: Collection[str], **held: Collection[str]) -> list[Change]:
        """`_losses`, counted on the lab and named on `trace` (what the learner is told was lost)."""
        losses = self._losses(remaining, **held)
        lost = tuple((change.after.key, change.after.value) for change in losses if change.table == "lost")
        self.counters.lost_writes += len(lost)
        trace.lost += lost
        return losses

    def _delete_all_keys(self) -> int:
        """Delete this learner's keys only (never FLUSHALL on a shared server); returns how many."""
        names = list(scan_keys(self.cache, _glob_escape(self.namespace) + "*", namespace=self.namespace,
                               count=SCAN_COUNT))
        return self.cache.delete(*names) if names else 0

    def reset(self, *, restart_clock: bool = False) -> None:
        """Back to the seeded database, an empty cache, zero counters and an empty log (and, for a scenario
        that must replay exactly, the clock back at 0)."""
        self._quietly(self._delete_all_keys)
        if restart_clock:
            self.clock._now = 0.0
        self.db.reset()
        self.cache_down = False
        self._reset_memory()

    # ---- the tables -----------------------------------------------------------------------------
    def table_note(self, table: str, state: LabState) -> str | None:
        """What an empty table says, decided from `state`; None: the page's own words will do."""
        return None

    def live(self) -> LabState:
        """The tables as they are now (the lab's own record of every change; no call to Redis or SQLite)."""
        self.state.now = self.clock.now()
        return self.state

    def state_at(self, trace: Trace, step_number: int) -> LabState | None:
        """The tables right after step `step_number` of `trace`: the live state with every later change
        undone, whichever request made it. None if that step has left the history."""
        if not trace.steps:
            return self.live()
        return self.state_after(trace.steps[min(max(step_number, 1), len(trace.steps)) - 1])

    def state_after(self, step: Step) -> LabState | None:
        """The tables right after `step` (of any request): None if a later step has left the history."""
        history = self.history
        if history and history[0].seq > step.seq + 1:
            return None              # some later step has left the history: it cannot be undone
        return self.state.before(self._changes_after(step.seq), step.at_ms / 1000)

    def _changes_after(self, seq: int):
        """Every change made after step number `seq` (lab-wide), newest first."""
        for later in reversed(self.history):
            if later.seq <= seq:
                return
            yield from reversed(later.changes)

    def read_real_state(self) -> LabState:
        """The learner's cache and queue as Redis holds them now, and the database as SQLite does:
        what the lab's own record must agree with (the tests check it; `resync` repairs it)."""
        real = LabState(self.db.rows(), self.clock.now())
        prefix = self._kv
        names = sorted(scan_keys(self.cache, _glob_escape(prefix) + "*", namespace=self.namespace, count=SCAN_COUNT))
        if names:
            pipe = self.cache.pipeline(transaction=False)
            for name in names:
                pipe.get(name)
                pipe.pttl(name)
            answers = pipe.execute()
            known = self.state.cache
            for name, value, pttl in zip(names, answers[::2], answers[1::2], strict=True):
                if value is None:
                    continue
                key = name[len(prefix):]
                expires = self.clock.now() + pttl / 1000 if pttl >= 0 else None
                item = known.get(key)
                real.cache[key] = CacheItem(value, expires, item.version if item and item.value == value else None)
        self._read_real_queue(real)
        return real

    def _read_real_queue(self, real: LabState) -> None:
        """Write-behind fills in its queue and pending index."""

    def resync(self) -> Trace | None:
        """Compare notes with the cache after it failed to answer (a real server that restarted may have
        lost keys): record what differs as one step, so the tables show the cache as it really is."""
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
        trace = self._new_trace("resync")
        self._record_resync(Request(self, trace), real)
        return self._finished(trace)

    def _differences(self, real: LabState) -> list[Change]:
        """How the cache really is (`real`) differs from the lab's tables, as changes to them."""
        changes = []
        for table in ("cache", "queue", "pending", "lease"):
            mine, theirs = getattr(self.state, table), getattr(real, table)
            for key in set(mine) | set(theirs):
                before, after = mine.get(key), theirs.get(key)
                if before is None or after is None or _differs(before, after):
                    changes.append(Change(table, key, before, after, "vanished" if after is None else "found"))
        return changes

    @helper
    def _record_resync(self, t: Request, real: LabState, *, background: bool = False) -> Step:
        """Record, as one step of `t`, the tables following the cache (`real`), and what that cost."""
        self._resync_needed = False
        changes = self._differences(real)
        for change in changes:
            item = change.after
            if change.table == "cache" and item is not None and item.expires_at is not None:
                heapq.heappush(self._expiries, (item.expires_at, change.key))   # it expires like any other
        losses = self._count_losses(t.trace, remaining=set(real.queue), held=self._held_entries())
        vanished = sum(change.after is None for change in changes)
        step = t.step("Cache", "Cache", "RESYNC", command="compared with the cache server", outcome="error",
                      changes=(*changes, *losses), background=background,
                      note=("resync", {"vanished": vanished, "found": len(changes) - vanished,
                                       "lost": len(t.trace.lost)}))
        self._sync_ttls()
        return step

    def _held_entries(self) -> tuple[str, ...]:
        """Queue entries the flusher has read and not yet settled (write-behind only)."""
        return ()


def _differs(mine: object, theirs: object) -> bool:
    """Whether two entries differ in what matters (a cached value: its value, not a few ms of TTL)."""
    if isinstance(mine, CacheItem) and isinstance(theirs, CacheItem):
        return mine.value != theirs.value or (mine.expires_at is None) != (theirs.expires_at is None)
    return mine != theirs


def _glob_escape(text: str) -> str:
    """Escape Redis glob metacharacters so a namespace matches only itself."""
    return "".join("\\" + c if c in "*?[]\\" else c for c in text)


