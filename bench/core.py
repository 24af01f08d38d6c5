"""Benchmark: what the simulation core costs on top of the Redis and SQLite calls it makes.

Run as `python -m bench.core [--ops N] [--rounds R] [--json] [--redis-url URL] [--growth]`,
`python -m bench.core --compare [--requests N] [--rounds R] [--json]` for the Compare page's run
(`bench/compare.py`), or `--growth-only` for a long session alone (`bench/growth.py`).

For each pattern, the same seeded workload (N operations: 80 % reads, 20 % writes, over a fixed set of
keys that are all in the database) runs twice, each time against a fresh cache and a fresh in-memory
SQLite database holding the same rows:

* core: through the pattern's Lab (`lab.read()` / `lab.write()`), with everything a learner's request
  does: input validation, one Trace per request and one Step per arrow, each with its changes applied to
  the lab's tables and the code line that made it, counters, the stale-read check and the log.
* raw:  the floor, i.e. the same Redis and SQLite calls made directly, without the core (`bench/floor.py`).

The cache is fakeredis with an explicit FakeServer per run, or a real Redis when --redis-url (or
$REDIS_URL) is given; each run then uses its own key namespace and deletes its keys afterwards.
Core and raw runs are interleaved, repeated R rounds, and the best (shortest) time of each side counts.
After every run the two sides are checked against each other: same hits, same database rows.

The figure printed is ratio = core time / raw time for the same workload: the cost of the teaching layer.
It is a guard, not a goal: at most 1.5 (issue 17; a learner cannot see a fraction of a millisecond).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from strategies import PATTERNS
from strategies.cache import CacheUnavailable
from strategies.database import Database
from strategies.write_behind import WriteBehind

from .compare import COMPARE_REQUESTS, COMPARE_ROUNDS, bench_compare
from .floor import (
    BATCH_SIZE,
    BENCH_ROWS,
    KEY_COUNT,
    TTL_SECONDS,
    Operation,
    RunResult,
    check_same_work,
    delete_namespace,
    new_namespace,
    open_cache,
    play,
    run_raw,
    timed,
)
from .growth import GOAL_GROWTH_MB, GOAL_GROWTH_RATIO, GROWTH_REQUESTS, growth

DEFAULT_OPS = 2_000
DEFAULT_ROUNDS = 7
WRITE_SHARE = 0.2
SEED = 20_240_501
GUARD_RATIO = 1.5

Side = Literal["core", "raw"]


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


def run_core(pattern: str, workload: Sequence[Operation], redis_url: str | None) -> RunResult:
    cache, namespace = open_cache(redis_url), new_namespace()
    db = Database(":memory:")
    db.put_many(BENCH_ROWS)
    options = {"batch_size": BATCH_SIZE, "max_delay_seconds": math.inf} if pattern == "write-behind" else {}
    lab = PATTERNS[pattern](cache, db, namespace=namespace, ttl_seconds=TTL_SECONDS, **options)

    def run() -> None:
        play(workload, lab.read, lab.write)
        if isinstance(lab, WriteBehind):
            lab.flush()

    try:
        seconds = timed(run)
        failed = [trace for trace in lab.log.values() if not trace.ok]
        if failed:
            raise RuntimeError(f"{pattern}: {len(failed)} core request(s) failed, first: {failed[0].error}")
        rows = {row.key: (row.value, row.version) for row in db.rows()}
        return RunResult(seconds, lab.counters.hits, rows)
    finally:
        delete_namespace(cache, namespace)
        cache.close()
        db.close()


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
    parser = argparse.ArgumentParser(prog="python -m bench.core", description=__doc__.splitlines()[0])
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
        if not args.json:
            print(f"Core against the raw floor: {args.ops:,} operations per pattern, best of {args.rounds} "
                  f"(guard: ratio <= {GUARD_RATIO:g})")
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
