"""Write-behind (write-back): the application writes only to the cache, which acknowledges at once;
the change waits in a queue in Redis (a Stream, as RedisGears' rgsync keeps it) and a flusher later
writes it to the database in batches.

write:  App → Cache SET key value, Cache → Queue XADD, Cache → App acknowledged           (3 steps)
        then, in the background, if a batch is due: a flush (below)
flush:  Flusher → Queue XRANGE (oldest batch), Flusher → Database UPSERT × n in one transaction,
        Database → Flusher OK, Flusher → Queue XDEL                                        (4 steps)
        a failed batch is rolled back and stays queued; it is retried after a backoff
read:   through the cache, which loads a miss from the database itself (see read_through)

A flush is due when the queue holds a full batch, when its oldest write has waited longer than the
maximum delay, or when somebody calls `flush()`. Coalescing folds several queued writes to one key
into one database write (the last value wins). The core starts no threads: time is the simulated
clock, moved by requests and by whoever calls `tick()`.
"""

from __future__ import annotations

from .base import CallFailures, RequestFailed, Steps, shorten
from .database import UPSERT_SQL
from .diagram_model import APP, CACHE, DATABASE, Actor, FigureArrow, Topology
from .read_through import ReadThrough
from .trace import Recorder, Trace

MAX_BACKOFF_SECONDS = 60.0


def _count(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


class WriteBehind(ReadThrough):
    name = "write-behind"
    title = "Write-behind"
    loader = "Cache"
    has_queue = True
    topology = Topology(
        actors=(APP, CACHE, Actor("Queue", "Queue\n(Redis Stream)", "cds"), Actor("Flusher", "Flusher", "component"),
                DATABASE),
        figure=(
            FigureArrow("App", "Cache", "1. write"),
            FigureArrow("Cache", "Queue", "2. queued"),
            FigureArrow("Cache", "App", "3. acknowledged at once"),
            FigureArrow("Flusher", "Queue", "4. later: read a batch", background=True),
            FigureArrow("Flusher", "Database", "5. batch write", background=True),
        ),
        rows=(("App", "Cache", "Queue"), ("", "Database", "Flusher")),
    )

    def __init__(self, *args, batch_size: int = 10, max_delay_seconds: float = 5.0, coalesce: bool = True,
                 **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.batch_size = batch_size
        self.max_delay_seconds = max_delay_seconds
        self.coalesce = coalesce
        self.retry_at = 0.0
        self.backoff_seconds = 1.0

    @property
    def queue_key(self) -> str:
        return f"{self.namespace}wb:queue"

    def _write(self, t: Recorder, key: str, value: str) -> Steps:
        # No TTL: until it is flushed, the cache holds the only copy of this write.
        yield from self.cache_set(t, "App", key, value)
        yield from self._queue_call(
            t, "Cache", "XADD", key=key, value=value, command=f"XADD queue {key}",
            call=lambda: self.cache.xadd(self.queue_key, {"key": key, "value": value, "at": f"{self.clock.now():.6f}"}),
            explanation=f"The change to {shorten(key)} joins the write-behind queue (a Redis Stream).")
        self.counters.queued_writes += 1
        yield from self.reply(t, "Cache", "App", key, None, command="OK (queued)",
                              explanation="Acknowledged at once: the database has not been written yet.")
        reason = self._flush_due()
        if reason:
            yield from self._flush_batch(t, reason)

    # ---- the flusher ----------------------------------------------------------------------------
    def flush(self) -> Trace:
        """Drain everything queued now, batch after batch, until the queue is empty or a batch fails."""
        trace = Trace(self.name, "flush", client=self.client)
        return self._run(trace, self._drain(Recorder(trace, self.clock)))

    def _drain(self, t: Recorder) -> Steps:
        while self._queued_count():
            flushed = yield from self._flush_batch(t, "flush requested", background=False)
            if not flushed:
                break
        if not t.trace.steps:
            yield from self.reply(t, "Flusher", "Queue", None, None, command="XLEN queue → 0", action="XLEN",
                                  explanation="Nothing to flush: the queue is empty.")

    def tick(self) -> Trace | None:
        """Run the flusher if the oldest queued write has waited past the maximum delay."""
        reason = self._flush_due()
        if not reason:
            return None
        trace = Trace(self.name, "flush", client=self.client)
        return self._run(trace, self._flush_batch(Recorder(trace, self.clock), reason))

    def _flush_due(self) -> str | None:
        if self.clock.now() < self.retry_at:
            return None
        queued = self._queued_count()
        if queued >= self.batch_size:
            return f"the queue holds a full batch ({self.batch_size})"
        if not queued or self.max_delay_seconds == float("inf"):
            return None
        waited = self.clock.now() - float(self.queue_entries(count=1)[0]["at"])
        if waited >= self.max_delay_seconds:
            return f"the oldest write has waited {waited:.1f} s (max delay {self.max_delay_seconds:g} s)"
        return None

    def _flush_batch(self, t: Recorder, reason: str, *, background: bool = True) -> Steps:
        """Write the oldest batch to the database in one transaction; True if it committed."""
        entries = yield from self._queue_call(
            t, "Flusher", "XRANGE", lambda: self.queue_entries(count=self.batch_size), key=None, value=None,
            command=f"XRANGE queue COUNT {self.batch_size}", background=background,
            explanation=f"The flusher wakes up because {reason} and reads the oldest queued writes.")
        rows = [(e["key"], e["value"]) for e in entries]
        if self.coalesce:
            rows = list(dict(rows).items())   # one row per key, the last value wins
        cost = (self.costs.db_write_ms + self.costs.cache_ms * (len(rows) - 1)) * self.db.slowdown
        folded = f" (coalesced from {len(entries)} writes)" if len(rows) < len(entries) else ""
        command = f"{UPSERT_SQL} × {_count(len(rows), 'row')}"
        try:
            self.db.put_many(rows)
        except CallFailures as err:
            return (yield from self._batch_failed(t, command, cost, err, background))
        self.counters.db_writes += len(rows)
        self.backoff_seconds, self.retry_at = 1.0, 0.0
        yield t.step("Flusher", "Database", "UPSERT", command=command, cost_ms=cost, background=background,
                     explanation=f"The flusher writes {len(rows)} row(s){folded} to the database in one "
                                 "transaction (BEGIN IMMEDIATE … COMMIT).")
        yield from self.reply(t, "Database", "Flusher", None, None, command="OK (committed)", background=background,
                              explanation="The database commits the whole batch at once.")
        yield from self._queue_call(
            t, "Flusher", "XDEL", lambda: self.cache.xdel(self.queue_key, *[e["id"] for e in entries]), key=None,
            value=None, command=f"XDEL queue ({_count(len(entries), 'id')})", background=background,
            explanation="Only after the commit are the flushed entries removed from the queue.")
        return True

    def _batch_failed(self, t: Recorder, command: str, cost: float, err: Exception, background: bool) -> Steps:
        """The batch was rolled back: it stays queued and is retried after a growing backoff."""
        self.retry_at = self.clock.now() + self.backoff_seconds
        failed = t.step("Flusher", "Database", "UPSERT", command=command, outcome="error", cost_ms=cost,
                        background=background,
                        explanation=f"The batch failed ({err}); it is rolled back and stays queued, nothing is "
                                    f"lost. The flusher tries again at its next trigger, after at least "
                                    f"{self.backoff_seconds:g} s.")
        self.backoff_seconds = min(self.backoff_seconds * 2, MAX_BACKOFF_SECONDS)
        if not background or t.trace.operation == "flush":   # a write stays acknowledged; a flush failed
            t.trace.ok, t.trace.error = False, str(err)
        yield failed
        return False

    def _queue_call(self, t: Recorder, source: str, action: str, call, *, key, value, command, explanation,
                    background: bool = False) -> Steps:
        try:
            result = call()
        except CallFailures as err:
            t.fail(source, "Queue", action, f"cache unavailable: {err}", key=key, value=value, command=command,
                   explanation=f"The queue did not answer {action}: {err}.", cost_ms=self.costs.cache_ms,
                   background=background)
            raise RequestFailed from err
        yield t.step(source, "Queue", action, key=key, value=value, command=command, explanation=explanation,
                     cost_ms=self.costs.cache_ms, background=background)
        return result

    # ---- what the learner sees ------------------------------------------------------------------
    def queue_entries(self, count: int | None = None) -> list[dict[str, str]]:
        """Queued writes, oldest first: each a dict with id, key, value and the simulated time queued."""
        return [{"id": entry_id, **fields} for entry_id, fields in self.cache.xrange(self.queue_key, count=count)]

    def _queued_count(self) -> int:
        return self.cache.xlen(self.queue_key)

    def latest_value(self, key: str) -> str | None:
        queued = [e["value"] for e in self.queue_entries() if e["key"] == key]
        return queued[-1] if queued else self.db.peek(key)

    def _is_stale(self, trace: Trace) -> bool:
        """Reading your own write before it is flushed is not stale: the database is behind, not the cache."""
        if not super()._is_stale(trace):
            return False
        queued = [e["value"] for e in self.queue_entries() if e["key"] == trace.key]
        return not queued or trace.value != queued[-1]

    def reset(self) -> None:
        super().reset()
        self.retry_at, self.backoff_seconds = 0.0, 1.0
