"""What the learner's tables show, as plain rows: pure functions of a `LabState`, no pandas, no Streamlit.

A big table shows only its 50 most recently changed rows (TABLE_LIMIT), sorted by key: the browser would
virtualise the rest anyway, and building rows nobody sees is what made a long session slow. The Cache table
also shows, after its keys, the keys lately evicted to make room (`greyed`: no longer in the cache, each saying
so in its State column); a `Gauge` is a bar's worth of "used of a limit" (the cache's memory).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import NamedTuple

from .state import NOT_FOUND_MARKER, LabState, newest, stream_order

TABLE_LIMIT = 50
CACHE_COLUMNS = ("Key", "Value", "TTL (s)", "State")
DB_COLUMNS = ("Key", "Value", "Version", "At (s)", "In cache")
QUEUE_COLUMNS = ("#", "Key", "Value", "At (s)", "Stream id")
LEASE_COLUMNS = ("Key", "Holder", "Expires in (s)")
NEGATIVE_TEXT = "∅ not found (negative)"      # how the cache table shows NOT_FOUND_MARKER
EVICTED_TEXT = "✗ evicted at {at:.1f} s ({policy})"   # the State of a greyed row: no longer in the cache


@dataclass(frozen=True)
class TableRows:
    columns: tuple[str, ...]
    rows: list[tuple]
    total: int                                  # rows in the whole table
    changed: frozenset[str] = field(default_factory=frozenset)   # keys the step on screen changed
    key_column: str = "Key"                     # the column `changed` names entries by
    greyed: frozenset[str] = field(default_factory=frozenset)    # rows of entries that are gone (shown greyed)

    @property
    def shown(self) -> int:
        """Rows of the table's own entries shown (greyed rows of departed entries not counted)."""
        return len(self.rows) - len(self.greyed)

    @property
    def cut(self) -> bool:
        return self.shown < self.total


def _keys(table: dict, limit: int, order=None) -> list[str]:
    keys = list(table) if len(table) <= limit else newest(table, limit)
    return sorted(keys, key=order) if order else sorted(keys)


def ttl_text(ttl: float | None) -> str:
    """Whole seconds left, rounded up (a key with 0.4 s left still shows 1)."""
    if ttl is None:
        return "no expiry"
    ttl = round(ttl, 6)          # 60.00000000000001 s left is 60, not 61
    whole = int(ttl) + (ttl > int(ttl))
    return str(whole)


def ttl_left(ttl: float) -> str:
    """The time a cached key has left, as a sentence says it: the Cache table's whole seconds (`ttl_text`), so the
    two agree on one screen; under a second, said so (the table's 1 would read as a whole second left)."""
    return "under 1 s" if 0 < ttl < 1 else f"{ttl_text(ttl)} s"


def shown_value(value: str) -> str:
    """A cached value as the table shows it: the negative-cache marker in words, anything else as it is."""
    return NEGATIVE_TEXT if value == NOT_FOUND_MARKER else value


def cache_rows(state: LabState, *, limit: int = TABLE_LIMIT, changed: frozenset[str] = frozenset()) -> TableRows:
    """The cached keys, then the keys lately evicted and not cached again: greyed, their State saying so."""
    cache = state.cache
    rows = [(key, shown_value(cache[key].value), ttl_text(state.ttl(key)), state.cache_mark(key))
            for key in _keys(cache, limit)]
    gone = [key for key in reversed(state.evicted) if key not in cache]
    for key in gone:
        evicted = state.evicted[key]
        rows.append((key, shown_value(evicted.value), "–", EVICTED_TEXT.format(at=evicted.at, policy=evicted.policy)))
    return TableRows(CACHE_COLUMNS, rows, len(cache), changed, greyed=frozenset(gone))


def db_rows(state: LabState, *, limit: int = TABLE_LIMIT, changed: frozenset[str] = frozenset()) -> TableRows:
    db = state.db
    rows = [(key, row.value, row.version, f"{row.updated_at:.1f}", state.db_mark(key))
            for key in _keys(db, limit) for row in (db[key],)]
    return TableRows(DB_COLUMNS, rows, len(db), changed)


def queue_rows(state: LabState, *, limit: int = TABLE_LIMIT, changed: frozenset[str] = frozenset()) -> TableRows:
    """The queue oldest first; a coalesced entry shows the newest value waiting for its key."""
    queue, pending = state.queue, state.pending
    rows = []
    for number, entry in enumerate(_keys(queue, limit, order=stream_order), start=1):
        item = queue[entry]
        waiting = pending.get(item.key)
        value = waiting.value if waiting is not None and waiting.entry == entry else item.value
        rows.append((number, item.key, value if value is not None else "", f"{item.at:.1f}", entry))
    return TableRows(QUEUE_COLUMNS, rows, len(queue), changed, key_column="Stream id")


def lease_rows(state: LabState, *, limit: int = TABLE_LIMIT, changed: frozenset[str] = frozenset()) -> TableRows:
    """Cache-aside's leases: who may fill which key, and for how long. A lease whose (simulated) time ran
    out is still in Redis until the lab's clock next moves on; it no longer stops anyone, so it says so."""
    leases = state.lease
    rows = []
    for key in _keys(leases, limit):
        lease = leases[key]
        left = lease.expires_at - state.now
        rows.append((key, f"{lease.client} (token {lease.token})", f"{left:.1f}" if left > 0 else "expired"))
    return TableRows(LEASE_COLUMNS, rows, len(leases), changed)


def near_mark(state: LabState, key: str, value: str) -> str:
    """How an app instance's near copy relates to the database, in words."""
    row = state.db.get(key)
    if row is not None and row.value == value:
        return "✓ same as DB"
    return f"⚠ stale: DB has v{row.version}" if row is not None else "⚠ stale: no such row"


def near_rows(table: str) -> Callable[..., TableRows]:
    """The rows of one app instance's near cache (LabState table `table`): what it keeps in its own memory, for
    how long, and whether the database still agrees."""

    def rows(state: LabState, *, limit: int = TABLE_LIMIT, changed: frozenset[str] = frozenset()) -> TableRows:
        near = getattr(state, table)
        found = []
        for key in _keys(near, limit):
            item = near[key]
            left = None if item.expires_at is None else max(0.0, item.expires_at - state.now)
            found.append((key, item.value, ttl_text(left), near_mark(state, key, item.value)))
        return TableRows(CACHE_COLUMNS, found, len(near), changed)

    return rows


def changed_keys(changes, table: str) -> frozenset[str]:
    return frozenset(change.key for change in changes if change.table == table)


@dataclass(frozen=True)
class TableView:
    """One table the page shows beside the diagram: its title, its rows from a state, the LabState table its
    "This step" marks come from, what it says when empty, and whether the lab shows it now."""

    title: str
    table: str                                         # the LabState table (changed keys are looked up there)
    rows: Callable[..., TableRows]                     # rows(state, changed=...) -> TableRows
    empty: Callable[[LabState], str | None] = lambda state: None     # None: the page's own "<table>-empty"
    shown: Callable[[LabState], bool] = lambda state: True


CACHE_VIEW = TableView("Cache", "cache", cache_rows)
DB_VIEW = TableView("Database", "db", db_rows)


class Gauge(NamedTuple):
    """How full something is, for a bar: `used` of `limit` (None: no limit) in `unit`, and a line saying it."""

    label: str
    used: int
    limit: int | None
    unit: str
    text: str

    @property
    def fraction(self) -> float | None:
        """used / limit (may pass 1 a little: Redis, too, goes over its limit by what one command adds)."""
        return self.used / self.limit if self.limit else None
