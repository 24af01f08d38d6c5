"""The system of record: one SQLite table of key/value rows with a version and an update time.

Streamlit may run successive reruns of one session on different threads, so the connection is
shared behind a lock (`check_same_thread=False`) rather than tied to the thread that opened it;
file databases use WAL and a busy timeout so several learners' files never block each other.
Every statement is parameterised: keys and values are data, never SQL.
"""

from __future__ import annotations

import sqlite3
import threading
from dataclasses import dataclass
from datetime import UTC, datetime

SEED_ROWS: tuple[tuple[str, str], ...] = (
    ("user:1", "Ada Lovelace"),
    ("user:2", "Alan Turing"),
    ("user:3", "Grace Hopper"),
    ("product:42", "Espresso machine, 199.00 EUR"),
    ("product:7", "Coffee grinder, 89.50 EUR"),
    ("price:latte", "3.20"),
)

SCHEMA = """
CREATE TABLE IF NOT EXISTS kv (
    key        TEXT PRIMARY KEY,
    value      TEXT NOT NULL,
    version    INTEGER NOT NULL DEFAULT 1,
    updated_at TEXT NOT NULL
)
"""
UPSERT = """
INSERT INTO kv (key, value, version, updated_at) VALUES (?, ?, 1, ?)
ON CONFLICT(key) DO UPDATE SET value = excluded.value, version = kv.version + 1,
                               updated_at = excluded.updated_at
"""
# What the diagram prints on the arrows: the statements above, as the learner would read them.
SELECT_SQL = "SELECT … WHERE key=?"
UPSERT_SQL = "INSERT … ON CONFLICT"


class DatabaseUnavailable(RuntimeError):
    """The simulated outage: the database refuses every call while `down` is set."""


@dataclass(frozen=True)
class Row:
    key: str
    value: str
    version: int
    updated_at: str


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S")


class Database:
    """SQLite key/value store. `down` and `slowdown` are the simulation's database faults."""

    def __init__(self, path: str = ":memory:", *, seed: bool = True) -> None:
        self.path = path
        self.down = False
        self.slowdown = 1.0
        self._lock = threading.RLock()
        self._conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=5.0)
        with self._lock:
            self._conn.execute("PRAGMA busy_timeout = 5000")
            if path != ":memory:":
                self._conn.execute("PRAGMA journal_mode = WAL")
            self._conn.execute(SCHEMA)
            if seed:
                self._seed_if_empty()

    def _check_up(self) -> None:
        if self.down:
            raise DatabaseUnavailable("database is down: connection refused")

    def _seed_if_empty(self) -> None:
        (count,) = self._conn.execute("SELECT COUNT(*) FROM kv").fetchone()
        if count == 0:
            self._write_batch(SEED_ROWS)

    def _write_batch(self, items) -> None:
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            for key, value in items:
                self._conn.execute(UPSERT, (key, value, _now()))
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise
        self._conn.execute("COMMIT")

    def get(self, key: str) -> str | None:
        """The committed value of `key`, or None."""
        with self._lock:
            self._check_up()
            found = self._conn.execute("SELECT value FROM kv WHERE key = ?", (key,)).fetchone()
        return found[0] if found else None

    def row(self, key: str) -> Row | None:
        with self._lock:
            self._check_up()
            return self.peek_row(key)

    def rows(self) -> list[Row]:
        """Every row, ordered by key; an observer's view that ignores the simulated outage."""
        with self._lock:
            found = self._conn.execute("SELECT key, value, version, updated_at FROM kv ORDER BY key").fetchall()
        return [Row(*r) for r in found]

    def peek(self, key: str) -> str | None:
        """The committed value, read past the simulated outage (for counters, never for requests)."""
        with self._lock:
            found = self._conn.execute("SELECT value FROM kv WHERE key = ?", (key,)).fetchone()
        return found[0] if found else None

    def peek_row(self, key: str) -> Row | None:
        """The committed row, read past the simulated outage (for the learner's view, never for requests)."""
        with self._lock:
            found = self._conn.execute(
                "SELECT key, value, version, updated_at FROM kv WHERE key = ?", (key,)).fetchone()
        return Row(*found) if found else None

    def put(self, key: str, value: str) -> None:
        """Insert or update one row (version + 1), committed before returning."""
        self.put_many([(key, value)])

    def put_many(self, items: list[tuple[str, str]] | tuple[tuple[str, str], ...]) -> None:
        """Write several rows in one transaction: all of them commit, or none does."""
        with self._lock:
            self._check_up()
            self._write_batch(items)

    def reset(self) -> None:
        """Back to the seeded rows (the learner's "Reset my lab")."""
        with self._lock:
            self._conn.execute("DELETE FROM kv")
            self._seed_if_empty()
        self.down = False
        self.slowdown = 1.0

    def close(self) -> None:
        with self._lock:
            self._conn.close()
