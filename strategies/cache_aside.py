"""Cache-aside (lazy loading): the application talks to both the cache and the database.

read:  App → Cache GET ─ hit ─→ Cache → App value                                        (2 steps)
                       └ miss → Cache → App nil, App → Database SELECT, Database → App row,
                                App → Cache SET key value EX ttl                         (5 steps)
write: App → Database UPSERT, Database → App OK, App → Cache DEL key (invalidate)        (3 steps)

The cache is optional here, and that is the pattern's strength: when the cache does not answer, a read falls
back to the database (a degraded read: a database read every time, nothing cached) and a write still commits;
only its invalidation fails, and the cache may serve the old value once it is back, until the TTL ends it.

Two knobs fix the pattern's two classic weaknesses (both off by default, both plain attributes too): `leases`
(features/leases.py: a reader that misses must hold the key's lease to fill it, which stops stale sets and
stampedes) and `negative_ttl` (features/negative.py: remember "not found" for that many seconds).
"""

from __future__ import annotations

from .diagram_model import APP, CACHE, DATABASE, Topology, figure
from .features.leases import Leases
from .features.negative import NegativeCaching
from .lab import Lab
from .narration import explain_warning
from .request import FAILED, Request, Steps


class CacheAside(Lab):
    name = "cache-aside"
    title = "Cache-aside"
    also_shown = (Leases.read_miss,)
    topology = Topology(
        actors=(CACHE, APP, DATABASE),
        figure=figure("App → Cache: 1. look up", "Cache → App: 2. hit / miss", "App → Database: 3. read on a miss",
                      "Database → App: 4. row", "App → Cache: 5. store"),
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
        self.lease_book = Leases(self)
        self.negative = NegativeCaching(self)
        self.parts = (self.lease_book, self.negative)

    # ---- the read ---------------------------------------------------------------------------------
    def _read(self, t: Request, key: str) -> Steps:
        cached = yield from self.cache_get(t, "App", key, tolerate=True)
        if cached is FAILED:                    # the cache did not answer: read around it
            return (yield from self.read_around(t, key))
        t.trace.hit = cached is not None
        if cached is not None:
            return (yield from self.hit(t, key, cached))
        yield from self.reply(t, "Cache", "App", key, None, command="(nil) miss", outcome="miss",
                              note=self.miss_note("cache-aside-miss", key))
        if self.leases:
            return (yield from self.lease_book.read_miss(t, key))
        loaded = yield from self.db_select(t, "App", key)
        if loaded is None:
            if self.negative_ttl:
                yield from self.negative.remember(t, key)
            return None
        stored = yield from self.cache_set(t, "App", key, loaded.value, ttl=self.ttl_seconds,
                                           version=loaded.version, tolerate=True)
        if stored is FAILED:                    # the value is still good; only the next read misses again
            t.trace.degraded = True
            t.trace.warning = explain_warning("cache-aside-fill-failed")
        return loaded.value

    def hit(self, t: Request, key: str, cached: str) -> Steps:
        if self.negative.is_marker(cached):
            return (yield from self.negative.answer(t, key))
        yield from self.reply(t, "Cache", "App", key, cached, command="hit", outcome="hit",
                              note=("cache-aside-hit", None))
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
