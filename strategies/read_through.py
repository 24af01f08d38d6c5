"""Read-through: the cache is a smart proxy; on a miss its own loader fetches from the database.

read:  App → Cache GET ─ hit ─→ Cache → App value                                        (2 steps)
                       └ miss → Loader → Database SELECT, Database → Loader row,
                                Loader → Cache SET key value EX ttl, Cache → App value  (5 steps)
write: App → Database UPSERT, Database → App OK, App → Cache DEL key (invalidate)        (3 steps)

The application never reads the database itself, so for reads the cache is a hard dependency: when it
does not answer, the read fails cleanly (nothing is read around it). A write is the application's own
database write followed by an invalidation, as in cache-aside: it commits even when the DEL fails.
Write-through and write-behind read this way too, with the cache itself as the loader (`loader = "Cache"`).
Every pattern takes a memory limit (`maxmemory`, `maxmemory_policy`: features/eviction.py); when a full cache
under `noeviction` refuses the loader's SET, the loaded value is still returned, and nothing is cached.

The knobs against expiry storms are the cache layer's: `ttl_jitter` (features/jitter.py: ± percent on every TTL
the loader sets), `refresh_ahead` and `xfetch_beta` (features/early_refresh.py: the cache hands a hot key to its
loader before it expires, in the background or, XFetch, for this reader: Cache → Loader).

With `near_ttl` set, two app instances each keep what they read in a near cache of their own, in front of the
cache (features/near_cache.py: it answers before this read, and drops copies after this write).
"""

from __future__ import annotations

from .diagram_model import APP, CACHE, DATABASE, Actor, Topology, figure
from .features import early_refresh, eviction, jitter, near_cache
from .lab import Lab
from .narration import explain_warning
from .request import FAILED, REFUSED, Steps


class ReadThrough(Lab):
    name = "read-through"
    title = "Read-through"
    loader = "Loader"
    also_shown = (near_cache.NearCaches.read, near_cache.NearCaches.write)
    topology = Topology(
        actors=(APP, CACHE, Actor("Loader", "Loader\n(the cache's own)", "component"), DATABASE),
        figure=figure("App → Cache: 1. read", "Loader → Database: 2. load on a miss", "Database → Loader: 3. row",
                      "Loader → Cache: 4. store", "Cache → App: 5. value"),
        # A square: reads go round it clockwise (App, Cache, its Loader, Database and back); writes go straight
        # down from the App to the Database. Cache → Cache: a key expiring, the cache restarting empty.
        rows=(("App", "Cache"), ("Database", "Loader")),
        lanes=(("App", "Cache"), ("Loader", "Database"), ("Loader", "Cache"), ("App", "Database"), ("Cache", "Cache")),
    )

    def __init__(self, *args, ttl_jitter: float = 0, refresh_ahead: float | None = None,
                 xfetch_beta: float | None = None, near_ttl: int | None = None, near_invalidation: str = "ttl",
                 maxmemory: int | None = None, maxmemory_policy: str = "noeviction", **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # Each part's compose() sets its knobs on the lab (plain attributes) and returns the part.
        self.jitter = jitter.compose(self, ttl_jitter)
        self.early = early_refresh.compose(self, refresh_ahead, xfetch_beta, reload=self._load,
                                           hand_off=("Cache", self.loader))
        self.near = near_cache.compose(self, near_ttl, near_invalidation)
        self.eviction = eviction.compose(self, maxmemory, maxmemory_policy)
        self.parts = (self.jitter, self.early, self.near, self.eviction)

    def _read(self, t, key: str) -> Steps:
        cached = yield from self.early.get(t, "App", key)     # GET (early refresh on: + δ, expiry)
        t.trace.hit = cached is not None
        early = self.early.verdict(t)
        if early.recompute:                     # XFetch: the cache has its loader recompute now, before expiry
            yield from self.early.hand_over(t, key, early)
        if cached is None or early.recompute:
            cached = yield from self._load(t, key)
        if early.recompute:
            command, note = "value (recomputed early)", "read-through-recomputed"
        elif t.trace.hit:
            command, note = "value (hit)", "read-through-hit"
        elif cached is not None:
            command, note = "value (loaded)", "read-through-loaded"
        else:
            command, note = "(nil) not found", "read-through-not-found"
        yield from self.reply(t, "Cache", "App", key, cached, command=command,
                              outcome="hit" if t.trace.hit else "miss", note=(note, None))
        yield from self.early.refresh(t, key, early)   # in the refresh-ahead window: a refresh in the background
        return cached

    def _load(self, t, key: str) -> Steps:
        """The loader: read the row, store it for next time; the value, or None if there is no row."""
        loaded = yield from self.db_select(t, self.loader, key)
        if loaded is None:
            return None
        stored = yield from self.early.store(t, self.loader, key, loaded, ttl=self.jitter.ttl(), refusable=True)
        if stored is REFUSED:                   # the cache is full and may evict nothing: serve it, keep nothing
            t.trace.warning = explain_warning("fill-refused")
        return loaded.value

    def _write(self, t, key: str, value: str) -> Steps:
        # Read-through covers reads only: the app writes the database itself, then invalidates.
        yield from self.db_upsert(t, "App", key, value)
        deleted = yield from self.cache_delete(t, "App", key, tolerate=True)
        if deleted is FAILED:                   # committed, but the old value may outlive the outage
            t.trace.degraded = True
            t.trace.warning = explain_warning("invalidation-failed")
