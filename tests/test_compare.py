"""The Compare page's core: one seeded workload through the four patterns' real code, and what it measures.

Small workloads (a few hundred requests): the numbers are exact for a seed, so the tests state invariants
(write-through writes every write, coalescing saves rows, a crash loses what was queued…) rather than
figures. Nothing here depends on timing.
"""

from __future__ import annotations

import dataclasses
from collections import Counter

import pytest

from strategies import PATTERNS
from strategies.compare import by_policy, new_lab, peaks, percentile, run_compare, run_pattern
from strategies.compare_summary import listed, policy_summary, say, summary, templates, times
from strategies.compare_workload import Operation, Workload, WorkloadError, key_name, make_operations
from strategies.features.policies import POLICIES

SMALL = Workload(requests=600, keys=50, seed=7)
K = key_name(0)


def without_timing(result) -> list[dict]:
    return [{name: value for name, value in dataclasses.asdict(r).items() if name != "seconds"}
            for r in result.results]


@pytest.fixture(scope="module")
def small():
    return run_compare(SMALL)


@pytest.fixture(scope="module")
def by(small):
    return small.by_pattern()


# ---- the workload ----------------------------------------------------------------------------------------
def test_the_same_seed_gives_the_same_operations_and_numbers(small):
    assert make_operations(SMALL) == make_operations(SMALL)
    assert make_operations(SMALL) != make_operations(dataclasses.replace(SMALL, seed=8))
    again = run_compare(SMALL)
    assert without_timing(again) == without_timing(small)
    assert [s.text for s in again.sentences] == [s.text for s in small.sentences]


def test_operations_follow_the_knobs():
    ops = make_operations(Workload(requests=5_000, keys=20, read_ratio=0.7, popularity="uniform", seed=1))
    assert len(ops) == 5_000
    reads = sum(op.value is None for op in ops)
    assert 0.66 < reads / len(ops) < 0.74
    assert {op.key for op in ops} == {key_name(n) for n in range(20)}
    assert all(op.value is None or op.value == f"v{number}" for number, op in enumerate(ops))   # every value new
    zipf = Counter(op.key for op in make_operations(Workload(requests=5_000, keys=20, zipf_exponent=1.5)))
    uniform = Counter(op.key for op in ops)
    assert zipf.most_common(1)[0][0] == K                     # rank 1 is the hottest key
    assert zipf[K] > 3 * uniform[K]


def test_every_pattern_ran_the_same_requests(by):
    assert set(by) == set(PATTERNS)
    assert {(r.reads, r.writes) for r in by.values()} == {(SMALL.requests - by["cache-aside"].writes,
                                                            by["cache-aside"].writes)}
    assert all(r.failed == 0 and r.lost_writes == 0 and r.stale_reads == 0 for r in by.values())


# ---- invariants of the patterns ---------------------------------------------------------------------------
def test_synchronous_patterns_write_every_write_to_the_database(by):
    for pattern in ("cache-aside", "read-through", "write-through"):
        assert by[pattern].db_writes == by[pattern].writes > 0


def test_write_behind_with_coalescing_writes_fewer_rows_and_without_as_many():
    coalesced = run_pattern("write-behind", SMALL)
    assert coalesced.db_writes < coalesced.writes
    plain = run_pattern("write-behind", dataclasses.replace(SMALL, coalesce=False))
    assert plain.db_writes == plain.writes == coalesced.writes


def test_write_behind_queue_is_writes_at_risk(by):
    behind = by["write-behind"]
    assert behind.queue_depth and behind.queue_depth[-1][0] == SMALL.requests
    assert 0 < behind.max_queue < SMALL.batch_size       # a full batch is flushed by the write that filled it
    assert behind.max_queue == max(depth for _, depth in behind.queue_depth)
    assert all(not by[p].queue_depth and by[p].max_queue == 0 for p in ("cache-aside", "read-through",
                                                                         "write-through"))


def test_updating_the_cache_on_write_keeps_more_hits_than_invalidating(by):
    assert by["write-through"].hit_ratio > by["cache-aside"].hit_ratio
    assert by["cache-aside"].hits == by["read-through"].hits         # the same reads, the same misses


def test_cache_aside_hit_ratio_grows_with_zipf_skew():
    base = Workload(requests=1_000, keys=5_000, read_ratio=0.95, seed=3)
    ratios = [run_pattern("cache-aside", dataclasses.replace(base, **knobs)).hit_ratio
              for knobs in ({"popularity": "uniform"}, {"zipf_exponent": 0.6}, {"zipf_exponent": 1.2},
                            {"zipf_exponent": 2.0})]
    assert ratios == sorted(ratios) and ratios[0] < ratios[-1] - 0.3


def test_latency_is_what_the_caller_waited(by):
    assert by["write-behind"].write_p50 == 1.0                      # one script, acknowledged at once
    assert by["write-through"].write_p50 == 2.0 + 2 * SMALL.db_latency_ms   # the hand-over, the UPSERT, the SET
    assert by["cache-aside"].read_p50 == 1.0                         # mostly hits
    assert by["cache-aside"].read_p95 == 1.0 + SMALL.db_latency_ms + 1.0   # a miss: GET, SELECT, SET


# ---- faults ----------------------------------------------------------------------------------------------
def test_a_database_outage_fails_the_patterns_that_need_the_database():
    outage = dataclasses.replace(SMALL, fault="db-outage", fault_at=200, fault_length=150)
    by = run_compare(outage).by_pattern()
    for pattern in ("cache-aside", "read-through", "write-through"):
        assert by[pattern].failed_in_window > 0
        assert by[pattern].failed == by[pattern].failed_in_window   # nothing fails outside the window
        assert by[pattern].failed_writes > 0
    behind = by["write-behind"]
    assert behind.failed_writes == 0                   # acknowledged and queued meanwhile
    assert behind.max_queue >= SMALL.batch_size        # the queue grew while the flusher could not write
    assert behind.lost_writes == 0 and behind.db_writes > 0


def test_a_cache_crash_loses_write_behinds_queued_writes():
    crash = dataclasses.replace(SMALL, requests=400, fault="cache-crash", fault_at=300, batch_size=50,
                                max_delay_seconds=600)
    by = run_compare(crash).by_pattern()
    behind = by["write-behind"]
    queued = dict(behind.queue_depth)                  # one point per request here (400 <= DEPTH_POINTS)
    assert behind.lost_writes == queued[300] > 0       # what waited after request 300, the last before the crash
    assert queued[301] <= 1                            # the queue restarted empty
    assert behind.stale_reads > 0
    assert all(by[p].lost_writes == 0 and by[p].stale_reads == 0 for p in by if p != "write-behind")


def test_cache_down_fails_the_patterns_that_need_the_cache():
    down = dataclasses.replace(SMALL, fault="cache-down", fault_at=100, fault_length=100)
    by = run_compare(down).by_pattern()
    assert by["cache-aside"].failed == 0                       # it reads around the cache
    assert by["read-through"].failed_reads == by["read-through"].failed_in_window > 0
    assert by["write-through"].failed_in_window == by["write-behind"].failed_in_window == 100


# ---- stale reads, precisely --------------------------------------------------------------------------------
ONE_KEY = Workload(requests=100, keys=1, fault="cache-crash", fault_at=1)


def test_a_read_after_a_lost_write_is_stale():
    ops = [Operation(K, "a"), Operation(K, None), Operation(K, None)]   # the crash comes before the first read
    result = run_pattern("write-behind", dataclasses.replace(ONE_KEY, max_delay_seconds=600), ops)
    assert result.lost_writes == 1
    assert result.stale_reads == 2                     # both read "seed 0"; "a" was the last acknowledged write


def test_a_read_of_the_queued_write_is_not_stale():
    ops = [Operation(K, "a"), Operation(K, None)]
    result = run_pattern("write-behind", dataclasses.replace(ONE_KEY, fault="none"), ops)
    assert result.stale_reads == 0 and result.db_writes == 1     # the final drain wrote it


def test_a_failed_invalidation_leaves_a_stale_value_and_a_failed_write_does_not():
    ops = [Operation(K, None), Operation(K, "b"), Operation(K, None), Operation(K, None)]
    down = Workload(requests=100, keys=1, fault="cache-down", fault_at=1, fault_length=1)
    aside = run_pattern("cache-aside", down, ops)
    assert (aside.failed, aside.stale_reads) == (0, 2)   # "b" committed, the DEL failed: "seed 0" is served
    through = run_pattern("write-through", down, ops)
    assert (through.failed_writes, through.stale_reads) == (1, 0)   # never acknowledged, so "seed 0" is right


def test_a_failed_read_is_never_stale():
    ops = [Operation(K, None), Operation(K, None)]
    result = run_pattern("read-through", Workload(requests=100, keys=1, fault="cache-down", fault_at=0,
                                                  fault_length=1), ops)
    assert (result.failed_reads, result.stale_reads, result.hits) == (1, 0, 0)


# ---- helpers ---------------------------------------------------------------------------------------------
def test_percentile_is_nearest_rank():
    assert percentile([], 50) is None
    assert percentile([7.0], 95) == 7.0
    assert percentile([4, 1, 3, 2], 50) == 2
    assert percentile(list(range(1, 21)), 95) == 19
    assert percentile(list(range(1, 21)), 100) == 20


def test_peaks_keep_the_highest_of_each_bucket():
    assert peaks([0, 5, 1, 0, 2, 9, 0], points=3) == ((3, 5), (6, 9), (7, 0))
    assert peaks(list(range(10)), points=100) == tuple((n + 1, n) for n in range(10))
    assert peaks([]) == ()


def test_progress_reports_rising_fractions_to_one():
    seen = []
    run_compare(dataclasses.replace(SMALL, requests=200), progress=lambda fraction, text: seen.append((fraction, text)))
    fractions = [fraction for fraction, _ in seen]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0 and len(seen) > 8
    assert any("Write-behind" in text for _, text in seen)


# ---- bad knobs -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("knobs, said", [
    ({"requests": 99}, "bad-requests"),
    ({"read_ratio": 1.5}, "bad-read-ratio"),
    ({"keys": 0}, "bad-keys"),
    ({"zipf_exponent": 0}, "bad-zipf"),
    ({"ttl_seconds": 0}, "bad-ttl"),
    ({"batch_size": 0}, "bad-batch"),
    ({"gap_ms": -1}, "bad-times"),
    ({"fault": "db-outage", "fault_at": 600}, "bad-fault-at"),
    ({"fault": "cache-down", "fault_at": 500, "fault_length": 101}, "bad-fault-window"),
    ({"fault": "db-outage", "fault_at": 0, "fault_length": 0}, "bad-fault-window"),
])
def test_bad_knobs_say_why_and_do_not_run(knobs, said):
    workload = dataclasses.replace(SMALL, **knobs)
    problems = workload.problems()
    assert len(problems) == 1 and problems[0].split("{")[0][:20] == templates()[said].split("{")[0][:20]
    with pytest.raises(WorkloadError) as raised:
        run_compare(workload)
    assert list(raised.value.args) == problems


def test_good_knobs_have_no_problems():
    assert SMALL.problems() == []
    assert dataclasses.replace(SMALL, fault="cache-crash", fault_at=599, fault_length=0).problems() == []
    assert dataclasses.replace(SMALL, fault="cache-down", fault_at=500, fault_length=100).problems() == []
    assert Workload(**SMALL.as_dict()) == SMALL


# ---- the summary states this run's numbers ---------------------------------------------------------------
def sentence(result, name: str):
    found = [s for s in result.sentences if s.id == name]
    assert len(found) == 1, (name, [s.id for s in result.sentences])
    return found[0]


def test_summary_write_sentences_match_the_numbers(small, by):
    behind, through = by["write-behind"], by["write-through"]
    said = sentence(small, "wb-fewer-writes")
    assert said.fields["wb"] == f"{behind.db_writes:,}" and said.fields["wt"] == f"{through.db_writes:,}"
    assert said.fields["risk"] == behind.max_queue
    assert float(said.fields["factor"]) == round(through.db_writes / behind.db_writes, 1)
    assert f"{said.fields['factor']}× fewer database writes" in said.text
    assert f"up to {behind.max_queue} acknowledged writes at risk" in said.text
    fast = sentence(small, "wb-faster-writes")
    assert fast.fields["wb"] == f"{behind.write_p50:g}" and fast.fields["wt"] == f"{through.write_p50:g}"


def test_summary_hit_sentence_names_the_best_and_the_worst(small, by):
    said = sentence(small, "hit-best-updates")       # the best updates the cache on writes, the worst deletes
    ratios = {r.title: r.hit_ratio for r in by.values()}
    assert said.fields["best"] in ("Write-through", "Write-behind")
    assert said.fields["worst"] in ("Cache-aside", "Read-through")
    assert ratios[said.fields["best"]] == max(ratios.values())
    assert ratios[said.fields["worst"]] == min(ratios.values())
    assert f"({round(max(ratios.values()) * 100)} %)" in said.text
    assert sentence(small, "no-stale").text == say("no-stale")
    assert "{" not in " ".join(s.text for s in small.sentences)


def test_summary_of_faults_states_their_numbers():
    crash = run_compare(dataclasses.replace(SMALL, fault="cache-crash", fault_at=300, batch_size=50,
                                            max_delay_seconds=600))
    behind = crash.by_pattern()["write-behind"]
    lost = sentence(crash, "crash-lost")
    assert lost.fields == {"at": 301, "lost": f"{behind.lost_writes:,}", "who": "Write-behind",
                           "stale": f"{behind.stale_reads:,}"}
    assert f"lost **{behind.lost_writes} acknowledged writes** of Write-behind" in lost.text
    stale = sentence(crash, "stale")
    assert f"Write-behind {behind.stale_reads:,} (" in stale.text

    outage = run_compare(dataclasses.replace(SMALL, fault="db-outage", fault_at=200, fault_length=150))
    said = sentence(outage, "outage-db")
    for r in outage.results:
        assert f"{r.title} {r.failed_in_window:,}" in said.fields["parts"]
    fewest = min(outage.results, key=lambda r: r.failed_in_window)
    assert said.fields["best_failed"] == f"{fewest.failed_in_window:,}"
    assert sentence(outage, "outage-db-queue").fields["risk"] == outage.by_pattern()["write-behind"].max_queue


def test_advice_is_given_only_when_the_numbers_back_it():
    down = run_compare(dataclasses.replace(SMALL, fault="cache-down", fault_at=100, fault_length=100))
    aside = down.by_pattern()["cache-aside"]
    pick = sentence(down, "pick-cache-aside")
    assert pick.fields["failed"] == f"{aside.failed_in_window:,}"
    assert not [s for s in summary(SMALL, run_compare(SMALL).results) if s.id == "pick-cache-aside"]
    no_writes = run_compare(dataclasses.replace(SMALL, read_ratio=1.0))
    ids = [s.id for s in no_writes.sentences]
    assert "no-db-writes" in ids and "pick-write-behind" not in ids and "wb-fewer-writes" not in ids


def test_without_coalescing_the_summary_does_not_credit_coalescing():
    crash = run_compare(dataclasses.replace(SMALL, coalesce=False, fault="cache-crash", fault_at=300,
                                            batch_size=50, max_delay_seconds=600))
    behind, through = crash.by_pattern()["write-behind"], crash.by_pattern()["write-through"]
    said = sentence(crash, "wb-plain-writes")
    assert behind.db_writes == behind.writes - behind.lost_writes < through.db_writes   # lost, not coalesced
    assert said.fields == {"wb": f"{behind.db_writes:,}", "wt": f"{through.db_writes:,}", "risk": behind.max_queue,
                           "lost": f"{behind.lost_writes:,}"}
    assert "wb-fewer-writes" not in [s.id for s in crash.sentences]


def test_with_coalescing_and_a_crash_the_summary_does_not_credit_coalescing_for_lost_rows():
    crash = run_compare(dataclasses.replace(SMALL, fault="cache-crash", fault_at=300, batch_size=50,
                                            max_delay_seconds=600))
    behind, through = crash.by_pattern()["write-behind"], crash.by_pattern()["write-through"]
    assert behind.lost_writes > 0 and behind.coalesced_writes > 0
    ids = [s.id for s in crash.sentences]
    assert "wb-fewer-writes" not in ids, "fewer rows because of the crash are not coalescing's saving"
    said = sentence(crash, "wb-fewer-writes-lost")
    assert said.fields == {"wb": f"{behind.db_writes:,}", "wt": f"{through.db_writes:,}",
                           "coalesced": f"{behind.coalesced_writes:,}", "lost": f"{behind.lost_writes:,}"}
    assert "never reached the database" in said.text
    pick = [s for s in crash.sentences if s.id == "pick-write-behind"]
    if pick:                                           # its factor counts the lost writes as rows still owed
        assert pick[0].fields["factor"] == times(through.db_writes, behind.db_writes + behind.lost_writes)


def test_when_write_through_failed_writes_the_summary_does_not_say_nothing_was_coalesced():
    """A database outage: write-through's failed writes wrote no row, so write-behind wrote as many rows as it
    although it coalesced writes. "No key was written twice while it waited" would be false."""
    outage = run_compare(dataclasses.replace(SMALL, keys=200, fault="db-outage", fault_at=200, fault_length=150,
                                             seed=1))
    behind, through = outage.by_pattern()["write-behind"], outage.by_pattern()["write-through"]
    assert behind.coalesced_writes > 0 and through.failed_writes > 0 and behind.db_writes >= through.db_writes
    ids = [s.id for s in outage.sentences]
    assert "wb-same-writes" not in ids and "wb-fewer-writes" not in ids
    said = sentence(outage, "wb-not-fewer-writes")
    assert said.fields == {"wb": f"{behind.db_writes:,}", "wt": f"{through.db_writes:,}",
                           "coalesced": f"{behind.coalesced_writes:,}", "failed": f"{through.failed_writes:,}",
                           "risk": behind.max_queue}


# ---- memory, expiry and near-cache knobs (issue 18) ----------------------------------------------------------
EXPIRING = Workload(requests=3_000, keys=40, popularity="uniform", read_ratio=1.0, ttl_seconds=5, gap_ms=5, seed=3)
PART_KNOBS = ("ttl_jitter", "refresh_ahead", "xfetch_beta", "near_ttl", "near_invalidation")


def test_part_knobs_reach_only_the_patterns_whose_page_has_them():
    workload = dataclasses.replace(SMALL, ttl_jitter=20, refresh_ahead=0.5, xfetch_beta=1.0, app_instances=2,
                                   near_ttl=15, near_invalidation="pubsub")
    for pattern in PATTERNS:
        lab = new_lab(pattern, workload)
        has = {knob.attribute for knob in lab.page_knobs()}
        for attribute in PART_KNOBS:
            if attribute in has:          # set as the page would set it
                assert getattr(lab, attribute) == workload.part_knobs()[attribute], (pattern, attribute)
        lab.db.close()
    took = {r.pattern: set(r.took) for r in run_compare(workload).results}
    assert took["write-behind"] == set(), "write-behind composes none of these parts"
    assert took["cache-aside"] == took["read-through"] == took["write-through"] == set(PART_KNOBS)
    one = new_lab("cache-aside", dataclasses.replace(workload, app_instances=1))
    assert one.near_ttl is None, "one app instance: no near cache"
    one.db.close()


def test_database_reads_per_second_add_up_to_the_database_reads(by):
    for result in by.values():
        seconds = [second for second, _ in result.db_reads_per_second]
        assert seconds == list(range(len(seconds))), "every second from 0, zeros included"
        assert sum(count for _, count in result.db_reads_per_second) == result.db_reads
        assert result.db_reads_per_second[-1][1] > 0


def peak_after_warm_up(result) -> int:
    return max(count for second, count in result.db_reads_per_second if second >= 2)


def test_ttl_jitter_spreads_the_expiry_spike_over_time():
    """40 keys warmed up in the first second expire together 5 s later; ±50 % jitter spreads their expiries."""
    plain = run_pattern("cache-aside", EXPIRING)
    spread = run_pattern("cache-aside", dataclasses.replace(EXPIRING, ttl_jitter=50))
    assert peak_after_warm_up(plain) >= 25 and dict(plain.db_reads_per_second)[5] == peak_after_warm_up(plain)
    assert peak_after_warm_up(spread) < peak_after_warm_up(plain) / 2
    behind = run_pattern("write-behind", dataclasses.replace(EXPIRING, ttl_jitter=50))
    assert behind.db_reads_per_second == run_pattern("write-behind", EXPIRING).db_reads_per_second, \
        "write-behind has no jitter: the same run"


def test_refresh_ahead_keeps_hot_keys_cached_through_their_expiry():
    plain = run_pattern("read-through", EXPIRING)
    ahead = run_pattern("read-through", dataclasses.replace(EXPIRING, refresh_ahead=0.5))
    assert ahead.hit_ratio > plain.hit_ratio


def test_two_app_instances_serve_stale_near_copies_unless_told_of_writes():
    two = dataclasses.replace(SMALL, app_instances=2, near_ttl=30)
    unaware = run_compare(two).by_pattern()
    told = run_compare(dataclasses.replace(two, near_invalidation="pubsub")).by_pattern()
    for pattern in ("cache-aside", "read-through", "write-through"):
        assert unaware[pattern].stale_reads > 0 and told[pattern].stale_reads == 0, pattern
    assert unaware["write-behind"].stale_reads == told["write-behind"].stale_reads == 0
    said = sentence(run_compare(two), "knobs-taken")
    assert said.fields["takers"] == "Cache-aside, Read-through and Write-through"
    assert said.fields["others"] == "Write-behind"


LIMITED = dataclasses.replace(SMALL, maxmemory=2_500, maxmemory_policy="allkeys-lru")


def test_a_memory_limit_evicts_and_noeviction_refuses():
    evicting = run_compare(LIMITED)
    assert all(r.evictions > 0 and r.refused == 0 for r in evicting.results)
    said = sentence(evicting, "memory-evicted")
    assert said.fields["parts"] == ", ".join(f"{r.title} {r.evictions:,}" for r in evicting.results)
    refusing = run_compare(dataclasses.replace(LIMITED, maxmemory_policy="noeviction"))
    assert all(r.evictions == 0 and r.refused > 0 for r in refusing.results)
    assert sentence(refusing, "memory-refused").fields["policy"] == "noeviction"
    roomy = run_compare(dataclasses.replace(LIMITED, maxmemory=1_000_000))
    assert all(r.evictions == r.refused == 0 for r in roomy.results)
    assert sentence(roomy, "memory-roomy").fields["limit"] == "1,000,000"
    assert not [s for s in run_compare(SMALL).sentences if s.id.startswith("memory-")]


def test_by_policy_runs_the_same_requests_under_each_policy():
    seen = []
    found = by_policy(LIMITED, "cache-aside", progress=lambda fraction, text: seen.append((fraction, text)))
    assert list(found) == list(POLICIES)
    assert len({(r.reads, r.writes) for r in found.values()}) == 1
    assert found["noeviction"].evictions == 0 and found["noeviction"].refused > 0
    assert found["allkeys-lru"].evictions > 0 and found["allkeys-lru"].refused == 0
    assert len({r.hits for r in found.values()}) > 1, "the policy changes what the cache keeps"
    fractions = [fraction for fraction, _ in seen]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0 and any("allkeys-lfu" in t for _, t in seen)
    [said] = policy_summary(LIMITED, "Cache-aside", found)
    ratios = {policy: r.hit_ratio for policy, r in found.items()}
    best = [policy for policy, ratio in ratios.items() if ratio == max(ratios.values())]
    worst = [policy for policy, ratio in ratios.items() if ratio == min(ratios.values())]
    assert said.id == "policy-best" and said.fields["best"] == listed(best) and said.fields["worst"] == listed(worst)
    assert f"({max(ratios.values()) * 100:.1f} %, {found[best[0]].db_reads:,} database reads)" in said.text
    with pytest.raises(WorkloadError):
        by_policy(SMALL, "cache-aside")                 # no limit: no policy ever evicts


@pytest.mark.parametrize("knobs, said", [
    ({"maxmemory": 0}, "bad-memory"),
    ({"maxmemory_policy": "allkeys-lru-ish"}, "bad-memory"),
    ({"ttl_jitter": 60}, "bad-jitter"),
    ({"refresh_ahead": 1.0}, "bad-refresh-ahead"),
    ({"xfetch_beta": 0.0}, "bad-xfetch"),
    ({"app_instances": 3}, "bad-instances"),
    ({"app_instances": 2, "near_ttl": 0}, "bad-near"),
    ({"app_instances": 2, "near_invalidation": "tracking"}, "bad-near"),
])
def test_bad_memory_expiry_and_instance_knobs_say_why(knobs, said):
    test_bad_knobs_say_why_and_do_not_run(knobs, said)


def test_the_chart_over_time_says_whether_keys_expired_as_the_runs_counted():
    """The caption under database reads over time is chosen from the runs: none of SMALL's runs (about 10
    simulated seconds) outlives its 60 s TTL; with a 1 s TTL keys expire, each run counts its own, and the expired
    keys' next reads are database reads the short-TTL run has and the long one has not."""
    from strategies.compare_summary import time_caption

    short = run_compare(SMALL)
    said = time_caption(SMALL, short.results)
    assert said.id == "db-time-no-expiry" and all(r.expired == 0 for r in short.results)
    assert said.fields["seconds"] == f"{max(r.simulated_seconds for r in short.results):,.1f}"
    assert max(r.simulated_seconds for r in short.results) < SMALL.ttl_seconds

    quick = dataclasses.replace(SMALL, ttl_seconds=1)
    expiring = run_compare(quick)
    said = time_caption(quick, expiring.results)
    assert said.id == "db-time-expiry" and any(r.expired for r in expiring.results)
    for r in expiring.results:
        assert (f"{r.title} {r.expired:,}" in said.text) == (r.expired > 0)
    by_short = {r.pattern: r for r in short.results}
    assert all(r.db_reads > by_short[r.pattern].db_reads for r in expiring.results if r.expired)


def test_the_chart_over_time_never_asks_for_a_longer_run_when_the_runs_already_outlived_the_ttl():
    """Under a small memory limit every key is evicted before its TTL runs out: no key expires although each run
    lasts longer than the TTL, so the caption says so instead of "a run longer than the TTL lets keys expire"."""
    from strategies.compare_summary import time_caption

    tight = dataclasses.replace(SMALL, ttl_seconds=5, maxmemory=512, maxmemory_policy="allkeys-lru")
    results = run_compare(tight).results
    assert all(r.expired == 0 for r in results) and any(r.evictions for r in results)
    longest = max(r.simulated_seconds for r in results)
    assert longest > tight.ttl_seconds
    said = time_caption(tight, results)
    assert said.id == "db-time-no-expiry-outlived", said.text
    assert said.fields["seconds"] == f"{longest:,.1f}" and "longer than the TTL" not in said.text
