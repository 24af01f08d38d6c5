"""Read-through: the cache is a smart proxy; on a miss its own loader fetches from the database.

read:  App → Cache GET ─ hit ─→ Cache → App value                                        (2 steps)
                       └ miss → Loader → Database SELECT, Database → Loader row,
                                Loader → Cache SET key value EX ttl, Cache → App value  (5 steps)
write: App → Database UPSERT, Database → App OK, App → Cache DEL key (invalidate)        (3 steps)

The application never reads the database itself. Write-through and write-behind read this way too,
with the cache itself as the loader (`loader = "Cache"`).
"""

from __future__ import annotations

from .base import Lab, Steps, shorten
from .diagram_model import APP, CACHE, DATABASE, Actor, FigureArrow, Topology
from .trace import Recorder


class ReadThrough(Lab):
    name = "read-through"
    title = "Read-through"
    loader = "Loader"
    topology = Topology(
        actors=(APP, CACHE, Actor("Loader", "Loader\n(the cache's own)", "component"), DATABASE),
        figure=(
            FigureArrow("App", "Cache", "1. read"),
            FigureArrow("Loader", "Database", "2. load on a miss"),
            FigureArrow("Database", "Loader", "3. row"),
            FigureArrow("Loader", "Cache", "4. store"),
            FigureArrow("Cache", "App", "5. value"),
        ),
        rows=(("App", "Cache", ""), ("", "Loader", "Database")),
    )

    def _read(self, t: Recorder, key: str) -> Steps:
        cached = yield from self.cache_get(t, "App", key)
        t.trace.hit = cached is not None
        if cached is None:
            cached = yield from self.db_select(t, self.loader, key)
            if cached is not None:
                yield from self.cache_set(t, self.loader, key, cached, ttl=self.ttl_seconds)
        outcome = "hit" if t.trace.hit else "miss"
        answer = "the value it already held" if t.trace.hit else "what it loaded"
        command = "value (hit)" if t.trace.hit else "value (loaded)" if cached is not None else "(nil) not found"
        return (yield from self.reply(t, "Cache", "App", key, cached, command=command, outcome=outcome,
                                      explanation=f"The cache returns {answer}: {shorten(cached)}."))

    def _write(self, t: Recorder, key: str, value: str) -> Steps:
        yield from self.db_upsert(t, "App", key, value)
        yield from self.cache_delete(t, "App", key)
