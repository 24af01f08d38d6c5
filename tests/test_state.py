"""The learner's tables as changes: `live()` is the lab's own record, kept from each step's changes; `state_at`
is the live state with later changes undone; `read_real_state()` is what Redis and SQLite really hold.

The record must always agree with the real thing, every earlier state must be exactly what Redis and SQLite
held right after that step, and recording must cost no extra call and no copy of the tables.
"""

from __future__ import annotations

import pytest
from core_support import ALL_PATTERNS, assert_live_is_real, assert_mirrors, mismatches

from strategies.history import LOG_LIMIT, TRIM_BATCH

pytestmark = pytest.mark.cluster       # the `cache` tests run on a Redis Cluster too (conftest.py)

OPTIONS = {"write-behind": {"batch_size": 2}}     # so that a write's own steps include a flush


def step_with_captures(lab, request) -> list:
    """Advance `request` to its end; what Redis/SQLite held after each of its steps, in order. (One advance may
    record several steps of one atomic call, a script and what it did: the same holds after each of them.)"""
    captures = []
    while request.advance() is not None:
        real = lab.read_real_state()
        captures += [real] * (len(request.trace.steps) - len(captures))
    return captures


def later_traffic(lab) -> None:
    """More requests, a crash and a fast-forward: the history the earlier states must be replayed through."""
    for key in ("user:1", "user:2", "user:3", "new"):
        lab.read(key)
        lab.write(key, f"{key} later")
    lab.advance_time(30)
    lab.crash_cache()
    lab.read("user:1")
    lab.write("user:3", "after the crash")
    lab.advance_time(90)


@pytest.mark.parametrize("name", ALL_PATTERNS)
def test_state_at_each_step_is_what_redis_and_sqlite_held_then(make_lab, name):
    lab = make_lab(name, **OPTIONS.get(name, {}))
    lab.read("user:2")
    recorded = []
    for request in (lab.start_read("user:1"), lab.start_write("user:1", "Ada King"),
                    lab.start_write("user:2", "Alan M. Turing"), lab.start_read("user:1")):
        recorded.append((request.trace, step_with_captures(lab, request)))
    assert any(len(captures) >= 5 for _, captures in recorded)

    later_traffic(lab)
    for trace, captures in recorded:
        assert len(captures) == len(trace.steps)
        for number, real in enumerate(captures, start=1):
            then = lab.state_at(trace, number)
            assert then is not None
            assert then.now == pytest.approx(trace.steps[number - 1].at_ms / 1000)
            assert_mirrors(then, real, context=f"{trace.label}, step {number}")
    assert_live_is_real(lab)


@pytest.mark.parametrize("name", ALL_PATTERNS)
def test_state_at_interleaved_clients(make_lab, name):
    lab = make_lab(name, **OPTIONS.get(name, {}))
    a = lab.start_read("user:1", client="A")
    b = lab.start_write("user:1", "B was here", client="B")
    captures: dict[tuple[int, int], object] = {}
    order = ["A", "A", "B", "A", "B", "B", "A", "B", "A", "A", "B", "B", "A", "B", "A", "B"]
    def advance(request) -> object:
        before = len(request.trace.steps)
        step = request.advance()
        if step is not None:
            real = lab.read_real_state()
            for number in range(before + 1, len(request.trace.steps) + 1):
                captures[(request.trace.number, number)] = real
        return step

    for who in order:
        request = a if who == "A" else b
        step = advance(request)
        if step is not None:
            assert step.client == who
    for request in (a, b):
        while advance(request) is not None:
            pass
    seqs = [s.seq for s in lab.history]
    assert seqs == sorted(seqs) and len(captures) == len(a.trace.steps) + len(b.trace.steps)

    later_traffic(lab)
    for (number, step_number), real in captures.items():
        then = lab.state_at(lab.request(number), step_number)
        assert_mirrors(then, real, context=f"#{number} step {step_number}")


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


class CallCounter:
    """Counts the commands a client sends (scripts included: they go through execute_command too)."""

    def __init__(self, client) -> None:
        self.client, self.commands = client, []
        self._send = client.execute_command

        def counted(*args, **options):
            self.commands.append(args[0])
            return self._send(*args, **options)

        client.execute_command = counted

    def __enter__(self):
        self.commands.clear()
        return self

    def __exit__(self, *_) -> None:
        pass

    def restore(self) -> None:
        del self.client.execute_command


@pytest.mark.parametrize("name", ALL_PATTERNS)
def test_a_step_costs_its_own_call_and_its_own_changes_only(make_lab, name):
    lab = make_lab(name, ttl_seconds=None)
    if name == "write-behind":
        lab.batch_size = 2000
    keys = [f"key:{i}" for i in range(1000)]
    for key in keys:
        lab.write(key, f"value {key}")
        if name in ("cache-aside", "read-through"):
            lab.read(key)                                # the write invalidated; the read caches it
    assert len(lab.live().cache) == 1000
    history = len(lab.history)
    counter = CallCounter(lab.cache)
    try:
        with counter:
            hit = lab.read("key:500")
        assert hit.hit is True and hit.value == "value key:500"
        assert [command.upper() for command in counter.commands] == ["GET"], "one call, nothing else"
        assert [step.changes for step in hit.steps] == [(), ()], "a GET that found what the lab knew changes nothing"
        assert list(lab.history)[-len(hit.steps):] == hit.steps
        assert len(lab.history) <= history + len(hit.steps)      # (the log is full: its oldest request left)
        assert len(lab.history) == sum(len(trace.steps) for trace in lab.log.values())

        with counter:
            lab.live()
            lab.state_at(hit, 1)
            lab.state_at(lab.request(min(lab.log)), 1)
            lab.next_expiry_in()
        assert counter.commands == [], "the tables are the lab's own record: no call to show them"

        with counter:
            miss = lab.read("user:1")
        assert sum(len(step.changes) for step in miss.steps) == 1, "a miss changes one entry: the one it stored"
    finally:
        counter.restore()


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
