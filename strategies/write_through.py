"""Write-through: the application writes only to the cache, which writes the database synchronously.

write, safe ordering (default) — nothing is acknowledged, and the cache keeps nothing new, unless
the database committed:
    App → Cache write, Cache → Database UPSERT, Database → Cache OK,
    Cache → Cache SET key value EX ttl, Cache → App acknowledged                          (5 steps)
write, naive ordering — the cache is updated first; if the database then fails, the cache holds a
value the database never committed (the dual-write problem):
    App → Cache write, Cache → Cache SET, Cache → Database UPSERT, Database → Cache OK,
    Cache → App acknowledged                                                              (5 steps)
read: through the cache, which loads a miss from the database itself (see read_through).

The cache is in the write path: when it does not answer, the hand-over fails and nothing is written.
"""

from __future__ import annotations

from typing import Literal

from .calls import CacheDown
from .diagram_model import APP, CACHE, DATABASE, Topology, figure
from .knobs import Knob
from .read_through import ReadThrough
from .request import RequestFailed, Steps, helper

Ordering = Literal["safe", "naive"]


class WriteThrough(ReadThrough):
    name = "write-through"
    title = "Write-through"
    loader = "Cache"
    knobs = (Knob("ordering", "Write ordering", "choice", "safe", "ordering", choices=("safe", "naive"),
                  help="ordering-help"),)
    topology = Topology(
        actors=(APP, CACHE, DATABASE),
        figure=figure("App → Cache: 1. write", "Cache → Database: 2. write (synchronous)", "Database → Cache: 3. ok",
                      "Cache → Cache: 4. store", "Cache → App: 5. acknowledged"),
        rows=(("App", "Cache", "Database"),),
        lanes=(("App", "Cache"), ("Cache", "Database"), ("Cache", "Cache")),
    )

    def __init__(self, *args, ordering: Ordering = "safe", **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.ordering: Ordering = ordering

    def _write(self, t, key: str, value: str) -> Steps:
        yield from self.hand_over(t, key, value)
        if self.ordering == "naive":
            yield from self.cache_set(t, "Cache", key, value, ttl=self.ttl_seconds, version=None)
        version = yield from self.db_upsert(t, "Cache", key, value)
        if self.ordering == "safe":
            yield from self.cache_set(t, "Cache", key, value, ttl=self.ttl_seconds, version=version)
        yield from self.reply(t, "Cache", "App", key, None, command="acknowledged", note=("write-through-ack", None))

    @helper
    def hand_over(self, t, key: str, value: str) -> Steps:
        """App → Cache: the write is handed to the cache layer, which the app waits on. A call of its own (one
        hop to the cache, as any cache call costs); the cache's answer, at the end, is the acknowledgement."""
        details = dict(key=key, value=value, command=f"write {key}", cost_ms=self.costs.cache_ms)
        if self.cache_down:
            error = CacheDown()
            t.fail("App", "Cache", "WRITE", f"cache unavailable: {error}",
                   note=("cache-failed", {"action": "WRITE", "error": str(error)}), **details)
            raise RequestFailed(error)
        yield t.step("App", "Cache", "WRITE", note=("write-through-hand-over", None), **details)
