"""Write-behind (write-back): the application writes only to the cache, which acknowledges at once;
the change waits in a queue in Redis (a Stream, as RedisGears' rgsync keeps it) and a flusher later
writes it to the database in batches.

write:  App → Cache: one Lua script sets the value and queues the change atomically (SET, HSET into
        the pending index, XADD to the queue), Cache → Queue: queued, Cache → App: acknowledged  (3 steps)
        then, in the background, if a batch is due: a flush (below)
flush:  Flusher → Queue: read the oldest batch (a script: XRANGE, values from the pending index),
        Flusher → Database: UPSERT × n in one transaction, Database → Flusher: OK,
        Flusher → Queue: acknowledge (a script: XDEL, settle the pending index, give the keys their TTL) (4 steps)
        a failed batch is rolled back and stays queued; it is retried after a backoff
read:   through the cache, which loads a miss itself: first from the pending index (a queued write
        is newer than the database), else from the database (see read_through)

A flush is due when the queue holds a full batch, when its oldest write has waited longer than the
maximum delay, or when somebody calls `flush()`. With coalescing on (as Hazelcast's coalescing queue),
a key has at most one queued entry: a newer write to it replaces the value waiting in the pending index
and keeps its place, so 25 writes to a hot key are one pending write. The core starts no threads: time
is the simulated clock, moved by requests, `advance_time()` and `tick()`.

Written keys carry no TTL while their write waits: until the flush, the cache holds the only copy.
"""

from __future__ import annotations

import heapq

from .base import FAILED, Steps
from .database import UPSERT_SQL, Row
from .diagram_model import APP, CACHE, DATABASE, Actor, FigureArrow, Topology
from .narration import explain_warning, plural
from .read_through import ReadThrough
from .state import CacheItem, Change, LabState, PendingWrite, QueueItem
from .trace import Trace

MAX_BACKOFF_SECONDS = 60.0

# KEYS: the cache entry, the pending values, the pending entry ids, the queue.
# ARGV: key, value, entry id, queued at, coalesce ("1"/"0"), queue limit (0: none), then the ids of the
# batch a flush has read and not yet acknowledged: a write never coalesces into one of those (the flush
# already holds the older value), it is queued afresh instead.
ENQUEUE = """
local key, value, id = ARGV[1], ARGV[2], ARGV[3]
local coalesced = ARGV[5] == '1' and redis.call('HEXISTS', KEYS[2], key) == 1
if coalesced then
  local waiting = redis.call('HGET', KEYS[3], key)
  for i = 7, #ARGV do
    if ARGV[i] == waiting then coalesced = false end
  end
end
local limit = tonumber(ARGV[6])
if not coalesced and limit > 0 and redis.call('XLEN', KEYS[4]) >= limit then
  return {'full', ''}
end
redis.call('SET', KEYS[1], value)
redis.call('HSET', KEYS[2], key, value)
if coalesced then
  return {'coalesced', redis.call('HGET', KEYS[3], key)}
end
if ARGV[5] == '1' then
  redis.call('XADD', KEYS[4], id, 'key', key, 'at', ARGV[4])
else
  redis.call('XADD', KEYS[4], id, 'key', key, 'value', value, 'at', ARGV[4])
end
redis.call('HSET', KEYS[3], key, id)
return {'queued', id}
"""

# KEYS: the queue, the pending values, the pending entry ids. ARGV: how many entries.
# The oldest entries, each as {id, key, value}. A key's newest entry carries the newest value, which
# waits in the pending index (a coalesced write replaces it there, not in the stream).
READ_BATCH = """
local batch = {}
for _, entry in ipairs(redis.call('XRANGE', KEYS[1], '-', '+', 'COUNT', ARGV[1])) do
  local fields = {}
  for i = 1, #entry[2], 2 do fields[entry[2][i]] = entry[2][i + 1] end
  local key, value = fields['key'], fields['value']
  if redis.call('HGET', KEYS[3], key) == entry[1] then value = redis.call('HGET', KEYS[2], key) end
  table.insert(batch, {entry[1], key, value or ''})
end
return batch
"""

# KEYS: the queue, the pending values, the pending entry ids, then the cache entry of each flushed key.
# ARGV: ttl (0: none), n, n entry ids, then per flushed key: key, the value written, its last entry id.
# A key leaves the pending index only if no newer write arrived meanwhile; then it gets its TTL, if the
# cache still holds the value that was written.
ACKNOWLEDGE = """
local n = tonumber(ARGV[2])
redis.call('XDEL', KEYS[1], unpack(ARGV, 3, 2 + n))
local settled, timed, k = {}, {}, 0
for i = 3 + n, #ARGV, 3 do
  k = k + 1
  local key, value, id = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  if redis.call('HGET', KEYS[3], key) == id and redis.call('HGET', KEYS[2], key) == value then
    redis.call('HDEL', KEYS[2], key)
    redis.call('HDEL', KEYS[3], key)
    table.insert(settled, key)
    if tonumber(ARGV[1]) > 0 and redis.call('GET', KEYS[3 + k]) == value then
      redis.call('EXPIRE', KEYS[3 + k], ARGV[1])
      table.insert(timed, key)
    end
  end
end
return {settled, timed}
"""


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
        self.queue_key = f"{self.namespace}wb:queue"
        self.pending_key = f"{self.namespace}wb:pending"
        self.pending_ids_key = f"{self.namespace}wb:pending-ids"
        self._enqueue = self.cache.register_script(ENQUEUE)
        self._read_batch = self.cache.register_script(READ_BATCH)
        self._acknowledge = self.cache.register_script(ACKNOWLEDGE)
        self.retry_at = 0.0
        self.backoff_seconds = 1.0
        self._entries = 0
        self._in_flight: tuple[str, ...] = ()   # the batch a flush has read and not yet acknowledged

    # ---- the write ------------------------------------------------------------------------------
    def _write(self, t, key: str, value: str) -> Steps:
        self._entries += 1
        entry = f"{self._entries}-1"
        keys = [self._kv + key, self.pending_key, self.pending_ids_key, self.queue_key]
        args = [key, value, entry, repr(self.clock.now()), int(self.coalesce), self.queue_limit or 0,
                *self._in_flight]
        status, entry = yield from self.cache_call(
            t, "App", "Cache", "SET", lambda: self._enqueue(keys=keys, args=args),
            command=f"SET+XADD {key} (script)", key=key, value=value,
            changes=lambda answer, at: self._enqueued(key, value, answer, at),
            note=lambda answer: (("wb-queue-full", {"limit": self.queue_limit}), "error") if answer[0] == "full"
            else (("wb-write", None), "ok"))
        if status == "full":                    # back-pressure: refused, so never acknowledged
            t.trace.ok, t.trace.error = False, f"the queue is full ({self.queue_limit} writes waiting)"
            yield from self.reply(t, "Cache", "App", key, None, command="refused: queue full", outcome="error",
                                  note=("wb-refused", None))
            return
        self.counters.queued_writes += 1
        yield from self.reply(t, "Cache", "Queue", key, value, action="XADD",
                              command=f"queued as {entry}" if status == "queued" else f"coalesced into {entry}",
                              note=(f"wb-{status}", {"entry": entry}))
        yield from self.reply(t, "Cache", "App", key, None, command="OK (queued)", note=("wb-ack", None))
        reason = self._flush_due()
        if reason:
            yield from self._flush_batch(t, reason)

    def _enqueued(self, key: str, value: str, answer: list[str], at: float) -> tuple[Change, ...]:
        status, entry = answer
        if status == "full":
            return ()
        state = self.state
        changes = [Change("cache", key, state.cache.get(key), CacheItem(value, None, None)),
                   Change("pending", key, state.pending.get(key), PendingWrite(value, entry))]
        if status == "queued":
            changes.append(Change("queue", entry, None,
                                  QueueItem(entry, key, None if self.coalesce else value, self.clock.now())))
        return tuple(changes)

    # ---- the read's loader: a queued write is newer than the database ---------------------------
    def _load(self, t, key: str) -> Steps:
        queued = yield from self.cache_call(t, "Cache", "Queue", "HGET", lambda: self.cache.hget(self.pending_key, key),
                                            command=f"HGET pending {key}", key=key, note=("wb-pending-lookup", None))
        if queued is None:
            return (yield from super()._load(t, key))
        yield from self.reply(t, "Queue", "Cache", key, queued, command="a queued write",
                              note=("wb-pending-found", None))
        yield from self.cache_set(t, "Cache", key, queued, ttl=None, version=None)
        return queued

    # ---- the flusher ----------------------------------------------------------------------------
    def flush(self) -> Trace:
        """Drain everything queued now, batch after batch, until the queue is empty or a batch fails."""
        trace = self._new_trace("flush")
        return self._request(trace, self._drain).run()

    def _drain(self, t) -> Steps:
        if self._in_flight:                     # one flush at a time: a second could commit older values last
            t.trace.ok, t.trace.error = False, "another flush is still in progress"
            yield from self.reply(t, "Flusher", "Queue", None, None, command="a flush is in progress",
                                  action="XLEN", outcome="error", note=("wb-flush-busy", None))
            return
        while self.state.queue:
            flushed = yield from self._flush_batch(t, "requested", background=False)
            if not flushed:
                break
        if not t.trace.steps:
            yield from self.reply(t, "Flusher", "Queue", None, None, command="queue is empty", action="XLEN",
                                  note=("wb-nothing-to-flush", None))

    def tick(self) -> Trace | None:
        """Run the flusher if a batch is due (full, or its oldest write waited past the maximum delay)."""
        reason = self._flush_due()
        if not reason:
            return None
        trace = self._new_trace("flush")
        return self._request(trace, self._flush_batch, reason).run()

    def next_flush_at(self) -> float | None:
        """When the flusher will next run by itself (simulated seconds), or None if it has nothing due."""
        return self._background_due_at()

    def _background_due_at(self) -> float | None:
        queue = self.state.queue
        if not queue or self._in_flight:        # nothing to write, or a batch is still being written
            return None
        if len(queue) >= self.batch_size:
            due = self.clock.now()
        else:
            due = next(iter(queue.values())).at + self.max_delay_seconds
        due = max(due, self.retry_at)
        return None if due == float("inf") else due

    def _flush_due(self) -> str | None:
        """Why a batch should be written now ("full" or "max-delay"), or None."""
        due = self._background_due_at()
        if due is None or due > self.clock.now():
            return None
        return "full" if len(self.state.queue) >= self.batch_size else "max-delay"

    def _oldest_wait(self) -> float:
        queue = self.state.queue
        return round(self.clock.now() - next(iter(queue.values())).at, 1) if queue else 0.0

    def _flush_batch(self, t, reason: str, *, background: bool = True) -> Steps:
        """Write the oldest batch to the database in one transaction; True if it committed."""
        try:
            batch = yield from self.cache_call(
                t, "Flusher", "Queue", "XRANGE",
                lambda: self._claim(self._read_batch(keys=[self.queue_key, self.pending_key, self.pending_ids_key],
                                                     args=[self.batch_size])),
                command=f"XRANGE queue COUNT {self.batch_size}", background=background, tolerate=background,
                note=(f"wb-flush-read-{reason}", {"batch": self.batch_size, "delay": self.max_delay_seconds,
                                                  "waited": self._oldest_wait()}))
            if batch is FAILED:
                return self._retry_later(t, background, "the queue did not answer")
            return (yield from self._write_batch(t, batch, background))
        finally:
            self._in_flight = ()     # acknowledged, failed or abandoned: the next flush may run

    def _claim(self, batch: list) -> list:
        """The batch just read is in flight until it is acknowledged: no other flush starts meanwhile, and no
        write coalesces into one of its entries."""
        self._in_flight = tuple(entry for entry, _, _ in batch)
        return batch

    def _write_batch(self, t, batch: list, background: bool) -> Steps:
        """Commit a batch the flusher has read, then acknowledge it; True if it committed."""
        last: dict[str, tuple[str, str]] = {}        # key -> (value written, its last entry id)
        for entry, key, value in batch:
            last[key] = (value, entry)
        rows = [(key, value) for _, key, value in batch]
        keys = tuple(last)
        cost = (self.costs.db_write_ms + self.costs.cache_ms * (len(rows) - 1)) * self.db.slowdown
        command = f"{UPSERT_SQL} × {len(rows)}"
        at = self.clock.now() + cost / 1000
        try:
            versions = self.db.put_many(rows, at)
        except Exception as err:            # noqa: BLE001 — any failure rolls the batch back
            return (yield from self._batch_failed(t, command, cost, err, background, keys))
        self.counters.db_writes += len(rows)
        self.backoff_seconds, self.retry_at = 1.0, 0.0
        changes, before = [], {}           # a key written twice in one batch: its second change follows its first
        for (key, value), version in zip(rows, versions, strict=True):
            row = Row(key, value, version, at)
            changes.append(Change("db", key, before[key] if key in before else self.state.db.get(key), row))
            before[key] = row
        yield t.step("Flusher", "Database", "UPSERT", command=command, cost_ms=cost, background=background,
                     changes=tuple(changes), note=("wb-flush-write", {"rows": len(rows), "found": keys}))
        yield from self.reply(t, "Database", "Flusher", None, None, command="OK (committed)", background=background,
                              note=("wb-flush-committed", None))
        ids = [entry for entry, _, _ in batch]
        args = [self.ttl_seconds or 0, len(ids), *ids]
        for key, (value, entry) in last.items():
            args += [key, value, entry]
        settled = yield from self.cache_call(
            t, "Flusher", "Queue", "XDEL",
            lambda: self._acknowledge(keys=[self.queue_key, self.pending_key, self.pending_ids_key,
                                            *[self._kv + key for key in last]], args=args),
            command=f"XDEL queue ({plural(len(ids), 'id')})", background=background, tolerate=background,
            changes=lambda answer, when: self._acknowledged(ids, answer, when),
            note=("wb-flush-acknowledge" if self.ttl_seconds else "wb-flush-acknowledge-no-ttl",
                  {"ttl": self.ttl_seconds or 0}))
        if settled is FAILED:       # committed, but still queued: the next flush writes it again (harmless)
            return self._retry_later(t, background, "the queue did not answer the acknowledgement")
        return True

    def _acknowledged(self, ids: list[str], answer, at: float) -> tuple[Change, ...]:
        settled, timed = answer
        state = self.state
        changes = [Change("queue", entry, state.queue.get(entry), None, "flushed") for entry in ids]
        changes += [Change("pending", key, state.pending.get(key), None, "flushed") for key in settled]
        for key in timed:
            item = state.cache.get(key)
            expires = at + self.ttl_seconds
            heapq.heappush(self._expiries, (expires, key))
            changes.append(Change("cache", key, item, CacheItem(item.value if item else "", expires,
                                                                state.db.get(key).version if key in state.db
                                                                else None)))
        return tuple(changes)

    def _batch_failed(self, t, command: str, cost: float, err: Exception, background: bool,
                      keys: tuple[str, ...]) -> Steps:
        """The batch was rolled back: it stays queued and is retried after a growing backoff."""
        yield t.step("Flusher", "Database", "UPSERT", command=command, outcome="error", cost_ms=cost,
                     background=background,
                     note=("wb-flush-failed", {"error": str(err), "backoff": self.backoff_seconds, "found": keys}))
        return self._retry_later(t, background, str(err))

    def _retry_later(self, t, background: bool, error: str) -> bool:
        """Back off: the next attempt waits twice as long as the last, up to MAX_BACKOFF_SECONDS."""
        wait = self.backoff_seconds
        self.retry_at = self.clock.now() + wait
        self.backoff_seconds = min(wait * 2, MAX_BACKOFF_SECONDS)
        trace = t.trace
        if background and trace.operation == "write":    # the write itself stays acknowledged
            trace.warning = explain_warning("wb-background-flush-failed", error=error, wait=wait)
        else:
            trace.ok, trace.error = False, error
        return False

    # ---- what the learner sees ------------------------------------------------------------------
    def queue_entries(self) -> list[QueueItem]:
        """Queued writes, oldest first."""
        return self.state.queue_in_order()

    def _queued_writes(self) -> list[tuple[str, str]]:
        """What a crash would lose: queued writes, except a batch the flusher already holds (it commits them
        anyway; only its acknowledgement then finds the queue gone)."""
        state, held = self.state, set(self._in_flight)
        return [(item.key, item.value if item.value is not None else state.pending[item.key].value)
                for item in state.queue_in_order()
                if item.id not in held and (item.value is not None or item.key in state.pending)]

    def _read_real_queue(self, real: LabState) -> None:
        for entry, fields in self.cache.xrange(self.queue_key):
            real.queue[entry] = QueueItem(entry, fields["key"], fields.get("value"), float(fields["at"]))
        ids = self.cache.hgetall(self.pending_ids_key)
        for key, value in self.cache.hgetall(self.pending_key).items():
            real.pending[key] = PendingWrite(value, ids.get(key, ""))

    def reset(self, *, restart_clock: bool = False) -> None:
        super().reset(restart_clock=restart_clock)
        self.retry_at, self.backoff_seconds, self._entries, self._in_flight = 0.0, 1.0, 0, ()

