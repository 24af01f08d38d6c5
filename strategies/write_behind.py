"""Write-behind (write-back): the application writes only to the cache, which acknowledges at once; the change
waits in a queue in Redis and a flusher later writes it to the database in batches.

write:  App → Cache: one Lua script sets the value and queues the change atomically (SET, HSET into
        the pending index, XADD to the queue), Cache → Queue: queued, Cache → App: acknowledged  (3 steps)
        then, in the background, if a batch is due: the flusher's batch (features/flusher.py)
read:   through the cache, which loads a miss itself: first from the pending index (a queued write
        is newer than the database), else from the database (see read_through)

The queue and its ledger of acknowledged writes are features/write_queue.py. Written keys carry no TTL while
their write waits: until the flush, the cache holds the only copy. Under a memory limit (features/eviction.py),
a `volatile-*` policy can never evict such a key, and a full cache refuses the write (never acknowledged); an
`allkeys-*` policy may evict it, and a read still finds the queued value in the pending index.
"""

from __future__ import annotations

from .diagram_model import APP, CACHE, DATABASE, Actor, Topology, figure
from .features.flusher import FLUSHER, Flusher
from .features.write_queue import WriteQueue
from .narration import explain_warning
from .read_through import ReadThrough
from .request import REFUSED, Request, Steps, as_one_step
from .state import QueueItem
from .trace import Trace


class WriteBehind(ReadThrough):
    name = "write-behind"
    title = "Write-behind"
    loader = "Cache"
    also_shown = (Flusher._flush_oldest, Flusher._commit)
    topology = Topology(
        actors=(APP, CACHE, Actor("Queue", "Queue\n(Redis Stream)", "cds"), Actor("Flusher", "Flusher", "component"),
                DATABASE),
        figure=figure("App → Cache: 1. write", "Cache → Queue: 2. queued", "Cache → App: 3. acknowledged at once",
                      "Flusher ⇢ Queue: 4. later: read a batch", "Flusher ⇢ Database: 5. batch write"),
        rows=(("App", "Cache", "Queue"), ("", "Database", "Flusher")),
        # App → Database: a reporting job reading the database directly, beside the cache.
        lanes=(("App", "Cache"), ("Cache", "Queue"), ("Flusher", "Queue"), ("Flusher", "Database"),
               ("Cache", "Database"), ("Cache", "Cache"), ("App", "Database")),
    )

    def __init__(self, *args, batch_size: int = 10, max_delay_seconds: float = 5.0, coalesce: bool = True,
                 queue_limit: int | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.batch_size = batch_size
        self.max_delay_seconds = max_delay_seconds
        self.coalesce = coalesce
        self.queue_limit = queue_limit
        self.queue = WriteQueue(self)
        self.flusher = Flusher(self)
        # Read-through's near caches are not composed here: their two-instance figure stacks the queue, the
        # flusher and the database under the cache, where the cache's own lane to the database cannot pass.
        self.parts = (self.flusher, self.queue, self.eviction)   # the flusher's knobs first on the page, as ever

    # ---- the write ------------------------------------------------------------------------------
    def _write(self, t: Request, key: str, value: str) -> Steps:
        status, _ = yield from as_one_step(self.queue.enqueue(t, key, value, not_into=self.flusher.in_flight))
        if status == "full":                    # back-pressure: refused, so never acknowledged
            t.trace.ok, t.trace.error = False, f"the queue is full ({self.queue_limit} writes waiting)"
            yield from self.reply(t, "Cache", "App", key, None, command="refused: queue full", outcome="error",
                                  note=("wb-refused", None))
            return
        self.counters.queued_writes += 1
        yield from self.reply(t, "Cache", "App", key, None, command="OK (queued)", note=("wb-ack", None))
        reason = self.flusher.reason_due()
        if reason:
            yield from self.flusher.flush_batch(t, reason)

    # ---- the read's loader: a queued write is newer than the database ---------------------------
    def _load(self, t: Request, key: str) -> Steps:
        queued = yield from self.cache_call(t, "Cache", "Queue", "HGET", lambda: self.queue.pending(key),
                                            command=f"HGET pending {key}", key=key, note=("wb-pending-lookup", None))
        if queued is None:
            return (yield from super()._load(t, key))
        yield from self.reply(t, "Queue", "Cache", key, queued, command="a queued write",
                              note=("wb-pending-found", None))
        stored = yield from self.cache_set(t, "Cache", key, queued, ttl=None, version=None, refusable=True)
        if stored is REFUSED:                   # full: the queued value is still the answer, just not cached
            t.trace.warning = explain_warning("fill-refused")
        return queued

    # ---- the flusher, on request ------------------------------------------------------------------
    def flush(self) -> Trace:
        """Drain everything queued now, batch after batch, until the queue is empty or a batch fails."""
        return Request(self, self.new_trace("flush", client=FLUSHER), self.flusher.drain).run()

    def next_flush_at(self) -> float | None:
        """When the flusher will next run by itself (simulated seconds), or None if it has nothing due."""
        return self.flusher.due_at()

    @property
    def retry_at(self) -> float:
        return self.flusher.retry_at

    @property
    def backoff_seconds(self) -> float:
        return self.flusher.backoff_seconds

    def queue_entries(self) -> list[QueueItem]:
        """Queued writes, oldest first."""
        return self.state.queue_in_order()
