"""Cache-aside's two fixes: leases (stale sets and stampedes, as in the memcache paper §3.2.1) and negative
caching. Each test runs on fakeredis and on the real Redis at REDIS_URL (see conftest.py), except the property
test, which stays on fakeredis to be quick.
"""

from __future__ import annotations

import uuid

import fakeredis
import pytest
from core_support import assert_live_is_real, cached, check_explanations
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from strategies import PATTERNS, Database, SimClock
from strategies.state import NOT_FOUND_MARKER, Lease
from strategies.views import NEGATIVE_TEXT, cache_rows, lease_rows

pytestmark = pytest.mark.cluster       # the lease scripts run on a Redis Cluster too (conftest.py)

KEY = "user:1"          # seeded: "Ada Lovelace"


def advance(request, count: int) -> None:
    for _ in range(count):
        assert request.advance() is not None, "the request finished earlier than the scenario expects"


def selects(lab) -> int:
    return lab.counters.db_reads


def race(lab):
    """A reads KEY up to the database's answer (the old row); B writes a new value to the end; then A ends."""
    reader = lab.start_read(KEY, client="A")
    while True:
        step = reader.advance()
        if step.source == "Database" and step.action == "REPLY":
            break
    write = lab.write(KEY, "Ada King", client="B")
    assert write.ok
    return reader.run(), write


# ---- the stale set, and how a lease prevents it ------------------------------------------------------


def test_without_leases_a_slow_reader_leaves_the_old_value_cached(make_lab):
    lab = make_lab("cache-aside")
    read, _ = race(lab)
    assert read.value == "Ada Lovelace"
    assert cached(lab, KEY) == "Ada Lovelace" != lab.db.get(KEY)[0] == "Ada King"
    assert lab.live().cache_mark(KEY) == "⚠ stale: DB has v2"
    assert_live_is_real(lab)


def test_with_leases_the_slow_readers_fill_is_refused(make_lab):
    lab = make_lab("cache-aside", leases=True)
    read, write = race(lab)
    assert read.ok and read.value == "Ada Lovelace"     # what the database held when A read it
    fill = read.steps[-1]
    assert (fill.action, fill.note[0]) == ("SET", "lease-fill-refused")
    assert write.steps[-1].command == f"DEL {KEY} lease:{KEY}"
    assert cached(lab, KEY) is None and lab.live().cache == {} and lab.live().lease == {}
    assert lab.read(KEY).value == "Ada King"              # the next read loads the new row
    assert cached(lab, KEY) == "Ada King"
    assert_live_is_real(lab)


def test_a_lease_shows_in_the_tables_while_it_is_held(make_lab):
    lab = make_lab("cache-aside", leases=True)
    reader = lab.start_read(KEY, client="B")
    advance(reader, 3)                                     # GET, nil, LEASE
    lease = lab.live().lease[KEY]
    assert lease == Lease("1:B", "B", lease.expires_at)
    assert abs(lease.expires_at - (lab.clock.now() - 0.001 + lab.lease_seconds)) < 0.01
    assert lease_rows(lab.live()).rows == [(KEY, "B (token 1:B)", "2.0")]
    assert_live_is_real(lab)
    reader.run()
    assert lab.live().lease == {} and lease_rows(lab.live()).rows == []
    assert_live_is_real(lab)


# ---- the stampede --------------------------------------------------------------------------------------


def stampede(lab, key: str = KEY) -> list:
    """Five readers of one uncached key, one step each in turn until all have finished."""
    readers = [lab.start_read(key, client=client) for client in "ABCDE"]
    while not all(reader.done for reader in readers):
        for reader in readers:
            reader.advance()
    return [reader.trace for reader in readers]


def test_without_leases_every_reader_of_a_missing_key_queries_the_database(make_lab):
    lab = make_lab("cache-aside")
    traces = stampede(lab)
    assert selects(lab) == 5
    assert [trace.value for trace in traces] == ["Ada Lovelace"] * 5
    assert_live_is_real(lab)


def test_with_leases_one_reader_queries_the_database_and_the_others_wait_for_its_fill(make_lab):
    lab = make_lab("cache-aside", leases=True)
    traces = stampede(lab)
    assert selects(lab) == 1
    assert sum(step.action == "SELECT" for trace in traces for step in trace.steps) == 1
    assert [trace.value for trace in traces] == ["Ada Lovelace"] * 5
    assert all(trace.ok and not trace.stale for trace in traces)
    assert [step.note[0] for step in traces[1].steps if step.action == "LEASE"][0] == "lease-busy"
    assert any(step.action == "WAIT" for trace in traces[1:] for step in trace.steps)
    assert cached(lab, KEY) == "Ada Lovelace" and lab.live().lease == {}
    assert_live_is_real(lab)


def test_a_reader_waits_a_bounded_number_of_times_then_reads_without_filling(make_lab):
    lab = make_lab("cache-aside", leases=True, max_lease_waits=3)
    holder = lab.start_read(KEY, client="A")
    advance(holder, 3)                                     # A holds the lease and stops
    other = lab.read(KEY, client="B")
    assert other.value == "Ada Lovelace"
    assert sum(step.action == "WAIT" for step in other.steps) == 4          # 3 waits, then giving up
    assert other.steps[-3].note[0] == "lease-give-up"
    assert [step.action for step in other.steps[-2:]] == ["SELECT", "REPLY"]  # read, and nothing filled
    assert cached(lab, KEY) is None
    holder.run()
    assert cached(lab, KEY) == "Ada Lovelace"              # A's lease still stood: its fill is accepted
    assert_live_is_real(lab)


# ---- a lease runs out on the lab's clock -------------------------------------------------------------------


def test_a_lease_whose_holder_never_fills_runs_out_and_another_reader_takes_it(make_lab):
    lab = make_lab("cache-aside", leases=True)
    holder = lab.start_read(KEY, client="A")
    advance(holder, 3)                                     # A holds the lease, then stalls
    assert_live_is_real(lab)
    traces = lab.advance_time(lab.lease_seconds + 0.1)
    assert [step.note[0] for trace in traces for step in trace.steps] == ["lease-expired"]
    assert lab.live().lease == {}
    assert_live_is_real(lab)
    other = lab.start_read(KEY, client="B")
    advance(other, 3)                                      # B takes the lease A's time ran out on
    assert [step.note[0] for step in other.trace.steps if step.action == "LEASE"] == ["lease-granted"]
    late = holder.run()
    refused = late.steps[-1]                               # A's lease is gone: B's is a different one
    assert refused.note == ("lease-fill-refused-taken", {"holder": "B"})
    assert "client B holds the lease now" in refused.explanation and "a write" not in refused.explanation
    other.run()
    assert other.trace.value == "Ada Lovelace" and cached(lab, KEY) == "Ada Lovelace"
    assert_live_is_real(lab)


def test_the_acquire_script_decides_by_the_simulated_clock(make_lab):
    """Redis still holds a lease whose simulated time ran out (no fast-forward has moved past it yet):
    it stops nobody."""
    lab = make_lab("cache-aside", leases=True, lease_seconds=0.05)
    holder = lab.start_read(KEY, client="A")
    advance(holder, 3)
    other = lab.start_read(KEY, client="B")
    advance(other, 3)                                      # busy: A's lease still stands
    assert other.trace.steps[-1].note[0] == "lease-busy"
    lab.clock.advance(0.1)                                 # the clock moves, no tick has run
    assert lab.live().lease[KEY].client == "A"
    assert lease_rows(lab.live()).rows[0][2] == "expired"
    assert_live_is_real(lab)
    other.run()
    assert [step.note[0] for step in other.trace.steps if step.action == "LEASE"][-1] == "lease-granted"
    assert cached(lab, KEY) == "Ada Lovelace"
    assert_live_is_real(lab)
    refused = holder.run().steps[-1]                       # B took the lease over and filled the key
    assert refused.note[0] == "lease-fill-refused-expired" and "ran out" in refused.explanation
    assert "a write" not in refused.explanation


def test_a_crash_takes_the_leases_with_it(make_lab):
    lab = make_lab("cache-aside", leases=True)
    holder = lab.start_read(KEY, client="A")
    advance(holder, 3)
    crash = lab.crash_cache()
    assert any(change.table == "lease" for change in crash.steps[0].changes)
    assert lab.live().lease == {}
    assert_live_is_real(lab)
    refused = holder.run().steps[-1]
    assert refused.note[0] == "lease-fill-refused-lost" and "a write" not in refused.explanation
    assert_live_is_real(lab)


def test_a_missing_row_releases_the_lease(make_lab):
    lab = make_lab("cache-aside", leases=True)
    read = lab.read("ghost")
    assert read.value is None and read.steps[-1].note[0] == "lease-release"
    assert lab.live().lease == {} and lab.live().cache == {}
    assert_live_is_real(lab)


# ---- negative caching ------------------------------------------------------------------------------------


def test_negative_caching_remembers_a_missing_row_until_its_ttl_or_a_write(make_lab):
    lab = make_lab("cache-aside", negative_ttl=30)
    first, second = lab.read("ghost"), lab.read("ghost")
    assert selects(lab) == 1
    assert first.value is None and first.hit is False and first.steps[-1].note[0] == "cache-aside-negative-set"
    assert second.value is None and second.hit is True and not second.stale
    assert second.steps[-1].command == "not found (cached)"
    assert cached(lab, "ghost") == NOT_FOUND_MARKER
    assert cache_rows(lab.live()).rows == [("ghost", NEGATIVE_TEXT, "30", "negative: no row")]
    assert_live_is_real(lab)

    lab.advance_time(31)
    third = lab.read("ghost")
    assert third.hit is False and selects(lab) == 2
    assert_live_is_real(lab)

    lab.write("ghost", "boo")
    assert cached(lab, "ghost") is None
    assert lab.read("ghost").value == "boo"
    assert lab.counters.stale_reads == 0
    assert_live_is_real(lab)


def test_a_negative_entry_that_outlived_a_new_row_is_marked_stale(make_lab):
    lab = make_lab("cache-aside", negative_ttl=30)
    lab.read("ghost")
    lab.cache_down = True
    write = lab.write("ghost", "boo")                   # committed, but its DEL did not reach the cache
    lab.cache_down = False
    assert write.ok and write.degraded
    assert lab.live().cache_mark("ghost") == "⚠ stale: DB has v1"
    assert lab.live().db_mark("ghost") == "⚠ cache says no row"
    read = lab.read("ghost")
    assert read.value is None and read.stale               # "not found" while a row exists: stale, and counted
    assert_live_is_real(lab)


def test_negative_caching_with_leases_fills_under_the_lease(make_lab):
    lab = make_lab("cache-aside", leases=True, negative_ttl=30)
    read = lab.read("ghost")
    assert read.steps[-1].note[0] == "lease-fill-negative"
    assert cached(lab, "ghost") == NOT_FOUND_MARKER and lab.live().lease == {}
    assert lab.read("ghost").hit is True and selects(lab) == 1
    assert_live_is_real(lab)


def test_a_write_racing_a_negative_fill_voids_it(make_lab):
    lab = make_lab("cache-aside", leases=True, negative_ttl=30)
    reader = lab.start_read("ghost", client="A")
    while reader.advance().command != "no row":
        pass
    lab.write("ghost", "boo", client="B")
    assert reader.run().steps[-1].note[0] == "lease-fill-refused"
    assert cached(lab, "ghost") is None
    assert lab.read("ghost").value == "boo"
    assert_live_is_real(lab)


# ---- the property: with leases, after the dust settles, the cache never holds a stale value --------------

KEYS = ["user:1", "ghost"]
REQUEST = st.one_of(st.tuples(st.just("read"), st.sampled_from(KEYS)),
                    st.tuples(st.just("write"), st.sampled_from(KEYS), st.sampled_from(["x", "y", "z"])))
# A schedule is a few runs of one client's steps (True: A), so one request often gets well ahead of the other
# (through its SELECT, say) before the other moves: the races above need exactly that.
RUNS = st.lists(st.tuples(st.booleans(), st.integers(1, 6)), max_size=4).map(
    lambda runs: [turn for turn, count in runs for _ in range(count)])
EPISODE = st.tuples(REQUEST, REQUEST, RUNS)


def start(lab, request, client):
    kind, *args = request
    return lab.start_read(*args, client=client) if kind == "read" else lab.start_write(*args, client=client)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
# The two races, always tried: a read past its SELECT while a write commits and invalidates (of a row, and
# of a missing row, whose "not found" would be stale too).
@example(episodes=[(("read", "user:1"), ("write", "user:1", "x"), [True] * 4 + [False] * 3)], negative=False)
@example(episodes=[(("read", "ghost"), ("write", "ghost", "x"), [True] * 5 + [False] * 3)], negative=True)
@given(episodes=st.lists(EPISODE, min_size=1, max_size=6), negative=st.booleans())
def test_with_leases_the_cache_never_ends_up_stale(episodes, negative):
    client = fakeredis.FakeRedis(server=fakeredis.FakeServer(), decode_responses=True)
    db = Database(":memory:")
    lab = PATTERNS["cache-aside"](client, db, namespace=f"prop:{uuid.uuid4().hex[:8]}:", clock=SimClock(),
                                  leases=True, negative_ttl=30 if negative else None)
    try:
        for first, second, schedule in episodes:
            a, b = start(lab, first, "A"), start(lab, second, "B")
            for turn in schedule:
                (a if turn else b).advance()
            a.run(), b.run()
            assert_live_is_real(lab, context=episodes)
        lab.advance_time(lab.lease_seconds + 1)
        for key in KEYS:
            row = db.get(key)
            held = cached(lab, key)
            assert held in (None, row[0] if row else NOT_FOUND_MARKER), (key, held, row, episodes)
        assert lab.live().lease == {}
        assert_live_is_real(lab, context=episodes)
        check_explanations(lab.log.values())
    finally:
        client.close()
        db.close()
