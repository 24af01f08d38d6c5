"""Write-behind: the enqueue script, coalescing, the flusher, its backoff, read-your-writes and lost writes.

Every test runs on fakeredis and on the real Redis at REDIS_URL (the `cache` fixture), so the Lua scripts run
on both.
"""

from __future__ import annotations

import re

import pytest
from core_support import arrows, assert_live_is_real, cached, namespace_keys

from strategies.narration import explain_warning

pytestmark = pytest.mark.cluster       # the scripts run on a Redis Cluster too (conftest.py)

FLUSH = [
    ("Flusher", "Queue", "XRANGE", "ok", True),
    ("Flusher", "Database", "UPSERT", "ok", True),
    ("Database", "Flusher", "REPLY", "ok", True),
    ("Flusher", "Queue", "XDEL", "ok", True),
]
WRITE = [
    ("App", "Cache", "SET", "ok", False),
    ("Cache", "Queue", "XADD", "ok", False),
    ("Cache", "App", "REPLY", "ok", False),
]


def pttl(lab, key):
    return lab.cache.pttl(lab.redis_key(key))


def queued(lab):
    """The queue as (key, value) pairs, oldest first; a coalesced entry's value waits in the pending index."""
    live = lab.live()
    return [(item.key, item.value if item.value is not None else live.pending[item.key].value)
            for item in lab.queue_entries()]


def last_trace(lab):
    return lab.log[max(lab.log)]


def test_write_is_acknowledged_before_the_db_changes(make_lab, db):
    lab = make_lab("write-behind")
    write = lab.write("user:1", "Ada B.")
    assert arrows(write, with_background=True) == WRITE
    assert write.ok and write.outcome == "ok" and write.latency_ms == lab.costs.cache_ms
    assert db.get("user:1") == ("Ada Lovelace", 1)
    assert lab.counters.db_writes == 0 and lab.counters.queued_writes == 1
    assert cached(lab, "user:1") == "Ada B."
    assert pttl(lab, "user:1") == -1, "no TTL while the cache holds the only copy"
    live = lab.live()
    assert live.ttl("user:1") is None and live.latest("user:1") == "Ada B."
    assert live.cache_mark("user:1") == "newer than DB: write queued"
    assert live.db_mark("user:1") == "behind: newer write queued"
    assert lab.latest_value("user:1") == "Ada B."
    [entry] = lab.queue_entries()
    assert (entry.key, entry.value) == ("user:1", None) and live.pending["user:1"].entry == entry.id
    assert_live_is_real(lab)

    read = lab.read("user:1")   # the queued value is the newest acknowledged one: a hit, not stale
    assert read.hit is True and read.value == "Ada B." and read.stale is False


@pytest.mark.parametrize("coalesce", [False, True])
def test_queue_keeps_writes_in_order(make_lab, coalesce):
    lab = make_lab("write-behind", coalesce=coalesce)
    writes = [("a", "1"), ("b", "2"), ("a", "3"), ("c", "4")]
    for key, value in writes:
        assert lab.write(key, value).ok
    entries = lab.queue_entries()
    if coalesce:       # one entry per key, in the order each key was first written; the newest value waits
        assert queued(lab) == [("a", "3"), ("b", "2"), ("c", "4")]
        assert [e.value for e in entries] == [None, None, None]
        assert [s.action for s in lab.request(3).steps] == ["SET", "HSET", "REPLY"]
        assert lab.request(3).steps[1].note[0] == "wb-coalesced"
    else:
        assert [(e.key, e.value) for e in entries] == writes
    times = [e.at for e in entries]
    assert times == sorted(times) and len(set(times)) == len(times)
    assert {key: item.value for key, item in lab.live().pending.items()} == {"a": "3", "b": "2", "c": "4"}
    assert lab.counters.queued_writes == 4
    assert sorted(lab.live().cache) == ["a", "b", "c"]
    assert_live_is_real(lab)


def test_full_batch_flushes_in_the_background(make_lab, db):
    lab = make_lab("write-behind", batch_size=3)
    first, second = lab.write("k1", "v1"), lab.write("k2", "v2")
    assert not any(s.background for s in first.steps + second.steps)
    assert db.get("k1") is None and len(lab.queue_entries()) == 2

    third = lab.write("k3", "v3")
    assert third.ok and third.warning is None
    assert arrows(third, with_background=True) == WRITE + FLUSH
    assert "full batch" in third.steps[3].explanation
    upsert = third.steps[4]
    assert upsert.note[1]["rows"] == 3 and "3 rows" in upsert.explanation
    assert all(repr(key) in upsert.explanation for key in ("k1", "k2", "k3")), upsert.explanation
    assert [db.get(k) for k in ("k1", "k2", "k3")] == [("v1", 1), ("v2", 1), ("v3", 1)]
    assert lab.queue_entries() == [] and lab.live().pending == {}
    assert lab.counters.db_writes == 3
    for key in ("k1", "k2", "k3"):             # the database has a copy now: the keys get their TTL
        assert 0 < pttl(lab, key) <= 60_000
        assert lab.live().ttl(key) == pytest.approx(60, abs=0.1)
        assert lab.live().cache_mark(key) == "✓ same as DB"
    assert_live_is_real(lab)


def test_max_delay_flushes_on_tick(make_lab, db, clock):
    lab = make_lab("write-behind", batch_size=10, max_delay_seconds=5.0)
    lab.write("user:2", "Turing")
    assert lab.tick() is None
    clock.advance(4.9)
    assert lab.tick() is None
    assert db.get("user:2") == ("Alan Turing", 1)

    clock.advance(0.2)
    flush = lab.tick()
    assert flush is not None and flush.ok and flush.operation == "flush" and flush.finished
    assert arrows(flush, with_background=True) == FLUSH
    assert "waited 5.1 s" in flush.steps[0].explanation
    assert db.get("user:2") == ("Turing", 2)
    assert lab.queue_entries() == []
    assert lab.tick() is None
    assert last_trace(lab) is flush


def test_overdue_write_is_flushed_by_the_next_write(make_lab, db, clock):
    lab = make_lab("write-behind", batch_size=10, max_delay_seconds=5.0)
    lab.write("a", "1")
    clock.advance(6)
    second = lab.write("b", "2")
    assert [s.action for s in second.steps if s.background] == ["XRANGE", "UPSERT", "REPLY", "XDEL"]
    assert (db.get("a"), db.get("b")) == (("1", 1), ("2", 1))


@pytest.mark.parametrize(("coalesce", "rows"), [(True, 1), (False, 5)])
def test_coalescing(make_lab, db, coalesce, rows):
    lab = make_lab("write-behind", batch_size=10, coalesce=coalesce)
    for cents in range(5):
        assert lab.write("price:latte", f"3.{cents}0").ok
    assert db.get("price:latte") == ("3.20", 1)
    assert len(lab.queue_entries()) == rows

    flush = lab.flush()
    assert flush.ok
    assert db.get("price:latte") == ("3.40", 1 + rows)
    assert lab.counters.db_writes == rows and lab.counters.queued_writes == 5
    assert lab.queue_entries() == [] and lab.live().pending == {}
    upsert = next(s for s in flush.steps if s.action == "UPSERT")
    assert upsert.note[1]["rows"] == rows and re.search(rf"× {rows}\b", upsert.command), upsert.command
    assert "'price:latte'" in upsert.explanation
    assert_live_is_real(lab)


def test_coalescing_keeps_last_value_per_key(make_lab, db):
    lab = make_lab("write-behind", batch_size=10)
    for key, value in [("a", "a1"), ("b", "b1"), ("a", "a2"), ("b", "b2"), ("a", "a3")]:
        lab.write(key, value)
    assert queued(lab) == [("a", "a3"), ("b", "b2")]
    assert lab.flush().ok
    assert (db.get("a"), db.get("b")) == (("a3", 1), ("b2", 1))


def test_coalesced_writes_count_as_one_toward_the_batch(make_lab, db):
    lab = make_lab("write-behind", batch_size=2)
    for i in range(25):
        write = lab.write("hot", f"v{i}")
        assert write.ok and not any(s.background for s in write.steps), f"write {i} flushed a batch of one key"
    assert len(lab.queue_entries()) == 1 and db.get("hot") is None
    assert lab.counters.queued_writes == 25

    other = lab.write("cold", "c")                   # a second distinct key: now the batch is full
    assert [s.action for s in other.steps if s.background] == ["XRANGE", "UPSERT", "REPLY", "XDEL"]
    assert db.get("hot") == ("v24", 1) and db.get("cold") == ("c", 1)
    assert lab.counters.db_writes == 2


def test_flush_drains_batch_after_batch(make_lab, db):
    lab = make_lab("write-behind", batch_size=100)
    for i in range(7):
        lab.write(f"k{i}", f"v{i}")
    lab.batch_size = 3
    flush = lab.flush()
    assert flush.ok
    assert [s.action for s in flush.steps].count("UPSERT") == 3   # 3 + 3 + 1
    assert [s.note[1]["rows"] for s in flush.steps if s.action == "UPSERT"] == [3, 3, 1]
    assert not any(s.background for s in flush.steps)
    assert [db.get(f"k{i}")[0] for i in range(7)] == [f"v{i}" for i in range(7)]


def test_flush_of_empty_queue(make_lab):
    lab = make_lab("write-behind")
    flush = lab.flush()
    assert flush.ok
    assert arrows(flush) == [("Flusher", "Queue", "XLEN", "ok")]
    assert "Nothing to flush" in flush.steps[0].explanation


def test_failed_batch_stays_queued_and_is_retried_after_backoff(make_lab, db, clock):
    lab = make_lab("write-behind", batch_size=3)
    db.down = True
    for i in (1, 2):
        assert lab.write(f"k{i}", f"v{i}").ok
    third = lab.write("k3", "v3")
    assert third.ok and third.outcome == "ok", "write-behind acknowledges even though the background batch failed"
    assert arrows(third, with_background=True) == WRITE + [
        ("Flusher", "Queue", "XRANGE", "ok", True),
        ("Flusher", "Database", "UPSERT", "error", True),
    ]
    assert third.warning == explain_warning("wb-background-flush-failed",
                                            error="database is down: connection refused", wait=1.0)
    assert "'k1', 'k2' and 'k3'" in third.steps[-1].explanation
    assert len(lab.queue_entries()) == 3
    assert lab.retry_at == pytest.approx(clock.now() + 1.0)
    assert lab.backoff_seconds == 2.0
    assert lab.tick() is None, "no retry before the backoff has passed"

    fourth = lab.write("k4", "v4")
    assert not any(s.background for s in fourth.steps) and fourth.warning is None
    assert [e.key for e in lab.queue_entries()] == ["k1", "k2", "k3", "k4"]

    forced = lab.flush()
    assert forced.ok is False and "database is down" in forced.error
    assert forced.steps[-1].action == "UPSERT" and forced.steps[-1].failed
    assert lab.backoff_seconds == 4.0
    assert queued(lab) == [(f"k{i}", f"v{i}") for i in range(1, 5)]
    db.down = False
    assert all(db.get(f"k{i}") is None for i in range(1, 5))

    clock.advance(lab.retry_at - clock.now() + 0.5)
    retried = lab.tick()
    assert retried is not None and retried.ok
    assert [db.get(f"k{i}")[0] for i in range(1, 4)] == ["v1", "v2", "v3"]
    assert [e.key for e in lab.queue_entries()] == ["k4"]
    assert (lab.backoff_seconds, lab.retry_at) == (1.0, 0.0)

    assert lab.flush().ok
    assert [db.get(f"k{i}")[0] for i in range(1, 5)] == ["v1", "v2", "v3", "v4"]
    assert lab.queue_entries() == [] and lab.counters.lost_writes == 0
    assert lab.counters.db_writes == 4
    assert_live_is_real(lab)


def test_failed_background_flush_on_tick_is_reported(make_lab, db, clock):
    lab = make_lab("write-behind", max_delay_seconds=5.0)
    lab.write("user:1", "queued")
    db.down = True
    clock.advance(6)
    tick = lab.tick()
    assert tick is not None and tick.operation == "flush"
    assert arrows(tick, with_background=True) == FLUSH[:1] + [("Flusher", "Database", "UPSERT", "error", True)]
    assert tick.ok is False and tick.outcome == "error" and "database is down" in tick.error
    assert tick.latency_ms == 0.0                     # nobody waited for it
    assert queued(lab) == [("user:1", "queued")]
    assert last_trace(lab) is tick


def test_backoff_is_capped(make_lab, db):
    lab = make_lab("write-behind")
    lab.write("k", "v")
    db.down = True
    waits = []
    for _ in range(10):
        waits.append(lab.backoff_seconds)
        assert lab.flush().ok is False
    assert waits == [1, 2, 4, 8, 16, 32, 60, 60, 60, 60]
    assert lab.backoff_seconds == 60.0
    assert len(lab.queue_entries()) == 1


@pytest.mark.parametrize("coalesce", [True, False])
def test_crash_loses_exactly_the_queued_writes(make_lab, db, coalesce):
    lab = make_lab("write-behind", batch_size=10, coalesce=coalesce)
    lab.read("user:3")
    lab.write("user:1", "lost 1")
    lab.write("user:2", "lost 2")
    lab.write("user:1", "lost 3")
    entries = len(lab.queue_entries())
    assert entries == (2 if coalesce else 3)

    crash = lab.crash_cache()
    assert arrows(crash) == [("Cache", "Cache", "CRASH", "error")]
    expected = [("user:1", "lost 3"), ("user:2", "lost 2")] if coalesce else \
        [("user:1", "lost 1"), ("user:2", "lost 2"), ("user:1", "lost 3")]
    assert list(crash.lost) == expected
    assert lab.counters.lost_writes == entries
    assert f"{entries} acknowledged writes were still waiting" in crash.steps[0].explanation
    assert "'user:2'" in crash.steps[0].explanation
    assert lab.queue_entries() == [] and lab.live().cache == {} and lab.live().pending == {}
    assert namespace_keys(lab.cache, lab.namespace) == []
    assert db.get("user:1") == ("Ada Lovelace", 1) and db.get("user:2") == ("Alan Turing", 1)
    assert last_trace(lab) is crash
    assert_live_is_real(lab)

    assert arrows(lab.flush()) == [("Flusher", "Queue", "XLEN", "ok")]
    read = lab.read("user:1")
    assert read.hit is False and read.value == "Ada Lovelace" and read.stale is False
    assert lab.crash_cache().lost == () and lab.counters.lost_writes == entries


def test_read_your_writes_after_the_cache_entry_is_evicted(make_lab, db):
    lab = make_lab("write-behind", batch_size=10)
    lab.write("user:1", "queued value")
    lab.cache.delete(lab.redis_key("user:1"))         # evicted behind the lab's back; the write is still queued

    read = lab.read("user:1")
    assert arrows(read) == [
        ("App", "Cache", "GET", "miss"),
        ("Cache", "Queue", "HGET", "ok"),
        ("Queue", "Cache", "REPLY", "ok"),
        ("Cache", "Cache", "SET", "ok"),
        ("Cache", "App", "REPLY", "miss"),
    ]
    assert read.ok and read.value == "queued value", "never the older row"
    assert read.stale is False and lab.counters.stale_reads == 0
    assert read.db_calls == 0 and lab.counters.db_reads == 0
    [vanished] = read.steps[0].changes                  # the lab learns the entry is gone
    assert (vanished.table, vanished.why, vanished.after) == ("cache", "vanished", None)
    assert read.steps[0].note[0] == "cache-get-vanished"
    assert cached(lab, "user:1") == "queued value" and pttl(lab, "user:1") == -1
    assert_live_is_real(lab)

    assert lab.flush().ok
    assert db.get("user:1") == ("queued value", 2)
    assert pttl(lab, "user:1") > 0


def test_flushed_keys_get_their_ttl_unless_a_newer_write_is_pending(make_lab, db):
    lab = make_lab("write-behind", batch_size=2)
    lab.write("a", "a1")
    second = lab.start_write("b", "b1")
    assert [second.advance().action for _ in range(3)] == ["XADD", "REPLY", "XRANGE"]   # the batch is read

    newer = lab.write("a", "a2")                      # arrives between the flush's read and its acknowledgement
    assert newer.ok and not any(s.background for s in newer.steps), "one flush at a time"
    assert [s.action for s in second.trace.steps[4:]] == []
    while second.advance() is not None:
        pass
    assert [s.action for s in second.trace.steps[4:]] == ["UPSERT", "REPLY", "XDEL"]
    assert db.get("a") == ("a1", 1) and db.get("b") == ("b1", 1)

    assert pttl(lab, "b") > 0, "flushed, nothing newer waiting: it gets its TTL"
    assert cached(lab, "a") == "a2" and pttl(lab, "a") == -1, "a newer write waits: still the only copy, no TTL"
    assert lab.live().pending["a"].value == "a2"
    assert queued(lab) == [("a", "a2")], "the newer write is still queued, to be flushed later"
    assert lab.live().cache_mark("a") == "newer than DB: write queued"
    assert_live_is_real(lab)

    later = lab.flush()
    assert later.ok
    assert db.get("a") == ("a2", 2), "the newest value reached the database"
    assert lab.live().pending == {} and lab.queue_entries() == [] and pttl(lab, "a") > 0
    assert_live_is_real(lab)


def test_a_flush_in_flight_is_never_overtaken(make_lab, db):
    """While a batch is between its read and its acknowledgement, no other flush starts: a second one would
    read the same batch, and whichever committed last could put an older value over a newer one."""
    lab = make_lab("write-behind", batch_size=2, max_delay_seconds=1.0)
    lab.write("a", "a1")
    first = lab.start_write("b", "b1")
    assert [first.advance().action for _ in range(3)] == ["XADD", "REPLY", "XRANGE"]   # batch a1, b1 read
    newer = lab.write("a", "a2")
    other = lab.write("c", "c1")                       # with a2 the queue holds a full batch again...
    assert not any(s.background for s in newer.steps + other.steps)
    assert lab.tick() is None                          # ...but the flusher is busy: no tick,
    assert [t.operation for t in lab.advance_time(5)] == []    # no timed flush,
    busy = lab.flush()                                 # and no requested flush either
    assert busy.ok is False and "in progress" in busy.error
    assert [s.action for s in busy.steps] == ["XLEN"]
    assert db.get("a") is None, "nothing committed while the first batch is in flight"

    while first.advance() is not None:
        pass
    assert first.trace.ok and db.get("a") == ("a1", 1) and db.get("b") == ("b1", 1)
    assert queued(lab) == [("a", "a2"), ("c", "c1")]
    assert lab.flush().ok
    assert db.get("a") == ("a2", 2) and db.get("c") == ("c1", 1)
    assert lab.latest_value("a") == "a2"
    assert_live_is_real(lab)


def test_a_crash_during_a_flush_loses_only_what_the_flusher_does_not_hold(make_lab, db):
    """The flusher has read its batch when the cache crashes: it still commits that batch, so only the
    writes queued after it are lost, and only those are counted and listed."""
    lab = make_lab("write-behind", batch_size=2, max_delay_seconds=600)
    lab.write("a", "a1")
    flushing = lab.start_write("b", "b1")
    assert [flushing.advance().action for _ in range(3)] == ["XADD", "REPLY", "XRANGE"]   # a1, b1 held
    lab.write("c", "c1")                                # queued after the batch was read
    crash = lab.crash_cache()
    assert crash.lost == (("c", "c1"),) and lab.counters.lost_writes == 1
    assert "1 acknowledged write was still waiting" in crash.steps[0].explanation
    while flushing.advance() is not None:
        pass
    assert flushing.trace.ok
    assert db.get("a") == ("a1", 1) and db.get("b") == ("b1", 1), "the held batch was not lost"
    assert db.get("c") is None
    assert_live_is_real(lab)


def test_flush_without_ttl_leaves_flushed_keys_without_expiry(make_lab, db):
    lab = make_lab("write-behind", ttl_seconds=None)
    lab.write("k", "v")
    flush = lab.flush()
    assert flush.steps[-1].note[0] == "wb-flush-acknowledge-no-ttl"
    assert pttl(lab, "k") == -1 and lab.live().ttl("k") is None and db.get("k") == ("v", 1)
    assert_live_is_real(lab)


def test_queue_limit_refuses_writes_it_cannot_queue(make_lab, db):
    lab = make_lab("write-behind", batch_size=10, queue_limit=2)
    assert lab.write("a", "1").ok and lab.write("b", "2").ok
    refused = lab.write("c", "3")
    assert refused.ok is False and refused.outcome == "error" and "queue is full" in refused.error
    assert arrows(refused) == [("App", "Cache", "SET", "error"), ("Cache", "App", "REPLY", "error")]
    assert refused.steps[0].note == ("wb-queue-full", {"limit": 2})
    assert cached(lab, "c") is None and "c" not in lab.live().cache, "a refused write changes nothing"
    assert lab.latest_value("c") is None and len(lab.queue_entries()) == 2
    assert lab.counters.queued_writes == 2 and lab.counters.failed == 1

    coalesced = lab.write("a", "1b")                  # a key already queued takes no new room
    assert coalesced.ok and queued(lab) == [("a", "1b"), ("b", "2")]
    assert lab.flush().ok
    assert lab.write("c", "3").ok, "room again after the flush"
    assert_live_is_real(lab)


def test_a_flushed_key_the_cache_lost_is_not_brought_back(make_lab, db):
    """The acknowledgement gives a flushed key its TTL only if the cache still holds the value written: an
    entry evicted meanwhile stays gone (EXPIRE creates nothing) and the lab records no TTL for it."""
    lab = make_lab("write-behind", batch_size=10)
    lab.write("k", "v")
    lab.write("other", "w")
    lab.cache.delete(lab.redis_key("k"))              # evicted behind the lab's back
    flush = lab.flush()
    assert flush.ok and db.get("k") == ("v", 1)
    acknowledge = flush.steps[-1]
    timed = {c.key for c in acknowledge.changes if c.table == "cache"}
    assert timed == {"other"}, "only the key the cache still holds gets its TTL"
    assert cached(lab, "k") is None and pttl(lab, "other") > 0
    read = lab.read("k")                              # the lab learns it is gone, and loads the row
    assert read.value == "v" and read.steps[0].note[0] == "cache-get-vanished" and not read.stale
    assert_live_is_real(lab)
