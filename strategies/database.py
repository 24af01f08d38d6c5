"""The system of record: one SQLite table of key/value rows with a version and an update time.

Streamlit may run successive reruns of one session on different threads, so the connection is
shared behind a lock (`check_same_thread=False`) rather than tied to the thread that opened it;
file databases use WAL and a busy timeout so several learners' files never block each other.
Every statement is parameterised: keys and values are data, never SQL.
"""

from __future__ import annotations

import sqlite3
import threading
from typing import NamedTuple

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
    updated_at REAL NOT NULL
)
"""
UPSERT = """
INSERT INTO kv (key, value, version, updated_at) VALUES (?, ?, 1, ?)
ON CONFLICT(key) DO UPDATE SET value = excluded.value, version = kv.version + 1,
                               updated_at = excluded.updated_at
RETURNING version
"""
SELECT = "SELECT value, version FROM kv WHERE key = ?"
# What the diagram prints on the arrows: the statements above, as the learner would read them.
SELECT_SQL = "SELECT … WHERE key=?"
UPSERT_SQL = "INSERT … ON CONFLICT"


class DatabaseUnavailable(RuntimeError):
    """The simulated outage: the database refuses every call while `down` is set."""


class Row(NamedTuple):
    key: str
    value: str
    version: int
    updated_at: float    # simulated seconds, the lab's clock at the commit


class Database:
    """SQLite key/value store. `down` and `slowdown` are the simulation's database faults.

    Only the lab writes its database, so the lab's `LabState` mirrors it from the versions these
    methods return; `rows()` is read once, when the lab starts or is reset.
    """

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
            self._write_batch(SEED_ROWS, 0.0)

    def _write_batch(self, items, at: float) -> list[int]:
        """One transaction, all rows or none; the version each row has after it."""
        execute = self._conn.execute
        execute("BEGIN IMMEDIATE")
        try:
            versions = [execute(UPSERT, (key, value, at)).fetchone()[0] for key, value in items]
        except BaseException:
            execute("ROLLBACK")
            raise
        execute("COMMIT")
        return versions

    def get(self, key: str) -> tuple[str, int] | None:
        """The committed (value, version) of `key`, or None."""
        with self._lock:
            if self.down:                # _check_up(), inline: every read of every request comes here
                self._check_up()
            return self._conn.execute(SELECT, (key,)).fetchone()

    def get_many(self, keys: list[str]) -> dict[str, tuple[str, int]]:
        """The committed (value, version) of each of `keys` that has a row, in one query (a warm-up's bulk load;
        SQLite 3.32 and later bind up to 32,766 keys at once)."""
        marks = ", ".join("?" * len(keys))
        with self._lock:
            self._check_up()
            found = self._conn.execute(f"SELECT key, value, version FROM kv WHERE key IN ({marks})", keys)
            return {key: (value, version) for key, value, version in found}

    def rows(self) -> list[Row]:
        """Every row, ordered by key; an observer's view that ignores the simulated outage."""
        with self._lock:
            found = self._conn.execute("SELECT key, value, version, updated_at FROM kv ORDER BY key").fetchall()
        return [Row(*r) for r in found]

    def put(self, key: str, value: str, at: float = 0.0) -> int:
        """Insert or update one row (version + 1), committed before returning; the row's new version."""
        with self._lock:
            if self.down:
                self._check_up()
            return self._write_batch(((key, value),), at)[0]

    def put_many(self, items, at: float = 0.0) -> list[int]:
        """Write several rows in one transaction: all of them commit, or none does."""
        with self._lock:
            self._check_up()
            return self._write_batch(items, at)

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
