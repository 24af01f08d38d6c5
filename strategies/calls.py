"""The real cache and database calls a pattern makes, each recorded as a step with the changes it made.

Transitions these helpers record (source → target: action):
    X → Cache: GET / SET / DEL / a script or other command     X → Database: SELECT / UPSERT, Database → X: reply
    A → B: REPLY (an answer or a message that is no call of its own)

A cache call that fails is recorded as a failed step: fatal, unless the pattern tolerates it (then it returns
FAILED and the request goes on). While `cache_down` is set (the simulated outage) every cache call fails.

A call that stores values names them (`stores`): before it runs, each of the lab's parts may make room for them
(a memory limit evicts keys, recorded as steps of the same atomic call) or refuse them. A refusal is Redis' own
OOM answer ("OOM command not allowed when used memory > 'maxmemory'."), whoever gave it, the lab's memory limit or a
real server's: the cache answered, so there is nothing to compare notes about, and a call the pattern marks
`refusable` returns REFUSED (the request goes on without the value stored).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import Any, NamedTuple

import redis
from redis.exceptions import OutOfMemoryError, RedisClusterException

from .database import SELECT_SQL, UPSERT_SQL, DatabaseUnavailable, Row
from .part import Store
from .request import FAILED, REFUSED, Request, RequestFailed, Steps, helper
from .state import CacheItem, Change
from .trace import Outcome, Step

# A cluster client raises RedisClusterException (not a RedisError) when, say, no node serves a slot.
CallFailures = (DatabaseUnavailable, redis.RedisError, RedisClusterException, OSError, sqlite3.Error)


class CacheDown(redis.ConnectionError):
    """The simulated outage: while `lab.cache_down` is set, every cache call fails like this."""

    def __init__(self) -> None:
        super().__init__("connection refused (the cache is down)")


class CacheRefused(OutOfMemoryError):
    """The cache says no to storing (Redis' OOM error, its very words), with the sentence that says why."""

    MESSAGE = "command not allowed when used memory > 'maxmemory'."    # redis-py drops the leading "OOM "

    def __init__(self, note: tuple[str, dict | None]) -> None:
        super().__init__(self.MESSAGE)
        self.note = note


class Loaded(NamedTuple):
    """A row as a SELECT returned it."""

    value: str
    version: int


class RecordedCalls:
    """The calls, as methods of the lab (its cache client, database, tables, clock and costs)."""

    def redis_key(self, key: str) -> str:
        return self._kv + key

    @helper
    def cache_call(self, t: Request, source: str, target: str, action: str, call: Callable[[], Any], *,
                   command: str, note: tuple[str, dict | None] | Callable[[Any], tuple[tuple, Outcome]],
                   key: str | None = None, value: str | None = None,
                   changes: Callable[[Any, float], tuple[Change, ...]] | None = None, tolerate: bool = False,
                   background: bool = False, stores: tuple[Store, ...] = (), refusable: bool = False) -> Steps:
        """One Redis call: `changes(result, at)` says what it did to the tables; `note` may be a function of the
        answer giving (note, outcome), for a call that can say no; `stores`, the values it stores, which the
        lab's parts may make room for (or refuse: REFUSED if `refusable`, else a failure as `tolerate` says)."""
        try:
            if self.cache_down:
                raise CacheDown()
            for part in self.listening["before_store"] if stores else ():
                part.before_store(t, stores)
            result = call()
        except CallFailures as err:
            refused = isinstance(err, OutOfMemoryError)     # the cache answered: full, and nothing it may evict
            if not refused and not isinstance(err, CacheDown):
                self.cache_error, self._resync_needed = str(err), True   # a real failure: compare notes later
            said = getattr(err, "note", None) or ("cache-oom" if refused else "cache-failed",
                                                  {"action": action, "error": str(err)})
            details = dict(key=key, value=value, command=command, cost_ms=self.costs.cache_ms,
                           background=background, note=said)
            if not (tolerate or (refused and refusable)):
                t.fail(source, target, action, f"OOM {err}" if refused else f"cache unavailable: {err}", **details)
                raise RequestFailed(err) from err
            yield t.step(source, target, action, outcome="error", **details)
            return REFUSED if refused and refusable else FAILED
        self.cache_error = None
        cost = self.costs.cache_ms
        made = changes(result, self.clock.now() + cost / 1000) if changes else ()
        note, outcome = note(result) if callable(note) else (note, "ok")
        step = t.step(source, target, action, key=key, value=value, command=command, cost_ms=cost,
                      background=background, changes=made, note=note, outcome=outcome)
        if outcome == "hit" and key is not None:
            for part in self.listening["accessed"]:   # the cache read the key: a part following access times hears
                part.accessed(key)
        yield step
        return result

    @helper
    def cache_get(self, t: Request, source: str, key: str, *, tolerate: bool = False, background: bool = False,
                  call: Callable[[], str | None] | None = None, command: str | None = None,
                  said: str = "cache-get") -> Steps:
        """GET `key`; or `call`, another read that answers the key's value (a script that reads more beside it),
        recorded as the GET it is (`command`, and `said`: the sentence when the answer surprises nobody)."""
        def note(found: str | None) -> tuple[tuple, Outcome]:
            correction = self._correction(key, found)
            return ((f"cache-get-{correction.why}" if correction else said), None), \
                "miss" if found is None else "hit"

        def changes(found: str | None, _: float) -> tuple[Change, ...]:
            correction = self._correction(key, found)
            if correction is not None and correction.why == "vanished":
                self._resync_needed = True   # a key lost before its time: what else did the cache lose? (next call)
            return (correction,) if correction else ()

        return self.cache_call(t, source, "Cache", "GET", call or (lambda: self.cache.get(self.redis_key(key))),
                               command=command or f"GET {key}", key=key, changes=changes, note=note,
                               tolerate=tolerate, background=background)

    def _correction(self, key: str, found: str | None) -> Change | None:
        """The cache answered differently from what the lab last saw: the key's time ran out (or the server
        lost it), or it holds a value the lab did not set. The tables follow the cache. None: no surprise."""
        item = self.state.cache.get(key)
        if (item.value if item is not None else None) == found:
            return None
        if found is None:
            expired = item.expires_at is not None and item.expires_at <= self.clock.now() + 1.0
            return Change("cache", key, item, None, "expired" if expired else "vanished")
        return Change("cache", key, item, CacheItem(found, item.expires_at if item else None, None), "found")

    @helper
    def cache_set(self, t: Request, source: str, key: str, value: str, *, ttl: int | None, version: int | None,
                  tolerate: bool = False, background: bool = False, refusable: bool = False) -> Steps:
        def changes(_: object, at: float) -> tuple[Change, ...]:
            return (self.cached(key, value, ttl, version, at),)

        return self.cache_call(
            t, source, "Cache", "SET", lambda: self.cache.set(self.redis_key(key), value, ex=ttl or None),
            command=f"SET {key} … EX {ttl}" if ttl else f"SET {key} …", key=key, value=value, changes=changes,
            note=("cache-set-ttl", {"ttl": ttl}) if ttl else ("cache-set-forever", None), tolerate=tolerate,
            background=background, stores=((key, value, ttl or None),), refusable=refusable)

    def cached(self, key: str, value: str, ttl: int | None, version: int | None, at: float) -> Change:
        """The cache now holds `value` under `key` (set at simulated time `at`); it expires with the others."""
        expires = at + ttl if ttl else None
        if expires is not None:
            self.expiries.add(expires, key)
        return Change("cache", key, self.state.cache.get(key), CacheItem(value, expires, version))

    @helper
    def cache_delete(self, t: Request, source: str, key: str, *, tolerate: bool = False,
                     background: bool = False) -> Steps:
        def changes(*_: object) -> tuple[Change, ...]:
            item = self.state.cache.get(key)
            return (Change("cache", key, item, None, "deleted"),) if item is not None else ()

        return self.cache_call(t, source, "Cache", "DEL", lambda: self.cache.delete(self.redis_key(key)),
                               command=f"DEL {key}", key=key, changes=changes,
                               note=lambda removed: (("cache-del" if removed else "cache-del-nothing", None), "ok"),
                               tolerate=tolerate, background=background)

    @helper
    def reply(self, t: Request, source: str, target: str, key: str | None, value: str | None, *,
              command: str, note: tuple[str, dict | None], outcome: Outcome = "ok", background: bool = False,
              action: str = "REPLY") -> tuple[Step]:
        """A message along an arrow that is not a Redis or SQL call of its own (an answer, a hand-over): its
        cost is in the call it answers. Used as `yield from self.reply(...)`, like the calls."""
        return (t.step(source, target, action, key=key, value=value, outcome=outcome, command=command,
                       background=background, note=note),)

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
        yield t.step(source, "Database", "SELECT", key=key, command=SELECT_SQL, cost_ms=cost, note=("db-select", None))
        if found is None:
            yield t.step("Database", source, "REPLY", key=key, outcome="miss", command="no row",
                         note=("db-no-row", None))
            return None
        value, version = found
        yield t.step("Database", source, "REPLY", key=key, value=value, command=f"1 row (v{version})",
                     note=("db-row", {"version": version}))
        return Loaded(value, version)

    @helper
    def db_upsert(self, t: Request, source: str, key: str, value: str) -> Steps:
        cost = self.costs.db_write_ms * self.db.slowdown
        at = self.clock.now() + cost / 1000
        try:
            version = self.db.put(key, value, at)
        except CallFailures as err:
            t.fail(source, "Database", "UPSERT", err, key=key, value=value, command=UPSERT_SQL, cost_ms=cost,
                   note=("db-upsert-failed", {"error": str(err)}))
            raise RequestFailed from err
        self.counters.db_writes += 1
        change = Change("db", key, self.state.db.get(key), Row(key, value, version, at))
        yield t.step(source, "Database", "UPSERT", key=key, value=value, command=UPSERT_SQL, cost_ms=cost,
                     changes=(change,), note=("db-upsert", None))
        yield t.step("Database", source, "REPLY", key=key, command=f"OK (committed v{version})",
                     note=("db-committed", {"version": version}))
        return version
