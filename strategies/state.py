"""The learner's tables as changes, not copies.

Every call a pattern makes records the change it made — which entry of the cache, the database, the
queue or the pending index, before and after — as a small `Change` on its step. A `LabState` is what
the tables show: it is kept up to date by applying each change as it is recorded, and the state at any
earlier step is the live state with the later changes undone. So a step costs no extra Redis or SQL
call to be shown, and memory grows with the number of steps, not with the size of the cache.

Transitions (table: before → after):
    cache:   None → CacheItem (SET, a load)    CacheItem → None (DEL, expiry, crash)   item → item (SET again)
    db:      None → Row (first write)          Row → Row (version + 1)
    queue:   None → QueueItem (XADD)           QueueItem → None (XDEL after a flush, crash)
    pending: None → PendingWrite (queued)      PendingWrite → None (flushed, crash)    pending → newer
    lease:   None → Lease (acquired)           Lease → None (filled, released, voided by a write, expired, crash)
             Lease → Lease (an expired lease taken over by another reader)
    acked:   None → AckedWrite (a write queued)   AckedWrite → newer (a write coalesced into its entry)
             AckedWrite → None (delivered: committed; superseded: a newer entry carries its key; lost)
    lost:    None → AckedWrite (its entry vanished before the database had it: a crash, a wipe)
    evicted: None → Evicted (a key the cache evicted, kept a while to be shown)   Evicted → None (a newer one's room)
    early:   None → EarlyEntry (a fill with early refresh on: δ and expiry stored beside the key)
             entry → newer (filled again)   EarlyEntry → None (a fill without early refresh, crash)
    near1, near2: None → CacheItem (an app instance keeps a copy in its own memory)   CacheItem → None (its near
             TTL ran out; dropped by its own write or an invalidation message)   — not in Redis: a crash keeps them

A table is declared once: its name in TABLES and its type and meaning on LabState; every LabState holds one dict
per name in TABLES, and a past state undoes changes in each of them alike.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from types import MappingProxyType
from typing import NamedTuple

from .database import Row

TABLES = ("cache", "db", "queue", "pending", "lease", "acked", "lost", "evicted", "early", "near1", "near2")

# What cache-aside's negative caching stores for "the database has no such row". A learner can never write
# it: validation rejects control characters in values, so no real value collides with it.
NOT_FOUND_MARKER = "\x00not-found"


class CacheItem(NamedTuple):
    value: str
    expires_at: float | None     # simulated seconds; None: no expiry
    version: int | None          # the database version this value was read as or committed as;
                                 # None: it was set before (or without) any commit


class QueueItem(NamedTuple):
    id: str                      # the Redis Stream id
    key: str
    value: str | None            # None when writes are coalesced: the value waits in the pending index
    at: float                    # simulated time it was queued


class PendingWrite(NamedTuple):
    value: str                   # the newest acknowledged value not yet in the database
    entry: str                   # the queue entry that will carry it


class AckedWrite(NamedTuple):
    """An acknowledged write-behind write, by the queue entry that carries it (its newest value, if coalesced):
    in `acked` until the database has it, in `lost` once nothing can deliver it any more."""

    key: str
    value: str


class Lease(NamedTuple):
    """The right to fill one cache key (cache-aside with leases): only the holder's fill is accepted."""

    token: str                   # "<n>:<client>", unique within the lab
    client: str                  # the reader holding it
    expires_at: float            # simulated seconds; after it, another reader may take the lease


class Evicted(NamedTuple):
    """A key the cache evicted to make room (not in the cache any more): the Cache table shows it greyed a while."""

    value: str
    at: float                    # simulated seconds
    policy: str                  # the maxmemory-policy that chose it


class EarlyEntry(NamedTuple):
    """What a fill stores beside a key for early refresh (XFetch, Vattani et al., VLDB 2015: the value, δ and
    its expiry): how long the recompute took, when the value expires and the TTL it was given. It outlives its
    value (an expiry or a DEL leaves it), and only counts while the cache holds the key."""

    delta_ms: float              # δ: how long the recompute that produced the value took (simulated ms)
    expires_at: float            # simulated seconds
    ttl: int                     # the TTL the value was stored with (jitter included)


class Change(NamedTuple):
    table: str                   # one of TABLES
    key: str                     # a cache key, a row key, a queue id or a pending key
    before: object | None
    after: object | None
    why: str = ""                # for a removal from the cache: deleted, expired, evicted, vanished, crashed;
                                 # from the leases: filled, released, voided, expired, crashed


class LabState:
    """The cache, the database, the write-behind queue, its pending index and ledger, cache-aside's leases, the
    keys lately evicted, early refresh's entries and two app instances' near caches, as the lab last saw them:
    one dict per table of TABLES.

    Each table is a dict in order of last change (the most recently changed entry last), so the newest
    rows of a big table can be shown without sorting it.
    """

    cache: dict[str, CacheItem]
    db: dict[str, Row]
    queue: dict[str, QueueItem]
    pending: dict[str, PendingWrite]
    lease: dict[str, Lease]                 # keyed by the learner's key, not the Redis lease key
    # The lab's own ledger of acknowledged writes, by queue entry (Redis keeps no such record): the ones the
    # database does not have yet, and the ones that can no longer reach it.
    acked: dict[str, AckedWrite]
    lost: dict[str, AckedWrite]
    evicted: dict[str, Evicted]             # the last keys evicted, oldest first (not in the cache)
    early: dict[str, EarlyEntry]            # early refresh's δ and expiry, by the learner's key
    # Two app instances' near caches (features/near_cache.py): what each keeps in its own memory.
    near1: dict[str, CacheItem]
    near2: dict[str, CacheItem]
    now: float

    __slots__ = (*TABLES, "now")

    def __init__(self, rows: Iterable[Row] = (), now: float = 0.0) -> None:
        for table in TABLES:
            setattr(self, table, {})
        self.db.update((row.key, row) for row in rows)
        self.now = now

    def apply(self, change: Change) -> None:
        table = getattr(self, change.table)
        table.pop(change.key, None)
        if change.after is not None:
            table[change.key] = change.after

    def before(self, changes_newest_first: Iterable[Change], now: float) -> LabState:
        """The tables as they were before these changes (given newest first): a read-only view over this
        state that costs as much as the changes, not as the tables (a session may hold thousands of rows)."""
        undone: dict[str, dict[str, object]] = {table: {} for table in TABLES}
        for change in changes_newest_first:
            undone[change.table][change.key] = change.before     # the oldest change's `before` wins
        past = LabState.__new__(LabState)
        for table in TABLES:
            live = getattr(self, table)
            setattr(past, table, PastTable(live, undone[table]) if undone[table] else MappingProxyType(live))
        past.now = now
        return past

    # ---- what the tables say about an entry -------------------------------------------------------
    def ttl(self, key: str) -> float | None:
        """Seconds the cached `key` has left at `now`; None if it has no expiry (or is not cached)."""
        item = self.cache.get(key)
        if item is None or item.expires_at is None:
            return None
        return max(0.0, item.expires_at - self.now)

    def latest(self, key: str) -> str | None:
        """The newest acknowledged value of `key`: a queued write if there is one, else the database's."""
        pending = self.pending.get(key)
        if pending is not None:
            return pending.value
        row = self.db.get(key)
        return row.value if row is not None else None

    def cache_mark(self, key: str) -> str:
        """How the cached value of `key` relates to the database, in words (and which side is ahead)."""
        item, row = self.cache[key], self.db.get(key)
        if item.value == NOT_FOUND_MARKER:     # a negative entry: right while there is still no row
            return "negative: no row" if row is None else f"⚠ stale: DB has v{row.version}"
        if key in self.pending:
            return "newer than DB: write queued" if item.value == self.pending[key].value else \
                "⚠ older than the queued write"
        if row is not None and row.value == item.value:
            return "✓ same as DB"
        if item.version is None:
            return "⚠ ahead: DB never committed this"
        return f"⚠ stale: DB has v{row.version}" if row is not None else "⚠ stale: no such row"

    def db_mark(self, key: str) -> str:
        item, row = self.cache.get(key), self.db[key]
        if key in self.pending:
            return "behind: newer write queued"
        if item is None:
            return "not cached"
        if item.value == NOT_FOUND_MARKER:
            return "⚠ cache says no row"
        if item.value == row.value:
            return "✓ cached, same"
        return "⚠ cache is ahead" if item.version is None else "⚠ cache is stale"

    def queue_in_order(self) -> list[QueueItem]:
        """The queue oldest first (stream ids are numbers, so order by them)."""
        return sorted(self.queue.values(), key=lambda item: stream_order(item.id))


def stream_order(entry_id: str) -> tuple[int, int]:
    ms, _, seq = entry_id.partition("-")
    return int(ms), int(seq or 0)


def newest(table: dict, limit: int) -> list:
    """The `limit` most recently changed entries of a table, newest first."""
    found = []
    for key in reversed(table):
        found.append(key)
        if len(found) >= limit:
            break
    return found


class PastTable(Mapping):
    """A table as it was: the live table, with some entries put back as they were (None: absent then).

    Iterated in the live table's order (entries absent now but present then come last, as the most
    recently changed): the views show the newest rows of a table by iterating it backwards."""

    __slots__ = ("_live", "_undone")

    def __init__(self, live: dict, undone: dict) -> None:
        self._live, self._undone = live, undone

    def __getitem__(self, key):
        undone = self._undone
        if key in undone:
            value = undone[key]
            if value is None:
                raise KeyError(key)
            return value
        return self._live[key]

    def __contains__(self, key) -> bool:
        undone = self._undone
        return undone[key] is not None if key in undone else key in self._live

    def _then_only(self) -> list:
        """Entries present then but not now (removed by a later change)."""
        live = self._live
        return [key for key, value in self._undone.items() if value is not None and key not in live]

    def __iter__(self) -> Iterator:
        undone = self._undone
        for key in self._live:
            if key not in undone or undone[key] is not None:
                yield key
        yield from self._then_only()

    def __reversed__(self) -> Iterator:
        undone = self._undone
        yield from reversed(self._then_only())
        for key in reversed(self._live):
            if key not in undone or undone[key] is not None:
                yield key

    def __len__(self) -> int:
        live = self._live
        gone = sum(1 for key, value in self._undone.items() if value is None and key in live)
        return len(live) - gone + len(self._then_only())
