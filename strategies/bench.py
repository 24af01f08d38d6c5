"""Benchmark: what the simulation core costs on top of the Redis and SQLite calls it makes.

Run as `python -m strategies.bench [--ops N] [--rounds R] [--json] [--redis-url URL] [--growth]`, or
`python -m strategies.bench --compare [--requests N] [--rounds R] [--json]` for the Compare page's run.

For each pattern, the same seeded workload (N operations: 80 % reads, 20 % writes, over a fixed set of
keys that are all in the database) runs twice, each time against a fresh cache and a fresh in-memory
SQLite database holding the same rows:

* core: through the pattern's Lab (`lab.read()` / `lab.write()`), with everything a learner's request
  does: input validation, one Trace per request and one Step per arrow, each with its changes applied to
  the lab's tables and the code line that made it, counters, the stale-read check and the log.
* raw:  the floor, i.e. the same Redis and SQLite calls made directly, without the core:
    - read (every pattern): GET; on a miss the SELECT of value and version, and SET EX ttl; write-behind
      first asks its pending index (HGET) and, if a write is queued, SETs that value instead.
    - cache-aside / read-through write: the UPSERT … RETURNING version (in a BEGIN IMMEDIATE … COMMIT
      transaction, under a lock, as `Database` does), then DEL.
    - write-through write: the UPSERT, then SET EX ttl.
    - write-behind write: the enqueue script (EVALSHA: SET, HSET, XADD); each time the queue holds a full
      batch, the flush: the read-batch script, one transaction upserting the rows, the acknowledge script.
      A final flush drains the rest, on both sides.

The cache is fakeredis with an explicit FakeServer per run, or a real Redis when --redis-url (or
$REDIS_URL) is given; each run then uses its own key namespace and deletes its keys afterwards.
Core and raw runs are interleaved, repeated R rounds, and the best (shortest) time of each side counts.
After every run the two sides are checked against each other: same hits, same database rows.

The figure of merit is ratio = core time / raw time for the same workload. The goal is ratio <= 1.15
on fakeredis: the teaching layer should cost at most 15 % on top of the calls it teaches.

--compare times the Compare page's run (`strategies.compare.run_compare`: 10,000 requests per pattern of
its default workload, through all four patterns on fresh labs, metrics and summary included) against the
raw floor of each pattern on the same operations (fakeredis), in the same run, interleaved, best of R
(default 3). The workload's knobs the floor does not model are set so that they do nothing: no time
between requests, a TTL no run outlasts, write-behind flushing only full batches; both sides must then
agree on hits and rows. Figure of merit: ratio = compare time / floor time, goal <= 2.

--growth measures a long session instead, through the code path a page click takes (the request, then
the diagram, the narration and the tables at the first step, from `strategies.views`): 1,000 requests
of distinct keys (a write of a new key, then a read of it, over and over) in one lab with the page's
settings; then it clicks a read of a new key in that long session and in a fresh one, in turn, and
prints the median click of each (best of 3 blocks of 100) and their ratio (goal <= 1.2), and the memory
the long session's lab grew by per 1,000 requests (goal <= 20 MB), measured with tracemalloc.
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import os
import random
import sqlite3
import statistics
import sys
import tempfile
import threading
import time
import tracemalloc
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import fakeredis
import redis

from . import PATTERNS
from .cache import CacheUnavailable, connect_cache
from .database import SCHEMA, SEED_ROWS, SELECT, UPSERT, Database
from .diagram import build_diagram
from .features import script
from .write_behind import WriteBehind

DEFAULT_OPS = 2_000
DEFAULT_ROUNDS = 7
WRITE_SHARE = 0.2
KEY_COUNT = 100
TTL_SECONDS = 60
BATCH_SIZE = 10
SEED = 20_240_501
GOAL_RATIO = 1.15
GROWTH_REQUESTS = 1_000
GROWTH_SAMPLE = 100
GROWTH_REPEATS = 3
GOAL_GROWTH_RATIO = 1.2
GOAL_GROWTH_MB = 20.0
COMPARE_REQUESTS = 10_000
COMPARE_ROUNDS = 3
GOAL_COMPARE_RATIO = 2.0
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
        failed = [trace for trace in lab.log.values() if not trace.ok]
        if failed:
            raise RuntimeError(f"{pattern}: {len(failed)} core request(s) failed, first: {failed[0].error}")
        rows = {row.key: (row.value, row.version) for row in db.rows()}
        return RunResult(seconds, lab.counters.hits, rows)
    finally:
        delete_namespace(cache, namespace)
        cache.close()
        db.close()


def run_raw(pattern: str, workload: Sequence[Operation], redis_url: str | None, *,
            rows: Sequence[tuple[str, str]] = SEED_ROWS + BENCH_ROWS, **options) -> RunResult:
    """The floor: `options` (ttl, batch_size) as RawPattern takes them; `rows`, the database it starts with."""
    cache, namespace = open_cache(redis_url), new_namespace()
    db = RawDatabase(rows)
    raw = RawPattern(pattern, cache, db, namespace, **options)

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


# ---- a long session: the cost of a click after many requests --------------------------------------------


@dataclass(frozen=True)
class GrowthFigures:
    pattern: str
    requests: int
    first_read_ms: float
    last_read_ms: float
    mb_per_1000: float

    @property
    def ratio(self) -> float:
        return self.last_read_ms / self.first_read_ms

    def line(self) -> str:
        return (f"{self.pattern:<15} fresh session {self.first_read_ms:6.3f} ms   after {self.requests:,} requests "
                f"{self.last_read_ms:6.3f} ms"
                f"   ratio {self.ratio:.2f}   memory {self.mb_per_1000:5.1f} MB per 1,000 requests")

    def as_json(self) -> dict[str, float]:
        return {"requests": self.requests, "first_read_ms": round(self.first_read_ms, 4),
                "last_read_ms": round(self.last_read_ms, 4), "ratio": round(self.ratio, 4),
                "mb_per_1000": round(self.mb_per_1000, 3)}


def page_click(lab, operation: Operation) -> tuple[str, str]:
    """What one click makes the page do, without Streamlit: the request, then the diagram, the narration
    and the tables at its first step (playback starts there), as `pages/` renders them."""
    trace = lab.read(operation.key) if operation.is_read else lab.write(operation.key, operation.value)
    shown = build_diagram(lab.topology, trace, 1).source, trace.steps[0].explanation
    state = lab.state_at(trace, 1)
    for view in lab.views():          # the tables the page draws, as the panel does
        if view.shown(state):
            view.rows(state, changed=frozenset(c.key for c in trace.steps[0].changes if c.table == view.table))
    return shown


def growth_workload(requests: int) -> list[Operation]:
    """A write of a new key, then a read of it, and again: every request on a key no earlier pair used."""
    workload = []
    for number in range(requests // 2):
        key = f"learner:{number:05d}"
        workload += [Operation(key, f"value {number}"), Operation(key)]
    return workload


def _page_lab(pattern: str, path: Path):
    """A lab as a page builds it: its own fakeredis, a file SQLite, the page's TTL (and batch) settings."""
    return PATTERNS[pattern](fakeredis.FakeRedis(server=fakeredis.FakeServer(), decode_responses=True),
                             Database(str(path)), ttl_seconds=TTL_SECONDS)


def _read_click(lab, number: int) -> float:
    """A write of a key new to this lab (untimed), then the timed click that reads it."""
    key = f"probe:{number:05d}"
    page_click(lab, Operation(key, f"probe {number}"))
    start = time.perf_counter()
    page_click(lab, Operation(key))
    return time.perf_counter() - start


def growth(pattern: str, requests: int = GROWTH_REQUESTS, repeats: int = GROWTH_REPEATS) -> GrowthFigures:
    """A session of `requests` clicks against a fresh one, clicked in turn in the same moments (this
    machine's noise is larger than the effect measured): the median read click of each, best of `repeats`
    blocks of GROWTH_SAMPLE clicks. Memory: what the long session's lab grew by, under tracemalloc."""
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        grown = _page_lab(pattern, folder / "grown.sqlite3")
        tracemalloc.start()
        before = tracemalloc.get_traced_memory()[0]
        for operation in growth_workload(requests):
            page_click(grown, operation)
        memory = tracemalloc.get_traced_memory()[0] - before
        tracemalloc.stop()
        first, last = [], []
        for block in range(repeats):
            fresh = _page_lab(pattern, folder / f"fresh{block}.sqlite3")
            for number in range(5):                      # past the first-click warm-up of this fresh lab
                _read_click(fresh, 1_000 * (block + 1) + number)
            gc.collect()
            pairs = []
            for number in range(GROWTH_SAMPLE):   # keys new to both (no memoised label helps either); the
                early, late = 10_000 * (block + 1) + number, 50_000 * (block + 1) + number   # first click alternates
                if number % 2:
                    after = _read_click(grown, late)
                    pairs.append((_read_click(fresh, early), after))
                else:
                    pairs.append((_read_click(fresh, early), _read_click(grown, late)))
            first.append(statistics.median(a for a, _ in pairs))
            last.append(statistics.median(b for _, b in pairs))
            fresh.db.close()
        grown.db.close()
    return GrowthFigures(pattern, requests, min(first) * 1000, min(last) * 1000, memory / 1e6 * 1000 / requests)


# ---- the Compare page's run: four patterns on their own labs, against the floor --------------------------


@dataclass(frozen=True)
class CompareFigures:
    requests: int
    compare_seconds: float                 # the whole compare run, as the page makes it (all four patterns)
    raw_seconds: float                     # the four floors: the same calls, made directly
    patterns: dict[str, tuple[float, float]]   # pattern -> (its part of the compare run, its floor)

    @property
    def ratio(self) -> float:
        return self.compare_seconds / self.raw_seconds

    def lines(self) -> list[str]:
        found = [f"{pattern:<15} compare {mine:>6.3f} s   raw {raw:>6.3f} s   ratio {mine / raw:.2f}"
                 for pattern, (mine, raw) in self.patterns.items()]
        found.append(f"{'all four':<15} compare {self.compare_seconds:>6.3f} s   raw {self.raw_seconds:>6.3f} s   "
                     f"ratio {self.ratio:.2f}   (goal <= {GOAL_COMPARE_RATIO:g})")
        return found

    def as_json(self) -> dict[str, object]:
        return {"requests": self.requests, "compare_seconds": round(self.compare_seconds, 4),
                "raw_seconds": round(self.raw_seconds, 4), "ratio": round(self.ratio, 4),
                "patterns": {pattern: {"compare_seconds": round(mine, 4), "raw_seconds": round(raw, 4),
                                       "ratio": round(mine / raw, 4)}
                             for pattern, (mine, raw) in self.patterns.items()}}


def compare_workload(requests: int = COMPARE_REQUESTS):
    """The Compare page's default workload, with the knobs the floor cannot follow set so that nothing but
    the requests happens: no time between requests, a TTL no run outlasts, flushes only of full batches."""
    from .compare import Workload
    return Workload(requests=requests, ttl_seconds=86_400, max_delay_seconds=math.inf, gap_ms=0.0,
                    batch_size=BATCH_SIZE)


def bench_compare(requests: int, rounds: int) -> CompareFigures:
    """The compare run (`strategies.compare.run_compare`, everything the page waits for: the workload, four
    fresh labs, the metrics, the summary) against the raw floor of each pattern on the same operations,
    interleaved; the best time of each side counts. Both sides must agree on hits and database rows."""
    from .compare import make_operations, run_compare, seed_rows
    workload = compare_workload(requests)
    operations = make_operations(workload)
    rows = seed_rows(workload)
    best_compare, best_raw = math.inf, math.inf
    parts: dict[str, tuple[float, float]] = {}
    for round_number in range(rounds):
        kept: dict[str, dict] = {}
        raw: dict[str, RunResult] = {}
        for side in (("compare", "raw") if round_number % 2 == 0 else ("raw", "compare")):
            if side == "raw":
                for pattern in PATTERNS:
                    raw[pattern] = run_raw(pattern, operations, None, rows=rows, ttl=workload.ttl_seconds,
                                           batch_size=workload.batch_size)
            else:
                gc.collect()
                start = time.perf_counter()
                found = run_compare(workload, rows_out=kept)
                seconds = time.perf_counter() - start
        for result in found.results:
            floor = raw[result.pattern]
            check_same_work(result.pattern, RunResult(result.seconds, result.hits, kept[result.pattern]), floor)
            old = parts.get(result.pattern, (math.inf, math.inf))
            parts[result.pattern] = (min(old[0], result.seconds), min(old[1], floor.seconds))
        best_compare = min(best_compare, seconds)
        best_raw = min(best_raw, sum(result.seconds for result in raw.values()))
    return CompareFigures(requests, best_compare, best_raw, parts)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m strategies.bench", description=__doc__.splitlines()[0])
    parser.add_argument("--ops", type=int, default=DEFAULT_OPS, help=f"operations per run (default {DEFAULT_OPS})")
    parser.add_argument("--rounds", type=int, default=None,
                        help=f"runs per pattern and side; the best counts (default {DEFAULT_ROUNDS}, "
                             f"{COMPARE_ROUNDS} with --compare)")
    parser.add_argument("--json", action="store_true", help="print the figures as one JSON object")
    parser.add_argument("--redis-url", default=os.environ.get("REDIS_URL") or None,
                        help="a real Redis server (default: $REDIS_URL, else fakeredis)")
    parser.add_argument("--growth", action="store_true",
                        help=f"also measure a long session: {GROWTH_REQUESTS:,} requests through a page's code path")
    parser.add_argument("--growth-only", action="store_true", help="the long-session part only")
    parser.add_argument("--compare", action="store_true",
                        help=f"only the Compare page's run: {COMPARE_REQUESTS:,} requests per pattern (or --requests) "
                             "through all four patterns, against the raw floor of the same calls (fakeredis)")
    parser.add_argument("--requests", type=int, default=COMPARE_REQUESTS,
                        help=f"requests per pattern with --compare (default {COMPARE_REQUESTS:,})")
    args = parser.parse_args(argv)
    if args.rounds is None:
        args.rounds = COMPARE_ROUNDS if args.compare else DEFAULT_ROUNDS
    if args.ops < 1 or args.rounds < 1:
        parser.error("--ops and --rounds must be at least 1")
    if args.compare and (args.growth or args.growth_only):
        parser.error("--compare runs on its own: leave out --growth / --growth-only")
    if args.compare and not 100 <= args.requests <= 100_000:
        parser.error("--requests must be between 100 and 100,000")
    found: dict[str, object] = {}
    if args.compare:
        figures = bench_compare(args.requests, args.rounds)
        if args.json:
            print(json.dumps({"compare": figures.as_json(), "ratio": round(figures.ratio, 4)}, indent=2))
        else:
            print(f"The Compare page's run: {args.requests:,} requests per pattern, best of {args.rounds} "
                  "(compare: the whole run the page waits for; raw: the same calls made directly)")
            for line in figures.lines():
                print(line, flush=True)
        return 0
    if not args.growth_only:
        try:
            figures = bench(args.ops, args.rounds, args.redis_url)
        except CacheUnavailable as err:
            print(err, file=sys.stderr)
            return 2
        for f in figures:
            found[f.pattern] = f.as_json()
            if not args.json:
                print(f.line(), flush=True)
    if args.growth or args.growth_only:
        grown = [growth(pattern) for pattern in PATTERNS]
        found["growth"] = {g.pattern: g.as_json() for g in grown}
        if not args.json:
            print(f"\nA long session ({GROWTH_REQUESTS:,} requests of distinct keys, through the page's code path; "
                  f"goals: ratio <= {GOAL_GROWTH_RATIO}, <= {GOAL_GROWTH_MB:g} MB per 1,000 requests)")
            for g in grown:
                print(g.line(), flush=True)
    if args.json:
        print(json.dumps(found, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
