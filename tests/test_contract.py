"""The contract suite: each pattern's class inherits every invariant of tests/contract*.py, says how its writes
behave and which features it takes (`contract.Promises`), and adds the mixins of what only it promises. Every
test runs on fakeredis, a real Redis and a Redis Cluster (the `cache` fixture, conftest.py).

A fifth pattern gets the whole suite with one class here: its name, its promises, its configurations.
"""

from __future__ import annotations

import pytest
from contract import PatternContract
from contract_faults import FaultContract, InvalidatesOnWrite, ReadsThroughTheCache, SynchronousWrites
from contract_page import PageContract
from contract_properties import (
    DeferredDeliveryProperties,
    InvalidationProperties,
    PropertyContract,
    WriteThroughProperties,
)
from contract_tables import TablesContract

pytestmark = pytest.mark.cluster       # the `cache` tests run on a Redis Cluster too (conftest.py)


def pytest_generate_tests(metafunc) -> None:
    """A contract test's configuration: `config` runs it on every configuration of the pattern's class,
    `safe_config` on those that never serve what the database did not commit, `plain_config` on the pattern
    alone (its first)."""
    cls = metafunc.cls
    if cls is None or not hasattr(cls, "configs"):
        return
    if "config" in metafunc.fixturenames:
        metafunc.parametrize("config", list(cls.configs))
    if "safe_config" in metafunc.fixturenames:
        metafunc.parametrize("safe_config", [name for name in cls.configs if name not in cls.unsafe_configs])
    if "plain_config" in metafunc.fixturenames:
        metafunc.parametrize("plain_config", list(cls.configs)[:1])


# Early refresh and jitter together (features/early_refresh.py, jitter.py): short TTLs, so keys reach their window.
EARLY = {"ttl_seconds": 4, "ttl_jitter": 50, "refresh_ahead": 0.5, "xfetch_beta": 2.0}


class Contract(PatternContract, FaultContract, TablesContract, PageContract, PropertyContract):
    """Every invariant every pattern keeps, example-based and property-based."""


class TestCacheAside(Contract, SynchronousWrites, InvalidatesOnWrite, InvalidationProperties):
    pattern = "cache-aside"
    configs = {"plain": {"ttl_seconds": 2},
               "leases-negative": {"ttl_seconds": 2, "leases": True, "negative_ttl": 1, "lease_seconds": 1.0},
               "early": EARLY,
               "early-leases": {**EARLY, "leases": True, "lease_seconds": 1.0},
               # A full cache (features/eviction.py): room for a few of these keys, evicting or refusing.
               "memory-lfu": {"ttl_seconds": 2, "maxmemory": 300, "maxmemory_policy": "allkeys-lfu"}}
    invalidates_on_write = True
    reads_around_cache = True


class TestReadThrough(Contract, SynchronousWrites, InvalidatesOnWrite, ReadsThroughTheCache, InvalidationProperties):
    pattern = "read-through"
    configs = {"plain": {}, "early": EARLY}
    invalidates_on_write = True


class TestWriteThrough(Contract, SynchronousWrites, ReadsThroughTheCache, WriteThroughProperties):
    pattern = "write-through"
    configs = {"safe": {"ttl_seconds": 2}, "naive": {"ordering": "naive"},
               "memory-noeviction": {"maxmemory": 300}}
    # A failed naive write leaves the cache ahead of the database; a full cache under noeviction refuses the SET
    # after the commit, so the failed write leaves the old value cached (the scenario noeviction-oom-write-through).
    unsafe_configs = frozenset({"naive", "memory-noeviction"})
    write_leaves_value_cached = True

    def write_cost(self, cache_ms: float, write_ms: float) -> float:
        return cache_ms + write_ms + cache_ms      # the hand-over to the cache, the UPSERT, the SET


class TestWriteBehind(Contract, ReadsThroughTheCache, DeferredDeliveryProperties):
    pattern = "write-behind"
    configs = {"plain": {},
               "small-batches": {"batch_size": 2, "max_delay_seconds": 1.0, "ttl_seconds": 2},
               "no-coalescing": {"batch_size": 3, "coalesce": False},
               "queue-limit": {"batch_size": 3, "queue_limit": 3},
               "memory-lru": {"batch_size": 2, "maxmemory": 260, "maxmemory_policy": "allkeys-lru"}}
    defers_writes = True
    write_leaves_value_cached = True
    pending_lookup = True

    def busy(self, every: int) -> dict:
        return {"batch_size": every}

    def write_cost(self, cache_ms: float, write_ms: float) -> float:
        return cache_ms                            # the enqueue script; the database waits for the flusher
