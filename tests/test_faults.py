"""The cache as a fault: the simulated outage (`lab.cache_down`), a real connection failure (fakeredis's
`server.connected = False`), the resync that follows it, and crashes. A fault is recorded as a failed step and
never raised; no acknowledged write is ever lost to an outage (only a crash of write-behind's queue loses any).
"""

from __future__ import annotations

import pytest
from core_support import arrows, assert_live_is_real, cached

from strategies.narration import explain_warning

pytestmark = pytest.mark.cluster       # the `cache` tests run on a Redis Cluster too (conftest.py)


def counts(lab):
    c = lab.counters
    return dict(hits=c.hits, misses=c.misses, degraded=c.degraded, failed=c.failed)


# ---- the simulated outage: lab.cache_down ----------------------------------------------------------------


def test_cache_aside_reads_around_a_cache_that_is_down(make_lab, db):
    lab = make_lab("cache-aside")
    lab.read("user:1")                                  # cached before the outage
    lab.cache_down = True
    for key, value in (("user:1", "Ada Lovelace"), ("user:2", "Alan Turing")):
        read = lab.read(key)
        assert arrows(read) == [("App", "Cache", "GET", "error"), ("App", "Database", "SELECT", "ok"),
                                ("Database", "App", "REPLY", "ok")]
        assert read.ok and read.value == value and read.outcome in ("degraded", "ok")   # never an error
        assert read.degraded and read.hit is None and read.stale is False
        assert read.warning == explain_warning("cache-aside-read-around")
        assert "connection refused" in read.steps[0].explanation
    assert cached(lab, "user:2") is None and "user:2" not in lab.live().cache, "nothing cached meanwhile"
    assert counts(lab) == dict(hits=0, misses=1, degraded=2, failed=0)
    assert lab.counters.db_reads == 3
    assert lab.cache_error is None, "a simulated outage is no connection failure"
    lab.cache_down = False
    assert lab.read("user:1").hit is True
    assert_live_is_real(lab)


def test_write_through_fails_at_the_hand_over_before_anything_commits(make_lab, db):
    lab = make_lab("write-through")
    lab.cache_down = True
    write = lab.write("user:1", "never")
    assert arrows(write) == [("App", "Cache", "WRITE", "error")]
    assert write.ok is False and "cache unavailable" in write.error
    assert db.get("user:1") == ("Ada Lovelace", 1) and lab.counters.db_writes == 0
    assert cached(lab, "user:1") is None and lab.live().cache == {}
    lab.cache_down = False
    assert lab.read("user:1").value == "Ada Lovelace"


def test_write_behind_never_acknowledges_a_write_it_could_not_queue(make_lab, db):
    lab = make_lab("write-behind")
    lab.write("user:2", "queued before")
    lab.cache_down = True
    write = lab.write("user:1", "never queued")
    assert arrows(write) == [("App", "Cache", "SET", "error")]
    assert write.ok is False and "cache unavailable" in write.error
    assert lab.counters.queued_writes == 1 and lab.latest_value("user:1") == "Ada Lovelace"
    assert [item.key for item in lab.queue_entries()] == ["user:2"]
    assert cached(lab, "user:1") is None

    flush = lab.flush()                                 # a requested flush fails at the queue...
    assert flush.ok is False and arrows(flush) == [("Flusher", "Queue", "XRANGE", "error")]
    timed = lab.advance_time(7)                         # ...and so do the timed ones
    assert timed and all(t.operation == "flush" and not t.ok for t in timed)
    assert db.get("user:2") == ("Alan Turing", 1) and lab.latest_value("user:2") == "queued before"

    lab.cache_down = False                              # the acknowledged write was never lost
    assert lab.flush().ok
    assert db.get("user:2") == ("queued before", 2) and db.get("user:1") == ("Ada Lovelace", 1)
    assert lab.counters.lost_writes == 0
    assert_live_is_real(lab)


def test_a_failed_fill_still_returns_the_value(make_lab, db):
    lab = make_lab("cache-aside")
    read = lab.start_read("user:1")
    for _ in range(4):                                  # GET, (nil), SELECT, row
        read.advance()
    lab.cache_down = True                               # the cache goes down before the SET
    read.run()
    trace = read.trace
    assert arrows(trace)[-1] == ("App", "Cache", "SET", "error")
    assert trace.ok and trace.value == "Ada Lovelace" and trace.degraded and trace.hit is False
    assert trace.warning == explain_warning("cache-aside-fill-failed")
    assert cached(lab, "user:1") is None and counts(lab) == dict(hits=0, misses=1, degraded=1, failed=0)


# ---- a real connection failure (fakeredis server.connected = False) -----------------------------------------


def test_no_resync_trace_when_nothing_was_lost(outage_lab):
    server, client, lab = outage_lab("read-through")
    lab.read("user:1")
    server.connected = False
    lab.read("user:1")
    server.connected = True
    numbers = set(lab.log)
    after = lab.read("user:1")
    assert after.hit is True and set(lab.log) - numbers == {after.number}
    assert lab.cache_error is None


def test_a_key_the_lab_expired_during_an_outage_is_found_again_and_expires_later(outage_lab):
    server, client, lab = outage_lab("cache-aside", ttl_seconds=30)
    lab.read("user:1")
    lab.advance_time(10)
    server.connected = False
    lab.advance_time(25)             # the lab drops user:1; Redis could not be told, and still holds it
    assert "user:1" not in lab.live().cache
    server.connected = True
    assert cached(lab, "user:1") == "Ada Lovelace"
    lab.read("user:2")               # the resync finds user:1 again, with the TTL Redis gives it
    assert "user:1" in lab.live().cache and lab.live().cache["user:1"].expires_at is not None
    assert_live_is_real(lab)
    lab.advance_time(120)            # and it expires like any other key
    assert "user:1" not in lab.live().cache and cached(lab, "user:1") is None
    assert_live_is_real(lab)


def test_crash_of_an_unreachable_cache_loses_nothing(outage_lab):
    server, client, lab = outage_lab("write-behind", batch_size=10)
    lab.write("k", "v")
    server.connected = False
    crash = lab.crash_cache()
    assert crash.ok is False and arrows(crash) == [("Cache", "Cache", "CRASH", "error")]
    assert crash.lost == () and lab.counters.lost_writes == 0
    server.connected = True
    assert lab.flush().ok and lab.db.get("k") == ("v", 1)


# ---- crashes -----------------------------------------------------------------------------------------


