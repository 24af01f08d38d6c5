"""Cache-aside (lazy loading): the application talks to both the cache and the database.

read:  App → Cache GET ─ hit ─→ Cache → App value                                        (2 steps)
                       └ miss → Cache → App nil, App → Database SELECT, Database → App row,
                                App → Cache SET key value EX ttl                         (5 steps)
write: App → Database UPSERT, Database → App OK, App → Cache DEL key (invalidate)        (3 steps)
early refresh on (features/early_refresh.py): the GET reads the key's δ and expiry too; on a hit, XFetch may
       have this reader recompute at once (the miss path's SELECT and SET), and refresh-ahead, in the last part
       of the TTL, adds App → App REFRESH: the refresher (W) reloads the key in the background

The cache is optional here, and that is the pattern's strength: when the cache does not answer, a read falls
back to the database (a degraded read: a database read every time, nothing cached) and a write still commits;
only its invalidation fails, and the cache may serve the old value once it is back, until the TTL ends it.

Two knobs fix the pattern's two classic weaknesses (both off by default, both plain attributes too): `leases`
(features/leases.py: a reader that misses must hold the key's lease to fill it, which stops stale sets and
stampedes) and `negative_ttl` (features/negative.py: remember "not found" for that many seconds). Three more
keep keys from expiring all at once (features/jitter.py: `ttl_jitter`, ± percent on every TTL a fill sets) or
recompute a hot key before it expires (features/early_refresh.py: `refresh_ahead`, a background refresh in the
last part of the TTL, and `xfetch_beta`, XFetch's probabilistic early recompute). Like every pattern, it takes a
memory limit (`maxmemory`, `maxmemory_policy`: features/eviction.py); a full cache under `noeviction` refuses
the fill, and the read is served from the database with nothing cached.

With `near_ttl` set, two app instances each keep what they read in a near cache of their own, in front of Redis
(features/near_cache.py: it answers before this read, and drops copies after this write).
"""

from __future__ import annotations

from .diagram_model import APP, CACHE, DATABASE, Topology, figure
from .features import early_refresh, eviction, jitter, near_cache
from .features.leases import Leases
from .features.negative import NegativeCaching
from .lab import Lab
from .narration import explain_warning
from .request import FAILED, REFUSED, Request, Steps


class CacheAside(Lab):
    name = "cache-aside"
    title = "Cache-aside"
    also_shown = (Leases.read_miss, near_cache.NearCaches.read, near_cache.NearCaches.write)
    topology = Topology(
        actors=(CACHE, APP, DATABASE),
        figure=figure("App → Cache: 1. look up", "Cache → App: 2. hit / miss", "App → Database: 3. read on a miss",
                      "Database → App: 4. row", "App → Cache: 5. store"),
        rows=(("Cache", "App", "Database"),),
        # App → App: a reader waiting for a lease; Cache → Cache: a key expiring, the cache restarting empty.
        lanes=(("App", "Cache"), ("App", "Database"), ("App", "App"), ("Cache", "Cache")),
    )

    def __init__(self, *args, leases: bool = False, lease_seconds: float = 2.0, lease_wait_ms: float = 20.0,
                 max_lease_waits: int = 8, negative_ttl: int | None = None, ttl_jitter: float = 0,
                 refresh_ahead: float | None = None, xfetch_beta: float | None = None, near_ttl: int | None = None,
                 near_invalidation: str = "ttl", maxmemory: int | None = None, maxmemory_policy: str = "noeviction",
                 **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.leases = leases
        self.lease_seconds = lease_seconds
        self.lease_wait_ms = lease_wait_ms
        self.max_lease_waits = max_lease_waits
        self.negative_ttl = negative_ttl
        self.lease_book = Leases(self)
        self.negative = NegativeCaching(self)
        # Each part's compose() sets its knobs on the lab (plain attributes) and returns the part.
        self.jitter = jitter.compose(self, ttl_jitter)
        self.early = early_refresh.compose(self, refresh_ahead, xfetch_beta, reload=self._load, hand_off=("App", "App"))
        self.near = near_cache.compose(self, near_ttl, near_invalidation)
        self.eviction = eviction.compose(self, maxmemory, maxmemory_policy)
        self.parts = (self.lease_book, self.negative, self.jitter, self.early, self.near, self.eviction)

    # ---- the read ---------------------------------------------------------------------------------
    def _read(self, t: Request, key: str) -> Steps:
        cached = yield from self.early.get(t, "App", key, tolerate=True)   # GET (early refresh on: + δ, expiry)
        if cached is FAILED:                    # the cache did not answer: read around it
            return (yield from self.read_around(t, key))
        t.trace.hit = cached is not None
        if cached is not None:
            return (yield from self.hit(t, key, cached))
        yield from self.reply(t, "Cache", "App", key, None, command="(nil) miss", outcome="miss",
                              note=self.miss_note("cache-aside-miss", key))
        if self.leases:
            return (yield from self.lease_book.read_miss(t, key))
        return (yield from self._load(t, key))

    def _load(self, t: Request, key: str) -> Steps:
        """Read the row and fill the cache: a miss, an early recompute, a background refresh."""
        loaded = yield from self.db_select(t, "App", key)
        if loaded is None:
            if self.negative_ttl:
                yield from self.negative.remember(t, key)
            return None
        stored = yield from self.early.store(t, "App", key, loaded, ttl=self.jitter.ttl(), tolerate=True,
                                             refusable=True)
        if stored is FAILED:                    # the value is still good; only the next read misses again
            t.trace.degraded = True
            t.trace.warning = explain_warning("cache-aside-fill-failed")
        elif stored is REFUSED:                 # the cache is full and may evict nothing: the same, said so
            t.trace.warning = explain_warning("fill-refused")
        return loaded.value

    def hit(self, t: Request, key: str, cached: str) -> Steps:
        early = self.early.verdict(t)           # what the GET's answer decided (early refresh on)
        if self.negative.is_marker(cached):
            return (yield from self.negative.answer(t, key))
        if early.recompute:                     # XFetch: this reader recomputes now, before the key expires
            yield from self.reply(t, "Cache", "App", key, cached, command="hit: recompute early", outcome="hit",
                                  note=self.early.recompute_note(early))
            return (yield from self._load(t, key))
        yield from self.reply(t, "Cache", "App", key, cached, command="hit", outcome="hit",
                              note=("cache-aside-hit", None))
        yield from self.early.refresh(t, key, early)   # in the refresh-ahead window: a refresh in the background
        return cached

    def read_around(self, t: Request, key: str) -> Steps:
        """The cache did not answer: read the database directly, cache nothing."""
        t.trace.degraded = True
        t.trace.warning = explain_warning("cache-aside-read-around")
        loaded = yield from self.db_select(t, "App", key)
        return loaded.value if loaded else None

    def miss_note(self, name: str, key: str) -> tuple[str, None]:
        """The answer "(nil)" arrives after the GET that found nothing: by then another reader may have filled
        the key, and the sentence says so (`<name>-filled-since`)."""
        return (f"{name}-filled-since" if key in self.state.cache else name), None

    # ---- the write ----------------------------------------------------------------------------------
    def _write(self, t: Request, key: str, value: str) -> Steps:
        yield from self.db_upsert(t, "App", key, value)
        if self.leases or key in self.state.lease:   # a lease taken before leases were switched off dies too
            deleted = yield from self.lease_book.invalidate(t, key)
        else:
            deleted = yield from self.cache_delete(t, "App", key, tolerate=True)
        if deleted is FAILED:                   # committed, but the old value may outlive the outage
            t.trace.degraded = True
            t.trace.warning = explain_warning("invalidation-failed")
