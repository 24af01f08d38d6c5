"""Helpers shared by the simulation core's tests (not fixtures: those are in conftest.py)."""

from __future__ import annotations

import math
import re
import uuid
from collections.abc import Iterable
from contextlib import contextmanager

import fakeredis

from strategies import PATTERNS, Database, LabState, SimClock
from strategies.narration import templates

ALL_PATTERNS = list(PATTERNS)

TTL_TOLERANCE = 0.5     # seconds: how far the lab's TTL of a key may be from what Redis's PTTL says


def new_lab(pattern: str, *, cache=None, db: Database | None = None, clock: SimClock | None = None, **options):
    """The one lab factory of the tests: `pattern`'s lab on `cache` (default: a private fakeredis server), `db`
    (default: a seeded in-memory SQLite) and `clock` (default: a fresh one at 0); `options` are its knobs."""
    cache = cache if cache is not None else fakeredis.FakeRedis(server=fakeredis.FakeServer(), decode_responses=True)
    return PATTERNS[pattern](cache=cache, db=db if db is not None else Database(":memory:"),
                             clock=clock if clock is not None else SimClock(), **options)


@contextmanager
def example_lab(make_lab, namespace: str, pattern: str, **options):
    """One property-test example's lab: its own database, clock and namespace on the test's cache, every step
    explained when it ends, its keys deleted afterwards (Hypothesis reruns a body; fixtures run once)."""
    db = Database(":memory:")
    lab = make_lab(pattern, db=db, clock=SimClock(), namespace=f"{namespace}{uuid.uuid4().hex[:8]}:", **options)
    try:
        yield lab
        check_explanations(lab.log.values())
    finally:
        lab.reset()
        db.close()


def runnable_lab(scenario, lab):
    """`lab`, if `scenario` can run on its cache; otherwise the test is skipped, saying why (a scenario needing a
    real server's feature — CLIENT TRACKING — on fakeredis: its real-Redis and cluster variants run it)."""
    import pytest

    why = scenario.unavailable(lab)
    if why is not None:
        pytest.skip(f"{scenario.slug}: {why}")
    return lab


def arrows(trace, *, with_background: bool = False) -> list[tuple]:
    """The steps as (source, target, action, outcome[, background]) tuples, in order."""
    if with_background:
        return [(s.source, s.target, s.action, s.outcome, s.background) for s in trace.steps]
    return [(s.source, s.target, s.action, s.outcome) for s in trace.steps]


def cached(lab, key: str) -> str | None:
    """What Redis itself holds under the lab's key (no step recorded)."""
    return lab.cache.get(lab.redis_key(key))


def namespace_keys(cache, namespace: str) -> list[str]:
    return sorted(cache.scan_iter(match=namespace + "*"))


def settle(lab) -> None:
    """Make every acknowledged write durable (only write-behind holds any back)."""
    if lab.name == "write-behind":
        trace = lab.flush()
        assert trace.ok, trace.error


def run_steps(request) -> list:
    steps = []
    while (step := request.advance()) is not None:
        steps.append(step)
    return steps


# ---- the tables --------------------------------------------------------------------------------------


def mismatches(mine: LabState, real: LabState, *, tolerance: float = TTL_TOLERANCE) -> list[str]:
    """Every way `mine` (the lab's record) differs from `real` (what Redis and SQLite hold): cached values,
    whether a key has a TTL and (within `tolerance`) when it runs out, the queue, the pending index, the leases,
    early refresh's δ and expiries, and the rows.
    A key with less than `tolerance` left may already be gone from Redis, whose TTLs run on the wall clock.
    The version of a cached value is the lab's own knowledge (Redis does not store it), so it is not compared."""
    found = []
    for key in sorted(set(mine.cache) | set(real.cache)):
        a, b = mine.cache.get(key), real.cache.get(key)
        if b is None and a is not None and a.expires_at is not None and a.expires_at - mine.now <= tolerance:
            continue     # its last moments: Redis's own (wall) clock may have expired it a little earlier
        if a is None or b is None or a.value != b.value:
            found.append(f"cache[{key!r}]: lab {a and a.value!r}, real {b and b.value!r}")
        elif (a.expires_at is None) != (b.expires_at is None):
            found.append(f"cache[{key!r}] TTL: lab expires at {a.expires_at}, real at {b.expires_at}")
        elif a.expires_at is not None and not math.isclose(a.expires_at, b.expires_at, abs_tol=tolerance):
            found.append(f"cache[{key!r}] TTL: lab expires at {a.expires_at:.3f}, real at {b.expires_at:.3f}")
    for table in ("queue", "pending", "db", "early"):
        a, b = getattr(mine, table), getattr(real, table)
        for key in sorted(set(a) | set(b)):
            if a.get(key) != b.get(key):
                found.append(f"{table}[{key!r}]: lab {a.get(key)}, real {b.get(key)}")
    for key in sorted(set(mine.lease) | set(real.lease)):
        a, b = mine.lease.get(key), real.lease.get(key)
        if a is None or b is None:
            # A lease past its simulated end stops nobody; Redis may already have dropped it (its wall-clock
            # PX), or the lab may not have moved its clock past it yet: either side may still show it.
            there = a or b
            if there.expires_at <= mine.now:
                continue
        if a != b:
            found.append(f"lease[{key!r}]: lab {a}, real {b}")
    return found


def assert_mirrors(mine: LabState, real: LabState, *, tolerance: float = TTL_TOLERANCE, context: object = "") -> None:
    differences = mismatches(mine, real, tolerance=tolerance)
    assert not differences, f"{context}: the lab's tables differ from Redis/SQLite:\n" + "\n".join(differences)


def assert_live_is_real(lab, *, tolerance: float = TTL_TOLERANCE, context: object = "") -> None:
    assert_mirrors(lab.live(), lab.read_real_state(), tolerance=tolerance, context=context)


# ---- the narration -----------------------------------------------------------------------------------

_LEARNER_BRACES = re.compile(r"[{}]")


def _learner_texts(step) -> Iterable[str]:
    yield from (text for text in (step.key, step.value, step.command) if text)
    _, fields = step.note
    for value in (fields or {}).values():
        if isinstance(value, str):
            yield value
        elif isinstance(value, (tuple, list)):
            yield from (item for item in value if isinstance(item, str))


def check_explanations(traces: Iterable) -> set[str]:
    """Format the explanation of every step of `traces` (and each warning): every narration id must exist
    in assets/narration.md and format without error, and no sentence may keep an unformatted brace (unless
    the learner's own text brought one). Returns the narration ids seen."""
    known = templates()
    seen = set()
    for trace in traces:
        for step in trace.steps:
            name, _ = step.note
            assert name in known, f"step {step.number} of {trace.label}: narration id {name!r} is not in narration.md"
            text = step.explanation
            assert text.strip(), f"{trace.label} step {step.number}: empty explanation"
            if not any(_LEARNER_BRACES.search(t) for t in _learner_texts(step)):
                assert not _LEARNER_BRACES.search(text), f"unformatted field in {name!r}: {text}"
            seen.add(name)
        if trace.warning is not None:
            assert trace.warning.strip() and not _LEARNER_BRACES.search(trace.warning), trace.warning
    return seen
