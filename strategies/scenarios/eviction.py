"""The scenarios of a cache that is full (features/eviction.py): each script, the rows its database starts with,
and the figures it reads off its run (every field its texts in assets/scenarios.md quote).

The LRU and LFU scans and the full cache under noeviction run on both read pages (cache-aside and read-through,
`scenarios._on_read_pages`): the policy decides what a full cache keeps alike for every pattern's reads, and each
read page fills the cache its own way (the application, the cache's loader). Write-through and write-behind fill
it as read-through does on a read; their own side of it is shown where it differs: writes nobody reads crowding
out the keys people read (the Cache pollution scenario), a write failed that the database committed
(write-through under noeviction), and a write refused (write-behind's volatile-* scenario, where queued writes,
which carry no TTL, are what fills the memory).
"""

from __future__ import annotations

from typing import Any

from ..features.memory import used_memory
from ..narration import quote_list, shorten
from ..scenario import Director, ScenarioRun
from ..trace import Trace
from .common import HOT_KEY, NEW, cached, stale_reads, stored

HOT_SET = ("user:1", "user:2", "user:3")
SCANNED = tuple((f"product:{number}", f"Item {number}") for number in range(101, 107))   # a crawler's one-off reads
BETWEEN = 1.0           # simulated seconds between two requests: LRU's clock counts whole seconds


def percent(traces: list[Trace]) -> str:
    """The hit ratio of these reads, as a caption quotes it."""
    reads = [trace for trace in traces if trace.operation == "read"]
    return f"{round(100 * sum(trace.hit is True for trace in reads) / len(reads))} %" if reads else "no reads"


def scene_reads(run: ScenarioRun, index: int) -> list[Trace]:
    return [run.lab.log[number] for number in run.scenes[index].numbers if run.lab.log[number].operation == "read"]


def evicted_keys(run: ScenarioRun, scene: int | None = None) -> list[str]:
    """The keys evicted during the run (or during one of its scenes), in order."""
    steps = run.steps if scene is None else run.scenes[scene].steps
    return [step.key for step in steps if step.action == "EVICT"]


def paced(d: Director, requests) -> None:
    """Each request, then a second of simulated time, so that LRU's clock tells them apart."""
    for request in requests:
        request()
        d.advance_time(BETWEEN)


# ---- cache-aside: a scan under LRU and under LFU ------------------------------------------------------------
def scan(d: Director) -> None:
    d.scene("warm")
    paced(d, [lambda key=key: d.read(key) for key in HOT_SET])
    d.scene("before")
    paced(d, [lambda key=key: d.read(key) for _ in range(2) for key in HOT_SET])
    d.scene("scan")
    started = d.lab.last_seq
    paced(d, [lambda key=key: d.read(key, client="B") for key, _ in SCANNED])
    full = next((step for step in d.lab.history if step.seq > started and step.action == "EVICT"), None)
    if full is not None:
        d.say("scan-full", at=full)              # the scene's second caption: from the first eviction on
    d.scene("after")
    paced(d, [lambda key=key: d.read(key) for key in HOT_SET])


def scan_figures(run: ScenarioRun) -> dict[str, Any]:
    during = evicted_keys(run, 2)
    return {"hot": len(HOT_SET), "scanned": len(SCANNED), "before": percent(scene_reads(run, 1)),
            "during": percent(scene_reads(run, 2)), "after": percent(scene_reads(run, 3)),
            "hot_evicted": sum(key in HOT_SET for key in during),
            "scan_evicted": sum(key not in HOT_SET for key in during),
            "fits": max(len(run.lab.state_after(step).cache) for step in run.steps)}


# ---- cache-aside and write-through: a full cache under noeviction ---------------------------------------------
def noeviction_read(d: Director) -> None:
    d.scene("fill")
    paced(d, [lambda: d.read("user:1"), lambda: d.read("user:2")])
    d.scene("full")
    paced(d, [lambda: d.read("user:3"), lambda: d.read("user:3")])
    d.scene("hit")
    d.read("user:1")


def noeviction_read_figures(run: ScenarioRun) -> dict[str, Any]:
    third = [trace for trace in run.of("read") if trace.key == "user:3"]
    filled = run.lab.state_after(run.scenes[0].steps[-1])
    return {"cached": len(run.lab.live().cache), "refused": run.count(note="oom-noeviction"),
            "third_selects": sum(trace.db_calls > 0 for trace in third), "served": shorten(third[-1].value),
            "full_at": used_memory(filled.cache), "last": "a hit" if run.traces[-1].hit else "a miss"}


LONGER = "Alan Mathison Turing, codebreaker and computer pioneer"     # more than the full cache has room for


def noeviction_write(d: Director) -> None:
    d.scene("fill")
    paced(d, [lambda: d.read("user:1"), lambda: d.read("user:2")])
    d.scene("write")
    d.write("user:2", LONGER)
    d.scene("read")
    d.read("user:2")


def noeviction_write_figures(run: ScenarioRun) -> dict[str, Any]:
    write, read = run.of("write")[0], run.of("read")[-1]
    return {"acknowledged": "acknowledged" if write.ok else "not acknowledged (it failed)",
            "stored": stored(run, "user:2"), "cached": cached(run, "user:2"), "served": shorten(read.value),
            "stale": stale_reads(run), "refused": run.count(note="oom-noeviction")}


# ---- write-behind: queued writes carry no TTL ------------------------------------------------------------------
QUEUED = (("user:1", NEW), ("user:3", "Grace B. Hopper"), ("product:42", "Espresso machine, 179.00 EUR"))
REFUSED_WRITE = ("product:7", "Coffee grinder, 79.50 EUR")


def volatile_oom(d: Director) -> None:
    d.scene("read")
    d.read("user:2")
    d.advance_time(BETWEEN)
    d.scene("queued")
    paced(d, [lambda key=key, value=value: d.write(key, value) for key, value in QUEUED])
    d.scene("full")
    d.write(*REFUSED_WRITE)
    d.scene("flushed")
    d.flush()
    d.write(*REFUSED_WRITE)


def volatile_oom_figures(run: ScenarioRun) -> dict[str, Any]:
    writes = run.of("write")
    flush = next(trace for trace in run.traces if trace.operation == "flush")
    return {"queued": sum(trace.ok for trace in writes[:len(QUEUED)]), "first_evicted": shorten(evicted_keys(run)[0]),
            "refused": sum(not trace.ok for trace in writes), "refused_key": shorten(REFUSED_WRITE[0]),
            "written": run.count(note="wb-flush-write"), "later_evicted": quote_list(evicted_keys(run, 3)),
            "peak": used_memory(run.lab.state_after(flush.steps[-1]).cache),
            "accepted": "accepted" if writes[-1].ok else "refused", "lost": run.lab.counters.lost_writes}


# ---- write-behind: a queued write evicted, and read back from the pending index -------------------------------
def evicted_read_your_writes(d: Director) -> None:
    d.scene("write")
    d.write(HOT_KEY, NEW)
    d.advance_time(BETWEEN)
    d.scene("reads")
    paced(d, [lambda key=key: d.read(key, client="B") for key in ("user:2", "user:3", "product:42")])
    d.scene("read-back")
    d.read(HOT_KEY)
    d.scene("flushed")
    d.advance_time(30)


def evicted_read_your_writes_figures(run: ScenarioRun) -> dict[str, Any]:
    evicted = evicted_keys(run)
    read_back = [trace for trace in run.of("read") if trace.key == HOT_KEY][0]
    at_read = run.lab.state_after(read_back.steps[-1])
    return {"evicted": shorten(evicted[0]), "queued_then": "still queued" if HOT_KEY in at_read.pending else "flushed",
            "db_then": shorten(at_read.db[HOT_KEY].value), "served": shorten(read_back.value),
            "hit": "a hit" if read_back.hit else "a miss", "stored": stored(run), "lost": run.lab.counters.lost_writes,
            "evictions": len(evicted)}
