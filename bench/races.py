"""Find the race, timed: every interleaving of 2 clients × 6 cards (924) and of 3 clients × 4 cards (34,650).

Run as `python -m bench.races [--rounds 3] [--sample 200] [--json]` from the project root. For each size, in the
same run and in turns, it times:

* the explorer (`strategies.races.explore`, as the page runs it, on a fresh fakeredis and in-memory SQLite, with a
  progress callback): all the interleavings, deduplicating states and counting paths over their graph;
* the baseline: the naive explorer, one fresh lab per interleaving, run from its first turn
  (`naive_verdicts`) on the first `--sample` interleavings, its time for all of them projected from that sample;

and prints the interleavings per second of each, the explorer's time against the goals (2 s and 30 s) and the
ratio baseline/explorer, per round and their median. The machine is shared: read the ratios, which compare runs
made side by side, rather than the seconds. Nothing here is a test.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

from strategies.races import Race, explore, naive_verdicts
from strategies.races.schedule import schedules

SIZES = {
    "2 clients × 6 cards": (Race(("GET", "GET-QUEUED", "SELECT", "SET-NX", "SET-TTL", "SET"),
                                 ("QUEUE", "UPDATE", "DEL", "SET-TTL", "DEL-LEASE", "FLUSH"), "rw"), 2.0),
    "3 clients × 4 cards": (Race(("GET", "SELECT", "SET-NX", "SET-TTL"), ("UPDATE", "DEL", "SET-TTL", "DEL-LEASE"),
                                 "rrw"), 30.0),
}


def time_explorer(race: Race) -> tuple[float, int, int, int, int]:
    """Seconds for the whole search (as the page runs it, reporting its progress), the interleavings, how many
    broke, the states, and how many progress reports it made."""
    reports: list[tuple[int, int]] = []
    started = time.perf_counter()
    report = explore(race, progress=lambda done, bound: reports.append((done, bound)))
    return time.perf_counter() - started, report.interleavings, report.bad, report.states, len(reports)


def time_naive(race: Race, sample: int) -> tuple[float, int]:
    """Seconds per interleaving of the naive explorer over the first `sample` interleavings, and how many ran."""
    orders = []
    for order in schedules(race):
        orders.append(order)
        if len(orders) >= sample:
            break
    started = time.perf_counter()
    ran = sum(1 for _ in naive_verdicts(race, orders))
    return (time.perf_counter() - started) / max(ran, 1), ran


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--sample", type=int, default=200, help="interleavings the baseline runs per round")
    parser.add_argument("--json", action="store_true")
    options = parser.parse_args()
    explore(SIZES["2 clients × 6 cards"][0])                  # warm up: imports, Lua, SQLite
    results: dict[str, dict] = {}
    for name, (race, goal) in SIZES.items():
        rounds = []
        for _ in range(options.rounds):
            seconds, interleavings, bad, states, progress = time_explorer(race)
            per_naive, ran = time_naive(race, options.sample)
            naive_total = per_naive * interleavings
            rounds.append({"seconds": seconds, "interleavings": interleavings, "bad": bad, "states": states,
                           "progress_reports": progress,
                           "per_second": interleavings / seconds, "naive_per_second": 1 / per_naive,
                           "naive_projected_seconds": naive_total, "naive_sample": ran,
                           "ratio": naive_total / seconds})
        results[name] = {"goal_seconds": goal, "rounds": rounds,
                         "median_seconds": statistics.median(r["seconds"] for r in rounds),
                         "median_ratio": statistics.median(r["ratio"] for r in rounds)}
    if options.json:
        print(json.dumps(results, indent=2))
        return
    for name, result in results.items():
        print(f"{name}: goal ≤ {result['goal_seconds']:g} s")
        for n, r in enumerate(result["rounds"], start=1):
            print(f"  round {n}: explorer {r['seconds']:.3f} s for {r['interleavings']:,} interleavings "
                  f"({r['per_second']:,.0f}/s; {r['bad']:,} bad; {r['states']:,} states; "
                  f"{r['progress_reports']} progress reports) | naive "
                  f"{r['naive_per_second']:,.0f}/s on {r['naive_sample']} → {r['naive_projected_seconds']:.1f} s "
                  f"projected | ratio naive/explorer {r['ratio']:,.0f}×")
        print(f"  median: explorer {result['median_seconds']:.3f} s, ratio {result['median_ratio']:,.0f}×")


if __name__ == "__main__":
    main()
