"""Property tests: random sequences of reads, writes, flushes, DB outages and clock moves, for every pattern.

Hypothesis reruns a test body many times while pytest's function-scoped fixtures are set up once, so
every example builds its own lab here: a fresh in-memory database, a fresh clock and a fresh namespace
under the test's own (which the `namespace` fixture deletes afterwards, on a real server too).
"""

from __future__ import annotations

import uuid
from contextlib import contextmanager

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from strategies import Database, SimClock
from strategies.database import SEED_ROWS

KEYS = ["user:1", "user:2", "price:latte", "new:1", "ключ 😀"]
VALUES = st.one_of(
    st.text(st.characters(exclude_categories=("Cc", "Cs")), max_size=6),
    st.sampled_from(["'; DROP TABLE kv; --", "line 1\nline 2\ttab", 'a" -> b [label="x"]; {']),
)
OPERATION = st.one_of(
    st.tuples(st.just("write"), st.sampled_from(KEYS), VALUES),
    st.tuples(st.just("read"), st.sampled_from(KEYS)),
    st.tuples(st.just("write"), st.sampled_from(KEYS), VALUES),
    st.sampled_from([("flush",), ("tick",), ("db_down",), ("db_up",)]),
    st.tuples(st.just("advance"), st.sampled_from([0.3, 1.5, 6.0])),
)
OPERATIONS = st.lists(OPERATION, max_size=30)

PROPERTY_SETTINGS = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)

CONFIGS = {
    "cache-aside": ("cache-aside", {}),
    "read-through": ("read-through", {}),
    "write-through": ("write-through", {}),
    "write-behind": ("write-behind", {}),
    "write-behind-small-batches": ("write-behind", {"batch_size": 2, "max_delay_seconds": 1.0}),
    "write-behind-no-coalescing": ("write-behind", {"batch_size": 3, "coalesce": False}),
}
WRITE_BEHIND_CONFIGS = [name for name, (pattern, _) in CONFIGS.items() if pattern == "write-behind"]


@contextmanager
def fresh_lab(make_lab, namespace, config):
    """One example's lab: its own database, clock and namespace; its keys are deleted afterwards."""
    pattern, options = CONFIGS[config]
    db = Database(":memory:")
    lab = make_lab(pattern, db=db, clock=SimClock(), namespace=f"{namespace}{uuid.uuid4().hex[:8]}:", **options)
    try:
        yield lab
    finally:
        lab.clear_cache()
        db.close()


def apply(lab, operation):
    """Perform one operation; returns the trace of a read, write or flush (None for the others)."""
    kind, *args = operation
    if kind == "read":
        return lab.read(*args)
    if kind == "write":
        return lab.write(*args)
    if kind == "flush":
        return lab.flush() if lab.name == "write-behind" else lab.tick()
    if kind == "tick":
        return lab.tick()
    if kind in ("db_down", "db_up"):
        lab.db.down = kind == "db_down"
    elif kind == "advance":
        lab.clock.advance(args[0])
    return None


def cached(lab, key):
    return lab.cache.get(lab.redis_key(key))


@pytest.mark.parametrize("config", list(CONFIGS))
@PROPERTY_SETTINGS
@given(operations=OPERATIONS)
def test_read_your_writes(make_lab, namespace, config, operations):
    """A read returns the newest acknowledged write (or the seeded value); failed writes change nothing."""
    with fresh_lab(make_lab, namespace, config) as lab:
        acknowledged = dict(SEED_ROWS)
        for operation in operations:
            db_down = lab.db.down
            trace = apply(lab, operation)
            if operation[0] == "write":
                _, key, value = operation
                assert trace.ok is (lab.name == "write-behind" or not db_down), trace.error
                if trace.ok:
                    acknowledged[key] = value
            elif operation[0] == "read":
                key = operation[1]
                if db_down and not trace.ok:
                    continue                          # a miss cannot be served while the DB is down
                assert trace.ok, trace.error
                assert trace.value == acknowledged.get(key), f"read {key!r} after {operations}"
                assert trace.stale is False
        assert lab.counters.stale_reads == 0


@pytest.mark.parametrize("config", ["write-through"])
@PROPERTY_SETTINGS
@given(operations=OPERATIONS)
def test_write_through_cache_and_db_agree_after_an_acknowledged_write(make_lab, namespace, config, operations):
    with fresh_lab(make_lab, namespace, config) as lab:
        for operation in operations:
            before = {key: cached(lab, key) for key in KEYS}
            trace = apply(lab, operation)
            if operation[0] != "write":
                continue
            _, key, value = operation
            if trace.ok:
                assert cached(lab, key) == lab.db.peek(key) == value
            else:
                assert cached(lab, key) == before[key], "a write that was not acknowledged left the cache alone"
            for other in KEYS:                        # and no key ever holds what the DB does not
                assert cached(lab, other) in (None, lab.db.peek(other))


@pytest.mark.parametrize("config", ["cache-aside", "read-through"])
@PROPERTY_SETTINGS
@given(operations=OPERATIONS)
def test_cache_aside_cache_holds_nothing_or_the_new_value_after_a_write(make_lab, namespace, config, operations):
    with fresh_lab(make_lab, namespace, config) as lab:
        for operation in operations:
            trace = apply(lab, operation)
            if operation[0] == "write" and trace.ok:
                _, key, value = operation
                assert cached(lab, key) in (None, value)
                assert lab.db.peek(key) == value
            for key in KEYS:                          # a single client never leaves a stale entry behind
                assert cached(lab, key) in (None, lab.db.peek(key))


@pytest.mark.parametrize("config", WRITE_BEHIND_CONFIGS)
@PROPERTY_SETTINGS
@given(operations=OPERATIONS)
def test_write_behind_never_loses_an_acknowledged_write(make_lab, namespace, config, operations):
    """After every successful flush the DB holds the last acknowledged value of every key written; at any
    moment each such value is either still queued or committed; once the DB is back, a flush saves all."""
    with fresh_lab(make_lab, namespace, config) as lab:
        acknowledged: dict[str, str] = {}
        for operation in operations:
            trace = apply(lab, operation)
            if operation[0] == "write":
                assert trace.ok, "write-behind acknowledges every valid write"
                acknowledged[operation[1]] = operation[2]
            elif operation[0] == "flush" and trace.ok:
                assert lab.queue_entries() == []
                assert {key: lab.db.peek(key) for key in acknowledged} == acknowledged
            elif operation[0] == "flush":
                assert lab.db.down and lab.queue_entries() != []
            for key, value in acknowledged.items():
                assert lab.latest_value(key) == value, f"{key!r} lost after {operations}"
                assert cached(lab, key) == value

        lab.db.down = False
        final = lab.flush()
        assert final.ok, final.error
        assert lab.queue_entries() == []
        assert {key: lab.db.peek(key) for key in acknowledged} == acknowledged
        assert lab.counters.lost_writes == 0
        assert lab.counters.queued_writes == sum(1 for op in operations if op[0] == "write")
