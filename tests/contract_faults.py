"""The contract's faults: the database down, the cache down (simulated) or unreachable (a real connection
failure), the resync that follows, and crashes. A fault is recorded as a failed step and never raised; what
only some patterns promise about them is in the mixins below."""

from __future__ import annotations

from contract import Promises, row
from core_support import arrows, assert_live_is_real, cached, namespace_keys

from strategies import CacheDown, Database
from strategies.narration import explain_warning


def counts(lab):
    c = lab.counters
    return dict(hits=c.hits, misses=c.misses, degraded=c.degraded, failed=c.failed)


class FaultContract(Promises):
    """Whatever fails, every pattern records it as a failed step, says so, and loses no acknowledged write to
    an outage (a crash of a queue of writes may lose some, and says how many)."""

    # ---- the database's faults ------------------------------------------------------------------------
    def test_db_down_fails_db_touching_requests_without_raising(self, make_lab, db):
        lab = make_lab(self.pattern)
        db.down = True

        read = lab.read("user:1")                     # a miss must go to the DB
        assert read.ok is False and read.outcome == "error" and read.finished
        assert "database is down" in read.error
        last = read.steps[-1]
        assert last.failed and last.target == "Database" and last.action == "SELECT"
        assert lab.live().cache == {}
        # The miss happened before the database failed: it counts as a miss, and as a failed request.
        assert (lab.counters.hits, lab.counters.misses, lab.counters.db_reads, lab.counters.failed) == (0, 1, 0, 1)
        assert read.hit is False

        write = lab.write("user:2", "x")
        if self.defers_writes:
            assert write.ok, "write-behind acknowledges without touching the DB"
            flush = lab.flush()
            assert flush.ok is False and "database is down" in flush.error
            assert flush.steps[-1].failed and flush.steps[-1].target == "Database"
        else:
            assert write.ok is False and "database is down" in write.error
            assert write.steps[-1].failed and write.steps[-1].target == "Database"
        assert row(db, "user:2")[1:3] == ("Alan Turing", 1)
        assert_live_is_real(lab)

    def test_db_down_does_not_affect_cache_hits(self, make_lab, db):
        lab = make_lab(self.pattern)
        lab.read("user:1")
        db.down = True
        hit = lab.read("user:1")
        assert hit.ok and hit.hit and hit.value == "Ada Lovelace"

    # ---- the cache as a fault ------------------------------------------------------------------------------
    def test_nothing_escapes_while_the_cache_is_down(self, make_lab):
        lab = make_lab(self.pattern)
        lab.read("user:1")
        lab.write("user:2", "before")
        lab.cache_down = True
        traces = [lab.read("user:1"), lab.read("nobody"), lab.write("user:3", "x"), *lab.advance_time(100)]
        traces += [action.perform(lab) for action in lab.page_actions()]     # the buttons it adds (Flush now)
        assert all(trace.finished for trace in traces)
        assert all(any(step.failed for step in trace.steps) for trace in traces if trace.operation != "expiry")
        assert all(step.note[0] == "cache-failed" for trace in traces for step in trace.steps
                   if step.failed and step.target in ("Cache", "Queue"))
        assert all(str(CacheDown()) in step.explanation for trace in traces for step in trace.steps if step.failed)
        lab.cache_down = False
        assert lab.read("user:2").value == "before"
        assert_live_is_real(lab)

    def test_a_real_outage_is_recorded_not_raised(self, outage_lab):
        server, client, lab = outage_lab(self.pattern)
        lab.read("user:1")
        server.connected = False

        read = lab.read("user:1")
        assert read.steps[0].failed and read.steps[0].action == "GET"
        assert lab.cache_error and "connection" in lab.cache_error
        if self.reads_around_cache:                        # it reads around the cache
            assert read.ok and read.degraded and read.value == "Ada Lovelace"
        else:
            assert read.ok is False and "cache unavailable" in read.error and arrows(read) == [
                ("App", "Cache", "GET", "error")]

        write = lab.write("user:2", "during")
        assert any(step.failed and step.target in ("Cache", "Queue") for step in write.steps)
        if self.defers_writes:
            assert write.ok is False and lab.counters.queued_writes == 0, "not queued: not acknowledged"
        elif self.invalidates_on_write:
            assert write.ok and write.degraded and lab.db.get("user:2") == ("during", 2)
        lab.advance_time(3)                                 # the cache's own machinery fails quietly
        lab.crash_cache()
        assert lab.log[max(lab.log)].steps[0].note[0] == "crash-unreachable"

        server.connected = True
        again = lab.read("user:3")
        assert again.ok and lab.cache_error is None
        assert_live_is_real(lab, context=self.pattern)

    def test_keys_lost_during_an_outage_are_resynced(self, outage_lab):
        server, client, lab = outage_lab(self.pattern, **self.busy(10))
        lab.read("user:1")
        lab.read("user:2")
        if self.defers_writes:
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
        if self.defers_writes:
            assert ("pending", "user:3") in vanished and any(table == "queue" for table, _ in vanished)
        mirrored = [c for c in step.changes if c.table in ("cache", "queue", "pending", "lease")]
        assert step.note == ("resync", {"vanished": len(mirrored), "found": 0, "lost": len(resync.lost)})
        if self.defers_writes:                          # an acknowledged write that vanished is lost, and counted
            assert resync.lost == (("user:3", "queued"),) and lab.counters.lost_writes == 1
        else:
            assert resync.lost == () and lab.counters.lost_writes == 0
        assert step.seq < read.steps[0].seq, "the tables were repaired before the request's first call"
        assert lab.cache_error is None
        assert read.ok and read.hit is False and read.value == "Alan Turing"
        assert_live_is_real(lab, context=self.pattern)
        assert lab.read("user:3").ok and lab.log[max(lab.log)].operation == "read", "no second resync"

    def test_crash_empties_this_lab_only_and_the_tables_follow(self, make_lab, namespace):
        lab = make_lab(self.pattern, namespace=f"{namespace}one:")
        other = make_lab(self.pattern, db=Database(":memory:"), namespace=f"{namespace}two:")
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


# ---- what only some patterns promise -------------------------------------------------------------------------
class SynchronousWrites(Promises):
    """The database has a write before it is acknowledged: a crash of the cache loses none."""

    def test_crash_cache_loses_no_writes(self, make_lab):
        lab = make_lab(self.pattern)
        lab.write("user:1", "durable")
        lab.read("user:1")
        crash = lab.crash_cache()
        assert arrows(crash) == [("Cache", "Cache", "CRASH", "error")]
        assert crash.lost == () and crash.operation == "crash" and crash.finished
        assert lab.counters.lost_writes == 0 and lab.live().cache == {}
        assert namespace_keys(lab.cache, lab.namespace) == []
        assert lab.read("user:1").value == "durable"


class InvalidatesOnWrite(Promises):
    """The app commits, then deletes the cached key: a cache that does not answer only leaves the old value
    there, for its TTL."""

    def test_a_write_commits_even_when_its_invalidation_fails(self, make_lab, db):
        lab = make_lab(self.pattern)
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


class ReadsThroughTheCache(Promises):
    """Reads go through the cache, which loads a miss itself: when it does not answer, a read fails cleanly."""

    def test_a_read_through_the_cache_fails_cleanly_when_it_is_down(self, make_lab, db):
        lab = make_lab(self.pattern)
        lab.read("user:1")
        lab.cache_down = True
        read = lab.read("user:1")
        assert arrows(read) == [("App", "Cache", "GET", "error")]
        assert read.ok is False and read.outcome == "error" and "cache unavailable" in read.error
        assert read.value is None and not read.degraded and lab.counters.db_reads == 1, "nothing read around it"
        assert counts(lab) == dict(hits=0, misses=1, degraded=0, failed=1)
