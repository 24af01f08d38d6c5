"""The four patterns side by side: one seeded workload (`strategies.compare_workload`), run through each
pattern's real code, and what each run measured.

`run_compare()` runs the workload's operations through each pattern on a lab of its own (its own fakeredis
`FakeServer`, its own in-memory SQLite seeded with one row per key, its own `SimClock`), with the real
pattern classes of `strategies`, the way the core bench (`bench/core.py`) runs its mixes: `lab.read()` /
`lab.write()`, one after the other. Nothing is modelled: every hit, database call and lost write is what the
code did.

Time is simulated. A request moves the lab's clock by its modelled costs (`Costs`: 1 ms per cache call,
`db_latency_ms` per SELECT and twice that per UPSERT); between requests the clock moves by `gap_ms`,
so TTLs run out and write-behind's flusher runs when its batch is due, as on the pattern pages. (Redis's
own TTLs follow the wall clock, which a run outpaces by far, so the lab's clock always expires a key
first and a run is the same for the same seed.)

Metrics, per pattern (`PatternResult`):

* hit ratio: reads the cache answered / all reads (a read that could not ask the cache is no hit).
* database reads and writes: SELECTs and rows UPSERTed, write-behind's final drain included.
* p50 / p95 read and write latency: the simulated cost the caller waited for (`Trace.latency_ms`:
  background flushes excluded), over the requests that succeeded; nearest-rank percentiles.
* stale reads: a read that succeeded and returned a value different from the *last acknowledged write*
  of its key, i.e. the value of the newest write to that key that returned ok to its caller (for
  write-behind: that was queued), or the seeded row if no write to the key succeeded yet. Requests run
  one at a time, so "last" is unambiguous. A write acknowledged and then lost in a crash makes later
  reads of its key stale; a refused or failed write changes nothing.
* writes at risk over time (write-behind): entries in the queue after each request, acknowledged but
  not yet in the database; `max_queue` is the peak.
* lost writes: acknowledged writes a cache crash destroyed (`Counters.lost_writes`).
* failed requests: in all, and during the fault's window.
* database reads per simulated second: counted as the run goes (a request's in the second it started, background
  work's in the second the wait that ran it ended), not read from the lab's history, which keeps only its latest
  requests.
* under a memory limit: keys evicted, and stores refused with Redis' OOM error (features/eviction.py).

A knob only some patterns have (TTL jitter, early refresh, near caches: `Workload.part_knobs`) is set on each lab
whose page has it, as the page would set it; the others run without it (`PatternResult.took` says which took it).
With two app instances, requests take turns on App 1 (client A) and App 2 (client B).

`strategies.compare_summary` turns the numbers into "which pattern when" sentences from `assets/compare.md`:
every number in them is a field computed here, never prose written in advance.
"""

from __future__ import annotations

import math
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

import fakeredis

from . import PATTERNS
from .clock import SimClock
from .compare_summary import Sentence, say, summary
from .compare_workload import WINDOW_FAULTS, Operation, Workload, WorkloadError, make_operations, seed_rows
from .database import Database
from .features.policies import POLICIES
from .trace import Costs

DEPTH_POINTS = 400          # the queue-depth series is cut to at most this many points (each a bucket's peak)
PROGRESS_STEPS = 50         # progress reports per pattern

Progress = Callable[[float, str], None]


def percentile(values: Sequence[float], q: float) -> float | None:
    """The nearest-rank percentile (q in 0..100) of `values`: the smallest value with at least q % of the
    values at or below it. None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(1, math.ceil(q / 100 * len(ordered))) - 1]


def peaks(series: Sequence[int], points: int = DEPTH_POINTS) -> tuple[tuple[int, int], ...]:
    """(request number, depth) pairs, at most `points` of them: each bucket of requests as its last request's
    number (counted from 1) and its peak, so the chart never hides the highest queue."""
    if not series:
        return ()
    size = max(1, math.ceil(len(series) / points))
    return tuple((min(start + size, len(series)), max(series[start:start + size]))
                 for start in range(0, len(series), size))


@dataclass(frozen=True)
class PatternResult:
    pattern: str
    title: str
    reads: int
    writes: int
    hits: int
    db_reads: int
    db_writes: int
    read_p50: float | None
    read_p95: float | None
    write_p50: float | None
    write_p95: float | None
    stale_reads: int
    failed: int
    failed_reads: int
    failed_writes: int
    failed_in_window: int
    lost_writes: int
    coalesced_writes: int
    max_queue: int
    queue_depth: tuple[tuple[int, int], ...]     # (request number, writes at risk); empty but for write-behind
    seconds: float                               # wall time of this pattern's run
    evictions: int = 0                           # keys evicted to make room under the memory limit
    refused: int = 0                             # stores refused under it (Redis' OOM error)
    db_reads_per_second: tuple[tuple[int, int], ...] = ()   # (simulated second, database reads), every second
    simulated_seconds: float = 0.0               # how long the run lasted on the lab's clock
    expired: int = 0                             # cached keys whose TTL ran out during it
    took: tuple[str, ...] = ()                   # the workload's part knobs this pattern has (lab attributes)

    @property
    def hit_ratio(self) -> float | None:
        return self.hits / self.reads if self.reads else None

    def row(self) -> dict[str, object]:
        """One line of the results table."""
        return {"Pattern": self.title, "Hit ratio": self.hit_ratio, "DB reads": self.db_reads,
                "DB writes": self.db_writes, "Read p50 (ms)": self.read_p50, "Read p95 (ms)": self.read_p95,
                "Write p50 (ms)": self.write_p50, "Write p95 (ms)": self.write_p95, "Stale reads": self.stale_reads,
                "Failed": self.failed, "Failed in fault": self.failed_in_window,
                "Max writes at risk": self.max_queue, "Lost writes": self.lost_writes, "Evicted": self.evictions,
                "Refused": self.refused}


@dataclass(frozen=True)
class CompareResult:
    workload: Workload
    results: tuple[PatternResult, ...]
    seconds: float
    sentences: tuple[Sentence, ...] = field(default=())

    def by_pattern(self) -> dict[str, PatternResult]:
        return {result.pattern: result for result in self.results}

    def rows(self) -> list[dict[str, object]]:
        return [result.row() for result in self.results]


def new_lab(pattern: str, workload: Workload):
    """A fresh, isolated lab for one pattern: its own FakeServer, in-memory SQLite (seeded), clock and costs."""
    db = Database(":memory:", seed=False)
    db.put_many(seed_rows(workload))
    costs = Costs(cache_ms=1.0, db_read_ms=workload.db_latency_ms, db_write_ms=2 * workload.db_latency_ms)
    options = {}
    if pattern == "write-behind":
        options = {"batch_size": workload.batch_size, "max_delay_seconds": workload.max_delay_seconds,
                   "coalesce": workload.coalesce}
    lab = PATTERNS[pattern](fakeredis.FakeRedis(server=fakeredis.FakeServer(), decode_responses=True), db,
                            namespace="compare:{0}:", clock=SimClock(), costs=costs,
                            ttl_seconds=workload.ttl_seconds, maxmemory=workload.maxmemory,
                            maxmemory_policy=workload.maxmemory_policy, **options)
    for attribute, value in part_knobs(lab, workload).items():     # as the page sets a knob it draws
        setattr(lab, attribute, value)
    return lab


def part_knobs(lab, workload: Workload) -> dict[str, object]:
    """The workload's knobs of parts that `lab` has (its page draws them), by lab attribute."""
    has = {knob.attribute for knob in lab.page_knobs()}
    return {attribute: value for attribute, value in workload.part_knobs().items() if attribute in has}


def every_second(counted: Counter) -> tuple[tuple[int, int], ...]:
    """(second, count) for every simulated second from 0 to the last counted, zeros included."""
    return tuple((second, counted.get(second, 0)) for second in range(max(counted) + 1)) if counted else ()


def run_pattern(pattern: str, workload: Workload, operations: Sequence[Operation] | None = None, *,
                progress: Callable[[int], None] | None = None, keep: list | None = None) -> PatternResult:
    """Run the workload through one pattern. `progress(done)` is told every so many requests; `keep`, if
    given, receives the lab's database rows afterwards, {key: (value, version)} (the bench compares them)."""
    ops = make_operations(workload) if operations is None else operations
    started = time.perf_counter()
    lab = new_lab(pattern, workload)
    try:
        return _measure(lab, workload, ops, progress, started, keep)
    finally:
        lab.db.close()
        lab.cache.close()


def _measure(lab, workload: Workload, ops: Sequence[Operation], progress, started: float, keep) -> PatternResult:
    acked = dict(seed_rows(workload))       # key -> the last acknowledged value
    read_ms: list[float] = []
    write_ms: list[float] = []
    depth: list[int] = []
    queue = lab.state.queue if "queue" in lab.cache_tables() else None
    stale = failed_reads = failed_writes = failed_in_window = reads = 0
    fault, window = workload.fault, workload.window
    start, end = (window.start, window.stop) if fault in WINDOW_FAULTS else (-1, -1)
    crash_at = workload.fault_at if fault == "cache-crash" else -1
    gap = workload.gap_ms / 1000
    every = max(1, len(ops) // PROGRESS_STEPS)
    read, write, wait, now = lab.read, lab.write, lab.wall_time_passed, lab.clock.now
    counters, per_second, counted = lab.counters, Counter(), 0      # database reads per simulated second
    client = workload.client
    for number, (key, value) in enumerate(ops):
        if number == start or number == end:
            _set_fault(lab, fault, number == start)
        elif number == crash_at:
            lab.crash_cache()
        began = now()
        if value is None:
            reads += 1
            trace = read(key, client=client(number))
            if trace.ok:
                read_ms.append(trace.latency_ms)
                if trace.value != acked[key]:
                    stale += 1
            else:
                failed_reads += 1
        else:
            trace = write(key, value, client=client(number))
            if trace.ok:
                write_ms.append(trace.latency_ms)
                acked[key] = value
            else:
                failed_writes += 1
        if not trace.ok and number in window:
            failed_in_window += 1
        if counters.db_reads != counted:
            per_second[int(began)] += counters.db_reads - counted
            counted = counters.db_reads
        if gap:
            wait(gap)
            if counters.db_reads != counted:                 # background work (an early refresh) read it
                per_second[int(now())] += counters.db_reads - counted
                counted = counters.db_reads
        if queue is not None:
            depth.append(len(queue))
        if progress is not None and number % every == 0:
            progress(number)
    if end == len(ops):
        _set_fault(lab, fault, False)
    if queue is not None and queue:
        lab.flush()                          # drain what is left, so every pattern's DB writes are complete
    if keep is not None:
        keep.append({row.key: (row.value, row.version) for row in lab.db.rows()})
    return PatternResult(
        pattern=lab.name, title=lab.title, reads=reads, writes=len(ops) - reads, hits=counters.hits,
        db_reads=counters.db_reads, db_writes=counters.db_writes,
        read_p50=percentile(read_ms, 50), read_p95=percentile(read_ms, 95),
        write_p50=percentile(write_ms, 50), write_p95=percentile(write_ms, 95),
        stale_reads=stale, failed=failed_reads + failed_writes, failed_reads=failed_reads,
        failed_writes=failed_writes, failed_in_window=failed_in_window, lost_writes=counters.lost_writes,
        coalesced_writes=counters.coalesced_writes, max_queue=max(depth, default=0), queue_depth=peaks(depth),
        seconds=time.perf_counter() - started, evictions=lab.eviction.evictions, refused=lab.eviction.refusals,
        db_reads_per_second=every_second(per_second), simulated_seconds=now(), expired=counters.expired,
        took=tuple(part_knobs(lab, workload)))


def by_policy(workload: Workload, pattern: str, policies: Sequence[str] = POLICIES,
              progress: Progress | None = None) -> dict[str, PatternResult]:
    """The same workload through one pattern under each `maxmemory-policy` (its `maxmemory` must be set): what a
    policy changes in the hit ratio and the database reads. `progress(fraction, text)` follows it."""
    problems = workload.problems() or ([] if workload.maxmemory else [say("policies-need-limit")])
    if problems:
        raise WorkloadError(*problems)
    operations = make_operations(workload)
    found = {}
    for index, policy in enumerate(policies):
        report = None
        if progress is not None:
            def report(done: int, index: int = index, policy: str = policy) -> None:
                progress((index * len(operations) + done) / (len(policies) * len(operations)),
                         say("progress-policy", policy=policy))
        found[policy] = run_pattern(pattern, replace(workload, maxmemory_policy=policy), operations, progress=report)
    if progress is not None:
        progress(1.0, say("progress-done"))
    return found


def _set_fault(lab, fault: str, on: bool) -> None:
    if fault == "db-outage":
        lab.db.down = on
    elif fault == "cache-down":
        lab.cache_down = on


def run_compare(workload: Workload, progress: Progress | None = None,
                patterns: Sequence[str] = tuple(PATTERNS), *, rows_out: dict | None = None) -> CompareResult:
    """Run the workload through every pattern, each on a fresh lab; `progress(fraction, text)` follows it.
    Raises WorkloadError (its args: the sentences saying why) if the workload cannot run. `rows_out`, if
    given, receives each pattern's database rows afterwards (the bench checks them against its floor)."""
    problems = workload.problems()
    if problems:
        raise WorkloadError(*problems)
    started = time.perf_counter()
    ops = make_operations(workload)
    total = len(ops) * len(patterns)
    results = []
    for index, pattern in enumerate(patterns):
        title = PATTERNS[pattern].title
        report = None
        if progress is not None:
            def report(done: int, index: int = index, title: str = title) -> None:
                progress((index * len(ops) + done) / total, say("progress", pattern=title))
        kept: list | None = [] if rows_out is not None else None
        results.append(run_pattern(pattern, workload, ops, progress=report, keep=kept))
        if kept:
            rows_out[pattern] = kept[0]
    if progress is not None:
        progress(1.0, say("progress-done"))
    found = tuple(results)
    return CompareResult(workload, found, time.perf_counter() - started, tuple(summary(workload, found)))
