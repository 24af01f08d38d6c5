"""Read-through: the cache is a smart proxy; on a miss its own loader fetches from the database.

read:  App → Cache GET ─ hit ─→ Cache → App value                                        (2 steps)
                       └ miss → Loader → Database SELECT, Database → Loader row,
                                Loader → Cache SET key value EX ttl, Cache → App value  (5 steps)
write: App → Database UPSERT, Database → App OK, App → Cache DEL key (invalidate)        (3 steps)

The application never reads the database itself, so for reads the cache is a hard dependency: when it
does not answer, the read fails cleanly (nothing is read around it). A write is the application's own
database write followed by an invalidation, as in cache-aside: it commits even when the DEL fails.
Write-through and write-behind read this way too, with the cache itself as the loader (`loader = "Cache"`).
"""

from __future__ import annotations

from .diagram_model import APP, CACHE, DATABASE, Actor, Topology, figure
from .lab import Lab
from .narration import explain_warning
from .request import FAILED, Steps


class ReadThrough(Lab):
    name = "read-through"
    title = "Read-through"
    loader = "Loader"
    topology = Topology(
        actors=(APP, CACHE, Actor("Loader", "Loader\n(the cache's own)", "component"), DATABASE),
        figure=figure("App → Cache: 1. read", "Loader → Database: 2. load on a miss", "Database → Loader: 3. row",
                      "Loader → Cache: 4. store", "Cache → App: 5. value"),
        # A square: reads go round it clockwise (App, Cache, its Loader, Database and back); writes go straight
        # down from the App to the Database. Cache → Cache: a key expiring, the cache restarting empty.
        rows=(("App", "Cache"), ("Database", "Loader")),
        lanes=(("App", "Cache"), ("Loader", "Database"), ("Loader", "Cache"), ("App", "Database"), ("Cache", "Cache")),
    )

    def _read(self, t, key: str) -> Steps:
        cached = yield from self.cache_get(t, "App", key)
        t.trace.hit = cached is not None
        if cached is None:
            cached = yield from self._load(t, key)
        if t.trace.hit:
            command, note = "value (hit)", "read-through-hit"
        elif cached is not None:
            command, note = "value (loaded)", "read-through-loaded"
        else:
            command, note = "(nil) not found", "read-through-not-found"
        yield from self.reply(t, "Cache", "App", key, cached, command=command,
                              outcome="hit" if t.trace.hit else "miss", note=(note, None))
        return cached

    def _load(self, t, key: str) -> Steps:
        """The loader: read the row, store it for next time; the value, or None if there is no row."""
        loaded = yield from self.db_select(t, self.loader, key)
        if loaded is None:
            return None
        yield from self.cache_set(t, self.loader, key, loaded.value, ttl=self.ttl_seconds, version=loaded.version)
        return loaded.value

    def _write(self, t, key: str, value: str) -> Steps:
        # Read-through covers reads only: the app writes the database itself, then invalidates.
        yield from self.db_upsert(t, "App", key, value)
        deleted = yield from self.cache_delete(t, "App", key, tolerate=True)
        if deleted is FAILED:                   # committed, but the old value may outlive the outage
            t.trace.degraded = True
            t.trace.warning = explain_warning("invalidation-failed")
