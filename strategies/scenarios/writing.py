"""The scenarios of the write patterns, write-through and write-behind: each script, and the figures it reads off
its run (every field its texts in assets/scenarios.md quote)."""

from __future__ import annotations

from typing import Any

from ..cache_aside import CacheAside
from ..clock import SimClock
from ..database import Database
from ..lab import Lab
from ..narration import quote_list, shorten
from ..scenario import Director, ScenarioRun
from .common import HOT_KEY, NEW, agree, cached, is_db_reply, overtake, stale_reads, stored

BULK_ROWS = 6                                  # cache-pollution's import: enough to see, few enough to step through
DRAFTS = 5                                     # coalescing: writes of the hot key
SECOND = "Ada Byron"                           # a second writer's value for the hot key


# ---- write-through --------------------------------------------------------------------------------------------
def write_latency(d: Director) -> None:
    d.scene("write")
    d.write(HOT_KEY, NEW)
    d.scene("read-after")
    d.read(HOT_KEY)


def write_latency_figures(run: ScenarioRun) -> dict[str, Any]:
    write, read = run.traces[0], run.traces[1]
    aside_write, aside_read = _cache_aside_beside(run.lab)
    return {"wt_write": write.latency_ms, "wt_read": read.latency_ms, "wt_hit": "a hit" if read.hit else "a miss",
            "ca_write": aside_write.latency_ms, "ca_read": aside_read.latency_ms,
            "ca_hit": "a hit" if aside_read.hit else "a miss", "extra": write.latency_ms - aside_write.latency_ms}


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


def db_down_figures(run: ScenarioRun) -> dict[str, Any]:
    write, read = run.traces[0], run.traces[1]
    return {"acknowledged": "acknowledged" if write.ok else "not acknowledged (it failed)", "cached": cached(run),
            "stored": stored(run), "agree": agree(run), "served": shorten(read.value), "stale": stale_reads(run)}


def two_writers(d: Director) -> None:
    """Safe ordering, two writers of one key: A commits first, B commits and stores, then A stores its older
    value last. The database has B's value, the cache A's."""
    d.scene("race")
    first = d.start_write(HOT_KEY, NEW, client="A")     # A's commit is confirmed; before its SET, B writes
    overtake(d, first, lambda: d.write(HOT_KEY, SECOND, client="B"), before="b-writes", after="a-stores")
    d.scene("aftermath")
    d.read(HOT_KEY, client="C")


def two_writers_figures(run: ScenarioRun) -> dict[str, Any]:
    read = run.of("read")[-1]
    return {"cached": cached(run), "stored": stored(run), "agree": agree(run), "served": shorten(read.value),
            "stale": stale_reads(run), "acknowledged": sum(trace.ok for trace in run.of("write"))}


def cache_fails_mid_write(d: Director) -> None:
    """The cache stops answering after the database committed and before the SET: the write is reported
    failed, though committed, and the cache keeps the old value until its TTL ends it."""
    d.scene("fill")
    d.read(HOT_KEY)
    d.scene("write")
    write = d.start_write(HOT_KEY, NEW)
    d.step_until(write, is_db_reply)            # committed
    d.say("cache-fails")
    d.faults(cache_down=True)
    d.finish(write)
    d.faults(cache_down=False)
    d.scene("stale")
    d.read(HOT_KEY)
    d.advance_time(60.5)
    d.scene("expired")
    d.read(HOT_KEY)


def cache_fails_mid_write_figures(run: ScenarioRun) -> dict[str, Any]:
    write = run.of("write")[0]
    reads = run.of("read")
    return {"acknowledged": "acknowledged" if write.ok else "not acknowledged (it failed)", "stored": stored(run),
            "served": shorten(reads[1].value), "final": shorten(reads[-1].value), "stale": stale_reads(run)}


def cache_pollution(d: Director) -> None:
    """Under a memory limit (allkeys-lru), an import nobody reads crowds the key people read out of the cache.
    A second of simulated time between requests: LRU's clock counts whole seconds."""
    d.scene("hot")
    for _ in range(2):
        d.read(HOT_KEY)
        d.advance_time(1)
    d.scene("bulk")
    for number in range(1, BULK_ROWS + 1):
        d.write(f"import:{number}", f"row {number}")
        d.advance_time(1)
    d.scene("reads")
    d.read(HOT_KEY)


def cache_pollution_figures(run: ScenarioRun) -> dict[str, Any]:
    evictions = [step for step in run.steps if step.action == "EVICT"]
    pushed_out = next((step for step in evictions if step.key == HOT_KEY), None)
    state = run.lab.live()
    return {"imported": len(run.of("write")), "evicted": len(evictions),
            "pushed_by": run.lab.log[run.scenes[1].number_of(pushed_out)].key if pushed_out else "no import",
            "cached": len(state.cache), "unread": sum(key.startswith("import:") for key in state.cache),
            "last": "a hit" if run.of("read")[-1].hit else "a miss"}


# ---- write-behind ----------------------------------------------------------------------------------------------
def coalescing(d: Director) -> None:
    d.scene("hot-key")
    for number in range(1, DRAFTS + 1):
        d.write(HOT_KEY, f"draft {number}")
    d.scene("batch")
    d.write("user:2", "Alan M. Turing")
    d.write("user:3", "Grace B. Hopper")


def coalescing_figures(run: ScenarioRun) -> dict[str, Any]:
    hot = [trace for trace in run.of("write") if trace.key == HOT_KEY]
    return {"writes": len(run.of("write")), "hot_writes": len(hot), "drafts": len(hot) - 1, "stored": stored(run),
            "coalesced": run.count(note="wb-coalesced"), "batches": run.count(note="wb-flush-write")}


def reporting_query(d: Director) -> None:
    d.scene("write")
    d.write(HOT_KEY, NEW)
    d.scene("report")
    d.report(HOT_KEY)
    d.read(HOT_KEY)
    d.scene("flushed")
    d.advance_time(5.5)
    d.report(HOT_KEY)


def reporting_query_figures(run: ScenarioRun) -> dict[str, Any]:
    reports = run.of("report")
    reads = run.of("read")
    flush = next((trace for trace in run.traces if trace.operation == "flush"), None)
    written = run.traces[0].steps[0].at_ms / 1000
    return {"first": shorten(reports[0].value), "app": shorten(reads[0].value), "last": shorten(reports[-1].value),
            "lag": round(flush.steps[-1].at_ms / 1000 - written, 1) if flush else float("nan"),
            "stale_reports": sum(trace.stale for trace in reports)}


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


def db_outage_retry_figures(run: ScenarioRun) -> dict[str, Any]:
    writes = [trace for trace in run.of("write") if trace.ok]
    state = run.lab.live()
    landed = sum(1 for trace in writes if state.db.get(trace.key) and state.db[trace.key].value == trace.value)
    depth, peak = 0, 0
    for step in run.steps:
        for change in step.changes:
            if change.table == "queue":
                depth += (change.after is not None) - (change.before is not None)
        peak = max(peak, depth)
    batches = [step.note[1]["rows"] for step in run.steps if step.note[0] == "wb-flush-write"]
    return {"acknowledged": len(writes), "failures": run.count(action="UPSERT", outcome="error"), "peak": peak,
            "landed": landed, "retry_rows": batches[0] if batches else 0, "later_rows": sum(batches[1:]),
            "retry_batches": len(batches)}


def cache_crash_loss(d: Director) -> None:
    d.scene("queued")
    d.write("user:1", NEW)
    d.write("user:2", "Alan M. Turing")
    d.write("user:3", "Grace B. Hopper")
    d.scene("crash")
    d.crash()
    d.read("user:1")


def cache_crash_loss_figures(run: ScenarioRun) -> dict[str, Any]:
    crash = next(trace for trace in run.traces if trace.operation == "crash")
    return {"queued": sum(trace.ok for trace in run.of("write")), "crash_lost": len(crash.lost),
            "keys": quote_list([key for key, _ in crash.lost]), "stored": stored(run)}


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


def queue_full_figures(run: ScenarioRun) -> dict[str, Any]:
    writes = run.of("write")
    refused = [trace for trace in writes if not trace.ok]
    filling = [trace for trace in writes if trace.ok][: run.lab.queue_limit or 0]
    return {"refused": len(refused), "accepted": len(writes) - len(refused), "filling": len(filling),
            "filling_keys": len({trace.key for trace in filling})}
