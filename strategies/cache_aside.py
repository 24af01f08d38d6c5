"""Cache-aside (lazy loading): the application talks to both the cache and the database.

read:  App → Cache GET ─ hit ─→ Cache → App value                                        (2 steps)
                       └ miss → Cache → App nil, App → Database SELECT, Database → App row,
                                App → Cache SET key value EX ttl                         (5 steps)
write: App → Database UPSERT, Database → App OK, App → Cache DEL key (invalidate)        (3 steps)

The cache is optional here, and that is the pattern's strength: when the cache does not answer,
a read falls back to the database (a degraded read: slower, nothing cached) and a write still
commits; only its invalidation fails, and the cache may serve the old value once it is back,
until the TTL ends it.
"""

from __future__ import annotations

from .base import FAILED, Lab, Steps
from .diagram_model import APP, CACHE, DATABASE, FigureArrow, Topology
from .narration import explain_warning


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
        lanes=(("App", "Cache"), ("App", "Database")),
    )

    def _read(self, t, key: str) -> Steps:
        cached = yield from self.cache_get(t, "App", key, tolerate=True)
        if cached is FAILED:                    # the cache did not answer: read around it
            t.trace.degraded = True
            t.trace.warning = explain_warning("cache-aside-read-around")
            loaded = yield from self.db_select(t, "App", key)
            return loaded.value if loaded else None
        t.trace.hit = cached is not None
        if cached is not None:
            yield from self.reply(t, "Cache", "App", key, cached, command="hit", outcome="hit",
                                  note=("cache-aside-hit", None))
            return cached
        yield from self.reply(t, "Cache", "App", key, None, command="(nil) miss", outcome="miss",
                              note=("cache-aside-miss", None))
        loaded = yield from self.db_select(t, "App", key)
        if loaded is None:
            return None
        stored = yield from self.cache_set(t, "App", key, loaded.value, ttl=self.ttl_seconds,
                                           version=loaded.version, tolerate=True)
        if stored is FAILED:                    # the value is still good; only the next read misses again
            t.trace.degraded = True
            t.trace.warning = explain_warning("cache-aside-fill-failed")
        return loaded.value

    def _write(self, t, key: str, value: str) -> Steps:
        yield from self.db_upsert(t, "App", key, value)
        deleted = yield from self.cache_delete(t, "App", key, tolerate=True)
        if deleted is FAILED:                   # committed, but the old value may outlive the outage
            t.trace.degraded = True
            t.trace.warning = explain_warning("invalidation-failed")
