"""The scenarios of expiry storms and early refresh, on cache-aside and read-through: each script, and the
figures it reads off its run (every field its texts in assets/scenarios.md quote).

expiry-spike / ttl-jitter: the database holds a catalogue of 1,000 rows (the scenario's rows) and a warm-up job
    loads every row into the cache at once, with the pattern's TTL (± its jitter); each key is then read again
    right as it expires, the reads overlapping in time as on a real server (`Director.side_by_side`): the
    database reads per simulated second are the scenario's chart.
refresh-ahead: reads before and inside the refresh-ahead window, the background refresh, a read after the old
    expiry. xfetch-early-recompute: readers around a hot key's expiry. stampede-compare: the same readers around
    successive expiries of the key, with each protection in turn.
"""

from __future__ import annotations

import string
from typing import Any

from ..calls import Loaded
from ..request import Request, Steps
from ..scenario import Director, ScenarioRun, text_of
from ..series import Series, per_second
from ..trace import RESERVED_CLIENTS, Trace
from .common import HOT_KEY, loader_of

CATALOGUE_SIZE = 1_000
# Readers A to Z, 20 of them: no letter of a worker's or a job's (a reader "S" would be narrated as the server).
HERD = tuple(letter for letter in string.ascii_uppercase if letter not in RESERVED_CLIENTS)[:20]
HERD_START_MS, HERD_GAP_MS = -30.0, 2.0         # the first reader 30 ms before the key expires, the others 2 ms apart
WARM_UP_CLIENT = "J"                            # the warm-up job: neither a reader nor background work
OUTSIDE_WAIT, WINDOW_WAIT, AFTER_WAIT = 20, 20, 25   # refresh-ahead's time jumps, in seconds
CHART = "chart-db-reads"                        # the spike's chart: its texts in assets/scenarios.md


def catalogue_key(number: int) -> str:
    return f"item:{number}"


# ---- the catalogue and the warm-up ----------------------------------------------------------------------------
def catalogue(size: int = CATALOGUE_SIZE) -> tuple[tuple[str, str], ...]:
    """A catalogue of `size` rows: what the database holds beside its seed when the scenario starts
    (`Scenario.rows`, the one way a scenario brings rows of its own)."""
    return tuple((catalogue_key(number), f"item {number}") for number in range(1, size + 1))


CATALOGUE_ROWS = catalogue()


def warm_up(lab, keys: list[str]) -> None:
    """A job loads `keys` from the database in one query, then stores all of them in the cache in one pipeline,
    each with the TTL a fill of the pattern sets (± its jitter): every key is loaded at one moment. (It stores no
    early-refresh entries: the scenarios that warm up run without early refresh.)"""
    Request(lab, lab.new_trace("warm-up", client=WARM_UP_CLIENT), _warm_up, keys).run()


def _warm_up(t: Request, keys: list[str]) -> Steps:
    lab, source = t.lab, loader_of(t.lab)
    found = lab.db.get_many(keys)
    lab.counters.db_reads += 1
    yield t.step(source, "Database", "SELECT", command=f"SELECT … WHERE key IN ({len(keys)} keys)",
                 cost_ms=lab.costs.db_read_ms * lab.db.slowdown, note=("warm-up-select", {"keys": len(keys)}))
    yield from lab.reply(t, "Database", source, None, None, command=f"{len(found)} rows",
                         note=("warm-up-rows", {"rows": len(found)}))
    loaded = [(key, Loaded(*found[key]), lab.jitter.ttl()) for key in keys if key in found]
    ttls = sorted({ttl for _, _, ttl in loaded}, key=lambda ttl: ttl or 0)
    spread = "no expiry" if ttls[0] is None else f"EX {ttls[0]}" if len(ttls) == 1 else f"EX {ttls[0]}–{ttls[-1]}"

    def call() -> None:
        pipe = lab.cache.pipeline(transaction=False)
        for key, row, ttl in loaded:
            pipe.set(lab.redis_key(key), row.value, ex=ttl)
        pipe.execute()

    yield from lab.cache_call(
        t, source, "Cache", "SET", call, command=f"SET × {len(loaded)} {spread} (pipeline)",
        changes=lambda _, at: tuple(lab.cached(key, row.value, ttl, row.version, at) for key, row, ttl in loaded),
        note=("warm-up-set-forever" if ttls[0] is None else "warm-up-set" if len(ttls) == 1 else "warm-up-set-jitter",
              {"rows": len(loaded), "shortest": ttls[0], "longest": ttls[-1]}))


# ---- expiry-spike and ttl-jitter ----------------------------------------------------------------------------
def expiry_spike(d: Director) -> None:
    d.scene("warm-up")
    warm_up(d.lab, [key for key, _ in CATALOGUE_ROWS])
    lab = d.lab
    expiries = {key: lab.state.cache[key].expires_at for key in map(catalogue_key, range(1, CATALOGUE_SIZE + 1))}
    first = min(expiries.values())
    d.scene("expired")
    d.wait(first - lab.clock.now())                   # the first TTLs run out
    d.scene("spike")
    # Each key is read again right as it expires; the reads overlap in time, as on a server with many connections.
    d.side_by_side([(moment, key, "A") for key, moment in expiries.items()], captions={"db-select": "spike-select"})
    d.advance_time(1)


def reads_per_second(run: ScenarioRun) -> Series:
    """Database reads (queries) per simulated second, from the run's first second to its last; its title and axis
    labels are assets/scenarios.md's `chart-db-reads`."""
    end = int(run.lab.clock.now())
    return Series(text_of(CHART, "title"), text_of(CHART, "x"), text_of(CHART, "y"),
                  per_second(run.steps, start=0, end=end))


def expiry_spike_figures(run: ScenarioRun) -> dict[str, Any]:
    warm = run.of("warm-up")[0]
    stored = warm.steps[-1]                           # the warm-up's pipeline: one change per key it loaded
    expired = [step for trace in run.of("expiry") for step in trace.steps]
    moments = [round(step.at_ms / 1000, 3) for step in expired]
    first, last = min(moments), max(moments)
    reads = run.of("read")
    series = reads_per_second(run)
    second, peak = series.peak
    return {"keys": len(stored.changes), "shortest": stored.note[1]["shortest"],
            "longest": stored.note[1]["longest"], "expired": len(expired), "first_group": moments.count(first),
            "first_expiry": round(first), "last_expiry": round(last), "expiry_moments": len(set(moments)),
            "reads": len(reads), "missed": sum(trace.hit is False for trace in reads), "peak": peak,
            "peak_second": second, "spike_seconds": sum(value > 0 for at, value in series.points if at >= int(first)),
            "longest_wait": max(trace.latency_ms for trace in reads)}


# ---- refresh-ahead ----------------------------------------------------------------------------------------------
def refresh_ahead(d: Director) -> None:
    d.scene("fill")
    d.read(HOT_KEY)
    d.advance_time(OUTSIDE_WAIT)
    d.scene("outside")
    d.read(HOT_KEY)
    d.advance_time(WINDOW_WAIT)
    d.scene("window")
    d.read(HOT_KEY, client="A")
    d.read(HOT_KEY, client="B")
    d.scene("refreshed")
    d.advance_time(0.1)                                # the refresher runs as soon as it is due
    d.advance_time(AFTER_WAIT)
    d.scene("after")
    d.read(HOT_KEY, client="C")


def refresh_ahead_figures(run: ScenarioRun) -> dict[str, Any]:
    reads = run.of("read")
    refreshes = run.of("refresh")
    fill = reads[0]
    expired_at = fill.steps[-1].at_ms / 1000 + run.lab.ttl_seconds
    after = reads[-1]
    inside = [trace for trace in reads if any(step.action == "REFRESH" for step in trace.steps)]
    return {"reads": len(reads), "missed": sum(trace.hit is False for trace in reads),
            "window": run.lab.refresh_ahead * run.lab.ttl_seconds, "outside_left": round(
                expired_at - reads[1].steps[0].at_ms / 1000), "inside_left": round(
                expired_at - inside[0].steps[0].at_ms / 1000) if inside else 0,
            "inside": len(inside), "refreshes": len(refreshes), "scheduled": run.count(note="refresh-ahead-scheduled"),
            "inside_wait": max((trace.latency_ms for trace in inside), default=0),
            "old_expiry": round(expired_at), "after_at": round(after.steps[0].at_ms / 1000),
            "after_hit": "a hit" if after.hit else "a miss", "after_db": after.db_calls,
            "background": sum(step.background for trace in refreshes for step in trace.steps),
            "refresh_db": sum(trace.db_calls for trace in refreshes)}


# ---- xfetch-early-recompute and stampede-compare ----------------------------------------------------------------
def herd_around_expiry(d: Director, key: str = HOT_KEY, captions: dict[str, str] | None = None) -> list[Trace]:
    """The readers of HERD, arriving HERD_GAP_MS apart from HERD_START_MS before `key` expires, side by side."""
    lab = d.lab
    expires = lab.state.cache[key].expires_at
    first = expires + HERD_START_MS / 1000
    d.wait(max(0.0, first - lab.clock.now()))
    return d.side_by_side([(first + number * HERD_GAP_MS / 1000, key, reader) for number, reader in enumerate(HERD)],
                          captions=captions)


def xfetch_early_recompute(d: Director) -> None:
    d.scene("fill")
    d.read(HOT_KEY)
    d.scene("herd")
    herd_around_expiry(d, captions={"xfetch-recompute": "herd-recompute"})
    d.advance_time(1)


def herd_figures(herd: list[Trace], expires: float) -> dict[str, Any]:
    """What one herd of readers around an expiry at `expires` (simulated s) cost: database reads, misses, waits."""
    recomputes = [step for trace in herd for step in trace.steps if step.note[0] == "xfetch-recompute"]
    first = min((step.at_ms for step in recomputes), default=None)
    return {"readers": len(herd), "selects": sum(trace.db_calls for trace in herd),
            "missed": sum(trace.hit is False for trace in herd), "recomputes": len(recomputes),
            "waited": sum(any(step.action == "WAIT" for step in trace.steps) for trace in herd),
            "longest_wait": max((trace.latency_ms for trace in herd), default=0),
            "first_recompute": round(expires * 1000 - first, 1) if first is not None else 0,
            "served": sum(trace.value is not None for trace in herd)}


def xfetch_early_recompute_figures(run: ScenarioRun) -> dict[str, Any]:
    fill, *herd = run.of("read")
    expires = fill.steps[-1].at_ms / 1000 + run.lab.ttl_seconds
    delta = next(step.note[1]["delta"] for step in fill.steps if step.note[0] == "early-fill")
    first = next((step for trace in herd for step in trace.steps if step.note[0] == "xfetch-recompute"), None)
    arrived = [trace.steps[0].at_ms - trace.steps[0].cost_ms for trace in herd]
    return {**herd_figures(herd, expires), "delta": delta, "first": HERD[0],
            "last": HERD[-1], "gap": HERD_GAP_MS, "before": -HERD_START_MS,
            "first_chance": first.note[1]["chance"] if first else "none",
            "after": sum(moment >= expires * 1000 for moment in arrived)}


# The protections stampede-compare shows, by page, in order: the knobs each round sets (the others off).
ROUNDS: dict[str, dict[str, dict[str, Any]]] = {
    "cache-aside": {"none": {}, "leases": {"leases": True}, "xfetch": {"xfetch_beta": 1.0}},
    "read-through": {"none": {}, "xfetch": {"xfetch_beta": 1.0}, "refresh": {"refresh_ahead": 0.5}},
}
OFF = {"leases": False, "xfetch_beta": None, "refresh_ahead": None}


def stampede_compare(d: Director) -> None:
    """For each protection in turn: a fill (made with that protection on), then the herd around its expiry."""
    lab = d.lab
    for name, knobs in ROUNDS[lab.name].items():
        for knob, value in {**OFF, **knobs}.items():
            if hasattr(lab, knob):
                setattr(lab, knob, value)
        d.scene(f"{name}-fill")
        d.read(HOT_KEY)
        d.scene(f"{name}-herd")
        herd_around_expiry(d)
        d.advance_time(lab.ttl_seconds + 1)            # the key expires before the next round's fill
    for knob, value in OFF.items():
        if hasattr(lab, knob):
            setattr(lab, knob, value)


def stampede_compare_figures(run: ScenarioRun) -> dict[str, Any]:
    reads = run.of("read")
    size = 1 + len(HERD)
    figures: dict[str, Any] = {"readers": len(HERD), "first": HERD[0],
                               "last": HERD[-1]}
    for number, name in enumerate(ROUNDS[run.lab.name]):
        fill, herd = reads[number * size], reads[number * size + 1:(number + 1) * size]
        expires = fill.steps[-1].at_ms / 1000 + run.lab.ttl_seconds
        for field, value in herd_figures(herd, expires).items():
            figures[f"{name}_{field}"] = value
        # A background refresh that ran while the herd read: its database read is nobody's wait.
        first, last = herd[0].steps[0].seq, herd[-1].steps[-1].seq
        figures[f"{name}_background"] = sum(trace.db_calls for trace in run.of("refresh")
                                            if first <= trace.steps[0].seq <= last)
    return figures
