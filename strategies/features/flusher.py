"""Write-behind's flusher: it writes the oldest queued writes to the database in batches, in the background.

flush:  Flusher → Queue: read the oldest batch (queue_read_batch.lua: XRANGE, values from the pending index),
        Flusher → Database: UPSERT × n in one transaction, Database → Flusher: OK,
        Flusher → Queue: acknowledge (queue_acknowledge.lua: XDEL, settle the pending index, give the keys
        their TTL)                                                                                  (4 steps)
        a failed batch is rolled back and stays queued; it is retried after a growing backoff

A flush is due when the queue holds a full batch, when its oldest write has waited longer than the maximum
delay, or when somebody calls `drain()`. One flush runs at a time, so an older value is never committed after
a newer one; the batch it has read is `held` until it settles. Its steps are the flusher's own ("F"), even
inside the client's write that made a batch due. The core starts no threads: time is the simulated clock.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..database import UPSERT_SQL, Row
from ..knobs import Knob, LabAction
from ..narration import explain_warning, plural
from ..part import PageText, Part
from ..request import FAILED, Request, Steps
from ..state import CacheItem, Change, LabState, PendingWrite
from ..trace import Trace
from . import script

if TYPE_CHECKING:
    from ..write_behind import WriteBehind

MAX_BACKOFF_SECONDS = 60.0
FLUSHER = "F"          # who performs a flush's steps: the flusher, not the client whose write made it due


class Flusher(Part):
    """The flusher of one write-behind lab; its knobs are the lab's (`batch_size`, `max_delay_seconds`)."""

    heading = "part-flusher"
    lab: WriteBehind
    knobs = (
        Knob("batch", "Batch size", "number", 10, "batch_size", low=1, high=1000, help="batch-help"),
        Knob("delay", "Max delay (s)", "number", 5.0, "max_delay_seconds", low=0.5, high=600.0, step=0.5,
             help="delay-help"),
    )
    actions = (LabAction("f", "Flush now", ":material/cleaning_services:", "flush-help", lambda lab: lab.flush()),)

    def __init__(self, lab: WriteBehind) -> None:
        super().__init__(lab)
        self.queue = lab.queue
        self._read_batch = script(lab.cache, "queue_read_batch")
        self._acknowledge = script(lab.cache, "queue_acknowledge")
        self.reset()

    def reset(self) -> None:
        self.retry_at = 0.0
        self.backoff_seconds = 1.0
        self.in_flight: tuple[str, ...] = ()   # the batch a flush has read and not yet settled

    def held(self) -> tuple[str, ...]:
        return self.in_flight

    # ---- when ----------------------------------------------------------------------------------------
    def due_at(self) -> float | None:
        lab = self.lab
        queue = lab.state.queue
        if not queue or self.in_flight:         # nothing to write, or a batch is still being written
            return None
        if len(queue) >= lab.batch_size:
            due = lab.clock.now()
        else:
            due = next(iter(queue.values())).at + lab.max_delay_seconds
        due = max(due, self.retry_at)
        return None if due == float("inf") else due

    def reason_due(self) -> str | None:
        """Why a batch should be written now ("full" or "max-delay"), or None."""
        due = self.due_at()
        if due is None or due > self.lab.clock.now():
            return None
        return "full" if len(self.lab.state.queue) >= self.lab.batch_size else "max-delay"

    def tick(self) -> Trace | None:
        """Run a batch if one is due (full, or its oldest write waited past the maximum delay)."""
        reason = self.reason_due()
        if not reason:
            return None
        return Request(self.lab, self.lab.new_trace("flush", client=FLUSHER), self.flush_batch, reason).run()

    def status(self, state: LabState, live: bool) -> PageText:
        """What the flusher is doing, from the tables on screen (`state`); a retry's timing only when they are
        the lab's now (`live`)."""
        lab, queue, now = self.lab, state.queue, state.now
        if not queue:
            return PageText("flusher-idle", {})
        if live and self.retry_at > now:
            due = self.due_at()
            return PageText("flusher-retry", {"queued": len(queue), "wait": "∞" if due is None else f"{due - now:.1f}"})
        oldest = min(queue.values(), key=lambda item: item.at)
        return PageText("flusher-status", {"queued": len(queue), "batch": lab.batch_size,
                                           "unit": "one per key: writes coalesce" if lab.coalesce else "one per write",
                                           "waited": f"{now - oldest.at:.1f}", "delay": f"{lab.max_delay_seconds:g}"})

    def drain(self, t: Request) -> Steps:
        """Everything queued now, batch after batch, until the queue is empty or a batch fails."""
        lab = self.lab
        if self.in_flight:                      # one flush at a time: a second could commit older values last
            t.trace.ok, t.trace.error = False, "another flush is still in progress"
            yield from lab.reply(t, "Flusher", "Queue", None, None, command="a flush is in progress",
                                 action="XLEN", outcome="error", note=("wb-flush-busy", None))
            return
        while lab.state.queue:
            flushed = yield from self.flush_batch(t, "requested", background=False)
            if not flushed:
                break
        if not t.trace.steps:
            yield from lab.reply(t, "Flusher", "Queue", None, None, command="queue is empty", action="XLEN",
                                 note=("wb-nothing-to-flush", None))

    # ---- one batch -------------------------------------------------------------------------------------
    def flush_batch(self, t: Request, reason: str, *, background: bool = True) -> Steps:
        """Write the oldest batch to the database in one transaction; True if it committed."""
        client, t.client = t.client, FLUSHER
        try:
            return (yield from self._flush_oldest(t, reason, background))
        finally:
            t.client = client
            self.in_flight = ()     # acknowledged, failed or abandoned: the next flush may run

    def _flush_oldest(self, t: Request, reason: str, background: bool) -> Steps:
        lab, queue = self.lab, self.queue
        expected = [item.id for item in lab.state.queue_in_order()[:lab.batch_size]]
        batch = yield from lab.cache_call(
            t, "Flusher", "Queue", "XRANGE",
            lambda: self._claim(self._read_batch(keys=[queue.queue_key, queue.pending_key, queue.pending_ids_key],
                                                 args=[lab.batch_size])),
            command=f"XRANGE queue COUNT {lab.batch_size}", background=background, tolerate=background,
            note=lambda answer: self._read_note(reason, expected, answer))
        if batch is FAILED:
            return self._retry_later(t, background, "the queue did not answer")
        if [entry for entry, *_ in batch] != expected:
            # The queue is not what the lab saw (wiped from outside, or a server that restarted): the tables
            # follow the cache first, and the lab counts what that cost. The next flush starts afresh.
            self.in_flight = ()        # this batch will not be written
            yield lab.record_resync(t, lab.read_real_state(), background=background)
            return False
        return (yield from self._write_batch(t, batch, background))

    def _read_note(self, reason: str, expected: list[str], batch: list) -> tuple[tuple, str]:
        lab = self.lab
        if [entry for entry, *_ in batch] != expected:
            return ("wb-flush-read-mismatch", {"expected": len(expected), "found": len(batch)}), "error"
        queue = lab.state.queue
        waited = round(lab.clock.now() - next(iter(queue.values())).at, 1) if queue else 0.0
        return (f"wb-flush-read-{reason}", {"batch": lab.batch_size, "delay": lab.max_delay_seconds,
                                            "waited": waited}), "ok"

    def _claim(self, batch: list) -> list:
        """The batch just read is in flight until it is acknowledged: no other flush starts meanwhile, and no
        write coalesces into one of its entries."""
        self.in_flight = tuple(entry for entry, *_ in batch)
        return batch

    def _write_batch(self, t: Request, batch: list, background: bool) -> Steps:
        """Commit a batch the flusher has read, then acknowledge it; True if it committed (or had nothing to
        write: every entry of it was superseded by a newer one)."""
        lab, queue = self.lab, self.queue
        carried = [(entry, key, value) for entry, key, value, _ in batch if value is not None]
        if carried:
            committed = yield from self._commit(t, carried, background)
            if not committed:
                return False
        last: dict[str, tuple[str, str]] = {}        # key -> (value written, its last entry id)
        for entry, key, value in carried:
            last[key] = (value, entry)
        ids = [entry for entry, *_ in batch]
        args = [lab.ttl_seconds or 0, len(ids), *ids]
        for key, (value, entry) in last.items():
            args += [key, value, entry]
        superseded = {entry: newer for entry, _, value, newer in batch if value is None}
        state = lab.state
        expected = (sorted(key for key, (value, entry) in last.items()
                           if state.pending.get(key) == PendingWrite(value, entry)),
                    sum(entry in state.queue for entry in ids))
        settled = yield from lab.cache_call(
            t, "Flusher", "Queue", "XDEL",
            lambda: self._acknowledge(keys=[queue.queue_key, queue.pending_key, queue.pending_ids_key,
                                            *[lab.redis_key(key) for key in last]], args=args),
            command=f"XDEL queue ({plural(len(ids), 'id')})", background=background, tolerate=background,
            changes=lambda answer, when: self._acknowledged(t.trace, ids, superseded, answer, when),
            note=self._acknowledge_note(carried, superseded))
        if settled is FAILED:       # committed, but still queued: the next flush writes it again (harmless)
            return self._retry_later(t, background, "the queue did not answer the acknowledgement")
        if (sorted(settled[0]), settled[2]) != expected:
            # The queue or the pending index changed behind the lab's back while the batch was being written.
            yield lab.record_resync(t, lab.read_real_state(), background=background)
        return True

    def _commit(self, t: Request, carried: list[tuple[str, str, str]], background: bool) -> Steps:
        """The batch's rows (entry, key, value) in one database transaction; True if it committed."""
        lab = self.lab
        rows = [(key, value) for _, key, value in carried]
        cost = (lab.costs.db_write_ms + lab.costs.cache_ms * (len(rows) - 1)) * lab.db.slowdown
        command = f"{UPSERT_SQL} × {len(rows)}"
        keys = tuple(dict.fromkeys(key for key, _ in rows))
        at = lab.clock.now() + cost / 1000
        try:
            versions = lab.db.put_many(rows, at)
        except Exception as err:            # noqa: BLE001 — any failure rolls the batch back
            return (yield from self._batch_failed(t, command, cost, err, background, keys))
        lab.counters.db_writes += len(rows)
        self.backoff_seconds, self.retry_at = 1.0, 0.0
        changes, before = [], {}           # a key written twice in one batch: its second change follows its first
        for (key, value), version in zip(rows, versions, strict=True):
            row = Row(key, value, version, at)
            changes.append(Change("db", key, before[key] if key in before else lab.state.db.get(key), row))
            before[key] = row
        # The ledger: what the batch carried is in the database now, whatever becomes of its acknowledgement.
        changes += self.queue.delivered([entry for entry, _, _ in carried])
        yield t.step("Flusher", "Database", "UPSERT", command=command, cost_ms=cost, background=background,
                     changes=tuple(changes), note=("wb-flush-write", {"rows": len(rows), "found": keys}))
        yield from lab.reply(t, "Database", "Flusher", None, None, command="OK (committed)", background=background,
                             note=("wb-flush-committed", None))
        return True

    def _acknowledge_note(self, carried: list, superseded: dict[str, str | None]) -> tuple[str, dict]:
        if not carried:
            return "wb-flush-drop-superseded", {"found": tuple(superseded), "newer": tuple(superseded.values())}
        ttl = self.lab.ttl_seconds
        return ("wb-flush-acknowledge" if ttl else "wb-flush-acknowledge-no-ttl"), {"ttl": ttl or 0}

    def _acknowledged(self, trace: Trace, ids: list[str], superseded: dict[str, str | None], answer,
                      at: float) -> tuple[Change, ...]:
        lab = self.lab
        settled, timed, _ = answer
        state = lab.state
        changes = [Change("queue", entry, state.queue[entry], None, "flushed") for entry in ids if entry in state.queue]
        changes += [Change("pending", key, state.pending.get(key), None, "flushed") for key in settled]
        for key in timed:
            item = state.cache.get(key)
            expires = at + lab.ttl_seconds
            lab.expiries.add(expires, key)
            row = state.db.get(key)
            changes.append(Change("cache", key, item, CacheItem(item.value if item else "", expires,
                                                                row.version if row else None)))
        # The ledger: a superseded entry's key is carried by a newer entry, which decides its fate. An entry whose
        # value the pending index no longer has (it lost the key) carried nothing: once deleted, it is lost.
        changes += self.queue.superseded([entry for entry, newer in superseded.items() if newer])
        vanished = [entry for entry, newer in superseded.items() if not newer and entry in state.acked]
        if vanished:
            left = LabState()
            left.queue = {entry: item for entry, item in state.queue.items() if entry not in ids}
            changes += lab.count_losses(trace, left, held=set(state.acked) - set(vanished))
        return tuple(changes)

    def _batch_failed(self, t: Request, command: str, cost: float, err: Exception, background: bool,
                      keys: tuple[str, ...]) -> Steps:
        """The batch was rolled back: it stays queued and is retried after a growing backoff — unless its queue
        is gone meanwhile (a crash while the flusher held it): then its writes are lost."""
        self.in_flight = ()        # rolled back: from this step on the flusher holds nothing
        losses = self.lab.count_losses(t.trace, self.lab.state)
        if losses:
            note = ("wb-flush-failed-lost", {"error": str(err), "lost": len(losses) // 2,
                                             "found": tuple(change.after.key for change in losses
                                                            if change.table == "lost")})
        else:
            note = ("wb-flush-failed", {"error": str(err), "backoff": self.backoff_seconds, "found": keys})
        yield t.step("Flusher", "Database", "UPSERT", command=command, outcome="error", cost_ms=cost,
                     background=background, changes=tuple(losses), note=note)
        return self._retry_later(t, background, str(err))

    def _retry_later(self, t: Request, background: bool, error: str) -> bool:
        """Back off: the next attempt waits twice as long as the last, up to MAX_BACKOFF_SECONDS."""
        wait = self.backoff_seconds
        self.retry_at = self.lab.clock.now() + wait
        self.backoff_seconds = min(wait * 2, MAX_BACKOFF_SECONDS)
        trace = t.trace
        if background and trace.operation == "write":    # the write itself stays acknowledged
            trace.warning = explain_warning("wb-background-flush-failed", error=error, wait=wait)
        else:
            trace.ok, trace.error = False, error
        return False
