"""The scenarios of the read patterns, cache-aside and read-through: each script, and the figures it reads off
its run (every field its texts in assets/scenarios.md quote)."""

from __future__ import annotations

from typing import Any

from ..narration import shorten
from ..scenario import Director, ScenarioRun
from .common import HOT_KEY, NEW, READERS, agree, cached, overtake, stale_reads, stored

MISSING_KEY = "user:404"
CREATED = "Hedy Lamarr"                        # the row a write creates under MISSING_KEY


def refused(run: ScenarioRun) -> int:
    """Fills the cache refused because the reader's lease was gone (voided by a write, run out, lost)."""
    return sum(step.note[0].startswith("lease-fill-refused") for step in run.steps)


# ---- cache-aside ------------------------------------------------------------------------------------------
def cold_then_warm(d: Director) -> None:
    d.scene("cold")
    d.read(HOT_KEY)
    d.scene("warm")
    d.read(HOT_KEY)


def cold_then_warm_figures(run: ScenarioRun) -> dict[str, Any]:
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


def invalidate_on_write_figures(run: ScenarioRun) -> dict[str, Any]:
    first, last = run.of("read")
    return {"first": shorten(first.value), "last": shorten(last.value), "stale": stale_reads(run),
            "extra": int(last.hit is False)}


def stale_set_race(d: Director) -> None:
    d.scene("race")
    slow = d.start_read(HOT_KEY, client="A")    # A reads the old row; before it fills the cache, B writes
    overtake(d, slow, lambda: d.write(HOT_KEY, NEW, client="B"), before="b-writes", after="a-fills")
    d.scene("aftermath")
    d.read(HOT_KEY, client="C")


def stale_set_race_figures(run: ScenarioRun) -> dict[str, Any]:
    return {"cached": cached(run), "stored": stored(run), "agree": agree(run), "stale": stale_reads(run),
            "refused": refused(run)}


def stampede(d: Director) -> None:
    d.scene("warm")
    d.read(HOT_KEY)
    d.advance_time(60.5)                        # the hot key's TTL runs out
    d.scene("herd")
    captions = ({"lease-granted": "herd-lease", "lease-fill": "herd-lease-fill", "lease-key-arrived": "herd-served"}
                if d.lab.leases else {"db-select": "herd-select", "cache-set-ttl": "herd-fill"})
    d.round_robin([d.start_read(HOT_KEY, client=reader) for reader in READERS], captions=captions)


def stampede_figures(run: ScenarioRun) -> dict[str, Any]:
    herd = run.of("read")[1:]     # after the warm-up read
    selects = sum(1 for trace in herd for step in trace.steps if step.action == "SELECT")
    holder = next((step.client for step in run.steps if step.note[0] == "lease-granted"), None)
    waiting = [trace for trace in herd if any(step.action == "WAIT" for step in trace.steps)]
    return {"readers": len(herd), "selects": selects, "served": sum(trace.value is not None for trace in herd),
            "missed": sum(trace.steps[0].outcome == "miss" for trace in herd),
            "fills": sum(step.action == "SET" for trace in herd for step in trace.steps),
            "holder": holder or "none", "waiting": len(waiting),
            "waits": sum(1 for trace in herd for step in trace.steps if step.action == "WAIT"),
            "herd_hits": sum(trace.hit is True for trace in herd)}


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


def cache_down_fallback_figures(run: ScenarioRun) -> dict[str, Any]:
    around = next(trace for trace in run.of("read") if trace.degraded)
    return {"stale": stale_reads(run), "final": cached(run), "around_ms": around.latency_ms}


def negative_caching(d: Director) -> None:
    d.scene("first-miss")
    d.read(MISSING_KEY)
    d.scene("marker-hit")
    d.read(MISSING_KEY)
    d.read(MISSING_KEY)
    d.scene("marker-expires")
    d.advance_time(30.5)
    d.read(MISSING_KEY)
    d.scene("row-created")
    d.write(MISSING_KEY, CREATED)
    d.read(MISSING_KEY)


def negative_caching_figures(run: ScenarioRun) -> dict[str, Any]:
    absent = [trace for trace in run.of("read") if trace.value is None]
    return {"reads": len(absent), "selects": sum(trace.db_calls > 0 for trace in absent),
            "last": shorten(run.traces[-1].value), "marker_hits": run.count(note="cache-aside-negative-hit")}


def negative_caching_race(d: Director) -> None:
    """The stale-set race on a row that does not exist yet: A misses and finds no row; B creates the row (its
    DEL finds nothing to delete); A then stores "not found", and the row is hidden until that marker expires."""
    d.scene("race")
    slow = d.start_read(MISSING_KEY, client="A")    # A is told there is no row; before it stores that, B creates it
    overtake(d, slow, lambda: d.write(MISSING_KEY, CREATED, client="B"), before="b-creates", after="a-stores")
    d.scene("hidden")
    d.read(MISSING_KEY, client="C")
    d.advance_time(30.5)
    d.scene("found")
    d.read(MISSING_KEY, client="C")


def negative_caching_race_figures(run: ScenarioRun) -> dict[str, Any]:
    first, *later = [trace for trace in run.of("read") if trace.client == "C"]
    return {"hidden": shorten(first.value) if first.value else '"not found"', "refused":
            refused(run), "found": shorten(later[-1].value) if later else "nothing",
            "stored": stored(run, MISSING_KEY), "stale": stale_reads(run)}


# ---- read-through -------------------------------------------------------------------------------------------
def loader_on_miss(d: Director) -> None:
    d.scene("miss")
    d.read("product:42")
    d.scene("hit")
    d.read("product:42")


def loader_on_miss_figures(run: ScenarioRun) -> dict[str, Any]:
    return {"loads": run.count(action="SELECT"), "reads": len(run.traces),
            "app_db": sum(1 for step in run.steps if step.source == "App" and step.target == "Database")}


FIRST_WAIT, SECOND_WAIT = 20, 10.5


def ttl_expiry_reload(d: Director) -> None:
    d.scene("load")
    d.read(HOT_KEY)
    d.advance_time(FIRST_WAIT)
    d.scene("still-cached")
    d.read(HOT_KEY)
    d.advance_time(SECOND_WAIT)
    d.scene("expired")
    d.read(HOT_KEY)


def ttl_expiry_reload_figures(run: ScenarioRun) -> dict[str, Any]:
    loaded, still, _ = run.of("read")
    left = loaded.steps[-1].at_ms / 1000 + run.lab.ttl_seconds - still.steps[0].at_ms / 1000
    return {"reads": len(run.of("read")), "loads": run.count(action="SELECT"), "expired": run.count(action="EXPIRE"),
            "first_wait": FIRST_WAIT, "second_wait": SECOND_WAIT, "left": round(left)}
