"""The guided scenarios of every pattern: scripts of real requests, and the figures each one teaches.

Each script says only what happens and in which order; the captions and the "what you saw" paragraph
live in `assets/scenarios.md` (one `## slug` section per scenario), and every number in that paragraph
is computed from the run. `SCENARIOS[slug]` is the catalogue; `for_pattern(name)` a page's picker.
"""

from __future__ import annotations

from typing import Any

from .base import Lab
from .cache_aside import CacheAside
from .database import Database
from .narration import shorten
from .scenario import Director, Scenario, ScenarioRun
from .trace import SimClock, Step

HOT_KEY = "user:1"
OLD, NEW = "Ada Lovelace", "Ada King"          # user:1 as seeded, and the value the scripts write
READERS = ("A", "B", "C", "D", "E")
BULK_ROWS = 6                                  # cache-pollution's import: enough to see, few enough to step through

# Every knob a scenario may touch, at the value a fresh lab has: a scenario starts from these, so what the
# learner had set before never changes what a scenario shows.
DEFAULT_KNOBS: dict[str, dict[str, Any]] = {
    "cache-aside": {"ttl_seconds": 60, "leases": False, "negative_ttl": None},
    "read-through": {"ttl_seconds": 60},
    "write-through": {"ttl_seconds": 60, "ordering": "safe"},
    "write-behind": {"ttl_seconds": 60, "batch_size": 10, "max_delay_seconds": 5.0, "coalesce": True,
                     "queue_limit": None},
}


def _is_db_reply(step: Step) -> bool:
    return step.source == "Database" and step.action == "REPLY"


def _cached(run: ScenarioRun, key: str = HOT_KEY) -> str:
    item = run.lab.live().cache.get(key)
    return "nothing" if item is None else shorten(item.value)


def _stored(run: ScenarioRun, key: str = HOT_KEY) -> str:
    row = run.lab.live().db.get(key)
    return "no row" if row is None else shorten(row.value)


def _agree(run: ScenarioRun, key: str = HOT_KEY) -> str:
    """'agree' or 'disagree': does the cache hold nothing, or exactly the database's value?"""
    state = run.lab.live()
    item, row = state.cache.get(key), state.db.get(key)
    return "agree" if item is None or (row is not None and item.value == row.value) else "disagree"


def _stale_reads(run: ScenarioRun) -> int:
    return sum(trace.stale for trace in run.traces)


# ---- cache-aside ----------------------------------------------------------------------------------------
def cold_then_warm(d: Director) -> None:
    d.scene("cold")
    d.read(HOT_KEY)
    d.scene("warm")
    d.read(HOT_KEY)


def cold_then_warm_summary(run: ScenarioRun) -> dict[str, Any]:
    cold, warm = run.of("read")
    return {"cold_ms": cold.latency_ms, "warm_ms": warm.latency_ms, "cold_db": cold.db_calls,
            "warm_db": warm.db_calls, "times": cold.latency_ms / warm.latency_ms}


def invalidate_on_write(d: Director) -> None:
    d.scene("fill")
    d.read(HOT_KEY)
    d.scene("write")
    d.write(HOT_KEY, NEW)
    d.scene("reread")
    d.read(HOT_KEY)


def invalidate_on_write_summary(run: ScenarioRun) -> dict[str, Any]:
    first, last = run.of("read")
    return {"first": shorten(first.value), "last": shorten(last.value), "stale": _stale_reads(run),
            "db_reads": run.lab.counters.db_reads}


def stale_set_race(d: Director) -> None:
    d.scene("race")
    slow = d.start_read(HOT_KEY, client="A")
    d.step_until(slow, _is_db_reply)            # A has read the old row, and is about to fill the cache
    d.say("b-writes")
    d.write(HOT_KEY, NEW, client="B")
    d.say("a-fills")
    d.finish(slow)
    d.scene("aftermath")
    d.read(HOT_KEY, client="C")


def stale_set_race_summary(run: ScenarioRun) -> dict[str, Any]:
    return {"cached": _cached(run), "stored": _stored(run), "agree": _agree(run), "stale": _stale_reads(run),
            "refused": sum(step.note[0] == "lease-fill-refused" for step in run.steps)}


def stampede(d: Director) -> None:
    d.scene("warm")
    d.read(HOT_KEY)
    d.advance_time(60.5)                        # the hot key's TTL runs out
    d.scene("herd")
    d.round_robin([d.start_read(HOT_KEY, client=reader) for reader in READERS])


def stampede_summary(run: ScenarioRun) -> dict[str, Any]:
    herd = run.of("read")[1:]     # after the warm-up read
    selects = sum(1 for trace in herd for step in trace.steps if step.action == "SELECT")
    return {"readers": len(herd), "selects": selects, "served": sum(trace.value == OLD for trace in herd),
            "waits": sum(1 for trace in herd for step in trace.steps if step.action == "WAIT")}


def cache_down_fallback(d: Director) -> None:
    d.scene("fill")
    d.read(HOT_KEY)
    d.faults(cache_down=True)
    d.scene("down")
    d.read("user:2")
    d.write(HOT_KEY, NEW)
    d.faults(cache_down=False)
    d.scene("back")
    d.read(HOT_KEY)
    d.advance_time(60.5)
    d.read(HOT_KEY)


def cache_down_fallback_summary(run: ScenarioRun) -> dict[str, Any]:
    counters = run.lab.counters
    return {"degraded": counters.degraded, "stale": _stale_reads(run), "failed": counters.failed,
            "final": _cached(run)}


def negative_caching(d: Director) -> None:
    d.scene("first-miss")
    d.read("user:404")
    d.scene("marker-hit")
    d.read("user:404")
    d.read("user:404")
    d.scene("marker-expires")
    d.advance_time(30.5)
    d.read("user:404")
    d.scene("row-created")
    d.write("user:404", "Hedy Lamarr")
    d.read("user:404")


def negative_caching_summary(run: ScenarioRun) -> dict[str, Any]:
    absent = [trace for trace in run.traces if trace.operation == "read" and trace.value is None]
    return {"reads": len(absent), "selects": sum(trace.db_calls > 0 for trace in absent),
            "last": shorten(run.traces[-1].value)}


# ---- read-through -----------------------------------------------------------------------------------------
def loader_on_miss(d: Director) -> None:
    d.scene("miss")
    d.read("product:42")
    d.scene("hit")
    d.read("product:42")


def loader_on_miss_summary(run: ScenarioRun) -> dict[str, Any]:
    return {"loads": run.count(action="SELECT"), "reads": len(run.traces),
            "app_db": sum(1 for step in run.steps if step.source == "App" and step.target == "Database")}


def ttl_expiry_reload(d: Director) -> None:
    d.scene("load")
    d.read(HOT_KEY)
    d.advance_time(20)
    d.scene("still-cached")
    d.read(HOT_KEY)
    d.advance_time(10.5)
    d.scene("expired")
    d.read(HOT_KEY)


def ttl_expiry_reload_summary(run: ScenarioRun) -> dict[str, Any]:
    reads = run.of("read")
    return {"reads": len(reads), "loads": run.count(action="SELECT"), "expired": run.count(action="EXPIRE"),
            "ttl": run.lab.ttl_seconds}


# ---- write-through --------------------------------------------------------------------------------------------
def write_latency(d: Director) -> None:
    d.scene("write")
    d.write(HOT_KEY, NEW)
    d.scene("read-after")
    d.read(HOT_KEY)


def write_latency_summary(run: ScenarioRun) -> dict[str, Any]:
    write, read = run.traces[0], run.traces[1]
    aside_write, aside_read = _cache_aside_beside(run.lab)
    return {"wt_write": write.latency_ms, "wt_read": read.latency_ms, "wt_hit": "a hit" if read.hit else "a miss",
            "ca_write": aside_write.latency_ms, "ca_read": aside_read.latency_ms,
            "ca_hit": "a hit" if aside_read.hit else "a miss"}


def _cache_aside_beside(lab: Lab):
    """The same write and read on a cache-aside lab of its own (same cache server, own namespace and
    in-memory database): the comparison is measured, not assumed. Its keys are removed afterwards."""
    aside = CacheAside(cache=lab.cache, db=Database(":memory:"), namespace=f"{lab.namespace}beside:",
                       clock=SimClock(), costs=lab.costs, ttl_seconds=lab.ttl_seconds)
    try:
        return aside.write(HOT_KEY, NEW), aside.read(HOT_KEY)
    finally:
        aside.reset()
        aside.db.close()


def db_down(d: Director) -> None:
    d.scene("outage")
    d.faults(db_down=True)
    d.write(HOT_KEY, NEW)
    d.faults(db_down=False)
    d.scene("after")
    d.read(HOT_KEY)


def db_down_summary(run: ScenarioRun) -> dict[str, Any]:
    write, read = run.traces[0], run.traces[1]
    return {"acknowledged": "acknowledged" if write.ok else "not acknowledged (it failed)", "cached": _cached(run),
            "stored": _stored(run), "agree": _agree(run), "served": shorten(read.value),
            "stale": _stale_reads(run)}


def cache_pollution(d: Director) -> None:
    d.scene("bulk")
    for number in range(1, BULK_ROWS + 1):
        d.write(f"import:{number}", f"row {number}")
    d.scene("reads")
    d.read(HOT_KEY)
    d.read(HOT_KEY)


def cache_pollution_summary(run: ScenarioRun) -> dict[str, Any]:
    state = run.lab.live()
    read_keys = {trace.key for trace in run.traces if trace.operation == "read"}
    unread = [key for key in state.cache if key not in read_keys]
    counters = run.lab.counters
    return {"cached": len(state.cache), "unread": len(unread),
            "unread_bytes": sum(len(state.cache[key].value.encode()) for key in unread),
            "hits": counters.hits, "misses": counters.misses,
            "ratio": f"{counters.hit_ratio:.0%}" if counters.hit_ratio is not None else "–"}


# ---- write-behind ----------------------------------------------------------------------------------------------
def coalescing(d: Director) -> None:
    d.scene("hot-key")
    for number in range(1, 6):
        d.write(HOT_KEY, f"draft {number}")
    d.scene("batch")
    d.write("user:2", "Alan M. Turing")
    d.write("user:3", "Grace B. Hopper")


def coalescing_summary(run: ScenarioRun) -> dict[str, Any]:
    writes = run.of("write")
    return {"writes": len(writes), "upserts": run.lab.counters.db_writes, "stored": _stored(run),
            "batch": run.lab.batch_size}


def reporting_query(d: Director) -> None:
    d.scene("write")
    d.write(HOT_KEY, NEW)
    d.scene("report")
    d.report(HOT_KEY)
    d.read(HOT_KEY)
    d.scene("flushed")
    d.advance_time(5.5)
    d.report(HOT_KEY)


def reporting_query_summary(run: ScenarioRun) -> dict[str, Any]:
    reports = run.of("report")
    reads = run.of("read")
    flush = next((trace for trace in run.traces if trace.operation == "flush"), None)
    written = run.traces[0].steps[0].at_ms / 1000
    return {"first": shorten(reports[0].value), "app": shorten(reads[0].value), "last": shorten(reports[-1].value),
            "lag": round(flush.steps[-1].at_ms / 1000 - written, 1) if flush else float("nan"),
            "stale": sum(trace.stale for trace in reports)}


def db_outage_retry(d: Director) -> None:
    d.scene("outage")
    d.faults(db_down=True)
    for key, value in (("user:1", NEW), ("user:2", "Alan M. Turing")):
        d.write(key, value)
    d.advance_time(3)                           # a full batch fails; the flusher backs off 1 s, 2 s…
    d.scene("queue-grows")
    d.write("user:3", "Grace B. Hopper")
    d.advance_time(4)
    d.faults(db_down=False)
    d.scene("recovery")
    d.advance_time(10)


def db_outage_retry_summary(run: ScenarioRun) -> dict[str, Any]:
    writes = [trace for trace in run.traces if trace.operation == "write" and trace.ok]
    state = run.lab.live()
    landed = sum(1 for trace in writes if state.db.get(trace.key) and state.db[trace.key].value == trace.value)
    depth, peak = 0, 0
    for step in run.steps:
        for change in step.changes:
            if change.table == "queue":
                depth += (change.after is not None) - (change.before is not None)
        peak = max(peak, depth)
    return {"acknowledged": len(writes), "failed": run.count(action="UPSERT", outcome="error"), "peak": peak,
            "landed": landed, "lost": run.lab.counters.lost_writes}


def cache_crash_loss(d: Director) -> None:
    d.scene("queued")
    d.write("user:1", NEW)
    d.write("user:2", "Alan M. Turing")
    d.write("user:3", "Grace B. Hopper")
    d.scene("crash")
    d.crash()
    d.read("user:1")


def cache_crash_loss_summary(run: ScenarioRun) -> dict[str, Any]:
    crash = next(trace for trace in run.traces if trace.operation == "crash")
    return {"queued": sum(trace.operation == "write" and trace.ok for trace in run.traces), "lost": len(crash.lost),
            "keys": ", ".join(shorten(key) for key, _ in crash.lost) or "none", "stored": _stored(run)}


def queue_full(d: Director) -> None:
    d.scene("filling")
    for key in ("user:1", "user:2", "user:3"):
        d.write(key, f"{key} v2")
    d.scene("full")
    d.write("product:42", "Espresso machine, 179.00 EUR")
    d.write("user:1", "user:1 v3")
    d.scene("drained")
    d.flush()
    d.write("product:42", "Espresso machine, 179.00 EUR")


def queue_full_summary(run: ScenarioRun) -> dict[str, Any]:
    writes = run.of("write")
    refused = [trace for trace in writes if not trace.ok]
    return {"limit": run.lab.queue_limit, "refused": len(refused), "accepted": len(writes) - len(refused),
            "lost": run.lab.counters.lost_writes}


# ---- the catalogue -------------------------------------------------------------------------------------------
def _scenario(slug: str, pattern: str, script, summary, **knobs: Any) -> Scenario:
    return Scenario(slug, pattern, {**DEFAULT_KNOBS[pattern], **knobs}, script, summary)


CATALOGUE: tuple[Scenario, ...] = (
    _scenario("cold-then-warm", "cache-aside", cold_then_warm, cold_then_warm_summary),
    _scenario("invalidate-on-write", "cache-aside", invalidate_on_write, invalidate_on_write_summary),
    _scenario("stale-set-race", "cache-aside", stale_set_race, stale_set_race_summary),
    _scenario("stale-set-race-leases", "cache-aside", stale_set_race, stale_set_race_summary, leases=True),
    _scenario("stampede", "cache-aside", stampede, stampede_summary),
    _scenario("stampede-leases", "cache-aside", stampede, stampede_summary, leases=True),
    _scenario("cache-down-fallback", "cache-aside", cache_down_fallback, cache_down_fallback_summary),
    _scenario("negative-caching", "cache-aside", negative_caching, negative_caching_summary, negative_ttl=30),
    _scenario("loader-on-miss", "read-through", loader_on_miss, loader_on_miss_summary),
    _scenario("ttl-expiry-reload", "read-through", ttl_expiry_reload, ttl_expiry_reload_summary, ttl_seconds=30),
    _scenario("write-latency", "write-through", write_latency, write_latency_summary),
    _scenario("db-down-naive", "write-through", db_down, db_down_summary, ordering="naive"),
    _scenario("db-down-safe", "write-through", db_down, db_down_summary),
    _scenario("cache-pollution", "write-through", cache_pollution, cache_pollution_summary),
    _scenario("coalescing", "write-behind", coalescing, coalescing_summary, batch_size=3),
    _scenario("reporting-query", "write-behind", reporting_query, reporting_query_summary),
    _scenario("db-outage-retry", "write-behind", db_outage_retry, db_outage_retry_summary, batch_size=2),
    _scenario("cache-crash-loss", "write-behind", cache_crash_loss, cache_crash_loss_summary,
              max_delay_seconds=30.0),
    _scenario("queue-full", "write-behind", queue_full, queue_full_summary, queue_limit=3,
              max_delay_seconds=30.0),
)
SCENARIOS: dict[str, Scenario] = {scenario.slug: scenario for scenario in CATALOGUE}


def for_pattern(pattern: str) -> list[Scenario]:
    return [scenario for scenario in CATALOGUE if scenario.pattern == pattern]
