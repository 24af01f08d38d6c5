"""Cache-aside (lazy loading): the application talks to both the cache and the database.

read:  App → Cache GET ─ hit ─→ Cache → App value                                        (2 steps)
                       └ miss → Cache → App nil, App → Database SELECT, Database → App row,
                                App → Cache SET key value EX ttl                         (5 steps)
write: App → Database UPSERT, Database → App OK, App → Cache DEL key (invalidate)        (3 steps)

The cache is optional here, and that is the pattern's strength: when the cache does not answer,
a read falls back to the database (a degraded read: slower, nothing cached) and a write still
commits; only its invalidation fails, and the cache may serve the old value once it is back,
until the TTL ends it.

Two knobs fix the pattern's two classic weaknesses (both off by default, both plain attributes too):

`leases` (the memcache paper, "Scaling Memcache at Facebook", §3.2.1): a reader that misses must hold the
key's lease to fill it. That stops a stale set (a slow reader storing a value a write has replaced since)
and a stampede (many readers of one missing key all querying the database).
read miss:  App → Cache GET, Cache → App nil,
            App → Cache LEASE (a script: if the key is still missing, SET lease:key token NX, where a lease
                               whose simulated expiry has passed counts as free)
            ├ granted → App → Database SELECT, Database → App row,
            │           App → Cache SET (a script: only if lease:key still holds my token: SET key, DEL lease)
            │           ├ accepted: cached                                                     (7 steps)
            │           └ refused: a write voided the lease, so nothing is cached; the read returns what it read
            │           no row → App → Cache DEL lease:key (release), or the negative SET below under the lease
            ├ busy (another reader holds it) → App → App WAIT lease_wait_ms, App → Cache GET again,
            │           then a hit (Cache → App value) or a miss (Cache → App nil) and LEASE again;
            │           after max_lease_waits waits: App → Database SELECT, Database → App row, no fill
            └ the key arrived meanwhile (the holder filled it between our GET and LEASE) → Cache → App value
A reader that waited and then found the value in the cache counts as a hit: it never reached the database.
write:      App → Database UPSERT, Database → App OK, App → Cache DEL key lease:key (invalidate, void the lease)
time:       Cache → Cache EXPIRE (a lease whose simulated time ran out is deleted when the clock passes it)

`negative_ttl` (negative caching): a miss whose SELECT finds no row stores NOT_FOUND_MARKER under the key,
for negative_ttl seconds, so reads of a missing key stop reaching the database.
read miss, no row:  ... Database → App no row, App → Cache SET key ∅ EX negative_ttl           (5 steps)
read of the marker: App → Cache GET, Cache → App "not found (cached)": returns None, no SELECT  (2 steps)
A write DELs the key as usual, so a row created later is read on the next miss.
"""

from __future__ import annotations

import heapq

from .base import FAILED, SCAN_COUNT, Lab, Request, Steps, _glob_escape
from .cache import scan_keys
from .diagram_model import APP, CACHE, DATABASE, FigureArrow, Topology
from .narration import explain_warning
from .state import NOT_FOUND_MARKER, CacheItem, Change, LabState, Lease
from .trace import Trace

GC_GRACE_MS = 60_000    # wall-clock PX beyond a lease's own length: Redis forgets an abandoned lease by itself

# KEYS: the cache entry, its lease. ARGV: token, now (simulated ms), the lease's end (simulated ms), PX (wall ms).
# Redis's own TTLs follow the wall clock while the lab's time is simulated, so the lease stores its simulated
# end as "token|end" and this script decides by the `now` it is given whether a lease still stands.
# Answers {1, ''}: granted; {0, held}: another reader holds it; {2, value}: the key was filled meanwhile.
ACQUIRE = """
local value = redis.call('GET', KEYS[1])
if value then return {2, value} end
local held = redis.call('GET', KEYS[2])
if held then
  local ends = tonumber(string.match(held, '|([^|]*)$'))
  if ends and ends > tonumber(ARGV[2]) then return {0, held} end
end
redis.call('SET', KEYS[2], ARGV[1] .. '|' .. ARGV[3], 'PX', ARGV[4])
return {1, ''}
"""

# KEYS: the cache entry, its lease. ARGV: token, value, ttl in seconds (0: none).
# The fill is accepted only while the lease is still ours: a write's DEL (or another reader taking over an
# expired lease) replaced it, and the value we read may then be older than the database's.
FILL = """
local held = redis.call('GET', KEYS[2])
if not held or string.sub(held, 1, #ARGV[1] + 1) ~= ARGV[1] .. '|' then return 0 end
if tonumber(ARGV[3]) > 0 then
  redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[3])
else
  redis.call('SET', KEYS[1], ARGV[2])
end
redis.call('DEL', KEYS[2])
return 1
"""

# KEYS: a lease. ARGV: token. Deletes the lease only if it is still that token's.
RELEASE = """
local held = redis.call('GET', KEYS[1])
if held and string.sub(held, 1, #ARGV[1] + 1) == ARGV[1] .. '|' then return redis.call('DEL', KEYS[1]) end
return 0
"""


def parse_lease(stored: str) -> Lease:
    """A lease as Redis stores it ("<n>:<client>|<end in simulated ms>") as the tables show it."""
    token, _, ends = stored.rpartition("|")
    return Lease(token, token.partition(":")[2], int(ends) / 1000)


class CacheAside(Lab):
    name = "cache-aside"
    title = "Cache-aside"
    topology = Topology(
        actors=(CACHE, APP, DATABASE),
        figure=(
            FigureArrow("App", "Cache", "1. look up"),
            FigureArrow("Cache", "App", "2. hit / miss"),
            FigureArrow("App", "Database", "3. read on a miss"),
            FigureArrow("Database", "App", "4. row"),
            FigureArrow("App", "Cache", "5. store"),
        ),
        rows=(("Cache", "App", "Database"),),
        # App → App: a reader waiting for a lease; Cache → Cache: a key expiring, the cache restarting empty.
        lanes=(("App", "Cache"), ("App", "Database"), ("App", "App"), ("Cache", "Cache")),
    )

    def __init__(self, *args, leases: bool = False, lease_seconds: float = 2.0, lease_wait_ms: float = 20.0,
                 max_lease_waits: int = 8, negative_ttl: int | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.leases = leases
        self.lease_seconds = lease_seconds
        self.lease_wait_ms = lease_wait_ms
        self.max_lease_waits = max_lease_waits
        self.negative_ttl = negative_ttl
        self._lease_prefix = f"{self.namespace}lease:"
        self._acquire = self.cache.register_script(ACQUIRE)
        self._fill = self.cache.register_script(FILL)
        self._release = self.cache.register_script(RELEASE)
        self._tokens = 0                # tokens are numbered per lab, so a scenario replays identically

    def lease_key(self, key: str) -> str:
        return self._lease_prefix + key

    # ---- the read ---------------------------------------------------------------------------------
    def _read_around(self, t, key: str) -> Steps:
        """The cache did not answer: read the database directly, cache nothing."""
        t.trace.degraded = True
        t.trace.warning = explain_warning("cache-aside-read-around")
        loaded = yield from self.db_select(t, "App", key)
        return loaded.value if loaded else None

    def _read(self, t, key: str) -> Steps:
        cached = yield from self.cache_get(t, "App", key, tolerate=True)
        if cached is FAILED:                    # the cache did not answer: read around it
            return (yield from self._read_around(t, key))
        t.trace.hit = cached is not None
        if cached is not None:
            return (yield from self._hit(t, key, cached))
        yield from self.reply(t, "Cache", "App", key, None, command="(nil) miss", outcome="miss",
                              note=("cache-aside-miss", None))
        if self.leases:
            return (yield from self._read_with_lease(t, key))
        loaded = yield from self.db_select(t, "App", key)
        if loaded is None:
            if self.negative_ttl:
                yield from self._store_not_found(t, key)
            return None
        stored = yield from self.cache_set(t, "App", key, loaded.value, ttl=self.ttl_seconds,
                                           version=loaded.version, tolerate=True)
        if stored is FAILED:                    # the value is still good; only the next read misses again
            t.trace.degraded = True
            t.trace.warning = explain_warning("cache-aside-fill-failed")
        return loaded.value

    def _hit(self, t, key: str, cached: str) -> Steps:
        if cached == NOT_FOUND_MARKER:          # a negative entry: the database had no row, no need to ask again
            yield from self.reply(t, "Cache", "App", key, None, command="not found (cached)", outcome="hit",
                                  note=("cache-aside-negative-hit", None))
            return None
        yield from self.reply(t, "Cache", "App", key, cached, command="hit", outcome="hit",
                              note=("cache-aside-hit", None))
        return cached

    def _store_not_found(self, t, key: str) -> Steps:
        """Negative caching without leases: remember "no such row" for negative_ttl seconds."""
        ttl = self.negative_ttl
        stored = yield from self.cache_call(
            t, "App", "Cache", "SET", lambda: self.cache.set(self.redis_key(key), NOT_FOUND_MARKER, ex=ttl),
            command=f"SET {key} ∅ EX {ttl}", key=key, tolerate=True,
            changes=lambda _, at: (self._cached(key, NOT_FOUND_MARKER, ttl, None, at),),
            note=("cache-aside-negative-set", {"ttl": ttl}))
        if stored is FAILED:
            t.trace.degraded = True
            t.trace.warning = explain_warning("cache-aside-fill-failed")

    def _cached(self, key: str, value: str, ttl: int | None, version: int | None, at: float) -> Change:
        """The cache now holds `value` under `key` (set at simulated time `at`); it expires with the others."""
        expires = at + ttl if ttl else None
        if expires is not None:
            heapq.heappush(self._expiries, (expires, key))
        return Change("cache", key, self.state.cache.get(key), CacheItem(value, expires, version))

    # ---- leases -------------------------------------------------------------------------------------
    def _read_with_lease(self, t, key: str) -> Steps:
        """A miss with leases on: take the key's lease and fill it, or wait for the holder's fill."""
        self._tokens += 1
        token = f"{self._tokens}:{t.trace.client}"
        waits = 0
        while True:
            answer = yield from self._acquire_lease(t, key, token)
            if answer is FAILED:                # the cache stopped answering: read around it, fill nothing
                return (yield from self._read_around(t, key))
            status, found = answer
            if status == 1:
                return (yield from self._load_under_lease(t, key, token))
            if status == 2:                     # the holder filled it between our GET and our LEASE
                t.trace.hit = True
                return (yield from self._hit(t, key, found))
            if waits >= self.max_lease_waits:   # bounded: rather read the database than wait forever
                yield from self.reply(t, "App", "App", key, None, action="WAIT", command="give up waiting",
                                      note=("lease-give-up", {"waits": waits}))
                loaded = yield from self.db_select(t, "App", key)
                return loaded.value if loaded else None
            waits += 1
            yield t.step("App", "App", "WAIT", key=key, command=f"wait {self.lease_wait_ms:g} ms, then retry",
                         cost_ms=self.lease_wait_ms,
                         note=("lease-wait", {"holder": parse_lease(found).client, "wait": self.lease_wait_ms,
                                              "tries": waits, "limit": self.max_lease_waits}))
            cached = yield from self.cache_get(t, "App", key, tolerate=True)
            if cached is FAILED:
                return (yield from self._read_around(t, key))
            if cached is not None:              # the holder's fill arrived while we waited
                t.trace.hit = True
                return (yield from self._hit(t, key, cached))
            yield from self.reply(t, "Cache", "App", key, None, command="(nil) still a miss", outcome="miss",
                                  note=("lease-still-miss", None))

    def _acquire_lease(self, t, key: str, token: str) -> Steps:
        now = self.clock.now()
        ends_ms = round((now + self.lease_seconds) * 1000)
        keys = [self.redis_key(key), self.lease_key(key)]
        args = [token, repr(now * 1000), ends_ms, ends_ms - round(now * 1000) + GC_GRACE_MS]
        lease = Lease(token, t.trace.client, ends_ms / 1000)
        return (yield from self.cache_call(
            t, "App", "Cache", "LEASE", lambda: self._acquire(keys=keys, args=args),
            command=f"SET lease:{key} {token} NX (script)", key=key, tolerate=True,
            changes=lambda answer, _: self._acquired(key, lease, answer),
            note=lambda answer: self._acquire_note(lease, answer)))

    def _acquired(self, key: str, lease: Lease, answer: list) -> tuple[Change, ...]:
        status, found = answer
        state = self.state
        if status == 1:
            return (Change("lease", key, state.lease.get(key), lease),)
        if status == 2:                         # the cache holds a value the lab may not have seen set
            item = state.cache.get(key)
            return () if item is not None and item.value == found else (self._correction(key, item, found),)
        held = parse_lease(found)
        return () if state.lease.get(key) == held else (Change("lease", key, state.lease.get(key), held, "found"),)

    def _acquire_note(self, lease: Lease, answer: list) -> tuple[tuple, str]:
        status, found = answer
        if status == 1:
            return ("lease-granted", {"client": lease.client, "seconds": self.lease_seconds}), "ok"
        if status == 2:
            return ("lease-key-arrived", None), "hit"
        return ("lease-busy", {"holder": parse_lease(found).client}), "miss"

    def _load_under_lease(self, t, key: str, token: str) -> Steps:
        """We hold the lease: read the row, then fill only if the lease is still ours."""
        loaded = yield from self.db_select(t, "App", key)
        if loaded is None and not self.negative_ttl:
            # Nothing to fill: hand the lease back at once, so readers waiting for it need not wait it out.
            yield from self.cache_call(
                t, "App", "Cache", "DEL", lambda: self._release(keys=[self.lease_key(key)], args=[token]),
                command=f"DEL lease:{key} (release)", key=key, tolerate=True,
                changes=lambda released, _: self._lease_gone(key, "released") if released else (),
                note=("lease-release", None))
            return None
        value, ttl = (loaded.value, self.ttl_seconds) if loaded else (NOT_FOUND_MARKER, self.negative_ttl)
        version = loaded.version if loaded else None
        filled = yield from self.cache_call(
            t, "App", "Cache", "SET",
            lambda: self._fill(keys=[self.redis_key(key), self.lease_key(key)], args=[token, value, ttl or 0]),
            command=f"SET {key} {'…' if loaded else '∅'}{f' EX {ttl}' if ttl else ''} if lease {token} (script)",
            key=key, value=value if loaded else None, tolerate=True,
            changes=lambda ok, at: (self._cached(key, value, ttl, version, at), *self._lease_gone(key, "filled"))
            if ok else (),
            note=lambda ok: self._fill_note(ok, loaded is not None, ttl))
        if filled is FAILED:
            t.trace.degraded = True
            t.trace.warning = explain_warning("cache-aside-fill-failed")
        # Refused or not, this is what the database held when we read it: the caller gets it; only the
        # cache is kept from storing a value a write may already have replaced.
        return loaded.value if loaded else None

    def _fill_note(self, ok: int, found: bool, ttl: int | None) -> tuple[tuple, str]:
        if not ok:
            return ("lease-fill-refused", None), "ok"
        if not found:
            return ("lease-fill-negative", {"ttl": ttl}), "ok"
        return ("lease-fill", {"ttl": ttl}) if ttl else ("lease-fill-forever", None), "ok"

    def _lease_gone(self, key: str, why: str) -> tuple[Change, ...]:
        held = self.state.lease.get(key)
        return (Change("lease", key, held, None, why),) if held is not None else ()

    # ---- the write ----------------------------------------------------------------------------------
    def _write(self, t, key: str, value: str) -> Steps:
        yield from self.db_upsert(t, "App", key, value)
        if self.leases or key in self.state.lease:   # a lease taken before leases were switched off dies too
            deleted = yield from self.cache_call(
                t, "App", "Cache", "DEL", lambda: self.cache.delete(self.redis_key(key), self.lease_key(key)),
                command=f"DEL {key} lease:{key}", key=key, tolerate=True,
                changes=lambda *_: self._invalidated(key), note=("cache-aside-del-lease", None))
        else:
            deleted = yield from self.cache_delete(t, "App", key, tolerate=True)
        if deleted is FAILED:                   # committed, but the old value may outlive the outage
            t.trace.degraded = True
            t.trace.warning = explain_warning("invalidation-failed")

    def _invalidated(self, key: str) -> tuple[Change, ...]:
        item = self.state.cache.get(key)
        cached = (Change("cache", key, item, None, "deleted"),) if item is not None else ()
        return cached + self._lease_gone(key, "voided")

    # ---- time: a lease runs out on the lab's clock --------------------------------------------------
    def _background_due_at(self) -> float | None:
        leases = self.state.lease
        return min(lease.expires_at for lease in leases.values()) if leases else None

    def tick(self) -> Trace | None:
        """Delete the leases whose simulated time ran out (the acquire script already ignores them; this keeps
        the lease table, and Redis, free of leases nobody holds any more)."""
        now = self.clock.now()
        due = [(key, lease) for key, lease in self.state.lease.items() if lease.expires_at <= now]
        if not due:
            return None
        for key, lease in due:
            self._quietly(lambda key=key, lease=lease: self._release(keys=[self.lease_key(key)], args=[lease.token]))
        trace = self._new_trace("expiry", due[0][0] if len(due) == 1 else None)
        t = Request(self, trace)
        for key, lease in due:
            t.step("Cache", "Cache", "EXPIRE", key=key, command=f"lease on {key} ran out",
                   changes=(Change("lease", key, lease, None, "expired"),),
                   note=("lease-expired", {"holder": lease.client}))
        return self._finished(trace)

    # ---- the tables ---------------------------------------------------------------------------------
    def read_real_state(self) -> LabState:
        real = super().read_real_state()
        prefix = self._lease_prefix
        names = sorted(scan_keys(self.cache, _glob_escape(prefix) + "*", namespace=self.namespace, count=SCAN_COUNT))
        for name, stored in zip(names, self.cache.mget(names) if names else [], strict=True):
            if stored is not None:
                real.lease[name[len(prefix):]] = parse_lease(stored)
        return real

    def reset(self, *, restart_clock: bool = False) -> None:
        super().reset(restart_clock=restart_clock)
        self._tokens = 0
