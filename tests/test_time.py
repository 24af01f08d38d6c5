"""Simulated time: `advance_time` moves the lab's clock and the TTLs in Redis together, expires keys at their
moment and runs write-behind's due work (max delay, backoff retries) at its moment.

Time only moves when a test moves it: nothing here sleeps, and the lab never reads the wall clock (only the
learner's session does, to follow it).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from core_support import assert_live_is_real, cached

pytestmark = pytest.mark.cluster       # the `cache` tests run on a Redis Cluster too (conftest.py)

CORE = Path(__file__).resolve().parent.parent / "strategies"
# The learner's session follows the wall clock on purpose; the Compare page's run (which says how long it took)
# times itself; the reaper wakes up and ages folders. None of them moves simulated time by it.
WALL_CLOCK_ALLOWED = {"session.py", "compare.py", "registry.py"}


def pttl(lab, key):
    return lab.cache.pttl(lab.redis_key(key))


def test_each_moment_of_expiry_is_one_trace(make_lab, clock):
    lab = make_lab("cache-aside", ttl_seconds=5)
    lab.read("user:1")
    lab.read("user:2")                           # both within the same few ms...
    lab.advance_time(3)
    lab.read("user:3")                           # ...and one 3 s later
    moments = [lab.live().cache[key].expires_at for key in ("user:1", "user:2", "user:3")]
    traces = lab.advance_time(10)
    assert [[s.key for s in t.steps] for t in traces] == [["user:1"], ["user:2"], ["user:3"]]
    assert [t.steps[0].at_ms for t in traces] == pytest.approx([m * 1000 for m in moments])
    assert [t.number for t in traces] == sorted(t.number for t in traces)
    assert lab.next_expiry_in() is None and lab.live().cache == {}
    assert [cached(lab, key) for key in ("user:1", "user:2", "user:3")] == [None, None, None]


def test_a_key_whose_time_ran_out_expires_before_the_next_step(make_lab, clock):
    lab = make_lab("read-through", ttl_seconds=2)
    lab.read("user:1")
    clock.advance(5)                            # the clock moved without advance_time: Redis still has the key
    assert cached(lab, "user:1") == "Ada Lovelace"
    noticed = clock.now()
    read = lab.read("user:1")
    assert read.hit is False, "the lab expired the key before the GET"
    expiry = lab.request(read.number + 1)       # it happened while the read (numbered when started) was under way
    assert expiry.operation == "expiry" and expiry.steps[0].key == "user:1"
    assert expiry.steps[0].seq < read.steps[0].seq
    assert expiry.steps[0].at_ms == pytest.approx(noticed * 1000), "recorded when the lab noticed, never backwards"
    assert cached(lab, "user:1") == "Ada Lovelace" and lab.live().cache["user:1"].version == 1   # loaded again
    assert_live_is_real(lab)


def test_wall_time_passed_moves_the_clock_but_not_redis_ttls(make_lab, clock):
    lab = make_lab("cache-aside", ttl_seconds=30)
    lab.read("user:1")
    before = pttl(lab, "user:1")
    assert lab.wall_time_passed(10) == [] and clock.now() == pytest.approx(10.0, abs=0.1)
    assert pttl(lab, "user:1") == pytest.approx(before, abs=500), "Redis's clock is the wall clock: not touched"
    assert lab.live().ttl("user:1") == pytest.approx(20, abs=0.1)
    [trace] = lab.wall_time_passed(25)
    assert trace.operation == "expiry" and cached(lab, "user:1") is None
    assert lab.wall_time_passed(-3) == [], "the wall clock never runs the lab backwards"


def test_time_does_not_run_backwards(make_lab, clock):
    lab = make_lab("cache-aside")
    with pytest.raises(ValueError):
        lab.advance_time(-1)
    assert clock.now() == 0.0
    assert lab.next_expiry_in() is None
    lab.read("user:1")
    lab.write("user:1", "x")                    # the DEL: nothing cached, nothing to expire
    assert lab.next_expiry_in() is None


def test_keys_without_ttl_never_expire(make_lab):
    lab = make_lab("write-through", ttl_seconds=None)
    lab.write("user:1", "forever")
    assert pttl(lab, "user:1") == -1 and lab.next_expiry_in() is None
    assert lab.advance_time(3600) == []
    assert cached(lab, "user:1") == "forever" and pttl(lab, "user:1") == -1
    assert_live_is_real(lab)


# ---- write-behind's timed work ---------------------------------------------------------------------------


def test_write_behind_flush_runs_at_its_due_moment_inside_advance_time(make_lab, db, clock):
    lab = make_lab("write-behind", batch_size=10, max_delay_seconds=5.0, ttl_seconds=60)
    lab.write("user:1", "queued")
    [entry] = lab.queue_entries()
    due = entry.at + 5.0
    assert lab.advance_time(4.9) == [] and db.get("user:1") == ("Ada Lovelace", 1)

    traces = lab.advance_time(100)              # the flush at 5 s, then the flushed key's TTL runs out
    assert [t.operation for t in traces] == ["flush", "expiry"]
    flush, expiry = traces
    assert flush.ok and [s.action for s in flush.steps] == ["XRANGE", "UPSERT", "REPLY", "XDEL"]
    first = flush.steps[0]
    assert first.at_ms - first.cost_ms == pytest.approx(due * 1000), "the flush started when it fell due"
    assert "waited 5 s" in first.explanation
    assert db.get("user:1") == ("queued", 2)
    assert [(c.table, c.why) for c in expiry.steps[0].changes] == [("cache", "expired")]
    assert expiry.steps[0].at_ms == pytest.approx(flush.steps[-1].at_ms + 60_000), "TTL from the flush on"
    assert cached(lab, "user:1") is None and lab.live().pending == {}
    assert_live_is_real(lab)


def test_flushed_key_ttl_in_redis_follows_the_clock(make_lab, clock):
    lab = make_lab("write-behind", batch_size=10, max_delay_seconds=5.0, ttl_seconds=60)
    lab.write("k", "v")
    lab.advance_time(20)                        # flushed at 5 s: 45 s of its TTL are left
    assert lab.live().ttl("k") == pytest.approx(45, abs=0.1)
    assert pttl(lab, "k") == pytest.approx(45_000, abs=500)
    assert_live_is_real(lab)


def test_backoff_retries_happen_during_advance_time(make_lab, db, clock):
    lab = make_lab("write-behind", batch_size=10, max_delay_seconds=5.0)
    lab.write("k", "v")
    db.down = True
    failed = lab.advance_time(20)
    assert [t.operation for t in failed] == ["flush"] * 4
    assert all(not t.ok and t.steps[-1].action == "UPSERT" and t.steps[-1].failed for t in failed)
    starts = [t.steps[0].at_ms - t.steps[0].cost_ms for t in failed]
    ends = [t.steps[-1].at_ms for t in failed]
    assert starts[0] == pytest.approx(5000)
    for wait, (end, start) in zip([1000, 2000, 4000], zip(ends, starts[1:], strict=False), strict=True):
        assert start == pytest.approx(end + wait), "each retry waits twice as long as the one before"
    assert lab.retry_at == pytest.approx(ends[-1] / 1000 + 8) and lab.retry_at > 20
    assert "k" not in {r.key for r in db.rows()} and len(lab.queue_entries()) == 1

    db.down = False
    [retried] = lab.advance_time(10)
    assert retried.ok and retried.steps[0].at_ms - retried.steps[0].cost_ms == pytest.approx(ends[-1] + 8000)
    assert db.get("k") == ("v", 1) and lab.queue_entries() == []
    assert (lab.backoff_seconds, lab.retry_at) == (1.0, 0.0)
    assert_live_is_real(lab)


def test_full_batch_waits_for_nothing(make_lab, db):
    lab = make_lab("write-behind", batch_size=2, max_delay_seconds=100)
    lab.write("a", "1")
    assert lab.advance_time(50) == [] and db.get("a") is None
    lab.write("b", "2")                          # the batch is full: flushed inside the write itself
    assert db.get("a") == ("1", 1) and db.get("b") == ("2", 1)


# ---- the wall clock ------------------------------------------------------------------------------------


def test_the_core_never_reads_the_wall_clock():
    """Only the learner's session (which follows the wall clock on purpose) and the bench may import time."""
    for path in sorted(CORE.glob("*.py")):
        if path.name in WALL_CLOCK_ALLOWED:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        imported = {alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import)
                    for alias in node.names}
        imported |= {node.module.split(".")[0] for node in ast.walk(tree)
                     if isinstance(node, ast.ImportFrom) and node.module}
        assert not imported & {"time", "datetime"}, f"{path.name} reads the wall clock"




def test_a_key_whose_ttl_runs_out_between_its_get_and_its_pttl_is_read_as_gone(make_lab, monkeypatch):
    """Redis' TTLs run on the wall clock: reading the real cache (a resync, the tests' mirror check) may see a key's
    value and then, a moment later, its PTTL as -2 (no such key). It is gone, not a key without a TTL."""
    lab = make_lab("cache-aside", ttl_seconds=60)
    lab.read("user:1")
    assert lab.read_real_state().cache["user:1"].expires_at is not None
    opened = lab.cache.pipeline

    def pipeline_whose_keys_expire_mid_read(*args, **kwargs):
        pipe = opened(*args, **kwargs)
        execute = pipe.execute
        monkeypatch.setattr(pipe, "execute", lambda *a, **k: [-2 if answer != -2 and index % 2 else answer
                                                                for index, answer in enumerate(execute(*a, **k))])
        return pipe

    monkeypatch.setattr(lab.cache, "pipeline", pipeline_whose_keys_expire_mid_read)
    assert "user:1" not in lab.read_real_state().cache
