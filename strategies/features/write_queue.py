"""The write-behind queue: acknowledged writes waiting in Redis for the flusher, and the lab's ledger of them.

In Redis: the queue is a Stream (as RedisGears' rgsync keeps it), the pending index two hashes (key → the
newest value waiting, key → the entry that will carry it). queue_enqueue.lua sets the value and queues the
change in one atomic step; with coalescing on (as Hazelcast's coalescing queue), a key has at most one queued
entry, and a newer write only replaces the value waiting in the pending index.

The ledger is the lab's own record (Redis keeps none): `acked` holds each entry's acknowledged write until the
database has it, `lost` the ones nothing can deliver any more (a crash, a wipe, a batch whose queue vanished
while the flusher held it). So the lab can say that an empty queue means "all arrived" or "some were lost".
"""

from __future__ import annotations

from collections.abc import Collection
from typing import TYPE_CHECKING

from ..knobs import Knob
from ..narration import explain_warning
from ..part import Part
from ..request import Request, Steps
from ..state import AckedWrite, CacheItem, Change, LabState, PendingWrite, QueueItem, stream_order
from ..views import TableView, queue_rows
from . import script

if TYPE_CHECKING:
    from ..write_behind import WriteBehind


def delivery(state: LabState) -> str:
    """Where the acknowledged writes stand when nothing is queued, decided from the tables alone: the flusher
    may still hold a batch it read, and a crash or a wipe may have lost writes, so an empty queue alone does not
    say that every write arrived. The queue table says this sentence, and nothing else on the page says
    otherwise."""
    held = [write for entry, write in state.acked.items() if entry not in state.queue]
    if held:
        return explain_warning("queue-empty-held", held=len(held), keys=tuple(write.key for write in held))
    if state.lost:
        lost = list(state.lost.values())
        return explain_warning("queue-empty-lost", lost=len(lost), keys=tuple(write.key for write in lost))
    return explain_warning("queue-empty")


class WriteQueue(Part):
    """The queue of one write-behind lab; its knobs are the lab's (`coalesce`, `queue_limit`)."""

    heading = "part-queue"
    cache_tables = ("queue", "pending")
    lab: WriteBehind
    knobs = (
        # The queue's shape depends on it: it changes only while the queue is empty.
        Knob("coalesce", "Coalesce writes", "toggle", True, "coalesce", help="coalesce-help",
             locked=lambda lab: bool(lab.live().queue)),
        Knob("limit", "Queue limit", "number", 0, "queue_limit", low=0, high=10_000, help="queue-limit-help",
             zero_is_none=True),
    )

    def __init__(self, lab: WriteBehind) -> None:
        super().__init__(lab)
        self.queue_key = f"{lab.namespace}wb:queue"
        self.pending_key = f"{lab.namespace}wb:pending"
        self.pending_ids_key = f"{lab.namespace}wb:pending-ids"
        self._enqueue = script(lab.cache, "queue_enqueue")
        self._entries = 0

    # ---- a write joins the queue -----------------------------------------------------------------------
    def enqueue(self, t: Request, key: str, value: str, *, not_into: tuple[str, ...]) -> Steps:
        """The enqueue script, and the arrow to the queue that draws what it did there (one atomic call): the
        script's answer, ("queued" | "coalesced" | "full", entry). It never coalesces into an entry of
        `not_into` (a batch the flusher holds)."""
        lab = self.lab
        self._entries += 1
        keys = [lab.redis_key(key), self.pending_key, self.pending_ids_key, self.queue_key]
        args = [key, value, f"{self._entries}-1", repr(lab.clock.now()), int(lab.coalesce), lab.queue_limit or 0,
                *not_into]
        status, entry = yield from lab.cache_call(
            t, "App", "Cache", "SET", lambda: self._enqueue(keys=keys, args=args),
            command=f"SET+XADD {key} (script)", key=key, value=value, stores=((key, value, None),),
            changes=lambda answer, at: self._enqueued(key, value, answer),
            note=lambda answer: (("wb-queue-full", {"limit": lab.queue_limit}), "error") if answer[0] == "full"
            else (("wb-write", None), "ok"))
        if status == "queued":
            yield from lab.reply(t, "Cache", "Queue", key, value, action="XADD", command=f"queued as {entry}",
                                 note=("wb-queued", {"entry": entry}))
        elif status == "coalesced":             # no entry added: the waiting one now carries this value
            lab.counters.coalesced_writes += 1
            yield from lab.reply(t, "Cache", "Queue", key, value, action="HSET", command=f"coalesced into {entry}",
                                 note=("wb-coalesced", {"entry": entry}))
        return status, entry

    def _enqueued(self, key: str, value: str, answer: list[str]) -> tuple[Change, ...]:
        status, entry = answer
        if status == "full":
            return ()
        state = self.lab.state
        changes = [Change("cache", key, state.cache.get(key), CacheItem(value, None, None)),
                   Change("pending", key, state.pending.get(key), PendingWrite(value, entry))]
        if status == "queued":
            changes.append(Change("queue", entry, None,
                                  QueueItem(entry, key, None if self.lab.coalesce else value, self.lab.clock.now())))
        # The ledger: the entry now carries this acknowledged value (a coalesced write replaces the older one,
        # which by design never reaches the database on its own).
        changes.append(Change("acked", entry, state.acked.get(entry), AckedWrite(key, value)))
        return tuple(changes)

    def pending(self, key: str) -> str | None:
        """The queued value of `key` waiting in the pending index (a real call; the loader's HGET makes it)."""
        return self.lab.cache.hget(self.pending_key, key)

    # ---- the ledger ------------------------------------------------------------------------------------
    def delivered(self, entries: Collection[str]) -> list[Change]:
        """The database has what these entries carried."""
        acked = self.lab.state.acked
        return [Change("acked", entry, acked[entry], None, "delivered") for entry in entries if entry in acked]

    def superseded(self, entries: Collection[str]) -> list[Change]:
        """These entries' keys are carried by newer entries, which decide their fate."""
        acked = self.lab.state.acked
        return [Change("acked", entry, acked[entry], None, "superseded") for entry in entries if entry in acked]

    def losses(self, left: LabState, held: Collection[str]) -> list[Change]:
        """Acknowledged writes whose entry is neither left in the queue nor held by a flush that may still
        commit it: nothing can deliver them any more."""
        state, keep = self.lab.state, set(left.queue) | set(held)
        changes = []
        for entry in sorted(state.acked, key=stream_order):        # oldest first, as the queue held them
            if entry not in keep:
                write = state.acked[entry]
                changes += [Change("acked", entry, write, None, "lost"), Change("lost", entry, None, write)]
        return changes

    def crash_note(self, lost: tuple[tuple[str, str], ...], losses: list[Change]) -> tuple[str, dict | None]:
        held = len(self.lab.state.acked) - sum(change.table == "acked" for change in losses)
        if lost:
            return "crash-lost", {"lost": len(lost), "found": tuple(key for key, _ in lost), "held": held}
        if held:
            return "crash-batch-held", {"held": held}
        return "crash-queue-empty", None

    # ---- the tables ------------------------------------------------------------------------------------
    def read_real(self, real: LabState) -> None:
        cache = self.lab.cache
        for entry, fields in cache.xrange(self.queue_key):
            real.queue[entry] = QueueItem(entry, fields["key"], fields.get("value"), float(fields["at"]))
        ids = cache.hgetall(self.pending_ids_key)
        for key, value in cache.hgetall(self.pending_key).items():
            real.pending[key] = PendingWrite(value, ids.get(key, ""))

    def reset(self) -> None:
        self._entries = 0

    def views(self) -> tuple[TableView, ...]:
        return (TableView("Write-behind queue", "queue", queue_rows, empty=delivery),)

    def state_clause(self, state: LabState) -> str:
        return explain_warning("queue-clause", count=len(state.queue))

    def metrics(self, state: LabState) -> list[tuple[str, object]]:
        return [("Queued writes", len(state.queue)), ("Lost writes", self.lab.counters.lost_writes)]

    def moves_with_time(self) -> bool:
        return bool(self.lab.state.queue)        # each queued write's wait grows, until the flusher takes it
