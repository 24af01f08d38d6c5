"""Guided scenarios: each one runs on fakeredis and on a real Redis, is deterministic, covers every step it
recorded exactly once across its scenes, leaves the lab's tables equal to what Redis and SQLite hold,
and proves its teaching point with the numbers it recorded."""

from __future__ import annotations

import time

import pytest
from core_support import TTL_TOLERANCE, mismatches, runnable_lab

from lab_ui.text import ui_text
from strategies.features.early_refresh import REFRESHER
from strategies.features.flusher import FLUSHER
from strategies.features.near_cache import INSTANCE_ITSELF
from strategies.scenario import ScenarioRun, run_scenario, scenario_texts
from strategies.scenarios import CATALOGUE, NEW, OLD, SCENARIOS, find, runs_on

pytestmark = pytest.mark.cluster       # the `cache` tests run on a Redis Cluster too (conftest.py)

# Every scenario on every page it runs on (a slug may run on several: cache-aside and read-through).
CASES = [pytest.param(scenario.pattern, scenario.slug, id=f"{scenario.pattern}:{scenario.slug}")
         for scenario in CATALOGUE]
# The scenarios that run on both read pages (cache-aside and read-through): expiry storms, near caches, a full cache.
BOTH_READ_PAGES = {"expiry-spike", "ttl-jitter", "refresh-ahead", "xfetch-early-recompute", "stampede-compare",
                   "near-cache-stale", "near-cache-pubsub", "pubsub-missed-invalidation", "near-cache-tracking",
                   "lru-scan-pollution", "lfu-keeps-hot-keys", "noeviction-oom"}
REQUIRED = {
    "cache-aside": {"cold-then-warm", "invalidate-on-write", "stale-set-race", "stale-set-race-leases", "stampede",
                    "stampede-leases", "cache-down-fallback", "negative-caching", "negative-caching-race",
                    "negative-caching-race-leases", "near-cache-stale", "near-cache-pubsub",
                    "pubsub-missed-invalidation", "near-cache-tracking"},
    "read-through": {"loader-on-miss", "ttl-expiry-reload"},
    "write-through": {"write-latency", "db-down-naive", "db-down-safe", "cache-pollution"},
    "write-behind": {"coalescing", "reporting-query", "db-outage-retry", "cache-crash-loss", "queue-full"},
}
# A cache that is full (features/eviction.py): its scenarios, by the slugs teachers link to.
REQUIRED["cache-aside"] |= {"lru-scan-pollution", "lfu-keeps-hot-keys", "noeviction-oom"}
REQUIRED["write-through"] |= {"noeviction-oom-write-through"}
REQUIRED["write-behind"] |= {"write-behind-volatile-oom", "write-behind-evicted-read-your-writes"}


def run(make_lab, slug: str) -> ScenarioRun:
    scenario = SCENARIOS[slug]
    return run_scenario(scenario, runnable_lab(scenario, make_lab(scenario.pattern)))


def signature(result: ScenarioRun) -> list[tuple]:
    return [(step.client, step.source, step.target, step.action, step.key, step.value, step.outcome, step.command,
             round(step.at_ms, 3)) for step in result.steps]


def test_every_required_scenario_exists_on_its_page():
    for pattern, slugs in REQUIRED.items():
        assert {scenario.slug for scenario in runs_on(pattern)} >= slugs
    for pattern in ("cache-aside", "read-through"):
        assert {scenario.slug for scenario in runs_on(pattern)} >= BOTH_READ_PAGES
        assert all(find(pattern, slug).pattern == pattern for slug in BOTH_READ_PAGES)


@pytest.mark.parametrize(("pattern", "slug"), CASES)
def test_scenario_is_deterministic_complete_and_true_to_the_tables(make_lab, pattern, slug):
    started = time.monotonic()
    scenario = find(pattern, slug)
    first = run_scenario(scenario, runnable_lab(scenario, make_lab(pattern)))
    lab = first.lab
    assert first.scenes and all(scene.steps for scene in first.scenes)
    # Every step the lab recorded during the run is on exactly one frame, in the order performed.
    assert [step.seq for step in first.steps] == [step.seq for step in lab.history]
    # Redis's TTLs run on the wall clock, the lab's on the simulated one, which stands still between the script's
    # last fast-forward and now: they may be as far apart as the run took (a long scenario on a loaded machine).
    assert not mismatches(lab.live(), lab.read_real_state(), tolerance=max(TTL_TOLERANCE,
                                                                           time.monotonic() - started))
    for scene in first.scenes:
        assert set(scene.numbers) <= set(lab.log)
        assert all(scene.number_of(step) in scene.numbers for step in scene.steps)
        assert all(0 <= index < len(scene.steps) for index, _ in scene.captions)
    assert first.scenes[0].caption_at(0), "the first step of a scenario says what is happening"
    summary = first.what_you_saw
    assert summary and "{" not in summary
    again = run_scenario(first.scenario, lab)          # the same lab, reset: exactly the same steps
    assert signature(again) == signature(first)
    assert again.what_you_saw == summary
    assert lab.cache_down is False and lab.db.down is False, "a scenario's faults end with it"
    # What the lab's parts did by themselves (a flush, a refresh, a near copy running out, an instance's connection
    # lost or back) is announced on the page by its "<operation>-ran" text.
    for trace in lab.log.values():
        if trace.client in (FLUSHER, REFRESHER, INSTANCE_ITSELF):
            assert f"{trace.operation}-ran" in ui_text(), trace.operation


def test_every_scenario_has_its_texts():
    texts = scenario_texts()
    for scenario in CATALOGUE:
        assert {"title", "intro", "summary"} <= set(texts[scenario.section]), scenario.slug


def test_a_scenario_starts_from_the_same_place_whatever_the_learner_did(make_lab):
    lab = make_lab("cache-aside")
    lab.ttl_seconds = 5
    lab.write("user:1", "something else")
    lab.read("user:2")
    lab.cache_down = True
    clean = run_scenario(SCENARIOS["stale-set-race"], lab)
    other = run_scenario(SCENARIOS["stale-set-race"], make_lab("cache-aside", namespace=lab.namespace + "x:"))
    assert signature(clean) == signature(other)
    assert lab.ttl_seconds == 60


# ---- the teaching points ---------------------------------------------------------------------------------
def test_stale_set_race_leaves_the_cache_older_than_the_database(make_lab):
    result = run(make_lab, "stale-set-race")
    state = result.lab.live()
    assert state.cache["user:1"].value == OLD and state.db["user:1"].value == NEW
    race = result.scenes[0]
    assert set(race.clients) == {"A", "B"}
    # B's write lands between A's database read and A's fill.
    actions = [(step.client, step.action) for step in race.steps]
    assert actions.index(("B", "UPSERT")) < actions.index(("A", "SET"))
    assert actions.index(("A", "SELECT")) < actions.index(("B", "UPSERT"))
    reader_c = [trace for trace in result.traces if trace.client == "C"][0]
    assert reader_c.hit and reader_c.value == OLD and reader_c.stale
    assert result.lab.counters.stale_reads == 1


def test_stale_set_race_with_leases_never_fills_a_stale_value(make_lab):
    result = run(make_lab, "stale-set-race-leases")
    state = result.lab.live()
    item = state.cache.get("user:1")
    assert item is None or item.value == state.db["user:1"].value == NEW
    assert result.lab.counters.stale_reads == 0
    fills = [step.note[0] for step in result.steps if step.client == "A" and step.action == "SET"]
    assert fills == ["lease-fill-refused"], "A's late fill is refused"
    assert result.figures["refused"] == 1


@pytest.mark.parametrize(("slug", "selects"), [("stampede", 5), ("stampede-leases", 1)])
def test_stampede_database_reads(make_lab, slug, selects):
    result = run(make_lab, slug)
    herd = result.scenes[-1]
    assert set(herd.clients) == {"A", "B", "C", "D", "E"}
    assert sum(step.action == "SELECT" for step in herd.steps) == selects
    readers = [result.lab.request(number) for number in herd.numbers]
    assert len(readers) == 5 and all(trace.ok and trace.value == OLD for trace in readers)
    # A long herd is captioned as it unfolds: a caption starts at the first step of what it describes.
    starts = [index for index, _ in herd.captions]
    assert len(starts) >= 3 and starts == sorted(set(starts))
    firsts = {"stampede": ["GET", "SELECT", "SET"], "stampede-leases": ["GET", "LEASE", "SET", "LEASE"]}[slug]
    assert [herd.steps[index].action for index in starts] == firsts


def test_cache_down_fallback_reads_around_the_cache_and_then_serves_the_missed_invalidation(make_lab):
    result = run(make_lab, "cache-down-fallback")
    reads = [trace for trace in result.traces if trace.operation == "read"]
    assert reads[1].degraded and reads[1].ok and reads[1].value == "Alan Turing"
    write = next(trace for trace in result.traces if trace.operation == "write")
    assert write.ok and write.degraded and result.lab.live().db["user:1"].value == NEW
    assert reads[2].hit and reads[2].value == OLD and reads[2].stale      # the invalidation never arrived
    assert reads[3].value == NEW and not reads[3].stale                   # the TTL ended it


def test_negative_caching_spares_the_database(make_lab):
    result = run(make_lab, "negative-caching")
    absent = [trace for trace in result.traces if trace.operation == "read" and trace.key == "user:404"]
    assert [trace.db_calls > 0 for trace in absent] == [True, False, False, True, True]
    assert absent[-1].value == "Hedy Lamarr"


def test_loader_on_miss_keeps_the_app_away_from_the_database(make_lab):
    result = run(make_lab, "loader-on-miss")
    assert not [step for step in result.steps if step.source == "App" and step.target == "Database"]
    assert result.count(action="SELECT") == 1
    assert [trace.hit for trace in result.traces] == [False, True]


def test_ttl_expiry_reload(make_lab):
    result = run(make_lab, "ttl-expiry-reload")
    reads = [trace for trace in result.traces if trace.operation == "read"]
    assert [trace.hit for trace in reads] == [False, True, False]
    assert result.count(action="EXPIRE") == 1


def test_write_latency_is_measured_against_a_cache_aside_write(make_lab):
    result = run(make_lab, "write-latency")
    fields = result.figures
    costs = result.lab.costs
    assert fields["wt_write"] == costs.db_write_ms + 2 * costs.cache_ms      # the hand-over, the UPSERT, the SET
    assert fields["ca_write"] == costs.db_write_ms + costs.cache_ms          # the UPSERT, the DEL
    assert fields["wt_hit"] == "a hit" and fields["ca_hit"] == "a miss"
    assert fields["ca_read"] > fields["wt_read"]
    assert not [name for name in result.lab.cache.scan_iter(match=result.lab.namespace + "beside:*")]


@pytest.mark.parametrize(("slug", "agree"), [("db-down-naive", False), ("db-down-safe", True)])
def test_write_through_with_the_database_down(make_lab, slug, agree):
    result = run(make_lab, slug)
    write, read = result.traces[0], result.traces[1]
    assert not write.ok
    state = result.lab.live()
    assert state.db["user:1"].value == OLD
    assert (state.cache["user:1"].value == OLD) is agree
    assert read.value == (OLD if agree else NEW) and read.stale is not agree


def test_cache_pollution_crowds_the_read_key_out_of_a_full_cache(make_lab):
    result = run(make_lab, "cache-pollution")
    evicted = [step.key for step in result.steps if step.action == "EVICT"]
    assert "user:1" in evicted and evicted.index("user:1") == 0, "the key people read goes before any import"
    reads = result.of("read")
    assert [trace.hit for trace in reads] == [False, True, False]
    state = result.lab.live()
    assert sum(key.startswith("import:") for key in state.cache) == result.figures["unread"] >= 1
    assert result.lab.eviction.used() <= result.lab.maxmemory


def test_coalescing_many_writes_one_database_write_per_key(make_lab):
    result = run(make_lab, "coalescing")
    assert sum(trace.operation == "write" for trace in result.traces) == 7
    assert result.lab.counters.db_writes == 3
    assert result.lab.live().db["user:1"].value == "draft 5"


def test_reporting_query_sees_the_database_lag(make_lab):
    result = run(make_lab, "reporting-query")
    reports = [trace for trace in result.traces if trace.operation == "report"]
    assert reports[0].value == OLD and reports[0].stale
    assert reports[1].value == NEW and not reports[1].stale
    read = next(trace for trace in result.traces if trace.operation == "read")
    assert read.value == NEW


def test_db_outage_retry_loses_nothing(make_lab):
    result = run(make_lab, "db-outage-retry")
    writes = [trace for trace in result.traces if trace.operation == "write"]
    assert writes and all(trace.ok for trace in writes)
    assert result.count(action="UPSERT", outcome="error") >= 2      # retried, with backoff
    state = result.lab.live()
    for trace in writes:                                            # every acknowledged write landed
        assert state.db[trace.key].value == trace.value
    assert not state.queue and result.lab.counters.lost_writes == 0
    assert result.figures["peak"] == 3


def test_cache_crash_loss_counts_what_was_queued(make_lab):
    result = run(make_lab, "cache-crash-loss")
    crash = next(trace for trace in result.traces if trace.operation == "crash")
    queued_then = [trace for trace in result.traces if trace.operation == "write" and trace.ok]
    assert len(crash.lost) == len(queued_then) == 3
    assert result.lab.counters.lost_writes == 3
    assert result.lab.live().db["user:1"].value == OLD


def test_queue_full_refuses_and_never_loses_silently(make_lab):
    result = run(make_lab, "queue-full")
    writes = [trace for trace in result.traces if trace.operation == "write"]
    refused = [trace for trace in writes if not trace.ok]
    assert len(refused) == 1 and refused[0].key == "product:42" and "full" in refused[0].error
    assert not any(step.action == "REPLY" and step.command == "OK (queued)" for step in refused[0].steps)
    assert result.lab.counters.lost_writes == 0
    state = result.lab.live()
    accepted = [trace for trace in writes if trace.ok]
    for trace in accepted:                  # every acknowledged write is either in the DB or still queued
        latest = state.latest(trace.key)
        assert latest is not None
    assert state.latest("product:42") == "Espresso machine, 179.00 EUR"   # the retry after the flush went through


def test_a_read_racing_a_create_hides_the_new_row_until_the_marker_expires(make_lab):
    result = run(make_lab, "negative-caching-race")
    actions = [(step.client, step.action, step.note[0]) for step in result.scenes[0].steps]
    assert actions.index(("A", "SELECT", "db-select")) < actions.index(("B", "UPSERT", "db-upsert"))
    assert actions.index(("B", "DEL", "cache-del-nothing")) < actions.index(("A", "SET", "cache-aside-negative-set"))
    hidden, found = [trace for trace in result.of("read") if trace.client == "C"]
    assert hidden.hit and hidden.value is None and hidden.db_calls == 0, "the marker answered for a row that exists"
    assert result.lab.live().db["user:404"].value == "Hedy Lamarr"
    assert found.value == "Hedy Lamarr"


def test_with_leases_the_racing_not_found_is_refused(make_lab):
    result = run(make_lab, "negative-caching-race-leases")
    assert result.count(note="lease-fill-refused") == 1
    assert all(trace.value == "Hedy Lamarr" for trace in result.of("read") if trace.client == "C")


def test_two_write_through_writers_leave_the_older_value_cached(make_lab):
    result = run(make_lab, "write-through-two-writers")
    actions = [(step.client, step.action) for step in result.scenes[0].steps]
    assert actions.index(("A", "UPSERT")) < actions.index(("B", "UPSERT")) < actions.index(("B", "SET")) \
        < actions.index(("A", "SET"))
    state = result.lab.live()
    assert state.db["user:1"].value == "Ada Byron" and state.cache["user:1"].value == NEW
    assert result.of("read")[-1].stale


def test_a_cache_failing_after_the_commit_fails_the_write_that_committed(make_lab):
    result = run(make_lab, "cache-fails-mid-write")
    write = result.of("write")[0]
    assert not write.ok and write.steps[-1].action == "SET" and write.steps[-1].failed
    assert result.lab.live().db["user:1"].value == NEW
    stale, fresh = result.of("read")[1:]
    assert stale.hit and stale.value == OLD and stale.stale and fresh.value == NEW
