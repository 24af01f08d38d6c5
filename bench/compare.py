"""The core bench's Compare run: the Compare page's whole run against the raw floor of the same calls.

`python -m bench.core --compare` times `strategies.compare.run_compare` (10,000 requests per pattern of its
default workload, through all four patterns on fresh labs, metrics and summary included) against the raw
floor of each pattern on the same operations (fakeredis), in the same run, interleaved, best of R (default 3).
The workload's knobs the floor does not model are set so that they do nothing: no time between requests, a
TTL no run outlasts, write-behind flushing only full batches; both sides must then agree on hits and rows.
Figure of merit: ratio = compare time / floor time, goal <= 2.
"""

from __future__ import annotations

import gc
import math
import time
from dataclasses import dataclass

from strategies import PATTERNS
from strategies.compare import run_compare
from strategies.compare_workload import Workload, make_operations, seed_rows

from .floor import BATCH_SIZE, RunResult, check_same_work, run_raw

COMPARE_REQUESTS = 10_000
COMPARE_ROUNDS = 3
GOAL_COMPARE_RATIO = 2.0


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


def compare_workload(requests: int = COMPARE_REQUESTS) -> Workload:
    """The Compare page's default workload, with the knobs the floor cannot follow set so that nothing but
    the requests happens: no time between requests, a TTL no run outlasts, flushes only of full batches."""
    return Workload(requests=requests, ttl_seconds=86_400, max_delay_seconds=math.inf, gap_ms=0.0,
                    batch_size=BATCH_SIZE)


def bench_compare(requests: int, rounds: int) -> CompareFigures:
    """The compare run (`strategies.compare.run_compare`, everything the page waits for: the workload, four
    fresh labs, the metrics, the summary) against the raw floor of each pattern on the same operations,
    interleaved; the best time of each side counts. Both sides must agree on hits and database rows."""
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
