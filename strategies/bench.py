"""Benchmark: what the simulation core costs on top of the Redis and SQLite calls it makes.

Run as `python -m strategies.bench [--ops N] [--rounds R] [--json] [--redis-url URL]`.

For each pattern, the same seeded workload (N operations: 80 % reads, 20 % writes, over a fixed set of
keys that are all in the database) runs twice, each time against a fresh cache and a fresh in-memory
SQLite database holding the same rows:

* core: through the pattern's Lab (`lab.read()` / `lab.write()`), with everything a learner's request
  does: input validation, one Trace per request and one Step dataclass per arrow, counters, the
  stale-read check and the log. Nothing is switched off.
* raw:  the floor, i.e. the same Redis and SQLite calls made directly, without the core — every call the
  core makes, its bookkeeping calls included, so the ratio is the cost of the core's own Python
  (validation, traces and steps, stepping, counters, the log):
    - read (every pattern): GET; on a miss also the SELECT the core's Database runs, and SET EX ttl; then
      the stale-read check's SELECT of the committed value (and, on write-behind, when the value read
      differs from it, the XRANGE of the queue that tells a pending write from a stale one).
    - cache-aside / read-through write: the UPSERT (same SQL, in a BEGIN IMMEDIATE … COMMIT transaction,
      under a lock, as `Database` does), then DEL.
    - write-through write: the UPSERT, then SET EX ttl.
    - write-behind write: SET (no TTL), XADD, and the XLEN that tells whether a batch is full; each time
      it is, the flush: XRANGE of the batch, one transaction upserting the (coalesced) rows, XDEL. A final
      flush drains the rest, on both sides, so every flush is amortised over the writes.

The cache is fakeredis with an explicit FakeServer per run, or a real Redis when --redis-url (or
$REDIS_URL) is given; each run then uses its own key namespace and deletes its keys afterwards.
Core and raw runs are interleaved, repeated R rounds, and the best (shortest) time of each side counts.
After every run the two sides are checked against each other: same hits, same database rows.

The figure of merit is ratio = core time / raw time for the same workload. The goal is ratio <= 1.15
on fakeredis: the teaching layer should cost at most 15 % on top of the calls it teaches.
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import os
import random
import sqlite3
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

import fakeredis
import redis

from . import PATTERNS
from .cache import CacheUnavailable, connect_cache
from .database import SCHEMA, SEED_ROWS, UPSERT, Database
from .write_behind import WriteBehind

DEFAULT_OPS = 2_000
DEFAULT_ROUNDS = 7
WRITE_SHARE = 0.2
KEY_COUNT = 100
TTL_SECONDS = 60
BATCH_SIZE = 10
SEED = 20_240_501
GOAL_RATIO = 1.15
# The statement `Database.row()` (behind `Database.get()`) runs for a read.
VALUE_SQL = "SELECT value FROM kv WHERE key = ?"
BENCH_ROWS: tuple[tuple[str, str], ...] = tuple((f"item:{n:03d}", f"initial value {n}") for n in range(KEY_COUNT))

Side = Literal["core", "raw"]


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
    stale: int = 0


@dataclass(frozen=True)
class PatternFigures:
    pattern: str
    ops: int
    core_seconds: float
    raw_seconds: float
    hit_ratio: float

    @property
    def core_ops_per_s(self) -> float:
        return self.ops / self.core_seconds

    @property
    def raw_ops_per_s(self) -> float:
        return self.ops / self.raw_seconds

    @property
    def ratio(self) -> float:
        return self.core_seconds / self.raw_seconds

    def line(self) -> str:
        return (f"{self.pattern:<15} core {self.core_ops_per_s:>9,.0f} ops/s   raw {self.raw_ops_per_s:>9,.0f} ops/s"
                f"   ratio {self.ratio:.2f}")

    def as_json(self) -> dict[str, float]:
        return {"core_ops_per_s": round(self.core_ops_per_s, 1), "raw_ops_per_s": round(self.raw_ops_per_s, 1),
                "ratio": round(self.ratio, 4), "hit_ratio": round(self.hit_ratio, 4)}


def make_workload(ops: int, seed: int = SEED) -> list[Operation]:
    """`ops` operations, WRITE_SHARE of them writes, over KEY_COUNT keys: the same list for core and raw."""
    rng = random.Random(seed)
    workload = []
    for number in range(ops):
        key = BENCH_ROWS[rng.randrange(KEY_COUNT)][0]
        workload.append(Operation(key, f"value {number}") if rng.random() < WRITE_SHARE else Operation(key))
    return workload


# ---- the cache ---------------------------------------------------------------------------------------


def open_cache(redis_url: str | None) -> redis.Redis:
    """A fresh fakeredis server with its own client, or a new client of the real server at `redis_url`."""
    if redis_url:
        return connect_cache(redis_url)
    return fakeredis.FakeRedis(server=fakeredis.FakeServer(), decode_responses=True)


def delete_namespace(cache: redis.Redis, namespace: str) -> None:
    """Delete one run's keys (matters on a real server; never FLUSHDB)."""
    names = list(cache.scan_iter(match=namespace + "*", count=500))
    if names:
        cache.delete(*names)


def new_namespace() -> str:
    return f"bench:{uuid.uuid4().hex[:12]}:"


# ---- the raw floor: the same calls, made directly -------------------------------------------------


def _now() -> str:
    """The updated_at column, computed as `Database` computes it."""
    return datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S")


class RawDatabase:
    """A plain sqlite3 connection with the core's schema, SQL, transactions and locking."""

    def __init__(self, rows: Iterable[tuple[str, str]]) -> None:
        self._lock = threading.RLock()
        self._conn = sqlite3.connect(":memory:", check_same_thread=False, isolation_level=None, timeout=5.0)
        self._conn.execute("PRAGMA busy_timeout = 5000")
        self._conn.execute(SCHEMA)
        self.upsert_many(list(rows))

    def select(self, key: str) -> str | None:
        with self._lock:
            found = self._conn.execute(VALUE_SQL, (key,)).fetchone()
        return found[0] if found else None

    def upsert_many(self, items: Sequence[tuple[str, str]]) -> None:
        """One transaction, all rows or none, as `Database.put_many()`."""
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                for key, value in items:
                    self._conn.execute(UPSERT, (key, value, _now()))
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def snapshot(self) -> dict[str, tuple[str, int]]:
        found = self._conn.execute("SELECT key, value, version FROM kv").fetchall()
        return {key: (value, version) for key, value, version in found}

    def close(self) -> None:
        self._conn.close()


class RawPattern:
    """One pattern's reads and writes as bare cache and database calls, key names laid out as the core's."""

    def __init__(self, pattern: str, cache: redis.Redis, db: RawDatabase, namespace: str) -> None:
        self.cache = cache
        self.db = db
        self.namespace = namespace
        self.queue_key = f"{namespace}wb:queue"
        self.hits = 0
        self.stale = 0
        self.write_behind_reads = pattern == "write-behind"
        writers: dict[str, Callable[[str, str], None]] = {
            "cache-aside": self.write_invalidate,
            "read-through": self.write_invalidate,
            "write-through": self.write_through,
            "write-behind": self.write_behind,
        }
        self.write = writers[pattern]

    def redis_key(self, key: str) -> str:
        return f"{self.namespace}kv:{key}"

    def read(self, key: str) -> str | None:
        redis_key = self.redis_key(key)
        value = self.cache.get(redis_key)
        if value is not None:
            self.hits += 1
        else:
            value = self.db.select(key)
            if value is not None:
                self.cache.set(redis_key, value, ex=TTL_SECONDS)
        if value != self.db.select(key):   # the stale-read check
            queued = self.cache.xrange(self.queue_key) if self.write_behind_reads else []
            pending = [fields["value"] for _, fields in queued if fields["key"] == key]
            self.stale += not pending or pending[-1] != value
        return value

    def write_invalidate(self, key: str, value: str) -> None:
        self.db.upsert_many([(key, value)])
        self.cache.delete(self.redis_key(key))

    def write_through(self, key: str, value: str) -> None:
        self.db.upsert_many([(key, value)])
        self.cache.set(self.redis_key(key), value, ex=TTL_SECONDS)

    def write_behind(self, key: str, value: str) -> None:
        self.cache.set(self.redis_key(key), value)
        self.cache.xadd(self.queue_key, {"key": key, "value": value, "at": f"{time.monotonic():.6f}"})
        if self.cache.xlen(self.queue_key) >= BATCH_SIZE:
            self.flush_batch()

    def flush_batch(self) -> None:
        entries = self.cache.xrange(self.queue_key, count=BATCH_SIZE)
        rows = {fields["key"]: fields["value"] for _, fields in entries}  # coalesced: the last value wins
        self.db.upsert_many(list(rows.items()))
        self.cache.xdel(self.queue_key, *[entry_id for entry_id, _ in entries])

    def drain(self) -> None:
        while self.cache.xlen(self.queue_key):
            self.flush_batch()


# ---- one timed run per side ---------------------------------------------------------------------------


def _timed(run: Callable[[], None]) -> float:
    gc.collect()
    start = time.perf_counter()
    run()
    return time.perf_counter() - start


def run_core(pattern: str, workload: Sequence[Operation], redis_url: str | None) -> RunResult:
    cache, namespace = open_cache(redis_url), new_namespace()
    db = Database(":memory:")
    db.put_many(BENCH_ROWS)
    options = {"batch_size": BATCH_SIZE, "max_delay_seconds": math.inf} if pattern == "write-behind" else {}
    lab = PATTERNS[pattern](cache, db, namespace=namespace, ttl_seconds=TTL_SECONDS, **options)

    def run() -> None:
        read, write = lab.read, lab.write
        for operation in workload:
            if operation.value is None:
                read(operation.key)
            else:
                write(operation.key, operation.value)
        if isinstance(lab, WriteBehind):
            lab.flush()

    try:
        seconds = _timed(run)
        failed = [trace for trace in lab.log if not trace.ok]
        if failed:
            raise RuntimeError(f"{pattern}: {len(failed)} core request(s) failed, first: {failed[0].error}")
        rows = {row.key: (row.value, row.version) for row in db.rows()}
        return RunResult(seconds, lab.counters.hits, rows, lab.counters.stale_reads)
    finally:
        delete_namespace(cache, namespace)
        cache.close()
        db.close()


def run_raw(pattern: str, workload: Sequence[Operation], redis_url: str | None) -> RunResult:
    cache, namespace = open_cache(redis_url), new_namespace()
    db = RawDatabase(SEED_ROWS + BENCH_ROWS)
    raw = RawPattern(pattern, cache, db, namespace)

    def run() -> None:
        read, write = raw.read, raw.write
        for operation in workload:
            if operation.value is None:
                read(operation.key)
            else:
                write(operation.key, operation.value)
        raw.drain()

    try:
        seconds = _timed(run)
        return RunResult(seconds, raw.hits, db.snapshot(), raw.stale)
    finally:
        delete_namespace(cache, namespace)
        cache.close()
        db.close()


def check_same_work(pattern: str, core: RunResult, raw: RunResult) -> None:
    """Both sides must have seen the same hits and left the same rows, or the comparison means nothing."""
    if core.hits != raw.hits:
        raise RuntimeError(f"{pattern}: core had {core.hits} hits, raw {raw.hits}; the bench is not comparing "
                           "like with like")
    if core.stale != raw.stale:
        raise RuntimeError(f"{pattern}: core counted {core.stale} stale reads, raw {raw.stale}")
    if core.rows != raw.rows:
        raise RuntimeError(f"{pattern}: core and raw left different database rows")


def bench(ops: int, rounds: int, redis_url: str | None) -> list[PatternFigures]:
    """Interleave core and raw runs (alternating which goes first) and keep each side's best time."""
    workload = make_workload(ops)
    reads = sum(1 for operation in workload if operation.is_read)
    best: dict[tuple[str, Side], float] = {}
    hits: dict[str, int] = {}
    for round_number in range(rounds):
        for pattern in PATTERNS:
            order: tuple[Side, Side] = ("core", "raw") if round_number % 2 == 0 else ("raw", "core")
            results: dict[Side, RunResult] = {}
            for side in order:
                runner = run_core if side == "core" else run_raw
                results[side] = runner(pattern, workload, redis_url)
                best[pattern, side] = min(best.get((pattern, side), math.inf), results[side].seconds)
            check_same_work(pattern, results["core"], results["raw"])
            hits[pattern] = results["core"].hits
    return [PatternFigures(pattern, ops, best[pattern, "core"], best[pattern, "raw"], hits[pattern] / max(reads, 1))
            for pattern in PATTERNS]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m strategies.bench", description=__doc__.splitlines()[0])
    parser.add_argument("--ops", type=int, default=DEFAULT_OPS, help=f"operations per run (default {DEFAULT_OPS})")
    parser.add_argument("--rounds", type=int, default=DEFAULT_ROUNDS,
                        help=f"runs per pattern and side; the best counts (default {DEFAULT_ROUNDS})")
    parser.add_argument("--json", action="store_true", help="print the figures as one JSON object")
    parser.add_argument("--redis-url", default=os.environ.get("REDIS_URL") or None,
                        help="a real Redis server (default: $REDIS_URL, else fakeredis)")
    parser.add_argument("--browser", action="store_true",
                        help="also time click-to-diagram in Chromium, app page vs a bare Streamlit page "
                             "(strategies/bench_browser.py)")
    parser.add_argument("--browser-only", action="store_true", help="the browser part only (implies --browser)")
    args = parser.parse_args(argv)
    if args.ops < 1 or args.rounds < 1:
        parser.error("--ops and --rounds must be at least 1")
    figures: list[PatternFigures] = []
    if not args.browser_only:
        try:
            figures = bench(args.ops, args.rounds, args.redis_url)
        except CacheUnavailable as err:
            print(err, file=sys.stderr)
            return 2
        if not args.json:
            for f in figures:
                print(f.line(), flush=True)
    browser = None
    if args.browser or args.browser_only:
        from . import bench_browser

        try:
            browser = bench_browser.run()
        except bench_browser.BrowserBenchError as err:
            print(f"browser bench failed: {err}", file=sys.stderr)
            return 2
    if args.json:
        found: dict[str, object] = {f.pattern: f.as_json() for f in figures}
        if browser is not None:
            found["browser"] = browser.as_json()
        print(json.dumps(found, indent=2))
    elif browser is not None:
        print("\n".join(browser.lines()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
