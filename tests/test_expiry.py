"""Expiry storms and early refresh, on each read pattern and each cache (fakeredis, a real Redis, a cluster): TTL
jitter (bounds, determinism), refresh-ahead (the cached value at once, one background refresh, none outside the
window), XFetch (the chance of an early recompute rises towards the expiry, δ is stored beside the key, the draws
replay), readers that overlap in time, and the scenarios' teaching points as the numbers they record."""

from __future__ import annotations

import math
import random

import pytest
from core_support import assert_live_is_real, cached

from strategies.features.early_refresh import REFRESHER, xfetch_chance
from strategies.features.jitter import spread_of
from strategies.scenario import run_scenario
from strategies.scenarios import find
from strategies.scenarios.expiry import HERD, catalogue, catalogue_key, reads_per_second, warm_up
from strategies.series import per_second
from strategies.state import EarlyEntry

pytestmark = pytest.mark.cluster       # the scripts and pipelines run on a Redis Cluster too (conftest.py)

READ_PATTERNS = ["cache-aside", "read-through"]
KEY = "user:1"


def ttls_in_redis(lab, keys) -> list[float]:
    """What Redis itself says each key has left, in seconds."""
    pipe = lab.cache.pipeline(transaction=False)
    for key in keys:
        pipe.pttl(lab.redis_key(key))
    return [ms / 1000 for ms in pipe.execute()]


# ---- TTL jitter ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("pattern", READ_PATTERNS)
def test_jitter_keeps_every_ttl_within_its_bounds_and_uses_them(make_lab, pattern):
    lab = make_lab(pattern, ttl_jitter=10)
    lab.reset(rows=catalogue(300))
    keys = [catalogue_key(number) for number in range(1, 301)]
    warm_up(lab, keys)
    ttls = [round(lab.state.cache[key].expires_at - lab.clock.now()) for key in keys]
    assert min(ttls) == 54 and max(ttls) == 66, "± 10 % of 60 s: 54 to 66 s, both ends drawn"
    assert len(set(ttls)) == 13
    real = ttls_in_redis(lab, keys)
    assert all(53 <= left <= 66 for left in real), "Redis holds the jittered TTLs the lab recorded"
    lab.ttl_seconds = 5                         # a TTL whose tenth is under a second is not spread at all
    assert spread_of(5, 10) == 0 and {lab.jitter.ttl() for _ in range(20)} == {5}
    lab.ttl_seconds, lab.ttl_jitter = 60, 50
    lefts = []
    for key in ("user:2", "user:3", "product:42"):      # a read's fill is jittered too (60 s ± 50 %: 30 to 90 s)
        lab.read(key)
        lefts.append(lab.live().ttl(key))
    assert all(30 <= left <= 90 for left in lefts) and len({round(left) for left in lefts} - {60}) >= 2
    assert_live_is_real(lab)


@pytest.mark.parametrize("pattern", READ_PATTERNS)
def test_jitter_draws_replay_after_a_reset_and_on_another_lab(make_lab, namespace, pattern):
    def draws(lab) -> list[int]:
        return [lab.jitter.ttl() for _ in range(50)]

    first = make_lab(pattern, ttl_jitter=20)
    once = draws(first)
    first.reset()
    other = make_lab(pattern, ttl_jitter=20, namespace=namespace + "other:")
    assert draws(first) == once == draws(other), "seeded per lab: a scenario or share link replays the same TTLs"
    assert len(set(once)) > 10


@pytest.mark.parametrize("pattern", READ_PATTERNS)
def test_no_jitter_changes_nothing(make_lab, pattern):
    lab = make_lab(pattern)
    fill = lab.read(KEY)
    assert fill.steps[0].command == f"GET {KEY}" and fill.steps[-2 if pattern == "read-through" else -1].command \
        == f"SET {KEY} … EX 60"
    assert lab.live().ttl(KEY) == pytest.approx(60, abs=0.01)
    assert not [name for name in lab.cache.scan_iter(match=lab.namespace + "early:*")]


def test_a_lease_holders_fill_is_jittered_and_stores_its_delta(make_lab):
    lab = make_lab("cache-aside", leases=True, ttl_jitter=50, xfetch_beta=1.0)
    read = lab.read(KEY)
    assert [step.action for step in read.steps] == ["GET", "REPLY", "LEASE", "SELECT", "REPLY", "SET"]
    left = lab.live().ttl(KEY)
    assert 30 <= left <= 90 and left != pytest.approx(60, abs=0.5)
    assert lab.state.early[KEY] == EarlyEntry(10.0, lab.state.cache[KEY].expires_at, round(left + 0.001))
    assert_live_is_real(lab)


# ---- refresh-ahead ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("pattern", READ_PATTERNS)
def test_refresh_ahead_answers_at_once_and_refreshes_once_in_the_background(make_lab, pattern):
    lab = make_lab(pattern, refresh_ahead=0.5)
    lab.read(KEY)
    expires = lab.state.cache[KEY].expires_at
    lab.advance_time(20)                          # 40 s left: outside the last 30 s
    outside = lab.read(KEY)
    assert [step.action for step in outside.steps] == ["GET", "REPLY"] and not lab.early.scheduled
    lab.advance_time(20)                          # 20 s left: inside
    first, second = lab.read(KEY, client="A"), lab.read(KEY, client="B")
    for reader in (first, second):
        assert reader.hit and reader.value == "Ada Lovelace" and reader.db_calls == 0
        assert reader.latency_ms == lab.costs.cache_ms, "the reader waits for the cache only"
        assert reader.steps[-1].action == "REFRESH" and not reader.steps[-1].background
    assert [step.note[0] for step in (first.steps[-1], second.steps[-1])] == \
        ["refresh-ahead-scheduled", "refresh-ahead-already"]
    assert lab.state.cache[KEY].expires_at == expires, "nothing is refreshed while the readers wait"
    ran = lab.advance_time(0.1)
    refreshes = [trace for trace in ran if trace.operation == "refresh"]
    assert len(refreshes) == 1, "two reads in the window, one refresh"
    refresh = refreshes[0]
    assert refresh.client == REFRESHER and all(step.background and step.client == REFRESHER for step in refresh.steps)
    assert [step.action for step in refresh.steps] == ["SELECT", "REPLY", "SET"]
    assert lab.state.cache[KEY].expires_at > expires + 30, "renewed before it expired"
    lab.advance_time(25)                          # past the old expiry: still there, no miss
    after = lab.read(KEY)
    assert after.hit and after.db_calls == 0 and lab.counters.misses == 1
    assert lab.early.refreshes == 1
    assert_live_is_real(lab)


@pytest.mark.parametrize("pattern", READ_PATTERNS)
def test_refresh_ahead_does_not_save_a_key_nobody_reads_in_its_window(make_lab, pattern):
    lab = make_lab(pattern, refresh_ahead=0.2)
    lab.read(KEY)
    lab.advance_time(30)                          # 30 s left: outside the last 12 s
    lab.read(KEY)
    lab.advance_time(31)                          # expired without a read in the window
    late = lab.read(KEY)
    assert late.hit is False and lab.early.refreshes == 0 and not any(
        trace.operation == "refresh" for trace in lab.log.values())


# ---- XFetch ------------------------------------------------------------------------------------------------------
def test_the_chance_of_an_early_recompute_rises_towards_the_expiry_and_matches_the_draws():
    """P(−δ·β·ln(rand) ≥ left) = e^(−left/δβ): the formula, and 4,000 seeded draws of the lab's own rule."""
    delta, beta = 10.0, 1.0
    chances = [xfetch_chance(left / 1000, delta, beta) for left in (50, 20, 10, 5, 1, 0)]
    assert chances == sorted(chances) and chances[-1] == 1.0
    rng = random.Random(7)
    for left_ms in (40, 20, 10, 5, 1):
        draws = [-delta * beta * math.log(1.0 - rng.random()) >= left_ms for _ in range(4000)]
        assert sum(draws) / len(draws) == pytest.approx(math.exp(-left_ms / (delta * beta)), abs=0.03)
    assert xfetch_chance(0.02, delta, 2.0) > xfetch_chance(0.02, delta, 1.0), "a larger β recomputes earlier"


@pytest.mark.parametrize("pattern", READ_PATTERNS)
def test_xfetch_stores_delta_beside_the_key_and_recomputes_only_near_the_expiry(make_lab, pattern):
    lab = make_lab(pattern, xfetch_beta=1.0)
    fill = lab.read(KEY)
    assert fill.steps[0].command == f"GET {KEY} + δ, expiry"
    stored = lab.cache.hgetall(lab.early.redis_key(KEY))
    expires = lab.state.cache[KEY].expires_at
    assert float(stored["delta"]) == 10.0 == lab.state.early[KEY].delta_ms, "δ: the SELECT and its answer"
    assert float(stored["expiry"]) == expires and int(stored["ttl"]) == 60
    for _ in range(20):                           # a minute before the expiry: the chance is e^(−6000)
        far = lab.read(KEY)
        assert far.db_calls == 0
    lab.wall_time_passed(expires - lab.clock.now() - 0.0005)   # the answer arrives after the expiry: certain
    near = lab.read(KEY)
    assert near.hit and near.db_calls == 1 and any(step.note[0] == "xfetch-recompute" for step in near.steps)
    assert lab.state.cache[KEY].expires_at > expires + 59 and lab.early.recomputes == 1
    lab.db.slowdown = 3.0                         # a slower recompute records a larger δ
    lab.wall_time_passed(lab.state.cache[KEY].expires_at - lab.clock.now() - 0.0005)
    lab.read(KEY)
    assert lab.state.early[KEY].delta_ms == 30.0
    assert_live_is_real(lab)


@pytest.mark.parametrize("pattern", READ_PATTERNS)
def test_the_xfetch_herd_replays_with_its_seed(make_lab, namespace, pattern):
    def decisions(lab) -> list[tuple[str, str]]:
        run = run_scenario(find(pattern, "xfetch-early-recompute"), lab)
        return [(step.client, step.note[0]) for step in run.steps]

    first = decisions(make_lab(pattern))
    again = decisions(make_lab(pattern, namespace=namespace + "again:"))
    assert first == again and (HERD[7], "xfetch-recompute") in first      # the eighth reader recomputes


def test_turning_early_refresh_off_drops_the_delta_with_the_next_fill(make_lab):
    lab = make_lab("cache-aside", xfetch_beta=1.0)
    lab.read(KEY)
    assert KEY in lab.state.early
    lab.xfetch_beta = None
    lab.write(KEY, "Ada King")                    # the DEL leaves δ beside the key: it no longer counts
    fill = lab.read(KEY)
    assert fill.steps[-1].command.endswith("(drops δ)") and KEY not in lab.state.early
    assert not lab.cache.exists(lab.early.redis_key(KEY))
    assert_live_is_real(lab)


# ---- reads that overlap in time ---------------------------------------------------------------------------------
def test_readers_side_by_side_overlap_in_time_and_each_waits_only_its_own_calls(make_lab):
    from strategies.scenario import Director

    lab = make_lab("cache-aside")
    director = Director(lab, "test")
    traces = director.side_by_side([(1.0, KEY, "A"), (1.0, "user:2", "B"), (1.002, KEY, "C")])
    a, b, c = traces
    started = [trace.steps[0].at_ms - trace.steps[0].cost_ms for trace in traces]
    assert started == pytest.approx([1000.0, 1000.0, 1002.0])
    assert a.latency_ms == b.latency_ms == 12.0, "two misses at once each take a miss's time, not twice it"
    assert a.db_calls == b.db_calls == 1 and c.db_calls == 1, "C arrived before A's fill: a miss too"
    assert lab.clock.now() == pytest.approx(1.014), "the clock ends where the last read ended"
    seqs = [step.seq for trace in traces for step in trace.steps]
    assert sorted(seqs) == list(range(min(seqs), max(seqs) + 1))
    order = sorted((step for trace in traces for step in trace.steps), key=lambda step: step.seq)
    starts = [step.at_ms - step.cost_ms for step in order]
    assert all(later >= earlier - 1e-9 for earlier, later in zip(starts, starts[1:], strict=False)), \
        "each call is performed in the order it starts"
    assert cached(lab, KEY) == "Ada Lovelace"
    assert_live_is_real(lab)


def test_background_work_runs_side_by_side_with_the_readers(make_lab):
    from strategies.scenario import Director

    lab = make_lab("read-through", refresh_ahead=0.5)
    lab.read(KEY)
    director = Director(lab, "test")
    director.wait(40)
    now = lab.clock.now()
    first, second = director.side_by_side([(now, KEY, "A"), (now + 0.005, KEY, "B")])
    refresh = next(trace for trace in lab.log.values() if trace.operation == "refresh")
    assert first.steps[-1].action == "REFRESH"
    assert refresh.steps[0].at_ms - refresh.steps[0].cost_ms == pytest.approx(now * 1000 + 1), \
        "the refresh starts as soon as A hands it over"
    assert second.steps[0].at_ms - second.steps[0].cost_ms == pytest.approx(now * 1000 + 5), \
        "B starts when it arrives, while the refresh is still running: nobody waits for background work"
    assert lab.clock.now() == pytest.approx(refresh.steps[-1].at_ms / 1000), "the clock ends where the last work ended"
    assert_live_is_real(lab)


def test_reads_per_second_counts_every_second_zeros_included(lab_for):
    lab = lab_for("cache-aside")
    lab.read(KEY)
    lab.advance_time(2.5)
    lab.read("user:2")
    points = per_second(lab.history)
    assert points == ((0, 1), (1, 0), (2, 1))
    assert per_second(lab.history, start=0, end=4)[-2:] == ((3, 0), (4, 0))


# ---- the scenarios' teaching points ------------------------------------------------------------------------------
@pytest.mark.parametrize("pattern", READ_PATTERNS)
def test_the_spike_exists_without_jitter_and_spreads_with_it(make_lab, namespace, pattern):
    spike = run_scenario(find(pattern, "expiry-spike"), make_lab(pattern))
    spread = run_scenario(find(pattern, "ttl-jitter"), make_lab(pattern, namespace=namespace + "jitter:"))
    charts = {name: reads_per_second(run) for name, run in (("spike", spike), ("spread", spread))}
    assert charts["spike"].peak == (60, 1000), "every key expired in one second and was read again in it"
    assert charts["spike"].busy_seconds() == 2, "the warm-up's one query, then the spike"
    peak = charts["spread"].peak[1]
    assert charts["spread"].busy_seconds() == 1 + 13, "the warm-up's query, then 54 s to 66 s"
    assert charts["spike"].peak[1] / peak >= 8, f"jitter cut the peak from 1000 to {peak} reads per second"
    for run in (spike, spread):
        assert sum(value for _, value in reads_per_second(run).points) == 1001, "jitter saves no database read"
        assert run.lab.counters.misses == 1000 and run.chart == reads_per_second(run)
        assert len(run.lab.log) > 1000, "every request of the run stays in the log, so every scene replays"
        assert run.lab.state_after(run.steps[0]) is not None


def test_stampede_compare_shows_each_protection_on_the_same_readers(make_lab):
    run = run_scenario(find("cache-aside", "stampede-compare"), make_lab("cache-aside"))
    figures = run.figures
    herds = [scene for scene in run.scenes if set(scene.clients) >= set(HERD)]
    assert len(herds) == 3, "three rounds of the same readers"
    assert figures["none_selects"] == figures["none_missed"] > 1, "without protection each late reader misses"
    assert figures["leases_selects"] == 1 and figures["leases_waited"] == figures["none_missed"] - 1
    assert figures["leases_longest_wait"] > figures["none_longest_wait"], "leases make readers wait"
    assert figures["xfetch_missed"] == 0 and figures["xfetch_selects"] == figures["xfetch_recomputes"] >= 1
    lab = run.lab
    assert (lab.leases, lab.xfetch_beta, lab.refresh_ahead) == (False, None, None), "the rounds' knobs end with it"


# ---- predict mode ------------------------------------------------------------------------------------------------
def test_predict_mode_asks_about_refresh_ahead_and_the_warm_ups_expiries(lab_for):
    from strategies.quiz import question_for

    asked = {}
    for slug in ("refresh-ahead", "expiry-spike", "ttl-jitter"):
        run = run_scenario(find("cache-aside", slug), lab_for("cache-aside"))
        for step in run.steps:
            question = question_for("cache-aside", step, run.lab.request(run.scenes[0].number_of(step)))
            if question.kind in ("refresh", "expiry"):
                asked.setdefault(slug, []).append(question.choices[question.answer])
    assert asked["refresh-ahead"] == ["It hands a refresh to the background; this reader already has its value",
                                      "Nothing more: a refresh of it is already on its way"]
    assert asked["expiry-spike"] == ["All in the same moment, one TTL from now"]
    assert asked["ttl-jitter"] == ["Each at its own moment, within the TTL's jitter"]


def test_an_export_of_a_thousand_readers_shows_each_long_scene_at_its_start_and_end(lab_for):
    from strategies.export import SCENE_FRAMES, frames

    run = run_scenario(find("cache-aside", "expiry-spike"), lab_for("cache-aside"))
    shown = frames(run.lab.topology, run.scenes)
    sizes = [len(scene.steps) for scene in run.scenes]
    assert len(shown) == sum(min(size, SCENE_FRAMES) for size in sizes) < 100
    assert all(frame.total == len(run.steps) for frame in shown)
    indexes = [frame.index for frame in shown]
    assert indexes[:7] == [1, 2, 3, 4, 5, 6, 7] and indexes[-1] == len(run.steps), "each frame its true step number"
