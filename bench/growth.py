"""The core bench's long session: what a click costs after 1,000 requests in one lab, against a fresh lab.

Through the code path a page click takes (the request, then the diagram, the narration and the tables at
the first step, from `strategies.views`): 1,000 requests of distinct keys (a write of a new key, then a read
of it, over and over) in one lab with the page's settings; then a read of a new key is clicked in that long
session and in a fresh one, in turn, and the median click of each (best of 3 blocks of 100) and their ratio
(goal <= 1.2) are printed, with the memory the long session's lab grew by per 1,000 requests (goal <= 20 MB),
measured with tracemalloc. Run it with `python -m bench.core --growth` (or `--growth-only`).
"""

from __future__ import annotations

import gc
import statistics
import tempfile
import time
import tracemalloc
from dataclasses import dataclass
from pathlib import Path

import fakeredis

from strategies import PATTERNS
from strategies.database import Database
from strategies.diagram import build_diagram

from .floor import TTL_SECONDS, Operation

GROWTH_REQUESTS = 1_000
GROWTH_SAMPLE = 100
GROWTH_REPEATS = 3
GOAL_GROWTH_RATIO = 1.2
GOAL_GROWTH_MB = 20.0


@dataclass(frozen=True)
class GrowthFigures:
    pattern: str
    requests: int
    first_read_ms: float
    last_read_ms: float
    mb_per_1000: float

    @property
    def ratio(self) -> float:
        return self.last_read_ms / self.first_read_ms

    def line(self) -> str:
        return (f"{self.pattern:<15} fresh session {self.first_read_ms:6.3f} ms   after {self.requests:,} requests "
                f"{self.last_read_ms:6.3f} ms"
                f"   ratio {self.ratio:.2f}   memory {self.mb_per_1000:5.1f} MB per 1,000 requests")

    def as_json(self) -> dict[str, float]:
        return {"requests": self.requests, "first_read_ms": round(self.first_read_ms, 4),
                "last_read_ms": round(self.last_read_ms, 4), "ratio": round(self.ratio, 4),
                "mb_per_1000": round(self.mb_per_1000, 3)}


def page_click(lab, operation: Operation) -> tuple[str, str]:
    """What one click makes the page do, without Streamlit: the request, then the diagram, the narration
    and the tables at its first step (playback starts there), as `pages/` renders them."""
    trace = lab.read(operation.key) if operation.is_read else lab.write(operation.key, operation.value)
    shown = build_diagram(lab.topology, trace, 1).source, trace.steps[0].explanation
    state = lab.state_at(trace, 1)
    for view in lab.views():          # the tables the page draws, as the panel does
        if view.shown(state):
            view.rows(state, changed=frozenset(c.key for c in trace.steps[0].changes if c.table == view.table))
    return shown


def growth_workload(requests: int) -> list[Operation]:
    """A write of a new key, then a read of it, and again: every request on a key no earlier pair used."""
    workload = []
    for number in range(requests // 2):
        key = f"learner:{number:05d}"
        workload += [Operation(key, f"value {number}"), Operation(key)]
    return workload


def _page_lab(pattern: str, path: Path):
    """A lab as a page builds it: its own fakeredis, a file SQLite, the page's TTL (and batch) settings."""
    return PATTERNS[pattern](fakeredis.FakeRedis(server=fakeredis.FakeServer(), decode_responses=True),
                             Database(str(path)), ttl_seconds=TTL_SECONDS)


def _read_click(lab, number: int) -> float:
    """A write of a key new to this lab (untimed), then the timed click that reads it."""
    key = f"probe:{number:05d}"
    page_click(lab, Operation(key, f"probe {number}"))
    start = time.perf_counter()
    page_click(lab, Operation(key))
    return time.perf_counter() - start


def growth(pattern: str, requests: int = GROWTH_REQUESTS, repeats: int = GROWTH_REPEATS) -> GrowthFigures:
    """A session of `requests` clicks against a fresh one, clicked in turn in the same moments (this
    machine's noise is larger than the effect measured): the median read click of each, best of `repeats`
    blocks of GROWTH_SAMPLE clicks. Memory: what the long session's lab grew by, under tracemalloc."""
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        grown = _page_lab(pattern, folder / "grown.sqlite3")
        tracemalloc.start()
        before = tracemalloc.get_traced_memory()[0]
        for operation in growth_workload(requests):
            page_click(grown, operation)
        memory = tracemalloc.get_traced_memory()[0] - before
        tracemalloc.stop()
        first, last = [], []
        for block in range(repeats):
            fresh = _page_lab(pattern, folder / f"fresh{block}.sqlite3")
            for number in range(5):                      # past the first-click warm-up of this fresh lab
                _read_click(fresh, 1_000 * (block + 1) + number)
            gc.collect()
            pairs = []
            for number in range(GROWTH_SAMPLE):   # keys new to both (no memoised label helps either); the
                early, late = 10_000 * (block + 1) + number, 50_000 * (block + 1) + number   # first click alternates
                if number % 2:
                    after = _read_click(grown, late)
                    pairs.append((_read_click(fresh, early), after))
                else:
                    pairs.append((_read_click(fresh, early), _read_click(grown, late)))
            first.append(statistics.median(a for a, _ in pairs))
            last.append(statistics.median(b for _, b in pairs))
            fresh.db.close()
        grown.db.close()
    return GrowthFigures(pattern, requests, min(first) * 1000, min(last) * 1000, memory / 1e6 * 1000 / requests)
