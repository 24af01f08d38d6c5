"""The learner's tables as changes: `live()` is the lab's own record, kept from each step's changes; `state_at`
is the live state with later changes undone; `read_real_state()` is what Redis and SQLite really hold.

The record must always agree with the real thing, every earlier state must be exactly what Redis and SQLite
held right after that step, and recording must cost no extra call and no copy of the tables.
"""

from __future__ import annotations

import pytest
from contract_tables import step_with_captures
from core_support import assert_live_is_real, mismatches

from strategies.history import LOG_LIMIT, TRIM_BATCH

pytestmark = pytest.mark.cluster       # the `cache` tests run on a Redis Cluster too (conftest.py)


def test_cache_and_db_disagree_between_the_upsert_and_the_del(make_lab):
    lab = make_lab("cache-aside")
    lab.read("user:1")
    write = lab.write("user:1", "Ada King")
    after_upsert, after_reply, after_del = (lab.state_at(write, n) for n in (1, 2, 3))
    assert after_upsert.cache["user:1"].value == "Ada Lovelace" and after_upsert.db["user:1"].value == "Ada King"
    assert after_upsert.cache_mark("user:1") == "⚠ stale: DB has v2"
    assert after_upsert.db_mark("user:1") == "⚠ cache is stale"
    assert after_reply.cache_mark("user:1") == "⚠ stale: DB has v2"
    assert "user:1" not in after_del.cache and after_del.db_mark("user:1") == "not cached"
    before_write = lab.state_at(lab.request(1), 5)
    assert before_write.cache_mark("user:1") == "✓ same as DB" and before_write.db_mark("user:1") == "✓ cached, same"
    assert before_write.db["user:1"].version == 1


def test_state_at_does_not_change_the_live_state(make_lab):
    lab = make_lab("write-behind")
    write = lab.write("user:1", "queued")
    lab.flush()
    live = lab.live()
    snapshot = (dict(live.cache), dict(live.db), dict(live.queue), dict(live.pending))
    then = lab.state_at(write, 1)
    assert "user:1" in then.pending and then is not live
    for table in (then.cache, then.db, then.queue, then.pending):    # a read-only view: it cannot change anything
        with pytest.raises((AttributeError, TypeError)):
            table.clear()
    assert (live.cache, live.db, live.queue, live.pending) == snapshot
    assert lab.state_at(write, 99).pending == lab.state_at(write, len(write.steps)).pending   # clamped to the end
    assert_live_is_real(lab)


# ---- cost: memory grows with steps, not with the size of the cache ------------------------------------------


def test_history_holds_steps_of_logged_requests_only(make_lab):
    lab = make_lab("cache-aside")
    for _ in range(LOG_LIMIT + TRIM_BATCH + 20):
        lab.read("user:1")
    assert LOG_LIMIT <= len(lab.log) <= LOG_LIMIT + TRIM_BATCH
    assert lab.request(1) is None, "the oldest requests were forgotten"
    logged = sum(len(trace.steps) for trace in lab.log.values())
    assert len(lab.history) == logged, "the forgotten requests' steps left the history"


# ---- numbers and the bounded log --------------------------------------------------------------------------


def test_request_numbers_are_stable_past_the_log_limit(make_lab):
    lab = make_lab("cache-aside", ttl_seconds=None)
    first = lab.read("user:1")
    for i in range(2, 120):
        assert lab.read("user:1" if i % 7 else "user:2").number == i
    stepped = lab.start_write("user:2", "stepped")
    assert stepped.trace.number == 120
    captures = step_with_captures(lab, stepped)
    total = LOG_LIMIT + 110
    while max(lab.log) < total:
        lab.read("user:2" if max(lab.log) % 5 else "user:3")

    kept = len(lab.log)
    assert LOG_LIMIT <= kept <= LOG_LIMIT + TRIM_BATCH and min(lab.log) == total - kept + 1
    assert list(lab.log) == list(range(total - kept + 1, total + 1))
    assert all(lab.request(n).number == n and lab.request(n).label.startswith(f"#{n} ") for n in lab.log)
    assert lab.request(1) is None and lab.request(total - kept) is None and lab.request(total + 1) is None
    assert lab.read("user:1").number == total + 1, "numbers keep counting"

    assert lab.request(120) is stepped.trace
    for number, real in enumerate(captures, start=1):
        assert not mismatches(lab.state_at(stepped.trace, number), real), f"step {number} of #120"
    oldest = lab.request(min(lab.log))
    assert lab.state_at(oldest, 1) is not None
    assert lab.state_at(first, 1) is None, "its later steps left the history: no state rather than a wrong one"
    assert_live_is_real(lab)


def test_state_at_of_a_request_that_made_no_step_is_the_live_state(make_lab):
    lab = make_lab("cache-aside")
    lab.read("user:1")
    waiting = lab.start_read("user:2")
    assert lab.state_at(waiting.trace, 1) is lab.live()
