"""The contract's tables: the lab's record of every step is exactly what Redis and SQLite held right after it,
for interleaved clients too, and recording costs no extra call and no copy of the tables."""

from __future__ import annotations

import pytest
from contract import Promises
from core_support import assert_live_is_real, assert_mirrors


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


class TablesContract(Promises):
    """`state_at` replays what Redis and SQLite held after any step; a step costs its own call only."""

    # ---- the tables at every step ------------------------------------------------------------------------
    def test_state_at_each_step_is_what_redis_and_sqlite_held_then(self, make_lab):
        lab = make_lab(self.pattern, **self.busy(2))
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

    def test_state_at_interleaved_clients(self, make_lab):
        lab = make_lab(self.pattern, **self.busy(2))
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

    def test_a_step_costs_its_own_call_and_its_own_changes_only(self, make_lab):
        lab = make_lab(self.pattern, ttl_seconds=None, **self.busy(2000))
        keys = [f"key:{i}" for i in range(1000)]
        for key in keys:
            lab.write(key, f"value {key}")
            if not self.write_leaves_value_cached:
                lab.read(key)                                # the write invalidated; the read caches it
        assert len(lab.live().cache) == 1000
        history = len(lab.history)
        counter = CallCounter(lab.cache)
        try:
            with counter:
                hit = lab.read("key:500")
            assert hit.hit is True and hit.value == "value key:500"
            assert [command.upper() for command in counter.commands] == ["GET"], "one call, nothing else"
            assert [step.changes for step in hit.steps] == [(), ()], \
                "a GET that found what the lab knew changes nothing"
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
