"""The contract every pattern keeps (dogpile.cache style): generic classes of invariants that each pattern's
test class inherits (tests/test_contract.py), run on fakeredis, a real Redis and a Redis Cluster through the
`cache` fixture.

A pattern's class says, as data (`Promises`), how its writes behave (`defers_writes`,
`write_leaves_value_cached`, …), the configurations it takes (`configs`: the pattern alone and with each
feature it takes switched on), and how to make its background work run with every n-th write (`busy`). The
tests read those promises, never a pattern's name:

    contract.py              requests: knobs, input, text, namespaces, latency and time, stepping
    contract_faults.py       the database and the cache as faults, outages, resyncs, crashes
    contract_tables.py       the tables at every step are what Redis and SQLite held, at no extra call
    contract_page.py         what the page draws from a request: code lines, the diagram, the quiz
    contract_properties.py   the properties under random operations (Hypothesis)

Mixins hold what only some patterns promise (`SynchronousWrites`, `InvalidatesOnWrite`, `ReadsThroughTheCache`,
and the properties' `InvalidationProperties`, `WriteThroughProperties`, `DeferredDeliveryProperties`).
"""

from __future__ import annotations

from typing import Any, ClassVar

import pytest
from core_support import assert_live_is_real, cached, namespace_keys, run_steps, settle

from lab_ui.text import ui_text
from strategies import Costs, Counters, Database, InvalidInput, SimClock
from strategies.database import SEED_ROWS
from strategies.scenarios import DEFAULT_KNOBS

BAD_KEYS = ["", " ", "\t\n  ", "k" * 201, "a\x00b", "\x1b[31mred", "del\x7f", "\x85next-line", 42, None, b"user:1",
            "lone \ud800 surrogate"]
BAD_VALUES = ["x" * (64 * 1024 + 1), "é" * (32 * 1024 + 1), "\x00", "colour \x1b[0m", "bell\x07", 3.2, None,
              "\udfff"]
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
    "{key} {0} {value!r} %s",                  # format fields in the learner's text stay text
    "k" * 200,
]
TRICKY_VALUES = TRICKY + ["", "😀" * (16 * 1024)]   # the empty value and exactly 64 KiB of 4-byte characters
COSTS = Costs(cache_ms=2.0, db_read_ms=30.0, db_write_ms=50.0)


# ---- helpers -----------------------------------------------------------------------------------------------
def row(db, key):
    """The committed row of `key` as an observer sees it (past any simulated outage), or None."""
    return next((r for r in db.rows() if r.key == key), None)


def stored(db, key):
    found = row(db, key)
    return found.value if found else None



def pttl(lab, key):
    return lab.cache.pttl(lab.redis_key(key))


def untouched(lab, db, cache, namespace, clock):
    assert namespace_keys(cache, namespace) == []
    assert [(r.key, r.value, r.version) for r in db.rows()] == [(k, v, 1) for k, v in sorted(SEED_ROWS)]
    assert lab.log == {} and lab.counters == Counters() and clock.now() == 0.0 and not lab.history
    assert lab.live().cache == {} and lab.live().queue == {}



class Promises:
    """What a pattern's test class says about its pattern, as data: the contract's tests read these, never a
    pattern's name."""

    pattern: ClassVar[str]
    configs: ClassVar[dict[str, dict[str, Any]]]   # name -> knobs: the pattern alone, then with each feature on
    # may serve what the database does not hold: a failed write may have left the cache ahead of it or behind it
    unsafe_configs: ClassVar[frozenset[str]] = frozenset()
    defers_writes: ClassVar[bool] = False          # acknowledges a write before the database has it
    write_leaves_value_cached: ClassVar[bool] = False   # a write leaves its value in the cache (else it DELs it)
    invalidates_on_write: ClassVar[bool] = False   # the app commits, then DELs: the cache is not in a write's way
    reads_around_cache: ClassVar[bool] = False     # a read the cache cannot answer goes to the database
    pending_lookup: ClassVar[bool] = False         # a read miss first asks for a queued write (one cache call)

    def busy(self, every: int) -> dict[str, Any]:
        """Knobs under which the pattern's background work runs with every `every`-th write (none: {})."""
        return {}

    def write_cost(self, cache_ms: float, write_ms: float) -> float:
        """What an acknowledged write costs its caller: by default the UPSERT, then the DEL."""
        return write_ms + cache_ms


class PatternContract(Promises):
    """What every pattern does with a request, whatever its strategy: its knobs are what its page and scenarios
    start from, bad input is refused before anything happens, any text survives, labs on one server stay apart,
    latency is the sum of modelled costs, time is simulated, and a request steps one call at a time."""

    # ---- knobs ----------------------------------------------------------------------------------------
    def test_a_fresh_lab_has_the_knobs_its_page_and_scenarios_start_from(self, make_lab):
        lab = make_lab(self.pattern)
        knobs = [knob for knob in lab.page_knobs() if not knob.fault]
        fresh = {knob.attribute: knob.lab_value(knob.default) for knob in knobs}
        assert fresh == {name: getattr(lab, name) for name in fresh}
        assert fresh == DEFAULT_KNOBS[self.pattern], "the scenarios start from the page's defaults"
        for knob in lab.page_knobs():
            assert knob.decode(knob.encode(knob.default)) == knob.default
            assert knob.page_value(knob.lab_value(knob.default)) == knob.default
            assert knob.help in ui_text(), f"{knob.name}: no help text {knob.help!r} in assets/ui.md"
        for action in lab.page_actions():
            assert action.help in ui_text(), f"{action.label}: no help text {action.help!r} in assets/ui.md"
        # The settings group each part's knobs under the part's own heading (and its sentence, if it has one).
        assert [type(part).__name__ for part in lab.parts if part.knobs and not part.heading] == []
        for group in lab.knob_groups():
            assert group.heading in ui_text() and (not group.note or group.note in ui_text()), group

    def test_what_the_lab_does_by_itself_is_said_on_the_page(self, make_lab):
        """Background work the lab runs as time passes (a flush) is announced with "<operation>-ran" of
        assets/ui.md; expiries have a sentence of their own."""
        lab = make_lab(self.pattern, **self.busy(2))
        for key in ("user:1", "user:2", "user:3"):
            lab.write(key, "later")
            lab.read(key)
        happened = lab.advance_time(120)
        assert happened, "time ran something: an expiry at least"
        for trace in happened:
            assert trace.operation == "expiry" or f"{trace.operation}-ran" in ui_text(), trace.operation

    # ---- input -------------------------------------------------------------------------------------------
    @pytest.mark.parametrize("key", BAD_KEYS, ids=repr)
    def test_invalid_key_is_rejected_before_any_step(self, make_lab, cache, db, namespace, clock, key):
        lab = make_lab(self.pattern)
        for start in (lambda: lab.start_read(key), lambda: lab.read(key), lambda: lab.write(key, "v"),
                      lambda: lab.start_write(key, "v")):
            with pytest.raises(InvalidInput, match=r"\w"):
                start()
        untouched(lab, db, cache, namespace, clock)
        assert lab.read("user:1").number == 1, "a rejected request takes no number"

    @pytest.mark.parametrize("value", BAD_VALUES, ids=lambda v: repr(v)[:20])
    def test_invalid_value_is_rejected_before_any_step(self, make_lab, cache, db, namespace, clock, value):
        lab = make_lab(self.pattern)
        for start in (lambda: lab.write("user:1", value), lambda: lab.start_write("user:1", value)):
            with pytest.raises(InvalidInput):
                start()
        untouched(lab, db, cache, namespace, clock)

    def test_legal_text_round_trips_byte_for_byte(self, make_lab, db):
        lab = make_lab(self.pattern)
        rotated = TRICKY[1:] + TRICKY[:1]
        pairs = list(zip(TRICKY, rotated, strict=True)) + [("user:1", value) for value in TRICKY_VALUES]
        for key, value in pairs:
            write = lab.write(key, value)
            assert write.ok, write.error
            settle(lab)
            assert db.get(key)[0] == value
            first = lab.read(key)
            assert first.ok and first.value == value and first.stale is False
            assert first.value.encode("utf-8") == value.encode("utf-8")
            lab.crash_cache()                      # nothing is queued: nothing is lost, the cache is empty
            loaded = lab.read(key)                  # from the DB, through the cache
            assert loaded.hit is False and loaded.value == value
            again = lab.read(key)
            assert again.hit is True and again.value == value
        assert lab.counters.lost_writes == 0
        latest = dict(pairs)
        for key in latest:
            lab.read(key)
        real = lab.read_real_state()            # keys with glob/unicode characters are listed as they are
        assert {key: item.value for key, item in real.cache.items()} == latest
        assert_live_is_real(lab)
        assert stored(db, "user:2") == "Alan Turing", "the injection attempt stayed data"
        assert len(db.rows()) == len(SEED_ROWS) + len(TRICKY)

    # ---- namespaces -------------------------------------------------------------------------------------
    def test_namespaces_isolate_labs_on_one_server(self, make_lab, namespace):
        db_one, db_two = Database(":memory:"), Database(":memory:")
        one = make_lab(self.pattern, db=db_one, namespace=f"{namespace}one:")
        two = make_lab(self.pattern, db=db_two, namespace=f"{namespace}two:")

        def cached_keys(lab):
            return sorted(lab.read_real_state().cache)

        one.read("user:1")
        one.write("user:2", "only in one")
        assert cached_keys(two) == [] and namespace_keys(one.cache, two.namespace) == []
        assert cached_keys(one) == (["user:1", "user:2"] if self.write_leaves_value_cached else ["user:1"])

        read = two.read("user:2")
        assert read.hit is False and read.value == "Alan Turing"
        two.read("user:3")
        assert cached_keys(two) == ["user:2", "user:3"]
        assert "user:3" not in cached_keys(one)

        one.crash_cache()
        assert cached_keys(one) == [] and namespace_keys(one.cache, one.namespace) == []
        assert cached_keys(two) == ["user:2", "user:3"]

        one.read("user:1")
        two.reset()
        assert cached_keys(two) == [] and two.live().cache == {} and two.log == {}
        assert "user:1" in cached_keys(one)
        assert_live_is_real(one)
        db_one.close()
        db_two.close()

    # ---- the latency model and time -----------------------------------------------------------------------
    @pytest.mark.parametrize("slowdown", [1.0, 4.0])
    def test_latency_is_the_sum_of_modelled_costs(self, make_lab, db, clock, slowdown):
        c, r, w = COSTS.cache_ms, COSTS.db_read_ms * slowdown, COSTS.db_write_ms * slowdown
        lab = make_lab(self.pattern, costs=COSTS)
        db.slowdown = slowdown
        pending = c if self.pending_lookup else 0.0    # a miss that first asks the pending index (HGET)

        assert lab.read("user:1").latency_ms == c + pending + r + c     # GET, (HGET,) SELECT, SET (replies are free)
        assert lab.read("user:1").latency_ms == c                       # GET
        assert lab.read("ghost").latency_ms == c + pending + r          # GET, (HGET,) SELECT, nothing to store
        write = lab.write("user:1", "new")
        # the enqueue script; or UPSERT + (DEL | SET), write-through's after a hand-over to the cache (a hop)
        expected_write = self.write_cost(c, w)
        assert write.latency_ms == expected_write
        assert clock.now() * 1000 == pytest.approx((c + pending + r + c) + c + (c + pending + r) + expected_write)
        assert [s.at_ms for s in write.steps][-1] == pytest.approx(clock.now() * 1000)

    def test_the_same_requests_give_the_same_times(self, make_lab, db, namespace):
        """Time is the simulated clock only: two runs of one scenario record identical moments and TTLs."""

        def scenario(suffix):
            lab = make_lab(self.pattern, db=Database(":memory:"), clock=SimClock(), namespace=f"{namespace}{suffix}:")
            for key in ("user:1", "user:2"):
                lab.read(key)
                lab.write(key, "new")
                lab.advance_time(7)
            lab.read("user:1")
            lab.advance_time(100)
            moments = [(s.action, s.at_ms) for t in lab.log.values() for s in t.steps]
            rows = [(r.key, r.version, r.updated_at) for r in lab.db.rows()]
            return moments, rows, lab.clock.now()

        assert scenario("one") == scenario("two")

    def test_advance_time_moves_ttls_and_expires_keys_in_redis_itself(self, make_lab, clock):
        lab = make_lab(self.pattern)
        lab.read("user:1")
        first_expires = lab.live().cache["user:1"].expires_at
        assert lab.next_expiry_in() == pytest.approx(first_expires - clock.now())
        assert lab.advance_time(10) == []
        lab.read("user:2")
        assert lab.next_expiry_in() == pytest.approx(first_expires - clock.now())
        before = pttl(lab, "user:1"), pttl(lab, "user:2")
        assert before[0] == pytest.approx((first_expires - clock.now()) * 1000, abs=500)

        assert lab.advance_time(30) == []
        after = pttl(lab, "user:1"), pttl(lab, "user:2")
        assert before[0] - after[0] == pytest.approx(30_000, abs=500), "Redis's own TTL moved with the clock"
        assert before[1] - after[1] == pytest.approx(30_000, abs=500)
        assert lab.live().ttl("user:1") == pytest.approx(after[0] / 1000, abs=0.5)
        assert_live_is_real(lab)

        expired = lab.advance_time(25)               # user:1's 60 s run out; user:2 has about 5 s left
        assert cached(lab, "user:1") is None, "gone from Redis itself, not only from the lab's tables"
        assert cached(lab, "user:2") == "Alan Turing"
        assert 0 < pttl(lab, "user:2") <= 6_000
        [trace] = expired
        assert (trace.operation, trace.key, trace.finished, trace.ok) == ("expiry", "user:1", True, True)
        [step] = trace.steps
        assert (step.source, step.target, step.action, step.key, step.value) == \
            ("Cache", "Cache", "EXPIRE", "user:1", "Ada Lovelace")
        assert step.at_ms == pytest.approx(first_expires * 1000), "the expiry happened at its own moment"
        assert [(c.table, c.key, c.after, c.why) for c in step.changes] == [("cache", "user:1", None, "expired")]
        assert lab.log[trace.number] is trace and "user:1" not in lab.live().cache
        assert clock.now() == pytest.approx(65, abs=0.1)
        assert lab.next_expiry_in() == pytest.approx(lab.live().cache["user:2"].expires_at - clock.now())
        assert_live_is_real(lab)

        miss = lab.read("user:1")
        assert miss.hit is False and miss.value == "Ada Lovelace"

    # ---- stepping ---------------------------------------------------------------------------------------
    def test_start_read_touches_nothing_until_advanced(self, make_lab, db):
        lab = make_lab(self.pattern)
        request = lab.start_read("user:1")
        assert request.trace.steps == [] and not request.done and not request.trace.finished
        assert request.trace.outcome == "running"
        assert lab.live().cache == {} and lab.counters == Counters() and namespace_keys(lab.cache, lab.namespace) == []
        assert lab.log == {1: request.trace}, "numbered when started"

        steps = []
        while (step := request.advance()) is not None:
            steps.append(step)
            assert request.trace.steps == steps, "exactly one step per advance()"
            assert step.seq == lab.history[-1].seq and lab.history[-1] is step
        assert len(steps) == (6 if self.pending_lookup else 5)
        assert [s.seq for s in steps] == list(range(1, len(steps) + 1))
        assert request.done and request.trace.finished and request.trace.value == "Ada Lovelace"
        assert request.advance() is None
        assert lab.log == {1: request.trace} and lab.counters.misses == 1

    def test_stepping_a_failing_request_ends_it_without_raising(self, make_lab, db):
        lab = make_lab(self.pattern)
        db.down = True
        request = lab.start_read("user:1")
        steps = run_steps(request)
        assert len(steps) < 10
        assert request.done and request.trace.ok is False and request.trace.finished
        assert steps[-1] is request.trace.steps[-1], "the failed step is returned by the advance() that made it"
        assert request.trace.steps[-1].failed and request.trace.steps[-1].action == "SELECT"
        assert request.advance() is None
        assert lab.log == {1: request.trace}
