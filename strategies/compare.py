"""The four patterns side by side: one seeded workload, run through each pattern's real code.

A `Workload` is a frozen dataclass of knobs (how many requests, the read share, how many keys and how
popular each is, the TTL, write-behind's batching, the database's latency, the time between requests,
and an optional fault). `make_operations()` turns it into the same list of reads and writes for every
pattern; `run_compare()` runs that list through each pattern on a lab of its own (its own fakeredis
`FakeServer`, its own in-memory SQLite seeded with one row per key, its own `SimClock`), with the real
pattern classes of `strategies`, the way `strategies.bench` runs its mixes: `lab.read()` / `lab.write()`,
one after the other. Nothing is modelled: every hit, database call and lost write is what the code did.

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

`summary()` turns the numbers into "which pattern when" sentences from `assets/compare.md`: every number
in them is a field computed here, never prose written in advance.
"""

from __future__ import annotations

import itertools
import math
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from functools import cache
from typing import Literal, NamedTuple

import fakeredis

from . import PATTERNS
from .assets import ASSETS, markdown_sections
from .clock import SimClock
from .database import Database
from .features.policies import POLICIES
from .trace import Costs

COMPARE_FILE = ASSETS / "compare.md"
FAULTS = ("none", "db-outage", "cache-crash", "cache-down")
WINDOW_FAULTS = frozenset({"db-outage", "cache-down"})
MIN_REQUESTS, MAX_REQUESTS = 100, 100_000
MAX_KEYS = 20_000
DEPTH_POINTS = 400          # the queue-depth series is cut to at most this many points (each a bucket's peak)
PROGRESS_STEPS = 50         # progress reports per pattern
CACHE_UPDATING = frozenset({"write-through", "write-behind"})   # a write leaves the new value cached (the others DEL)

Popularity = Literal["uniform", "zipf"]
Fault = Literal["none", "db-outage", "cache-crash", "cache-down"]
Progress = Callable[[float, str], None]


@dataclass(frozen=True)
class Workload:
    """Every knob of a comparison; the same Workload (seed included) always gives the same numbers."""

    requests: int = 2_000
    read_ratio: float = 0.8
    keys: int = 200
    popularity: Popularity = "zipf"
    zipf_exponent: float = 1.1
    ttl_seconds: int = 60
    batch_size: int = 10
    max_delay_seconds: float = 5.0
    coalesce: bool = True
    db_latency_ms: float = 10.0
    gap_ms: float = 10.0                 # simulated time between one request's end and the next one's start
    fault: Fault = "none"
    fault_at: int = 1_000                # the request (0-based) at which the fault starts
    fault_length: int = 200              # requests the outage lasts (db-outage, cache-down)
    seed: int = 1
    maxmemory: int | None = None         # each lab's memory limit in bytes (features/eviction.py); None: none
    maxmemory_policy: str = "noeviction"

    def problems(self) -> list[str]:
        """Why this workload cannot run, as sentences from assets/compare.md; empty if it can."""
        found = []
        if not MIN_REQUESTS <= self.requests <= MAX_REQUESTS:
            found.append(say("bad-requests", low=f"{MIN_REQUESTS:,}", high=f"{MAX_REQUESTS:,}"))
        if not 0.0 <= self.read_ratio <= 1.0:
            found.append(say("bad-read-ratio"))
        if not 1 <= self.keys <= MAX_KEYS:
            found.append(say("bad-keys", high=f"{MAX_KEYS:,}"))
        if self.popularity not in ("uniform", "zipf"):
            found.append(say("bad-popularity"))
        elif self.popularity == "zipf" and not 0.0 < self.zipf_exponent <= 5.0:
            found.append(say("bad-zipf"))
        if self.ttl_seconds < 1:
            found.append(say("bad-ttl"))
        if self.batch_size < 1 or not self.max_delay_seconds > 0:
            found.append(say("bad-batch"))
        if self.db_latency_ms < 0 or self.gap_ms < 0:
            found.append(say("bad-times"))
        if self.maxmemory is not None and self.maxmemory < 1 or self.maxmemory_policy not in POLICIES:
            found.append(say("bad-memory", policies=", ".join(POLICIES)))
        if self.fault not in FAULTS:
            found.append(say("bad-fault"))
        elif self.fault != "none":
            if not 0 <= self.fault_at < self.requests:
                found.append(say("bad-fault-at", last=f"{self.requests - 1:,}"))
            elif self.fault in WINDOW_FAULTS and not 1 <= self.fault_length <= self.requests - self.fault_at:
                found.append(say("bad-fault-window", at=self.fault_at, left=f"{self.requests - self.fault_at:,}"))
        return found

    @property
    def window(self) -> range:
        """The requests the fault covers: its window for an outage, the first request after a crash."""
        if self.fault == "none":
            return range(0)
        if self.fault == "cache-crash":
            return range(self.fault_at, self.fault_at + 1)
        return range(self.fault_at, self.fault_at + self.fault_length)

    def as_dict(self) -> dict[str, object]:
        """The knobs as a plain dict (hashable by Streamlit's cache); `Workload(**d)` rebuilds it."""
        return asdict(self)


class WorkloadError(ValueError):
    """A workload that cannot run; its args are the sentences saying why."""


class Operation(NamedTuple):
    key: str
    value: str | None          # None: a read


def key_name(number: int) -> str:
    return f"key:{number:05d}"


def seed_rows(workload: Workload) -> list[tuple[str, str]]:
    """The database every lab starts with: one row per key of the workload."""
    return [(key_name(n), f"seed {n}") for n in range(workload.keys)]


def make_operations(workload: Workload) -> list[Operation]:
    """The workload's requests, in order: the same list for every pattern, and for the same seed."""
    rng = random.Random(workload.seed)
    count, n = workload.requests, workload.keys
    if workload.popularity == "zipf":
        weights = itertools.accumulate(1.0 / (rank + 1) ** workload.zipf_exponent for rank in range(n))
        picks = rng.choices(range(n), cum_weights=list(weights), k=count)
    else:
        picks = [rng.randrange(n) for _ in range(count)]
    names = [key_name(k) for k in range(n)]
    share, chance = workload.read_ratio, rng.random
    return [Operation(names[k], None) if chance() < share else Operation(names[k], f"v{number}")
            for number, k in enumerate(picks)]


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

    @property
    def hit_ratio(self) -> float | None:
        return self.hits / self.reads if self.reads else None

    def row(self) -> dict[str, object]:
        """One line of the results table."""
        return {"Pattern": self.title, "Hit ratio": self.hit_ratio, "DB reads": self.db_reads,
                "DB writes": self.db_writes, "Read p50 (ms)": self.read_p50, "Read p95 (ms)": self.read_p95,
                "Write p50 (ms)": self.write_p50, "Write p95 (ms)": self.write_p95, "Stale reads": self.stale_reads,
                "Failed": self.failed, "Failed in fault": self.failed_in_window,
                "Max writes at risk": self.max_queue, "Lost writes": self.lost_writes}


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
    return PATTERNS[pattern](fakeredis.FakeRedis(server=fakeredis.FakeServer(), decode_responses=True), db,
                             namespace="compare:{0}:", clock=SimClock(), costs=costs,
                             ttl_seconds=workload.ttl_seconds, maxmemory=workload.maxmemory,
                             maxmemory_policy=workload.maxmemory_policy, **options)


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
    read, write, wait = lab.read, lab.write, lab.wall_time_passed
    for number, (key, value) in enumerate(ops):
        if number == start or number == end:
            _set_fault(lab, fault, number == start)
        elif number == crash_at:
            lab.crash_cache()
        if value is None:
            reads += 1
            trace = read(key)
            if trace.ok:
                read_ms.append(trace.latency_ms)
                if trace.value != acked[key]:
                    stale += 1
            else:
                failed_reads += 1
        else:
            trace = write(key, value)
            if trace.ok:
                write_ms.append(trace.latency_ms)
                acked[key] = value
            else:
                failed_writes += 1
        if not trace.ok and number in window:
            failed_in_window += 1
        if gap:
            wait(gap)
        if queue is not None:
            depth.append(len(queue))
        if progress is not None and number % every == 0:
            progress(number)
    if end == len(ops):
        _set_fault(lab, fault, False)
    if queue is not None and queue:
        lab.flush()                          # drain what is left, so every pattern's DB writes are complete
    counters = lab.counters
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
        seconds=time.perf_counter() - started)


def by_policy(workload: Workload, pattern: str, policies: Sequence[str] = POLICIES) -> dict[str, PatternResult]:
    """The same workload through one pattern under each `maxmemory-policy` (its `maxmemory` must be set): what a
    policy changes in the hit ratio and the database reads."""
    operations = make_operations(workload)
    return {policy: run_pattern(pattern, replace(workload, maxmemory_policy=policy), operations)
            for policy in policies}


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


# ---- the summary: sentences computed from the numbers ----------------------------------------------------


class Sentence(NamedTuple):
    id: str                   # its section in assets/compare.md
    fields: dict              # the numbers (and names) it states
    text: str


@cache
def templates() -> dict[str, str]:
    """Section id -> text, from the '## id' sections of assets/compare.md."""
    return markdown_sections(COMPARE_FILE)


def say(name: str, **values: object) -> str:
    return templates()[name].format(**values) if values else templates()[name]


def _sentence(name: str, **values: object) -> Sentence:
    return Sentence(name, values, say(name, **values))


def pct(ratio: float | None) -> str:
    return "–" if ratio is None else f"{ratio * 100:.0f}"


def ms(value: float | None) -> str:
    return "–" if value is None else f"{value:g}"


def times(big: float, small: float) -> str:
    """How many times `big` is `small`, as the summary prints it (1 decimal below 10, else whole)."""
    factor = big / small
    return f"{factor:.1f}" if factor < 10 else f"{factor:.0f}"


def names(results: Sequence[PatternResult]) -> str:
    titles = [r.title for r in results]
    return titles[0] if len(titles) == 1 else ", ".join(titles[:-1]) + " and " + titles[-1]


def summary(workload: Workload, results: Sequence[PatternResult]) -> list[Sentence]:
    """Which pattern when, from this run's numbers; each sentence's fields are the numbers it states."""
    by = {r.pattern: r for r in results}
    said: list[Sentence] = []
    wb, wt = by.get("write-behind"), by.get("write-through")
    if wb is not None and wt is not None:
        if wt.db_writes == 0:
            said.append(_sentence("no-db-writes"))
        elif not workload.coalesce:
            said.append(_sentence("wb-plain-writes", wb=f"{wb.db_writes:,}", wt=f"{wt.db_writes:,}",
                                  risk=wb.max_queue, lost=f"{wb.lost_writes:,}"))
        elif wb.db_writes < wt.db_writes and wb.lost_writes:
            # Fewer rows, but not all of them saved work: some acknowledged writes never arrived at all.
            said.append(_sentence("wb-fewer-writes-lost", wb=f"{wb.db_writes:,}", wt=f"{wt.db_writes:,}",
                                  coalesced=f"{wb.coalesced_writes:,}", lost=f"{wb.lost_writes:,}"))
        elif wb.db_writes < wt.db_writes:
            said.append(_sentence("wb-fewer-writes", factor=times(wt.db_writes, max(wb.db_writes, 1)),
                                  wb=f"{wb.db_writes:,}", wt=f"{wt.db_writes:,}", risk=wb.max_queue,
                                  coalesced=f"{wb.coalesced_writes:,}"))
        elif wb.db_writes == wt.db_writes and not wb.coalesced_writes:
            said.append(_sentence("wb-same-writes", wb=f"{wb.db_writes:,}", wt=f"{wt.db_writes:,}",
                                  risk=wb.max_queue))
        else:
            # Not fewer rows, though writes were coalesced (or more rows than write-through): the other side of
            # the count, write-through's failed writes, wrote nothing. Say both numbers, credit neither.
            said.append(_sentence("wb-not-fewer-writes", wb=f"{wb.db_writes:,}", wt=f"{wt.db_writes:,}",
                                  coalesced=f"{wb.coalesced_writes:,}", failed=f"{wt.failed_writes:,}",
                                  risk=wb.max_queue))
    rated = [r for r in results if r.hit_ratio is not None]
    if len(rated) >= 2:
        best = max(rated, key=lambda r: r.hit_ratio)
        worst = min(rated, key=lambda r: r.hit_ratio)
        if best.hits == worst.hits:
            said.append(_sentence("hit-same", hit=pct(best.hit_ratio)))
        else:
            updates = best.pattern in CACHE_UPDATING and worst.pattern not in CACHE_UPDATING
            said.append(_sentence("hit-best-updates" if updates else "hit-best", best=best.title,
                                  best_hit=pct(best.hit_ratio), worst=worst.title, worst_hit=pct(worst.hit_ratio),
                                  best_db=f"{best.db_reads:,}", worst_db=f"{worst.db_reads:,}"))
    timed = [r for r in results if r.write_p50 is not None]
    if wb is not None and wt is not None and wb.write_p50 is not None and wt.write_p50 is not None \
            and wb.write_p50 < wt.write_p50:
        said.append(_sentence("wb-faster-writes", wb=ms(wb.write_p50), wt=ms(wt.write_p50),
                              factor=times(wt.write_p50, wb.write_p50)))
    elif len(timed) >= 2:
        fastest = min(timed, key=lambda r: r.write_p95)
        said.append(_sentence("fastest-writes", best=fastest.title, p95=ms(fastest.write_p95)))
    stale = [r for r in results if r.stale_reads]
    if stale:
        parts = ", ".join(f"{r.title} {r.stale_reads:,} ({pct(r.stale_reads / r.reads)} % of its reads)"
                          for r in sorted(stale, key=lambda r: -r.stale_reads))
        said.append(_sentence("stale", parts=parts, clean=names([r for r in results if not r.stale_reads]) or
                              "none"))
    elif any(r.reads for r in results):
        said.append(_sentence("no-stale"))
    said += _fault_sentences(workload, results)
    said += _advice(workload, by)
    return said


def _fault_sentences(workload: Workload, results: Sequence[PatternResult]) -> list[Sentence]:
    if workload.fault == "none":
        return []
    if workload.fault == "cache-crash":
        lost = [r for r in results if r.lost_writes]
        if not lost:
            return [_sentence("crash-nothing-lost", at=workload.fault_at + 1)]
        return [_sentence("crash-lost", at=workload.fault_at + 1, lost=f"{sum(r.lost_writes for r in lost):,}",
                          who=names(lost), stale=f"{sum(r.stale_reads for r in lost):,}")]
    failed = sorted(results, key=lambda r: (r.failed_in_window, r.title))
    parts = ", ".join(f"{r.title} {r.failed_in_window:,}" for r in failed)
    name = "outage-db" if workload.fault == "db-outage" else "outage-cache"
    found = [_sentence(name, length=f"{workload.fault_length:,}", at=workload.fault_at + 1, parts=parts,
                       best=failed[0].title, best_failed=f"{failed[0].failed_in_window:,}")]
    wb = next((r for r in results if r.pattern == "write-behind"), None)
    if workload.fault == "db-outage" and wb is not None and wb.failed_writes == 0 and wb.writes:
        found.append(_sentence("outage-db-queue", risk=wb.max_queue))
    return found


def _advice(workload: Workload, by: dict[str, PatternResult]) -> list[Sentence]:
    """"Pick X when …", each said only when this run's numbers back it."""
    found = []
    wb, wt, ca = by.get("write-behind"), by.get("write-through"), by.get("cache-aside")
    owed = wb.db_writes + wb.lost_writes if wb else 0     # a lost write saved no work: it is counted as owed
    if wb and wt and owed and wt.db_writes >= 2 * owed:
        found.append(_sentence("pick-write-behind", factor=times(wt.db_writes, owed), risk=wb.max_queue,
                               lost=f"{wb.lost_writes:,}"))
    if wt and wt.stale_reads == 0 and wt.reads:
        found.append(_sentence("pick-write-through", hit=pct(wt.hit_ratio), p50=ms(wt.write_p50)))
    if ca and workload.fault == "cache-down":
        others = [r for r in by.values() if r is not ca]
        if others and all(ca.failed_in_window < r.failed_in_window for r in others):
            found.append(_sentence("pick-cache-aside", failed=f"{ca.failed_in_window:,}",
                                   others=f"{min(r.failed_in_window for r in others):,}",
                                   stale=f"{ca.stale_reads:,}"))
    return found

