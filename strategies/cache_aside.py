"""Cache-aside (lazy loading): the application talks to both the cache and the database.

read:  App → Cache GET ─ hit ─→ Cache → App value                                        (2 steps)
                       └ miss → Cache → App nil, App → Database SELECT, Database → App row,
                                App → Cache SET key value EX ttl                         (5 steps)
write: App → Database UPSERT, Database → App OK, App → Cache DEL key (invalidate)        (3 steps)
"""

from __future__ import annotations

from .base import Lab, Steps, shorten
from .diagram_model import APP, CACHE, DATABASE, FigureArrow, Topology
from .trace import Recorder


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
    )

    def _read(self, t: Recorder, key: str) -> Steps:
        cached = yield from self.cache_get(t, "App", key)
        t.trace.hit = cached is not None
        if cached is not None:
            return (yield from self.reply(t, "Cache", "App", key, cached, command="hit", outcome="hit",
                                          explanation=f"Hit: the cache returns {shorten(cached)}; "
                                                      "the database is not touched."))
        yield from self.reply(t, "Cache", "App", key, None, command="(nil) miss", outcome="miss",
                              explanation="Miss: the cache has no such key, so the app must go to the database.")
        value = yield from self.db_select(t, "App", key)
        if value is not None:
            yield from self.cache_set(t, "App", key, value, ttl=self.ttl_seconds)
        return value

    def _write(self, t: Recorder, key: str, value: str) -> Steps:
        yield from self.db_upsert(t, "App", key, value)
        yield from self.cache_delete(t, "App", key)
