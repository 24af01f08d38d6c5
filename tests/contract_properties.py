"""The contract's properties: random sequences of reads, writes, flushes, crashes, outages, interleaved clients
and time jumps, run on every configuration a pattern's test class names (`configs`: the pattern alone, and
with each feature it takes switched on), on fakeredis, a real Redis and a Redis Cluster.

Hypothesis reruns a test body many times while pytest's function-scoped fixtures are set up once, so every
example builds its own lab here: a fresh in-memory database, a fresh clock and a fresh namespace under the
test's own (which the `namespace` fixture deletes afterwards, on a real server too). The `config`, `safe_config`
and `plain_config` arguments are given by tests/test_contract.py (every configuration; those that never serve
what the database did not commit; the pattern alone).
"""

from __future__ import annotations

import pytest
from contract import Promises
from core_support import assert_live_is_real, cached, example_lab
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from strategies import Costs
from strategies.features.memory import used_memory

KEYS = ["user:1", "user:2", "price:latte", "new:1", "ключ 😀"]
VALUES = st.one_of(
    st.text(st.characters(exclude_categories=("Cc", "Cs")), max_size=6),
    st.sampled_from(["'; DROP TABLE kv; --", "line 1\nline 2\ttab", 'a" -> b [label="x"]; {']),
)
READ = st.tuples(st.just("read"), st.sampled_from(KEYS))
WRITE = st.tuples(st.just("write"), st.sampled_from(KEYS), VALUES)
SEQUENTIAL = st.one_of(
    READ, WRITE, WRITE,
    st.sampled_from([("flush",), ("tick",), ("db_down",), ("db_up",), ("crash",)]),
    st.tuples(st.just("advance"), st.sampled_from([0.3, 1.5, 6.0, 61.0])),
)
# Two clients' requests on the same few keys, stepped in the order the schedule says (True: client A), then
# run to their ends. A schedule is a few runs of one client's steps, so that one request often gets well
# ahead of the other (into its background flush, say) before the other moves.
HOT = st.sampled_from(KEYS[:2])
HOT_WRITE = st.tuples(st.just("write"), HOT, VALUES)
HOT_REQUEST = st.one_of(st.tuples(st.just("read"), HOT), HOT_WRITE, HOT_WRITE)
RUNS = st.lists(st.tuples(st.booleans(), st.integers(1, 6)), max_size=4).map(
    lambda runs: [turn for turn, count in runs for _ in range(count)])
PAIR = st.tuples(st.just("pair"), HOT_REQUEST, HOT_REQUEST, RUNS)
# A request stopped after a few steps while something else happens (a crash, a time jump, an outage...).
EVENT = st.one_of(SEQUENTIAL, st.sampled_from([("cache_down",), ("cache_up",)]))
MIDWAY = st.tuples(st.just("midway"), HOT_REQUEST, st.integers(1, 6), EVENT)
ANYTHING = st.one_of(SEQUENTIAL, PAIR, MIDWAY, st.sampled_from([("cache_down",), ("cache_up",)]))
CALM_EVENT = st.one_of(
    st.sampled_from([("flush",), ("tick",), ("db_down",), ("db_up",), ("cache_down",), ("cache_up",)]),
    st.tuples(st.just("advance"), st.sampled_from([0.3, 1.5, 6.0])),
)
CALM_MIDWAY = st.tuples(st.just("midway"), HOT_REQUEST, st.integers(1, 6), CALM_EVENT)
NO_CRASH = st.one_of(READ, WRITE, PAIR, CALM_EVENT, CALM_MIDWAY)

PROPERTY_SETTINGS = settings(
    max_examples=30,
    deadline=None,
    # pytest gives every test of a class (each backend, each configuration) an instance of its own, and each
    # pattern's class inherits the same methods: "differing executors" is by design here. The instances hold
    # nothing (a class's promises and configurations are class data), so no example depends on which it is.
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                           HealthCheck.differing_executors],
)
# Small modelled costs: between two fast-forwards, Redis's TTLs run on the wall clock while the lab's clock
# moves by the requests' modelled costs, so the two drift apart by the sum of those costs.
SMALL_COSTS = Costs(cache_ms=0.2, db_read_ms=1.0, db_write_ms=2.0)

def start(lab, request, client):
    kind, *args = request
    return lab.start_read(*args, client=client) if kind == "read" else lab.start_write(*args, client=client)


def apply(lab, operation):
    """Perform one operation; returns the trace(s) it made."""
    kind, *args = operation
    if kind == "read":
        return lab.read(*args)
    if kind == "write":
        return lab.write(*args)
    if kind == "flush":                 # the buttons the lab adds (write-behind's Flush now), else a tick
        return [action.perform(lab) for action in lab.page_actions()] or lab.tick()
    if kind == "tick":
        return lab.tick()
    if kind == "crash":
        return lab.crash_cache()
    if kind == "pair":
        first, second, schedule = args
        a, b = start(lab, first, "A"), start(lab, second, "B")
        for turn in schedule:
            (a if turn else b).advance()
        return a.run(), b.run()
    if kind == "midway":
        request, steps, event = args
        started = start(lab, request, "A")
        for _ in range(steps):
            started.advance()
        return apply(lab, event), started.run()
    if kind == "advance":
        return lab.advance_time(args[0])
    if kind in ("db_down", "db_up"):
        lab.db.down = kind == "db_down"
    elif kind in ("cache_down", "cache_up"):
        lab.cache_down = kind == "cache_down"
    return None


def newest_acknowledged(lab) -> dict[str, str]:
    """Per key, the value of the acknowledged write whose enqueue ran last (clients may interleave)."""
    newest: dict[str, tuple[int, str]] = {}
    for trace in lab.log.values():
        if trace.operation == "write" and trace.ok and trace.steps[0].seq > newest.get(trace.key, (0, ""))[0]:
            newest[trace.key] = (trace.steps[0].seq, trace.value)
    return {key: value for key, (_, value) in newest.items()}


# A's write fills the batch and its flush reads it; B then writes a key of that batch before A's flush commits.
# The write must not be folded into the batch in flight, and no second flush may overtake the first.
RACE_INTO_A_FLUSH = [("pair", ("write", "user:2", "A"), ("write", "user:1", "B"), [True] * 4 + [False] * 7)]



class PropertyContract(Promises):
    """What every pattern keeps under any sequence of operations."""

    def fresh_lab(self, make_lab, namespace, config):
        """One example's lab: its own database, clock and namespace; its keys are deleted afterwards."""
        return example_lab(make_lab, namespace, self.pattern, costs=SMALL_COSTS, **self.configs[config])

    @settings(PROPERTY_SETTINGS, max_examples=40)
    @given(operations=st.lists(ANYTHING, max_size=20))
    def test_the_tables_always_agree_with_redis_and_sqlite(self, make_lab, namespace, config, operations):
        """Whatever happens (interleaved clients, crashes, outages, time jumps), the lab's own record of the
        cache, the queue, the pending index and the rows is what Redis and SQLite hold."""
        with self.fresh_lab(make_lab, namespace, config) as lab:
            for number, operation in enumerate(operations):
                apply(lab, operation)
                assert_live_is_real(lab, context=f"after {operations[:number + 1]}")
                # The bytes the eviction part keeps count of, change by change, are the Cache table's from scratch.
                assert lab.eviction.used() == used_memory(lab.live().cache)
            assert all(trace.finished for trace in lab.log.values())
            seqs = [step.seq for step in lab.history]
            assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)

    @PROPERTY_SETTINGS
    @given(operations=st.lists(SEQUENTIAL, max_size=25))
    def test_read_your_writes(self, make_lab, namespace, safe_config, operations):
        """A read returns the newest acknowledged write (or the seeded value), never a stale one; failed writes
        change nothing; only a crash of write-behind's queue takes acknowledged writes back."""
        with self.fresh_lab(make_lab, namespace, safe_config) as lab:
            acknowledged = {row.key: row.value for row in lab.db.rows()}
            for operation in operations:
                db_down = lab.db.down
                trace = apply(lab, operation)
                kind = operation[0]
                if kind == "write":
                    _, key, value = operation
                    if not self.defers_writes:
                        assert trace.ok is not db_down, trace.error
                    if trace.ok:
                        acknowledged[key] = value
                    else:
                        assert lab.latest_value(key) == acknowledged.get(key)
                elif kind == "read":
                    key = operation[1]
                    if not trace.ok:
                        assert db_down and trace.steps[-1].action == "SELECT", trace.error
                        continue
                    assert trace.value == acknowledged.get(key), f"read {key!r} after {operations}"
                    assert trace.stale is False
                elif kind == "crash":                        # what was still queued is lost; the rows remain
                    assert lab.counters.lost_writes >= len(trace.lost)
                    acknowledged = {row.key: row.value for row in lab.db.rows()}
                for key in KEYS:
                    assert lab.latest_value(key) == acknowledged.get(key), f"{key!r} after {operations}"
            assert lab.counters.stale_reads == 0


class InvalidationProperties(Promises):
    """A single client never leaves a stale entry behind when writes delete the cached key."""

    @PROPERTY_SETTINGS
    @given(operations=st.lists(SEQUENTIAL, max_size=25))
    def test_the_cache_holds_nothing_or_the_new_value_after_a_write(self, make_lab, namespace, plain_config,
                                                                    operations):
        with self.fresh_lab(make_lab, namespace, plain_config) as lab:
            for operation in operations:
                trace = apply(lab, operation)
                committed = {row.key: row.value for row in lab.db.rows()}
                if operation[0] == "write" and trace.ok:
                    _, key, value = operation
                    assert cached(lab, key) in (None, value)
                    assert committed[key] == value
                for key in KEYS:                          # a single client never leaves a stale entry behind
                    assert cached(lab, key) in (None, committed.get(key))


class WriteThroughProperties(Promises):
    """Write-through: after an acknowledged write the cache and the database agree; with the naive ordering, a
    failed write may leave the cache ahead of the database, and the tables say so; a full cache that refuses the
    SET after the commit leaves it behind (the configurations in `unsafe_configs`)."""

    @PROPERTY_SETTINGS
    @given(operations=st.lists(SEQUENTIAL, max_size=25))
    def test_cache_and_db_agree_after_an_acknowledged_write(self, make_lab, namespace, config, operations):
        with self.fresh_lab(make_lab, namespace, config) as lab:
            naive = lab.ordering == "naive"
            for operation in operations:
                before = {key: cached(lab, key) for key in KEYS}
                trace = apply(lab, operation)
                committed = {row.key: row.value for row in lab.db.rows()}
                if operation[0] != "write":
                    continue
                _, key, value = operation
                if trace.ok:
                    assert cached(lab, key) == committed[key] == value
                    assert lab.live().cache_mark(key) == "✓ same as DB"
                elif naive:                                   # the dual-write problem, and the tables say so
                    assert cached(lab, key) == value
                    if value != committed.get(key):
                        assert lab.live().cache_mark(key).startswith("⚠ ahead")
                else:
                    assert cached(lab, key) == before[key], "a write that was not acknowledged left the cache alone"
                if config not in self.unsafe_configs:
                    for other in KEYS:                        # and no key ever holds what the DB does not
                        assert cached(lab, other) in (None, committed.get(other))


class DeferredDeliveryProperties(Promises):
    """Write-behind: every acknowledged write reaches the database once the cache and the database are back,
    and racing writers never lose the newest one."""

    @PROPERTY_SETTINGS
    @given(operations=st.lists(NO_CRASH, max_size=20))
    def test_never_loses_an_acknowledged_write(self, make_lab, namespace, config, operations):
        """Interleaved clients, outages of the cache and of the database, timed and requested flushes: once both
        are back, a flush leaves the newest acknowledged value of every key in the database, and nothing queued."""
        with self.fresh_lab(make_lab, namespace, config) as lab:
            for operation in operations:
                apply(lab, operation)
            lab.db.down = lab.cache_down = False
            final = lab.flush()
            assert final.ok, final.error
            assert lab.queue_entries() == [] and lab.live().pending == {}

            writes = [t for t in lab.log.values() if t.operation == "write"]
            newest = newest_acknowledged(lab)
            committed = {row.key: row.value for row in lab.db.rows()}
            assert {key: committed.get(key) for key in newest} == newest
            assert lab.counters.lost_writes == 0
            assert lab.counters.queued_writes == sum(trace.ok for trace in writes)
            assert_live_is_real(lab)

    @pytest.mark.parametrize("racing", ["small-batches", "no-coalescing"])
    @settings(PROPERTY_SETTINGS, max_examples=60)
    @given(before=st.lists(HOT_WRITE, max_size=3), races=st.lists(PAIR, min_size=1, max_size=3))
    @example(before=[("write", "user:1", "queued")], races=RACE_INTO_A_FLUSH)
    @example(before=[("write", "user:1", "q"), ("write", "user:2", "q")], races=RACE_INTO_A_FLUSH)
    def test_racing_writers_never_lose_the_newest_write(self, make_lab, namespace, racing, before, races):
        """Two clients writing the same keys while flushes run: the tables stay true at every step, and once
        flushed the database holds each key's newest acknowledged value."""
        with self.fresh_lab(make_lab, namespace, racing) as lab:
            for operation in before + races:
                apply(lab, operation)
                assert_live_is_real(lab, context=f"after {operation}")
            assert lab.flush().ok
            assert lab.live().pending == {} and lab.queue_entries() == []
            committed = {row.key: row.value for row in lab.db.rows()}
            newest = newest_acknowledged(lab)
            assert {key: committed.get(key) for key in newest} == newest
