"""Unit tests of the simulation core: each pattern's recorded steps and the cache/database state after them.

Every test that builds a lab (through `make_lab` or `cache`) runs on fakeredis and, when REDIS_URL is set, on a real
Redis server as well.
"""

from __future__ import annotations

import re
import sqlite3
import threading

import fakeredis
import pytest

from strategies import (
    PATTERNS,
    CacheUnavailable,
    Costs,
    Counters,
    Database,
    DatabaseUnavailable,
    InvalidInput,
    SimClock,
    backend_description,
    connect_cache,
    validate_key,
    validate_value,
)
from strategies.database import SEED_ROWS

ALL_PATTERNS = list(PATTERNS)
SYNC_WRITERS = ["cache-aside", "read-through", "write-through"]   # writes that reach the DB before the ack


def arrows(trace, *, with_background: bool = False):
    """The steps as (source, target, action, outcome[, background]) tuples, in order."""
    if with_background:
        return [(s.source, s.target, s.action, s.outcome, s.background) for s in trace.steps]
    return [(s.source, s.target, s.action, s.outcome) for s in trace.steps]


def cached(lab, key):
    return lab.cache.get(lab.redis_key(key))


def namespace_keys(cache, namespace):
    return sorted(cache.scan_iter(match=namespace + "*"))


def settle(lab):
    """Make every acknowledged write durable (only write-behind holds any back)."""
    if lab.name == "write-behind":
        trace = lab.flush()
        assert trace.ok, trace.error


# ---- cache-aside -----------------------------------------------------------------------------------------


def test_cache_aside_miss_then_hit(make_lab, db):
    lab = make_lab("cache-aside")

    miss = lab.read("user:1")
    assert arrows(miss) == [
        ("App", "Cache", "GET", "miss"),
        ("Cache", "App", "REPLY", "miss"),
        ("App", "Database", "SELECT", "ok"),
        ("Database", "App", "REPLY", "ok"),
        ("App", "Cache", "SET", "ok"),
    ]
    assert (miss.ok, miss.hit, miss.value, miss.stale, miss.db_calls) == (True, False, "Ada Lovelace", False, 1)
    assert [s.number for s in miss.steps] == [1, 2, 3, 4, 5]
    assert cached(lab, "user:1") == "Ada Lovelace"
    [entry] = lab.cache_entries()
    assert (entry.key, entry.value, entry.pending) == ("user:1", "Ada Lovelace", False)
    assert entry.ttl_seconds is not None and 0 < entry.ttl_seconds <= 60

    hit = lab.read("user:1")
    assert arrows(hit) == [("App", "Cache", "GET", "hit"), ("Cache", "App", "REPLY", "hit")]
    assert (hit.ok, hit.hit, hit.value, hit.db_calls) == (True, True, "Ada Lovelace", 0)
    assert (lab.counters.hits, lab.counters.misses, lab.counters.db_reads) == (1, 1, 1)
    assert lab.counters.hit_ratio == 0.5
    assert list(lab.log) == [miss, hit]
    assert db.row("user:1").version == 1


def test_cache_aside_read_of_missing_key_caches_nothing(make_lab):
    lab = make_lab("cache-aside")
    trace = lab.read("nobody:here")
    assert arrows(trace) == [
        ("App", "Cache", "GET", "miss"),
        ("Cache", "App", "REPLY", "miss"),
        ("App", "Database", "SELECT", "ok"),
        ("Database", "App", "REPLY", "miss"),
    ]
    assert trace.ok and trace.value is None and trace.hit is False
    assert lab.cache_entries() == []


def test_cache_aside_write_upserts_then_invalidates(make_lab, db):
    lab = make_lab("cache-aside")
    lab.read("user:1")
    assert cached(lab, "user:1") == "Ada Lovelace"

    write = lab.write("user:1", "Ada King")
    assert arrows(write) == [
        ("App", "Database", "UPSERT", "ok"),
        ("Database", "App", "REPLY", "ok"),
        ("App", "Cache", "DEL", "ok"),
    ]
    assert write.ok and write.value == "Ada King" and write.db_calls == 1
    assert cached(lab, "user:1") is None
    assert db.row("user:1").value == "Ada King" and db.row("user:1").version == 2
    assert lab.counters.db_writes == 1

    again = lab.read("user:1")
    assert again.hit is False and again.value == "Ada King" and not again.stale
    assert cached(lab, "user:1") == "Ada King"


def test_cache_aside_write_of_new_key_inserts_row_at_version_1(make_lab, db):
    lab = make_lab("cache-aside")
    assert db.row("order:9") is None
    assert lab.write("order:9", "2 lattes").ok
    assert db.row("order:9").version == 1 and db.get("order:9") == "2 lattes"


# ---- read-through ----------------------------------------------------------------------------------------


def test_read_through_loader_fetches_on_miss_then_hit(make_lab, db):
    lab = make_lab("read-through")
    miss = lab.read("user:2")
    assert arrows(miss) == [
        ("App", "Cache", "GET", "miss"),
        ("Loader", "Database", "SELECT", "ok"),
        ("Database", "Loader", "REPLY", "ok"),
        ("Loader", "Cache", "SET", "ok"),
        ("Cache", "App", "REPLY", "miss"),
    ]
    assert miss.value == "Alan Turing" and miss.hit is False
    assert miss.steps[2].value == "Alan Turing" and miss.steps[-1].value == "Alan Turing"
    assert not any(s.source == "App" and s.target == "Database" for s in miss.steps), "the app never reads the DB"
    assert cached(lab, "user:2") == "Alan Turing"

    hit = lab.read("user:2")
    assert arrows(hit) == [("App", "Cache", "GET", "hit"), ("Cache", "App", "REPLY", "hit")]
    assert hit.value == "Alan Turing"
    assert (lab.counters.hits, lab.counters.misses, lab.counters.db_reads) == (1, 1, 1)


def test_read_through_missing_key_and_write(make_lab, db):
    lab = make_lab("read-through")
    missing = lab.read("ghost")
    assert arrows(missing) == [
        ("App", "Cache", "GET", "miss"),
        ("Loader", "Database", "SELECT", "ok"),
        ("Database", "Loader", "REPLY", "miss"),
        ("Cache", "App", "REPLY", "miss"),
    ]
    assert missing.value is None and lab.cache_entries() == []

    lab.read("user:2")
    write = lab.write("user:2", "A. M. Turing")
    assert arrows(write) == [
        ("App", "Database", "UPSERT", "ok"),
        ("Database", "App", "REPLY", "ok"),
        ("App", "Cache", "DEL", "ok"),
    ]
    assert cached(lab, "user:2") is None and db.row("user:2").version == 2
    assert lab.read("user:2").value == "A. M. Turing"


# ---- write-through ---------------------------------------------------------------------------------------


def test_write_through_read_uses_cache_as_loader(make_lab):
    lab = make_lab("write-through")
    trace = lab.read("user:3")
    assert arrows(trace) == [
        ("App", "Cache", "GET", "miss"),
        ("Cache", "Database", "SELECT", "ok"),
        ("Database", "Cache", "REPLY", "ok"),
        ("Cache", "Cache", "SET", "ok"),
        ("Cache", "App", "REPLY", "miss"),
    ]
    assert trace.value == "Grace Hopper" and cached(lab, "user:3") == "Grace Hopper"


def test_write_through_safe_write_updates_db_then_cache(make_lab, db):
    lab = make_lab("write-through")
    assert lab.ordering == "safe"
    write = lab.write("user:3", "Rear Admiral Hopper")
    assert arrows(write) == [
        ("App", "Cache", "WRITE", "ok"),
        ("Cache", "Database", "UPSERT", "ok"),
        ("Database", "Cache", "REPLY", "ok"),
        ("Cache", "Cache", "SET", "ok"),
        ("Cache", "App", "REPLY", "ok"),
    ]
    assert write.ok
    assert db.row("user:3").value == "Rear Admiral Hopper" and db.row("user:3").version == 2
    assert cached(lab, "user:3") == "Rear Admiral Hopper"
    assert lab.cache.ttl(lab.redis_key("user:3")) > 0

    read = lab.read("user:3")
    assert read.hit is True and read.value == "Rear Admiral Hopper" and not read.stale


def test_write_through_safe_ordering_with_db_down_acknowledges_nothing(make_lab, db):
    lab = make_lab("write-through")
    lab.read("user:1")  # the cache holds the committed value
    db.down = True

    write = lab.write("user:1", "never committed")
    assert write.ok is False
    assert "database is down" in write.error
    assert arrows(write) == [("App", "Cache", "WRITE", "ok"), ("Cache", "Database", "UPSERT", "error")]
    assert not any(s.target == "App" and s.action == "REPLY" for s in write.steps), "no acknowledgement"
    assert cached(lab, "user:1") == "Ada Lovelace"
    db.down = False
    assert db.row("user:1").value == "Ada Lovelace" and db.row("user:1").version == 1
    assert lab.counters.db_writes == 0

    read = lab.read("user:1")
    assert read.value == "Ada Lovelace" and read.stale is False and lab.counters.stale_reads == 0


def test_write_through_naive_ordering_sets_cache_before_db(make_lab, db):
    lab = make_lab("write-through", ordering="naive")
    write = lab.write("user:1", "Countess")
    assert arrows(write) == [
        ("App", "Cache", "WRITE", "ok"),
        ("Cache", "Cache", "SET", "ok"),
        ("Cache", "Database", "UPSERT", "ok"),
        ("Database", "Cache", "REPLY", "ok"),
        ("Cache", "App", "REPLY", "ok"),
    ]
    assert write.ok and cached(lab, "user:1") == "Countess" and db.get("user:1") == "Countess"


def test_write_through_naive_ordering_with_db_down_is_the_dual_write_inconsistency(make_lab, db):
    lab = make_lab("write-through", ordering="naive")
    db.down = True
    write = lab.write("user:1", "Countess")
    assert write.ok is False and "database is down" in write.error
    assert arrows(write) == [
        ("App", "Cache", "WRITE", "ok"),
        ("Cache", "Cache", "SET", "ok"),
        ("Cache", "Database", "UPSERT", "error"),
    ]
    assert cached(lab, "user:1") == "Countess"          # the cache holds what the DB never committed
    assert db.peek("user:1") == "Ada Lovelace"
    db.down = False
    assert db.row("user:1").version == 1

    read = lab.read("user:1")
    assert read.ok and read.hit is True and read.value == "Countess"
    assert read.stale is True
    assert lab.counters.stale_reads == 1


# ---- write-behind ----------------------------------------------------------------------------------------


def test_write_behind_write_is_acknowledged_before_the_db_changes(make_lab, db):
    lab = make_lab("write-behind")
    write = lab.write("user:1", "Ada B.")
    assert arrows(write, with_background=True) == [
        ("App", "Cache", "SET", "ok", False),
        ("Cache", "Queue", "XADD", "ok", False),
        ("Cache", "App", "REPLY", "ok", False),
    ]
    assert write.ok
    assert db.row("user:1").value == "Ada Lovelace" and db.row("user:1").version == 1
    assert lab.counters.db_writes == 0 and lab.counters.queued_writes == 1
    assert cached(lab, "user:1") == "Ada B."
    [entry] = lab.cache_entries()
    assert (entry.key, entry.value, entry.ttl_seconds, entry.pending) == ("user:1", "Ada B.", None, True)

    read = lab.read("user:1")   # the queued value is the newest acknowledged one: a hit, not stale
    assert read.hit is True and read.value == "Ada B." and read.stale is False


def test_write_behind_queue_keeps_writes_in_order(make_lab):
    lab = make_lab("write-behind")
    writes = [("a", "1"), ("b", "2"), ("a", "3"), ("c", "4")]
    for key, value in writes:
        assert lab.write(key, value).ok
    entries = lab.queue_entries()
    assert [(e["key"], e["value"]) for e in entries] == writes
    times = [float(e["at"]) for e in entries]
    assert times == sorted(times) and len(set(times)) == len(times)
    assert lab.pending_keys() == {"a", "b", "c"}
    assert lab.counters.queued_writes == 4
    assert [e.key for e in lab.cache_entries()] == ["a", "b", "c"]


def test_write_behind_full_batch_flushes_in_the_background(make_lab, db):
    lab = make_lab("write-behind", batch_size=3)
    first, second = lab.write("k1", "v1"), lab.write("k2", "v2")
    assert not any(s.background for s in first.steps + second.steps)
    assert db.get("k1") is None and len(lab.queue_entries()) == 2

    third = lab.write("k3", "v3")
    assert third.ok
    assert arrows(third, with_background=True) == [
        ("App", "Cache", "SET", "ok", False),
        ("Cache", "Queue", "XADD", "ok", False),
        ("Cache", "App", "REPLY", "ok", False),
        ("Flusher", "Queue", "XRANGE", "ok", True),
        ("Flusher", "Database", "UPSERT", "ok", True),
        ("Database", "Flusher", "REPLY", "ok", True),
        ("Flusher", "Queue", "XDEL", "ok", True),
    ]
    assert "full batch" in third.steps[3].explanation
    assert [db.get(k) for k in ("k1", "k2", "k3")] == ["v1", "v2", "v3"]
    assert lab.queue_entries() == [] and lab.pending_keys() == set()
    assert lab.counters.db_writes == 3
    assert third.latency_ms == 2.0   # SET + XADD; the flush is background work


def test_write_behind_max_delay_flushes_on_tick(make_lab, db, clock):
    lab = make_lab("write-behind", batch_size=10, max_delay_seconds=5.0)
    lab.write("user:2", "Turing")
    assert lab.tick() is None
    clock.advance(4.9)
    assert lab.tick() is None
    assert db.get("user:2") == "Alan Turing"

    clock.advance(0.2)
    flush = lab.tick()
    assert flush is not None and flush.ok and flush.operation == "flush"
    assert arrows(flush, with_background=True) == [
        ("Flusher", "Queue", "XRANGE", "ok", True),
        ("Flusher", "Database", "UPSERT", "ok", True),
        ("Database", "Flusher", "REPLY", "ok", True),
        ("Flusher", "Queue", "XDEL", "ok", True),
    ]
    assert "waited" in flush.steps[0].explanation
    assert db.row("user:2").value == "Turing" and db.row("user:2").version == 2
    assert lab.queue_entries() == []
    assert lab.tick() is None
    assert lab.log[-1] is flush


def test_write_behind_overdue_write_is_flushed_by_the_next_write(make_lab, db, clock):
    lab = make_lab("write-behind", batch_size=10, max_delay_seconds=5.0)
    lab.write("a", "1")
    clock.advance(6)
    second = lab.write("b", "2")
    assert [s.action for s in second.steps if s.background] == ["XRANGE", "UPSERT", "REPLY", "XDEL"]
    assert (db.get("a"), db.get("b")) == ("1", "2")


@pytest.mark.parametrize(("coalesce", "db_writes"), [(True, 1), (False, 5)])
def test_write_behind_coalescing(make_lab, db, coalesce, db_writes):
    lab = make_lab("write-behind", batch_size=10, coalesce=coalesce)
    before = db.row("price:latte").version
    for cents in range(5):
        assert lab.write("price:latte", f"3.{cents}0").ok
    assert db.row("price:latte").version == before

    flush = lab.flush()
    assert flush.ok
    assert db.row("price:latte").version == before + db_writes
    assert db.get("price:latte") == "3.40"
    assert lab.counters.db_writes == db_writes
    assert lab.queue_entries() == []
    upsert = next(s for s in flush.steps if s.action == "UPSERT")
    assert re.search(rf"× {db_writes}\b", upsert.command), upsert.command
    assert ("coalesced from 5 writes" in upsert.explanation) is coalesce


def test_write_behind_coalescing_keeps_last_value_per_key(make_lab, db):
    lab = make_lab("write-behind", batch_size=10)
    for key, value in [("a", "a1"), ("b", "b1"), ("a", "a2"), ("b", "b2"), ("a", "a3")]:
        lab.write(key, value)
    assert lab.flush().ok
    assert (db.get("a"), db.get("b")) == ("a3", "b2")
    assert (db.row("a").version, db.row("b").version) == (1, 1)


def test_write_behind_flush_drains_batch_after_batch(make_lab, db):
    lab = make_lab("write-behind", batch_size=100)
    for i in range(7):
        lab.write(f"k{i}", f"v{i}")
    lab.batch_size = 3
    flush = lab.flush()
    assert flush.ok
    assert [s.action for s in flush.steps].count("UPSERT") == 3   # 3 + 3 + 1
    assert not any(s.background for s in flush.steps)
    assert [db.get(f"k{i}") for i in range(7)] == [f"v{i}" for i in range(7)]


def test_write_behind_flush_of_empty_queue(make_lab):
    lab = make_lab("write-behind")
    flush = lab.flush()
    assert flush.ok
    assert arrows(flush) == [("Flusher", "Queue", "XLEN", "ok")]


def test_write_behind_failed_batch_stays_queued_and_is_retried_after_backoff(make_lab, db, clock):
    lab = make_lab("write-behind", batch_size=3)
    db.down = True
    for i in (1, 2):
        assert lab.write(f"k{i}", f"v{i}").ok
    third = lab.write("k3", "v3")
    assert third.ok, "write-behind acknowledges even though the background batch failed"
    assert arrows(third, with_background=True)[3:] == [
        ("Flusher", "Queue", "XRANGE", "ok", True),
        ("Flusher", "Database", "UPSERT", "error", True),
    ]
    assert len(lab.queue_entries()) == 3
    assert clock.now() < lab.retry_at <= clock.now() + 1.0
    assert lab.backoff_seconds == 2.0
    assert lab.tick() is None, "no retry before the backoff has passed"

    fourth = lab.write("k4", "v4")
    assert not any(s.background for s in fourth.steps)
    assert [e["key"] for e in lab.queue_entries()] == ["k1", "k2", "k3", "k4"]

    forced = lab.flush()
    assert forced.ok is False and "database is down" in forced.error
    assert forced.steps[-1].action == "UPSERT" and forced.steps[-1].failed
    assert lab.backoff_seconds == 4.0
    assert [(e["key"], e["value"]) for e in lab.queue_entries()] == [(f"k{i}", f"v{i}") for i in range(1, 5)]
    db.down = False
    assert all(db.get(f"k{i}") is None for i in range(1, 5))

    clock.advance(lab.retry_at - clock.now() + 0.5)
    retried = lab.tick()
    assert retried is not None and retried.ok
    assert [db.get(f"k{i}") for i in range(1, 4)] == ["v1", "v2", "v3"]
    assert [e["key"] for e in lab.queue_entries()] == ["k4"]
    assert (lab.backoff_seconds, lab.retry_at) == (1.0, 0.0)

    assert lab.flush().ok
    assert [db.get(f"k{i}") for i in range(1, 5)] == ["v1", "v2", "v3", "v4"]
    assert lab.queue_entries() == [] and lab.counters.lost_writes == 0
    assert lab.counters.db_writes == 4


def test_write_behind_failed_background_flush_on_tick_is_reported(make_lab, db, clock):
    lab = make_lab("write-behind", max_delay_seconds=5.0)
    lab.write("user:1", "queued")
    db.down = True
    clock.advance(6)
    tick = lab.tick()
    assert tick is not None and tick.operation == "flush"
    assert arrows(tick, with_background=True) == [
        ("Flusher", "Queue", "XRANGE", "ok", True),
        ("Flusher", "Database", "UPSERT", "error", True),
    ]
    assert tick.ok is False and tick.outcome == "error" and "database is down" in tick.error
    assert tick.latency_ms == 0.0                     # nobody waited for it
    assert [e["value"] for e in lab.queue_entries()] == ["queued"]
    assert lab.log[-1] is tick


def test_write_behind_backoff_is_capped(make_lab, db):
    lab = make_lab("write-behind")
    lab.write("k", "v")
    db.down = True
    for _ in range(10):
        assert lab.flush().ok is False
    assert lab.backoff_seconds == 60.0
    assert len(lab.queue_entries()) == 1


def test_crash_cache_loses_queued_writes(make_lab, db):
    lab = make_lab("write-behind", batch_size=10)
    lab.read("user:3")
    lab.write("user:1", "lost 1")
    lab.write("user:2", "lost 2")

    crash = lab.crash_cache()
    assert arrows(crash) == [("Cache", "Cache", "CRASH", "error")]
    assert "2 queued write(s)" in crash.steps[0].explanation
    assert lab.counters.lost_writes == 2
    assert lab.queue_entries() == [] and lab.cache_entries() == []
    assert namespace_keys(lab.cache, lab.namespace) == []
    assert (db.get("user:1"), db.get("user:2")) == ("Ada Lovelace", "Alan Turing")
    assert lab.log[-1] is crash

    assert arrows(lab.flush()) == [("Flusher", "Queue", "XLEN", "ok")]
    read = lab.read("user:1")
    assert read.hit is False and read.value == "Ada Lovelace" and read.stale is False


@pytest.mark.parametrize("name", SYNC_WRITERS)
def test_crash_cache_loses_no_writes_in_synchronous_patterns(make_lab, db, name):
    lab = make_lab(name)
    lab.write("user:1", "durable")
    lab.read("user:1")
    lab.crash_cache()
    assert lab.counters.lost_writes == 0 and lab.cache_entries() == []
    assert lab.read("user:1").value == "durable"


# ---- latency model ---------------------------------------------------------------------------------------

COSTS = Costs(cache_ms=2.0, db_read_ms=30.0, db_write_ms=50.0)


@pytest.mark.parametrize("slowdown", [1.0, 4.0])
@pytest.mark.parametrize("name", ALL_PATTERNS)
def test_latency_is_the_sum_of_modelled_costs(make_lab, db, clock, name, slowdown):
    c, r, w = COSTS.cache_ms, COSTS.db_read_ms * slowdown, COSTS.db_write_ms * slowdown
    lab = make_lab(name, costs=COSTS)
    db.slowdown = slowdown

    assert lab.read("user:1").latency_ms == c + r + c     # GET, SELECT, SET (replies are free)
    assert lab.read("user:1").latency_ms == c             # GET
    assert lab.read("ghost").latency_ms == c + r          # GET, SELECT, nothing to store
    write = lab.write("user:1", "new")
    expected_write = {"write-behind": c + c}.get(name, w + c)   # SET + XADD, or UPSERT + (DEL | SET)
    assert write.latency_ms == expected_write
    assert clock.now() * 1000 == pytest.approx((c + r + c) + c + (c + r) + expected_write)


@pytest.mark.parametrize("slowdown", [1.0, 3.0])
def test_write_behind_latency_excludes_background_flush(make_lab, db, clock, slowdown):
    c, w = COSTS.cache_ms, COSTS.db_write_ms
    lab = make_lab("write-behind", costs=COSTS, batch_size=3, coalesce=False)
    db.slowdown = slowdown
    lab.write("a", "1")
    lab.write("b", "2")
    before = clock.now()
    third = lab.write("c", "3")
    background = (w + c * 2) * slowdown      # one batch of 3 rows: one commit plus a row's cost per extra row
    assert third.latency_ms == 2 * c
    assert sum(s.cost_ms for s in third.steps if s.background) == pytest.approx(c + background + c)
    assert (clock.now() - before) * 1000 == pytest.approx(2 * c + c + background + c), "the clock ran the flush"

    lab.write("d", "4")
    flush = lab.flush()                      # a requested flush is what the caller waits for
    assert flush.latency_ms == pytest.approx(c + w * slowdown + c)


def test_step_times_follow_the_clock(make_lab, clock):
    lab = make_lab("cache-aside", costs=COSTS)
    clock.advance(1.5)
    trace = lab.read("user:1")
    assert [s.at_ms for s in trace.steps] == pytest.approx([1502.0, 1502.0, 1532.0, 1532.0, 1534.0])
    assert [s.cost_ms for s in trace.steps] == [2.0, 0.0, 30.0, 0.0, 2.0]


def test_clock_does_not_run_backwards():
    clock = SimClock(10.0)
    with pytest.raises(ValueError):
        clock.advance(-1)
    assert clock.now() == 10.0


# ---- stepping and interleaving ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", ALL_PATTERNS)
def test_start_read_touches_nothing_until_advanced(make_lab, db, name):
    lab = make_lab(name)
    request = lab.start_read("user:1")
    assert request.trace.steps == [] and not request.done
    assert lab.cache_entries() == [] and lab.counters == Counters() and list(lab.log) == []

    steps = []
    while (step := request.advance()) is not None:
        steps.append(step)
        assert request.trace.steps == steps, "exactly one step per advance()"
    assert len(steps) == 5
    assert request.done and request.trace.value == "Ada Lovelace"
    assert request.advance() is None
    assert list(lab.log) == [request.trace] and lab.counters.misses == 1


def test_stepped_write_performs_one_call_per_advance(make_lab, db):
    lab = make_lab("cache-aside")
    lab.read("user:1")
    request = lab.start_write("user:1", "stepped")
    assert db.row("user:1").version == 1

    upsert = request.advance()
    assert (upsert.action, upsert.target) == ("UPSERT", "Database")
    assert db.get("user:1") == "stepped"
    assert cached(lab, "user:1") == "Ada Lovelace", "not invalidated yet"
    assert request.advance().action == "REPLY"
    assert request.advance().action == "DEL"
    assert cached(lab, "user:1") is None
    assert not request.done
    assert request.advance() is None and request.done
    assert request.run() is request.trace and len(request.trace.steps) == 3


@pytest.mark.parametrize("name", ALL_PATTERNS)
def test_stepping_a_failing_request_ends_it_without_raising(make_lab, db, name):
    lab = make_lab(name)
    db.down = True
    request = lab.start_read("user:1")
    advances = 0
    while request.advance() is not None:
        advances += 1
        assert advances < 10
    assert request.done and request.trace.ok is False
    assert request.trace.steps[-1].failed and request.trace.steps[-1].action == "SELECT"
    assert request.advance() is None
    assert list(lab.log) == [request.trace]


def test_interleaved_clients_reproduce_the_stale_set_race(make_lab, cache, db, namespace):
    reader = make_lab("cache-aside", client="A")
    writer = make_lab("cache-aside", client="B")

    a = reader.start_read("user:1")
    assert a.advance().outcome == "miss"            # A: GET → miss
    a.advance()                                     # Cache → A: (nil)
    assert a.advance().action == "SELECT"           # A: SELECT
    assert a.advance().value == "Ada Lovelace"      # the row A will cache: the old value

    b = writer.write("user:1", "Ada King")          # B: UPSERT + DEL, all before A's SET
    assert b.ok and [s.action for s in b.steps] == ["UPSERT", "REPLY", "DEL"]
    assert {s.client for s in b.steps} == {"B"}
    assert cache.get(reader.redis_key("user:1")) is None

    set_step = a.advance()
    assert (set_step.action, set_step.value, set_step.client) == ("SET", "Ada Lovelace", "A")
    assert a.advance() is None
    assert cache.get(reader.redis_key("user:1")) == "Ada Lovelace"   # stale value in the cache...
    assert db.get("user:1") == "Ada King"                            # ...while the DB holds the new one
    assert a.trace.stale is True and reader.counters.stale_reads == 1

    later = writer.read("user:1")                                    # and it keeps being served
    assert later.hit is True and later.value == "Ada Lovelace" and later.stale is True


# ---- faults ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ALL_PATTERNS)
def test_db_down_fails_db_touching_requests_without_raising(make_lab, db, name):
    lab = make_lab(name)
    db.down = True

    read = lab.read("user:1")                     # a miss must go to the DB
    assert read.ok is False and read.outcome == "error"
    assert "database is down" in read.error
    last = read.steps[-1]
    assert last.failed and last.target == "Database" and last.action == "SELECT"
    assert lab.cache_entries() == []
    assert (lab.counters.hits, lab.counters.misses, lab.counters.db_reads) == (0, 0, 0)

    write = lab.write("user:2", "x")
    if name == "write-behind":
        assert write.ok, "write-behind acknowledges without touching the DB"
        flush = lab.flush()
        assert flush.ok is False and "database is down" in flush.error
        assert flush.steps[-1].failed and flush.steps[-1].target == "Database"
    else:
        assert write.ok is False and "database is down" in write.error
        assert write.steps[-1].failed and write.steps[-1].target == "Database"
    db.down = False
    assert db.row("user:2").version == 1 and db.get("user:2") == "Alan Turing"


@pytest.mark.parametrize("name", ALL_PATTERNS)
def test_db_down_does_not_affect_cache_hits(make_lab, db, name):
    lab = make_lab(name)
    lab.read("user:1")
    db.down = True
    hit = lab.read("user:1")
    assert hit.ok and hit.hit and hit.value == "Ada Lovelace"


@pytest.mark.parametrize("name", ALL_PATTERNS)
def test_cache_outage_is_recorded_not_raised(name):
    server = fakeredis.FakeServer()
    client = fakeredis.FakeRedis(server=server, decode_responses=True)
    db = Database(":memory:")
    lab = PATTERNS[name](client, db, namespace="outage:", clock=SimClock())
    server.connected = False

    read = lab.read("user:1")
    assert read.ok is False and "cache unavailable" in read.error
    assert arrows(read) == [("App", "Cache", "GET", "error")]

    write = lab.write("user:1", "x")
    assert write.ok is False and "cache unavailable" in write.error
    assert write.steps[-1].failed and write.steps[-1].target == "Cache"
    db.close()


# ---- input validation ----------------------------------------------------------------------------------

BAD_KEYS = ["", " ", "\t\n  ", "k" * 201, "a\x00b", "\x1b[31mred", "del\x7f", "\x85next-line", 42, None, b"user:1",
            "lone \ud800 surrogate"]
BAD_VALUES = ["x" * (64 * 1024 + 1), "é" * (32 * 1024 + 1), "\x00", "colour \x1b[0m", "bell\x07", 3.2, None,
              "\udfff"]


def _untouched(lab, db, cache, namespace, clock):
    assert namespace_keys(cache, namespace) == []
    assert [(r.key, r.value, r.version) for r in db.rows()] == [(k, v, 1) for k, v in sorted(SEED_ROWS)]
    assert list(lab.log) == [] and lab.counters == Counters() and clock.now() == 0.0


@pytest.mark.parametrize("name", ALL_PATTERNS)
@pytest.mark.parametrize("key", BAD_KEYS, ids=repr)
def test_invalid_key_is_rejected_before_any_step(make_lab, cache, db, namespace, clock, name, key):
    lab = make_lab(name)
    for start in (lambda: lab.start_read(key), lambda: lab.read(key), lambda: lab.write(key, "v"),
                  lambda: lab.start_write(key, "v")):
        with pytest.raises(InvalidInput) as raised:
            start()
        assert isinstance(raised.value, ValueError)
        assert str(raised.value)
    _untouched(lab, db, cache, namespace, clock)


@pytest.mark.parametrize("name", ALL_PATTERNS)
@pytest.mark.parametrize("value", BAD_VALUES, ids=lambda v: repr(v)[:20])
def test_invalid_value_is_rejected_before_any_step(make_lab, cache, db, namespace, clock, name, value):
    lab = make_lab(name)
    for start in (lambda: lab.write("user:1", value), lambda: lab.start_write("user:1", value)):
        with pytest.raises(InvalidInput):
            start()
    _untouched(lab, db, cache, namespace, clock)


def test_validation_messages_name_the_broken_rule():
    with pytest.raises(InvalidInput, match="empty"):
        validate_key("   ")
    with pytest.raises(InvalidInput, match="201 characters"):
        validate_key("k" * 201)
    with pytest.raises(InvalidInput, match=r"U\+001B\) at position 2"):
        validate_key("a\x1b")
    with pytest.raises(InvalidInput, match="65,537 bytes"):
        validate_value("x" * 65537)
    with pytest.raises(InvalidInput, match="must be text"):
        validate_value(None)


def test_validation_accepts_the_limits_unchanged():
    assert validate_key("k" * 200) == "k" * 200
    assert validate_key(" padded ") == " padded "
    assert validate_value("x" * 65536) == "x" * 65536
    assert validate_value("é" * 32768) == "é" * 32768
    assert validate_value("") == ""
    assert validate_value("tab\tnew\nline\r\n") == "tab\tnew\nline\r\n"


TRICKY = [
    "ключ",
    "😀",
    "e\u0301 a\u0308 n\u0303",                 # combining marks, not precomposed
    "שלום עולם \u200fمرحبا",                  # RTL text with a right-to-left mark
    "it's \"quoted\" `back`",
    "<script>alert(1)</script>",
    "'; DROP TABLE kv; --",
    'a" -> b [label="x"]; {',
    "glob *?[ab]\\ chars",
    "line 1\nline 2\r\n\ttabbed",
    "k" * 200,
]
TRICKY_VALUES = TRICKY + ["", "😀" * (16 * 1024)]   # the empty value and exactly 64 KiB of 4-byte characters


@pytest.mark.parametrize("name", ALL_PATTERNS)
def test_legal_text_round_trips_byte_for_byte(make_lab, db, name):
    lab = make_lab(name)
    rotated = TRICKY[1:] + TRICKY[:1]
    pairs = list(zip(TRICKY, rotated, strict=True)) + [("user:1", value) for value in TRICKY_VALUES]
    for key, value in pairs:
        write = lab.write(key, value)
        assert write.ok, write.error
        settle(lab)
        assert db.get(key) == value
        first = lab.read(key)
        assert first.ok and first.value == value and first.stale is False
        assert first.value.encode("utf-8") == value.encode("utf-8")
        lab.clear_cache()
        loaded = lab.read(key)                  # from the DB, through the cache
        assert loaded.hit is False and loaded.value == value
        again = lab.read(key)
        assert again.hit is True and again.value == value
    latest = dict(pairs)
    for key in latest:
        lab.read(key)
    assert {e.key: e.value for e in lab.cache_entries()} == latest   # keys with glob/unicode chars listed as-is
    assert db.get("user:2") == "Alan Turing", "the injection attempt stayed data"
    assert len(db.rows()) == len(SEED_ROWS) + len(TRICKY)


def test_database_round_trips_tricky_text(db):
    for text in TRICKY_VALUES:
        db.put(text or "empty", text)
        assert db.get(text or "empty") == text
        assert db.row(text or "empty").value.encode() == text.encode()
    assert len(db.rows()) == len(SEED_ROWS) + len(TRICKY_VALUES)


# ---- namespaces -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ALL_PATTERNS)
def test_namespaces_isolate_labs_on_one_server(make_lab, namespace, name):
    db_one, db_two = Database(":memory:"), Database(":memory:")
    one = make_lab(name, db=db_one, namespace=f"{namespace}one:")
    two = make_lab(name, db=db_two, namespace=f"{namespace}two:")

    one.read("user:1")
    one.write("user:2", "only in one")
    assert two.cache_entries() == []
    written_stays_cached = name in ("write-through", "write-behind")
    assert [e.key for e in one.cache_entries()] == (["user:1", "user:2"] if written_stays_cached else ["user:1"])

    read = two.read("user:2")
    assert read.hit is False and read.value == "Alan Turing"
    two.read("user:3")
    assert [e.key for e in two.cache_entries()] == ["user:2", "user:3"]
    assert "user:3" not in {e.key for e in one.cache_entries()}

    assert one.clear_cache() >= 1
    assert one.cache_entries() == []
    assert [e.key for e in two.cache_entries()] == ["user:2", "user:3"]

    one.read("user:1")
    two.reset()
    assert two.cache_entries() == []
    assert "user:1" in {e.key for e in one.cache_entries()}
    db_one.close()
    db_two.close()


def test_namespaces_with_glob_characters_match_only_themselves(make_lab, namespace):
    def lab_in(suffix):
        return make_lab("write-behind", namespace=f"{namespace}{suffix}", db=Database(":memory:"))

    star, bracket = lab_in("a*:"), lab_in("[ab]:")
    bystanders = [lab_in("ab:"), lab_in("a:")]      # what unescaped "a*:*" and "[ab]:*" would also match
    for lab in (star, bracket, *bystanders):
        lab.write("k", lab.namespace)
    assert [e.value for e in star.cache_entries()] == [star.namespace]
    assert star.pending_keys() == {"k"} and len(star.queue_entries()) == 1

    star.crash_cache()
    bracket.clear_cache()
    assert star.counters.lost_writes == 1
    assert star.cache_entries() == [] and bracket.cache_entries() == []
    for lab in bystanders:
        assert [e.value for e in lab.cache_entries()] == [lab.namespace]
        assert len(lab.queue_entries()) == 1


def test_default_namespaces_are_unique(cache, db):
    one, two = PATTERNS["cache-aside"](cache, db), PATTERNS["cache-aside"](cache, db)
    try:
        assert one.namespace != two.namespace
        one.read("user:1")
        assert two.cache_entries() == []
    finally:
        one.clear_cache()


# ---- where the cache lives ------------------------------------------------------------------------------


def test_connect_cache_without_url_gives_a_private_fakeredis(monkeypatch):
    monkeypatch.delenv("REDIS_URL", raising=False)
    one, two = connect_cache(), connect_cache()
    one.set("k", "v")
    assert one.get("k") == "v" and two.get("k") is None, "each learner gets a server of its own"
    assert "fakeredis" in backend_description()


def test_unreachable_redis_is_reported_without_its_password():
    with pytest.raises(CacheUnavailable) as raised:
        connect_cache("redis://learner:s3cret@127.0.0.1:1/0")
    message = str(raised.value)
    assert "127.0.0.1:1" in message and "s3cret" not in message and ":***@" in message
    assert "s3cret" not in backend_description("redis://learner:s3cret@127.0.0.1:1/0")


# ---- the database ---------------------------------------------------------------------------------------


def test_database_is_seeded():
    db = Database(":memory:")
    assert db.get("user:1") == "Ada Lovelace"
    assert db.get("product:42") == "Espresso machine, 199.00 EUR"
    assert {r.key: r.value for r in db.rows()} == dict(SEED_ROWS)
    assert all(r.version == 1 for r in db.rows())


def test_unseeded_database_is_empty():
    db = Database(":memory:", seed=False)
    assert db.rows() == [] and db.get("user:1") is None


def test_database_versions_outage_and_reset(db):
    db.put("user:1", "v2")
    db.put("user:1", "v3")
    assert db.row("user:1").version == 3
    db.down = True
    with pytest.raises(DatabaseUnavailable):
        db.get("user:1")
    with pytest.raises(DatabaseUnavailable):
        db.put("user:1", "v4")
    assert db.peek("user:1") == "v3"            # an observer reads past the outage
    db.slowdown = 5.0
    db.reset()
    assert (db.down, db.slowdown) == (False, 1.0)
    assert db.row("user:1").version == 1 and db.get("user:1") == "Ada Lovelace"


def test_put_many_is_all_or_nothing(db):
    with pytest.raises(sqlite3.IntegrityError):
        db.put_many([("user:1", "changed"), ("broken", None)])
    assert db.get("user:1") == "Ada Lovelace" and db.get("broken") is None
    db.put_many([("user:1", "changed"), ("new", "row")])
    assert (db.get("user:1"), db.get("new")) == ("changed", "row")


def test_file_database_used_from_two_threads(tmp_path):
    db = Database(str(tmp_path / "lab.sqlite3"))
    errors: list[Exception] = []
    rounds = 150

    def worker(name: str) -> None:
        try:
            for i in range(rounds):
                db.put(f"{name}:own", f"{name}-{i}")
                db.put("shared", f"{name}-{i}")
                db.put_many([(f"{name}:a", str(i)), (f"{name}:b", str(i))])
                assert db.get(f"{name}:own") == f"{name}-{i}"
                db.rows()
        except Exception as err:  # reported by the main thread below
            errors.append(err)

    threads = [threading.Thread(target=worker, args=(n,)) for n in ("t1", "t2")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert db.row("shared").version == 2 * rounds
    assert db.row("t1:own").version == rounds and db.row("t2:b").version == rounds
    db.close()

    reopened = Database(str(tmp_path / "lab.sqlite3"))   # committed, and not re-seeded over
    assert reopened.row("shared").version == 2 * rounds and reopened.get("user:1") == "Ada Lovelace"
    reopened.close()


def test_recorded_states_follow_each_step(make_lab):
    lab = make_lab("write-behind", batch_size=2)
    lab.record_states = True
    first = lab.write("user:1", "Grace")
    assert [(s.cached("user:1").value, s.stored("user:1").value, len(s.queue)) for s in first.states] == [
        ("Grace", "Ada Lovelace", 0),       # 1. SET: the cache has it, the queue not yet
        ("Grace", "Ada Lovelace", 1),       # 2. XADD
        ("Grace", "Ada Lovelace", 1),       # 3. acknowledged
    ]
    assert first.states[-1].cached("user:1").pending
    second = lab.write("user:1", "Hedy")   # a full batch: the background flush follows the acknowledgement
    assert len(second.states) == len(second.steps)
    last = second.states[-1]
    assert last.stored("user:1").value == "Hedy" and last.stored("user:1").version == 2   # coalesced: one write
    assert last.queue == () and not last.cached("user:1").pending
    assert lab.crash_cache().states[-1].cache == ()


def test_states_are_not_recorded_unless_asked(make_lab):
    lab = make_lab("cache-aside")
    assert lab.read("user:1").states == []
