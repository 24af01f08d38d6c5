"""The cache as a fault: the simulated outage (`lab.cache_down`), a real connection failure (fakeredis's
`server.connected = False`), the resync that follows it, and crashes. A fault is recorded as a failed step and
never raised; no acknowledged write is ever lost to an outage (only a crash of write-behind's queue loses any).
"""

from __future__ import annotations

import fakeredis
import pytest
from core_support import ALL_PATTERNS, arrows, assert_live_is_real, cached, check_explanations, namespace_keys

from strategies import PATTERNS, CacheDown, Database, SimClock
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


@pytest.mark.parametrize("name", ["cache-aside", "read-through"])
def test_a_write_commits_even_when_its_invalidation_fails(make_lab, db, name):
    lab = make_lab(name)
    lab.read("user:1")
    lab.cache_down = True
    write = lab.write("user:1", "Ada King")
    assert arrows(write) == [("App", "Database", "UPSERT", "ok"), ("Database", "App", "REPLY", "ok"),
                             ("App", "Cache", "DEL", "error")]
    assert write.ok and write.outcome in ("degraded", "ok") and write.degraded
    assert write.warning == explain_warning("invalidation-failed")
    assert db.get("user:1") == ("Ada King", 2), "committed"
    assert cached(lab, "user:1") == "Ada Lovelace"
    assert lab.live().cache_mark("user:1") == "⚠ stale: DB has v2"

    lab.cache_down = False                              # what the warning says: the old value is served...
    stale = lab.read("user:1")
    assert stale.hit and stale.value == "Ada Lovelace" and stale.stale
    lab.advance_time(61)                                # ...until its TTL runs out
    fresh = lab.read("user:1")
    assert fresh.hit is False and fresh.value == "Ada King" and not fresh.stale
    assert counts(lab) == dict(hits=1, misses=2, degraded=1, failed=0)
    assert_live_is_real(lab)


@pytest.mark.parametrize("name", ["read-through", "write-through", "write-behind"])
def test_a_read_through_the_cache_fails_cleanly_when_it_is_down(make_lab, db, name):
    lab = make_lab(name)
    lab.read("user:1")
    lab.cache_down = True
    read = lab.read("user:1")
    assert arrows(read) == [("App", "Cache", "GET", "error")]
    assert read.ok is False and read.outcome == "error" and "cache unavailable" in read.error
    assert read.value is None and not read.degraded and lab.counters.db_reads == 1, "nothing read around it"
    assert counts(lab) == dict(hits=0, misses=1, degraded=0, failed=1)


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


@pytest.mark.parametrize("name", ALL_PATTERNS)
def test_nothing_escapes_while_the_cache_is_down(make_lab, name):
    lab = make_lab(name)
    lab.read("user:1")
    lab.write("user:2", "before")
    lab.cache_down = True
    traces = [lab.read("user:1"), lab.read("nobody"), lab.write("user:3", "x"), *lab.advance_time(100)]
    if name == "write-behind":
        traces.append(lab.flush())
    assert all(trace.finished for trace in traces)
    assert all(any(step.failed for step in trace.steps) for trace in traces if trace.operation != "expiry")
    assert all(step.note[0] == "cache-failed" for trace in traces for step in trace.steps
               if step.failed and step.target in ("Cache", "Queue"))
    assert all(str(CacheDown()) in step.explanation for trace in traces for step in trace.steps if step.failed)
    lab.cache_down = False
    assert lab.read("user:2").value == "before"
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


@pytest.fixture
def outage_lab():
    """outage_lab(name, **options) -> (server, client, lab) on a private fakeredis server whose connection a
    test can cut (server.connected = False); every step the lab logged is explained when the test ends."""
    labs = []

    def build(name, **options):
        server = fakeredis.FakeServer()
        client = fakeredis.FakeRedis(server=server, decode_responses=True)
        lab = PATTERNS[name](client, Database(":memory:"), namespace="outage:", clock=SimClock(), **options)
        labs.append(lab)
        return server, client, lab

    yield build
    for lab in labs:
        check_explanations(lab.log.values())
        lab.db.close()


@pytest.mark.parametrize("name", ALL_PATTERNS)
def test_a_real_outage_is_recorded_not_raised(outage_lab, name):
    server, client, lab = outage_lab(name)
    lab.read("user:1")
    server.connected = False

    read = lab.read("user:1")
    assert read.steps[0].failed and read.steps[0].action == "GET"
    assert lab.cache_error and "connection" in lab.cache_error
    if name == "cache-aside":                           # it reads around the cache
        assert read.ok and read.degraded and read.value == "Ada Lovelace"
    else:
        assert read.ok is False and "cache unavailable" in read.error and arrows(read) == [
            ("App", "Cache", "GET", "error")]

    write = lab.write("user:2", "during")
    assert any(step.failed and step.target in ("Cache", "Queue") for step in write.steps)
    if name == "write-behind":
        assert write.ok is False and lab.counters.queued_writes == 0, "not queued: not acknowledged"
    elif name in ("cache-aside", "read-through"):
        assert write.ok and write.degraded and lab.db.get("user:2") == ("during", 2)
    lab.advance_time(3)                                 # the cache's own machinery fails quietly
    lab.crash_cache()
    assert lab.log[max(lab.log)].steps[0].note[0] == "crash-unreachable"

    server.connected = True
    again = lab.read("user:3")
    assert again.ok and lab.cache_error is None
    assert_live_is_real(lab, context=name)


@pytest.mark.parametrize("name", ALL_PATTERNS)
def test_keys_lost_during_an_outage_are_resynced(outage_lab, name):
    server, client, lab = outage_lab(name, **({"batch_size": 10} if name == "write-behind" else {}))
    lab.read("user:1")
    lab.read("user:2")
    if name == "write-behind":
        lab.write("user:3", "queued")
    before = set(lab.live().cache)
    server.connected = False
    assert lab.read("user:1").steps[0].failed
    assert lab.cache_error

    server.connected = True                             # the server restarted without its data:
    client.delete(*client.keys("outage:*"))
    read = lab.read("user:2")
    resync = lab.request(read.number + 1)
    assert resync is not None and resync.operation == "resync" and resync.finished
    [step] = resync.steps
    assert (step.source, step.target, step.action) == ("Cache", "Cache", "RESYNC")
    vanished = {(c.table, c.key) for c in step.changes if c.after is None}
    assert {key for table, key in vanished if table == "cache"} == before
    if name == "write-behind":
        assert ("pending", "user:3") in vanished and any(table == "queue" for table, _ in vanished)
    mirrored = [c for c in step.changes if c.table in ("cache", "queue", "pending", "lease")]
    assert step.note == ("resync", {"vanished": len(mirrored), "found": 0, "lost": len(resync.lost)})
    if name == "write-behind":                          # an acknowledged write that vanished is lost, and counted
        assert resync.lost == (("user:3", "queued"),) and lab.counters.lost_writes == 1
    else:
        assert resync.lost == () and lab.counters.lost_writes == 0
    assert step.seq < read.steps[0].seq, "the tables were repaired before the request's first call"
    assert lab.cache_error is None
    assert read.ok and read.hit is False and read.value == "Alan Turing"
    assert_live_is_real(lab, context=name)
    assert lab.read("user:3").ok and lab.log[max(lab.log)].operation == "read", "no second resync"


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


@pytest.mark.parametrize("name", ALL_PATTERNS)
def test_crash_empties_this_lab_only_and_the_tables_follow(make_lab, namespace, name):
    lab = make_lab(name, namespace=f"{namespace}one:")
    other = make_lab(name, db=Database(":memory:"), namespace=f"{namespace}two:")
    for each in (lab, other):
        each.read("user:1")
        each.write("user:2", "w")
    kept = namespace_keys(lab.cache, other.namespace)
    crash = lab.crash_cache()
    assert crash.operation == "crash" and crash.number == max(lab.log)
    assert namespace_keys(lab.cache, lab.namespace) == []
    assert namespace_keys(lab.cache, other.namespace) == kept
    assert lab.live().cache == {} and lab.live().queue == {} and lab.live().pending == {}
    assert other.read_real_state().cache, "the other lab's keys are untouched"
    assert_live_is_real(lab)
    assert_live_is_real(other)
    other.db.close()
