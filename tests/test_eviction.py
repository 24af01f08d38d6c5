"""A cache that is full (strategies/features/eviction.py): Redis' way of counting a key's bytes, its eviction
policies (deterministic with a seed), the part on every pattern on fakeredis and on a real Redis, and how each
pattern answers Redis' OOM refusal. The hit ratios against a real redis-server with maxmemory are in
test_eviction_fidelity.py."""

from __future__ import annotations

import random

import fakeredis
import pytest
from core_support import ALL_PATTERNS, assert_live_is_real, new_lab

from strategies.cache import is_cluster
from strategies.features.eviction import EVICTED_KEPT, KeyRing
from strategies.features.memory import alloc, entry_bytes, table_bytes, used_memory, value_bytes
from strategies.features.policies import (
    EVPOOL_SIZE,
    LFU_INIT_VAL,
    LRU_CLOCK_MAX,
    POLICIES,
    Candidates,
    EvictionPool,
    idle_ms,
    lfu_decayed,
    lfu_log_incr,
    lru_clock,
    make_policy,
    new_field,
    touched_field,
)
from strategies.features.tracking import unavailable
from strategies.part import Part
from strategies.scenario import run_scenario
from strategies.scenarios import NEW, OLD, SCENARIOS
from strategies.views import cache_rows

pytestmark = pytest.mark.cluster       # the `cache` tests run on a Redis Cluster too (conftest.py)

ROWS = tuple((f"item:{number:02d}", f"value {number:02d}") for number in range(40))


# ---- counting bytes as Redis 7 does --------------------------------------------------------------------------
def test_jemalloc_size_classes():
    assert [alloc(n) for n in (1, 8, 9, 16, 17, 33, 128, 129, 160, 161, 257, 513, 4097)] == \
        [8, 8, 16, 16, 32, 48, 128, 160, 160, 192, 320, 640, 5120]


def test_a_key_costs_its_entry_its_name_its_value_and_its_ttl():
    assert entry_bytes("k", "v", ttl=False) == 24 + 8 + 32               # dictEntry, sdshdr5 "k", embstr "v"
    assert entry_bytes("user:1", "Ada Lovelace", ttl=True) == 24 + 8 + 32 + 24
    assert value_bytes("12345") == value_bytes("-7") == 16               # stored as a number
    assert value_bytes("007") == value_bytes("3.14") == 32               # not a number Redis would keep as one
    assert value_bytes("x" * 44) == 64 and value_bytes("x" * 45) == 16 + 64    # embstr up to 44 bytes, then raw
    assert value_bytes("é" * 22) == value_bytes("x" * 44)                 # UTF-8 bytes, not characters


def test_the_hash_tables_grow_in_powers_of_two():
    assert [table_bytes(n) for n in (0, 1, 4, 5, 8, 9, 1000)] == [0, 32, 32, 64, 64, 128, 8192]


def test_the_formula_is_what_redis_reports_as_memory_usage(cache, namespace):
    """Every size class boundary of a key's name and value, against `MEMORY USAGE` (a real Redis only)."""
    if isinstance(cache, fakeredis.FakeRedis) or is_cluster(cache):
        pytest.skip("fakeredis has no MEMORY USAGE, and one real server is enough: see the 'real' variant")
    if not cache.info("server")["redis_version"].startswith("7."):
        pytest.skip("the formula is Redis 7's (Redis 8 lays a key out differently)")
    rng = random.Random(7)
    wrong = []
    for _ in range(300):
        name = namespace + "k" * rng.choice([0, 1, 5, 20, 40, 60, 200, 300])
        value = rng.choice(["", "1", "-42", "007"]) or "v" * rng.choice([1, 12, 13, 28, 29, 44, 45, 200, 300, 70_000])
        cache.set(name, value)
        reported, counted = cache.memory_usage(name, samples=0), entry_bytes(name, value, ttl=False)
        if reported != counted:
            wrong.append((len(name), len(value), reported, counted))
        cache.delete(name)
    assert not wrong, f"(name bytes, value bytes, MEMORY USAGE, formula): {wrong[:10]}"


# ---- the policies' own machinery --------------------------------------------------------------------------------
def test_the_lru_clock_counts_whole_seconds_in_24_bits_and_wraps_once():
    assert lru_clock(12.999) == 12 and lru_clock(LRU_CLOCK_MAX + 1.5) == 0
    assert idle_ms(lru_clock(10), 15.2) == 5000
    assert idle_ms(LRU_CLOCK_MAX - 1, LRU_CLOCK_MAX + 3) == 3000      # stamped just before the wrap


def test_the_lfu_counter_grows_logarithmically_and_decays_each_minute():
    rng = random.Random(1)
    assert lfu_log_incr(LFU_INIT_VAL, rng) == LFU_INIT_VAL + 1       # at or below 5: always counted
    assert lfu_log_incr(255, rng) == 255
    counter = 0
    for _ in range(1000):
        counter = lfu_log_incr(counter, rng)
    assert 15 <= counter <= 22, counter                               # Redis' table for factor 10: about 18
    field = new_field(True, 0.0)
    assert field & 255 == LFU_INIT_VAL
    assert lfu_decayed(field, 59.9) == 5 and lfu_decayed(field, 60.0) == 4 and lfu_decayed(field, 3600) == 0
    touched = touched_field(field, True, 130.0, random.Random(1))    # two minutes later: decayed to 3, then +1
    assert touched >> 8 == 2 and touched & 255 == 4


def test_the_eviction_pool_keeps_the_best_sixteen_in_ascending_order():
    pool = EvictionPool()
    pool.populate([(score, f"k{score}") for score in (5, 1, 9, 3)])
    assert [entry for entry in pool.slots if entry] == [(1, "k1"), (3, "k3"), (5, "k5"), (9, "k9")]
    pool.populate([(score, f"k{score}") for score in range(10, 10 + EVPOOL_SIZE)])
    kept = [entry[0] for entry in pool.slots]
    assert kept == sorted(kept) and len(kept) == EVPOOL_SIZE and kept[-1] == 10 + EVPOOL_SIZE - 1
    pool.populate([(0, "worst")])                                     # worse than every candidate of a full pool
    assert (0, "worst") not in pool.slots
    gone = {"k25"}
    assert pool.take_best(lambda key: key not in gone) == (24, "k24")   # k25 was a ghost: skipped and dropped
    assert pool.slots[-1] is None and pool.slots[-2] is None


def test_each_policy_picks_its_victim_deterministically_with_a_seed():
    fields = {"a": lru_clock(1), "b": lru_clock(5), "c": lru_clock(3)}
    expires = {"a": 100_000, "b": 50_000, "c": 70_000}

    def candidates(policy):
        return Candidates(list(fields), fields.__contains__,
                          lambda key: 2**64 - 1 - expires[key] if policy.name == "volatile-ttl"
                          else idle_ms(fields[key], 10.0))

    for name, expected in (("allkeys-lru", "a"), ("volatile-ttl", "b")):
        policy = make_policy(name)
        victim = policy.victim(candidates(policy), random.Random(0))
        assert victim.key == expected and victim.sampled == 3
    assert make_policy("noeviction").victim(candidates(make_policy("noeviction")), random.Random(0)) is None
    picks = {make_policy("allkeys-random").victim(candidates(make_policy("allkeys-random")), random.Random(seed)).key
             for seed in range(30)}
    assert picks == {"a", "b", "c"}
    with pytest.raises(ValueError, match="allkeys-lru"):
        make_policy("allkeys-lru ")
    assert len(POLICIES) == 8


def test_a_key_ring_samples_what_it_holds():
    ring = KeyRing()
    for key in "abcde":
        ring.add(key)
    ring.discard("b")
    ring.discard("zz")
    ring.add("a")
    assert sorted(ring.keys) == ["a", "c", "d", "e"] and "b" not in ring and len(ring) == 4


# ---- the part, on every pattern --------------------------------------------------------------------------------
def fill(lab, keys) -> None:
    """Read each key, a simulated second apart (LRU's clock counts whole seconds)."""
    for key in keys:
        lab.read(key)
        lab.advance_time(1)


@pytest.mark.parametrize("pattern", ALL_PATTERNS)
def test_a_full_cache_evicts_for_real_and_never_holds_more_than_its_limit(make_lab, pattern):
    lab = make_lab(pattern, maxmemory=600, maxmemory_policy="allkeys-lru", ttl_seconds=600)
    lab.reset(rows=ROWS)
    for key, _ in ROWS[:20]:
        lab.read(key)
        lab.advance_time(1)
        assert lab.eviction.used() == used_memory(lab.live().cache) <= 600
    evicted = [step.key for trace in lab.log.values() for step in trace.steps if step.action == "EVICT"]
    assert len(evicted) >= 10
    assert evicted[:3] == ["item:00", "item:01", "item:02"], "least recently used first"
    assert_live_is_real(lab, context=pattern)                        # the DELs were real
    state = lab.live()
    assert list(state.evicted) == evicted[-EVICTED_KEPT:]
    rows = cache_rows(state)
    assert rows.greyed == frozenset(evicted[-EVICTED_KEPT:]) and rows.total == len(state.cache)
    assert all(row[3].startswith("✗ evicted at") for row in rows.rows if row[0] in rows.greyed)
    assert ("Evicted", len(evicted)) in lab.metrics()
    gauge = lab.gauges()[0]
    assert (gauge.used, gauge.limit) == (used_memory(state.cache), 600) and "allkeys-lru" in gauge.text


def evictions(lab) -> list[str]:
    return [step.key for trace in lab.log.values() for step in trace.steps if step.action == "EVICT"]


def test_a_read_is_an_access_lru_remembers_and_lfu_counts(make_lab):
    lru = make_lab("cache-aside", maxmemory=400, maxmemory_policy="allkeys-lru", ttl_seconds=600)
    lru.reset(rows=ROWS)
    fill(lru, ["item:00", "item:01", "item:02", "item:00", "item:03"])     # room for three: item:00 was read again
    assert evictions(lru) == ["item:01"]
    lfu = make_lab("cache-aside", maxmemory=400, maxmemory_policy="allkeys-lfu", ttl_seconds=600,
                   namespace=lru.namespace + "lfu:")
    lfu.reset(rows=ROWS)
    fill(lfu, ["item:00", "item:01", "item:02", "item:00", "item:00"])
    fill(lfu, [key for key, _ in ROWS[3:9]])                                 # one-off reads, more recent
    assert "item:00" in lfu.live().cache and "item:00" not in evictions(lfu)


class Accesses(Part):
    """A part that only listens: every key a cache call found, in order (what eviction's LRU and LFU hear)."""

    def __init__(self, lab) -> None:
        super().__init__(lab)
        self.found: list[str] = []

    def accessed(self, key: str) -> None:
        self.found.append(key)


@pytest.mark.parametrize("pattern", ["cache-aside", "read-through"])
def test_every_read_that_finds_a_cached_key_is_an_access(make_lab, cache, pattern):
    """Not only a plain GET: early refresh's GET of the key with its δ (a script, action GET) and a near cache's
    tracked GET (a connection of its own, on a real Redis) read the key in Redis too, and LRU and LFU hear of them;
    a near cache's own hit never reaches Redis and is no access."""
    lab = make_lab(pattern, xfetch_beta=1.0)
    listening = Accesses(lab)
    lab.parts += (listening,)
    lab.read("user:1")                                   # a miss: found nothing
    assert listening.found == []
    hit = lab.read("user:1")
    assert any(step.note[0] == "early-get" for step in hit.steps) and listening.found == ["user:1"]
    lab.near_ttl = 10
    lab.read("user:1", client="B")                      # App 2's near miss, then the GET + δ found it in Redis
    lab.read("user:1", client="B")                      # App 2's near hit: Redis is not asked
    assert listening.found == ["user:1", "user:1"]
    if unavailable(cache) is None:                      # CLIENT TRACKING: a real server
        lab.near_invalidation = "tracking"
        lab.read("user:2", client="A")                  # a miss, the fill, then the tracked GET finds it
        assert listening.found[2:] == ["user:2"]
        lab.read("user:2", client="B")                  # App 2: the GET + δ and its tracked GET
        assert listening.found[2:] == ["user:2"] * 3
        lab.release()


def test_a_memory_limit_evicts_cached_keys_only_never_what_parts_keep_beside_them(make_lab):
    """The limit counts the Cache table's keys (as memory.py says) and evicts only them: early refresh's δ hashes,
    leases and the near caches' channel are neither counted nor evicted, so no part's bookkeeping vanishes under
    it; an evicted key's δ hash stays in Redis, and the lab's table, and counts for nothing once the key is gone."""
    lab = make_lab("cache-aside", maxmemory=400, maxmemory_policy="allkeys-lru", ttl_seconds=600, xfetch_beta=1.0,
                   leases=True)
    lab.reset(rows=ROWS)
    fill(lab, [key for key, _ in ROWS[:8]])
    evicted = evictions(lab)
    state = lab.live()
    assert evicted and set(evicted) <= set(state.early) and not set(evicted) & set(state.cache)
    assert lab.eviction.used() == used_memory(state.cache) <= 400
    assert_live_is_real(lab)                             # the δ hashes and leases in Redis are the lab's tables
    assert {row[0] for row in lab.early.rows(state).rows} == set(state.cache), "a δ counts only beside its key"


def test_a_write_is_an_access_too(make_lab):
    lab = make_lab("write-through", maxmemory=400, maxmemory_policy="allkeys-lru", ttl_seconds=600)
    lab.reset(rows=ROWS)
    fill(lab, ["item:00", "item:01", "item:02"])
    lab.write("item:00", "value 99")                                        # SET of a cached key
    lab.advance_time(1)
    fill(lab, ["item:03"])
    assert evictions(lab) == ["item:01"]


def test_without_a_limit_nothing_changes(make_lab):
    lab = make_lab("write-through")
    for number in range(30):
        lab.write(f"k:{number}", "x" * 200)
    assert len(lab.live().cache) == 30 and not lab.live().evicted
    assert not [name for name, _ in lab.metrics() if name in ("Memory", "Evicted")]
    gauge = lab.gauges()[0]
    assert gauge.limit is None and gauge.fraction is None and "no memory limit" in gauge.text


def test_the_same_run_evicts_the_same_keys_after_a_reset(make_lab):
    lab = make_lab("read-through", maxmemory=700, maxmemory_policy="allkeys-lfu", ttl_seconds=600)

    def run() -> list[str]:
        lab.reset(restart_clock=True, rows=ROWS)          # LFU's decay counts minutes of the clock
        rng = random.Random(3)
        for _ in range(80):
            lab.read(rng.choice(ROWS[:25])[0])
            lab.advance_time(0.5)
        return [step.key for trace in lab.log.values() for step in trace.steps if step.action == "EVICT"]

    first = run()
    assert first and run() == first


def test_volatile_policies_evict_only_keys_with_a_ttl(make_lab):
    lab = make_lab("write-behind", maxmemory=400, maxmemory_policy="volatile-lru", max_delay_seconds=600)
    lab.read("user:1")                                                # cached with a TTL
    lab.advance_time(1)
    for number in range(6):
        lab.write(f"w:{number}", "queued value")                      # cached with none, until flushed
        lab.advance_time(1)
    evicted = [step.key for trace in lab.log.values() for step in trace.steps if step.action == "EVICT"]
    assert evicted == ["user:1"]
    refused = [trace for trace in lab.log.values() if trace.operation == "write" and not trace.ok]
    assert refused and refused[0].steps[-1].note[0] == "oom-volatile"


# ---- how each pattern answers Redis' OOM ------------------------------------------------------------------------
def full_lab(make_lab, pattern: str, **options):
    """A lab whose cache (noeviction, 256 bytes) holds user:1 and user:2 and has no room for anything else."""
    lab = make_lab(pattern, maxmemory=256, maxmemory_policy="noeviction", **options)
    fill(lab, ["user:1", "user:2"])
    return lab


@pytest.mark.parametrize("pattern", ["cache-aside", "read-through", "write-through"])
def test_a_refused_fill_serves_the_value_and_caches_nothing(make_lab, pattern):
    lab = full_lab(make_lab, pattern)
    trace = lab.read("user:3")
    assert trace.ok and trace.value == "Grace Hopper" and not trace.degraded
    assert "refused to keep it" in trace.warning
    refused = [step for step in trace.steps if step.failed]
    assert [step.note[0] for step in refused] == ["oom-noeviction"]
    assert "user:3" not in lab.live().cache and lab.cache.get(lab.redis_key("user:3")) is None
    assert lab.cache_error is None, "a refusal is the cache's answer, not a failure to reach it"
    assert lab.read("user:1").hit
    assert_live_is_real(lab)


@pytest.mark.parametrize(("ordering", "committed"), [("safe", True), ("naive", False)])
def test_write_through_fails_a_refused_write_as_its_ordering_says(make_lab, ordering, committed):
    lab = full_lab(make_lab, "write-through", ordering=ordering)
    trace = lab.write("user:3", "Grace B. Hopper")
    assert not trace.ok and trace.error.startswith("OOM command not allowed")
    assert (lab.live().db["user:3"].value == "Grace B. Hopper") is committed
    assert "user:3" not in lab.live().cache
    assert_live_is_real(lab)


def test_write_behind_refuses_a_write_it_has_no_room_for(make_lab):
    lab = make_lab("write-behind", maxmemory=200, maxmemory_policy="noeviction", max_delay_seconds=600)
    accepted = [lab.write(key, "1") for key in "abc"]
    refused = lab.write("d", "1")
    assert all(trace.ok for trace in accepted) and not refused.ok
    assert [step.action for step in refused.steps] == ["SET"] and refused.steps[0].note[0] == "oom-noeviction"
    state = lab.live()
    assert "d" not in state.cache and "d" not in state.pending and len(state.queue) == 3
    assert [write.key for write in state.acked.values()] == ["a", "b", "c"], "never acknowledged, so never owed"
    lab.flush()
    assert lab.counters.lost_writes == 0 and not refused.lost
    assert_live_is_real(lab)


def test_a_value_larger_than_the_limit_is_refused_without_evicting_anything(make_lab):
    lab = make_lab("cache-aside", maxmemory=300, maxmemory_policy="allkeys-lru")
    fill(lab, ["user:1"])
    lab.write("user:2", "x" * 400)
    trace = lab.read("user:2")
    assert trace.ok and trace.steps[-1].note[0] == "oom-too-big"
    assert "user:1" in lab.live().cache


# ---- the scenarios' teaching points ------------------------------------------------------------------------------
def run(make_lab, slug: str):
    scenario = SCENARIOS[slug]
    return run_scenario(scenario, make_lab(scenario.pattern))


def test_lru_loses_the_hot_keys_to_a_scan_and_lfu_keeps_them(make_lab):
    lru, lfu = run(make_lab, "lru-scan-pollution"), run(make_lab, "lfu-keeps-hot-keys")
    after = {name: [trace.hit for trace in result.lab.log.values() if trace.number in result.scenes[-1].numbers]
             for name, result in (("lru", lru), ("lfu", lfu))}
    assert after == {"lru": [False] * 3, "lfu": [True] * 3}
    scan = [step.key for step in lfu.scenes[2].steps if step.action == "EVICT"]
    assert scan and all(key.startswith("product:") for key in scan)


def test_noeviction_serves_every_read_and_caches_nothing_more(make_lab):
    result = run(make_lab, "noeviction-oom")
    third = [trace for trace in result.of("read") if trace.key == "user:3"]
    assert [trace.db_calls > 0 for trace in third] == [True, True] and all(trace.ok for trace in third)
    assert set(result.lab.live().cache) == {"user:1", "user:2"}


def test_a_refused_write_through_set_leaves_a_committed_write_failed_and_the_old_value_served(make_lab):
    result = run(make_lab, "noeviction-oom-write-through")
    write, read = result.of("write")[0], result.of("read")[-1]
    assert not write.ok and write.steps[-1].note[0] == "oom-noeviction"
    state = result.lab.live()
    assert state.db["user:2"].value == write.value and state.cache["user:2"].value == "Alan Turing"
    assert read.hit and read.stale


def test_queued_writes_fill_a_volatile_cache_until_the_flush_gives_them_a_ttl(make_lab):
    result = run(make_lab, "write-behind-volatile-oom")
    refused = [trace for trace in result.of("write") if not trace.ok]
    assert [trace.key for trace in refused] == ["product:7"]
    assert result.of("write")[-1].ok and result.lab.live().latest("product:7") == "Coffee grinder, 79.50 EUR"
    assert result.lab.counters.lost_writes == 0


def test_an_evicted_queued_write_is_read_back_from_the_pending_index(make_lab):
    result = run(make_lab, "write-behind-evicted-read-your-writes")
    read = [trace for trace in result.of("read") if trace.key == "user:1"][0]
    assert read.hit is False and read.value == NEW and not read.stale
    assert result.lab.state_after(read.steps[-1]).db["user:1"].value == OLD
    assert result.lab.live().db["user:1"].value == NEW


def test_new_lab_takes_the_memory_knobs():
    lab = new_lab("write-behind", maxmemory=1024, maxmemory_policy="volatile-ttl")
    assert (lab.maxmemory, lab.maxmemory_policy) == (1024, "volatile-ttl") and lab.eviction in lab.parts
    with pytest.raises(ValueError, match="unknown maxmemory-policy"):
        new_lab("cache-aside", maxmemory_policy="lru")


# ---- the compare page's knobs (its core: strategies/compare.py) --------------------------------------------------
def test_compare_runs_a_workload_under_each_policy():
    from strategies.compare import by_policy, run_pattern
    from strategies.compare_workload import Workload

    workload = Workload(requests=400, keys=120, read_ratio=1.0, ttl_seconds=3600, maxmemory=3_000, seed=4)
    results = by_policy(workload, "cache-aside", ("noeviction", "allkeys-lru", "allkeys-lfu"))
    assert set(results) == {"noeviction", "allkeys-lru", "allkeys-lfu"}
    unlimited = run_pattern("cache-aside", Workload(requests=400, keys=120, read_ratio=1.0, ttl_seconds=3600, seed=4))
    assert all(result.hit_ratio < unlimited.hit_ratio for result in results.values())
    assert results["allkeys-lfu"].hit_ratio > results["allkeys-lru"].hit_ratio
    assert Workload(maxmemory=0).problems() and Workload(maxmemory_policy="lru").problems()
    assert not Workload(maxmemory=1024, maxmemory_policy="volatile-ttl").problems()
