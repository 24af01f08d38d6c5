"""The raw floor of the core bench: the same Redis and SQLite calls the patterns make, made directly.

    - read (every pattern): GET; on a miss the SELECT of value and version, and SET EX ttl; write-behind
      first asks its pending index (HGET) and, if a write is queued, SETs that value instead.
    - cache-aside / read-through write: the UPSERT … RETURNING version (in a BEGIN IMMEDIATE … COMMIT
      transaction, under a lock, as `Database` does), then DEL.
    - write-through write: the UPSERT, then SET EX ttl.
    - write-behind write: the enqueue script (EVALSHA: SET, HSET, XADD); each time the queue holds a full
      batch, the flush: the read-batch script, one transaction upserting the rows, the acknowledge script.
      A final flush drains the rest.

Key names are laid out as the core lays them out. Also here: the operations both sides run, one timed run
of the floor, and the check that both sides did the same work (same hits, same database rows).
"""

from __future__ import annotations

import gc
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import fakeredis
import redis

from strategies.cache import connect_cache
from strategies.database import SCHEMA, SEED_ROWS, SELECT, UPSERT
from strategies.features import script

KEY_COUNT = 100
TTL_SECONDS = 60
BATCH_SIZE = 10
BENCH_ROWS: tuple[tuple[str, str], ...] = tuple((f"item:{n:03d}", f"initial value {n}") for n in range(KEY_COUNT))


@dataclass(frozen=True)
class Operation:
    key: str
    value: str | None = None  # None: a read

    @property
    def is_read(self) -> bool:
        return self.value is None


@dataclass(frozen=True)
class RunResult:
    seconds: float
    hits: int
    rows: dict[str, tuple[str, int]]  # the database afterwards: key -> (value, version)


# ---- the cache ---------------------------------------------------------------------------------------


def open_cache(redis_url: str | None) -> redis.Redis:
    """A fresh fakeredis server with its own client, or a new client of the real server at `redis_url`."""
    if redis_url:
        return connect_cache(redis_url)
    return fakeredis.FakeRedis(server=fakeredis.FakeServer(), decode_responses=True)


def delete_namespace(cache: redis.Redis, namespace: str) -> None:
    """Delete one run's keys (matters on a real server; never FLUSHDB)."""
    names = list(cache.scan_iter(match=namespace.replace("[", "\\[") + "*", count=500))
    if names:
        cache.delete(*names)


def new_namespace() -> str:
    return f"bench:{{{uuid.uuid4().hex[:12]}}}:"


# ---- the raw floor: the same calls, made directly -------------------------------------------------


class RawDatabase:
    """A plain sqlite3 connection with the core's schema, SQL, transactions and locking."""

    def __init__(self, rows: Iterable[tuple[str, str]]) -> None:
        self._lock = threading.RLock()
        self._conn = sqlite3.connect(":memory:", check_same_thread=False, isolation_level=None, timeout=5.0)
        self._conn.execute("PRAGMA busy_timeout = 5000")
        self._conn.execute(SCHEMA)
        self.clock = 0.0
        self.upsert_many(list(rows))

    def select(self, key: str) -> tuple[str, int] | None:
        with self._lock:
            return self._conn.execute(SELECT, (key,)).fetchone()

    def upsert_many(self, items: Sequence[tuple[str, str]]) -> list[int]:
        """One transaction, all rows or none, as `Database.put_many()`."""
        with self._lock:
            execute = self._conn.execute
            execute("BEGIN IMMEDIATE")
            try:
                versions = [execute(UPSERT, (key, value, self.clock)).fetchone()[0] for key, value in items]
            except BaseException:
                execute("ROLLBACK")
                raise
            execute("COMMIT")
            return versions

    def snapshot(self) -> dict[str, tuple[str, int]]:
        found = self._conn.execute("SELECT key, value, version FROM kv").fetchall()
        return {key: (value, version) for key, value, version in found}

    def close(self) -> None:
        self._conn.close()


class RawPattern:
    """One pattern's reads and writes as bare cache and database calls, key names laid out as the core's."""

    def __init__(self, pattern: str, cache: redis.Redis, db: RawDatabase, namespace: str, *,
                 ttl: int = TTL_SECONDS, batch_size: int = BATCH_SIZE) -> None:
        self.cache = cache
        self.ttl = ttl
        self.batch_size = batch_size
        self.db = db
        self.kv = f"{namespace}kv:"
        self.queue_key = f"{namespace}wb:queue"
        self.pending_key = f"{namespace}wb:pending"
        self.pending_ids_key = f"{namespace}wb:pending-ids"
        self.hits = 0
        self.queued = 0
        self.entries = 0
        self.behind = pattern == "write-behind"
        if self.behind:
            self.enqueue = script(cache, "queue_enqueue")
            self.read_batch = script(cache, "queue_read_batch")
            self.acknowledge = script(cache, "queue_acknowledge")
        writers: dict[str, Callable[[str, str], None]] = {
            "cache-aside": self.write_invalidate,
            "read-through": self.write_invalidate,
            "write-through": self.write_through,
            "write-behind": self.write_behind,
        }
        self.write = writers[pattern]

    def read(self, key: str) -> str | None:
        name = self.kv + key
        value = self.cache.get(name)
        if value is not None:
            self.hits += 1
            return value
        if self.behind:
            queued = self.cache.hget(self.pending_key, key)
            if queued is not None:
                self.cache.set(name, queued)
                return queued
        found = self.db.select(key)
        if found is None:
            return None
        self.cache.set(name, found[0], ex=self.ttl)
        return found[0]

    def write_invalidate(self, key: str, value: str) -> None:
        self.db.upsert_many([(key, value)])
        self.cache.delete(self.kv + key)

    def write_through(self, key: str, value: str) -> None:
        self.db.upsert_many([(key, value)])
        self.cache.set(self.kv + key, value, ex=self.ttl)

    def write_behind(self, key: str, value: str) -> None:
        self.entries += 1
        status, _ = self.enqueue(keys=[self.kv + key, self.pending_key, self.pending_ids_key, self.queue_key],
                                 args=[key, value, f"{self.entries}-1", "0.0", 1, 0])
        self.queued += status == "queued"
        if self.queued >= self.batch_size:
            self.flush_batch()

    def flush_batch(self) -> None:
        batch = self.read_batch(keys=[self.queue_key, self.pending_key, self.pending_ids_key], args=[self.batch_size])
        carried = [(entry, key, value) for entry, key, value, _ in batch if value is not None]
        last = {key: (value, entry) for entry, key, value in carried}
        self.db.upsert_many([(key, value) for _, key, value in carried])
        ids = [entry for entry, *_ in batch]
        args = [self.ttl, len(ids), *ids]
        for key, (value, entry) in last.items():
            args += [key, value, entry]
        self.acknowledge(keys=[self.queue_key, self.pending_key, self.pending_ids_key,
                               *[self.kv + key for key in last]], args=args)
        self.queued -= len(ids)

    def drain(self) -> None:
        while self.queued > 0:
            self.flush_batch()


# ---- one timed run ---------------------------------------------------------------------------------------


def timed(run: Callable[[], None]) -> float:
    """Seconds `run` took, after a garbage collection (so no earlier run's garbage is collected inside it)."""
    gc.collect()
    start = time.perf_counter()
    run()
    return time.perf_counter() - start


def play(workload: Sequence[Operation], read: Callable[[str], object], write: Callable[[str, str], object]) -> None:
    """Every operation of the workload, in order, as a read or a write: the timed loop of either side."""
    for operation in workload:
        if operation.value is None:
            read(operation.key)
        else:
            write(operation.key, operation.value)


def run_raw(pattern: str, workload: Sequence[Operation], redis_url: str | None, *,
            rows: Sequence[tuple[str, str]] = SEED_ROWS + BENCH_ROWS, **options) -> RunResult:
    """The floor: `options` (ttl, batch_size) as RawPattern takes them; `rows`, the database it starts with."""
    cache, namespace = open_cache(redis_url), new_namespace()
    db = RawDatabase(rows)
    raw = RawPattern(pattern, cache, db, namespace, **options)

    def run() -> None:
        play(workload, raw.read, raw.write)
        raw.drain()

    try:
        seconds = timed(run)
        return RunResult(seconds, raw.hits, db.snapshot())
    finally:
        delete_namespace(cache, namespace)
        cache.close()
        db.close()


def check_same_work(pattern: str, core: RunResult, raw: RunResult) -> None:
    """Both sides must have seen the same hits and left the same rows, or the comparison means nothing."""
    if core.hits != raw.hits:
        raise RuntimeError(f"{pattern}: core had {core.hits} hits, raw {raw.hits}; the bench is not comparing "
                           "like with like")
    if core.rows != raw.rows:
        raise RuntimeError(f"{pattern}: core and raw left different database rows")
