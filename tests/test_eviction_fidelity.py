"""Is the lab's eviction Redis' own? A redis-server of this test's own, with maxmemory and each policy, and a
cache-aside lab on fakeredis with the same room replay one seeded, bounded Zipf workload (read; on a miss, SET the
value with a TTL), request by request; the lab's hit ratio must be within 3 percentage points of Redis' for every
policy.

The room is the same on both sides: Redis' maxmemory is its own used memory with no key (measured first, with this
client connected) plus ROOM, and the lab's maxmemory is ROOM. Time is the same too: each request goes to Redis and
then to the lab, whose simulated clock is set to the wall-clock moment Redis was asked (from the start of that
minute, so both see whole seconds and minutes turn together: Redis' LRU clock counts seconds, LFU's decay minutes).
Randomness is not shared (Redis samples keys with its own rand(), the lab with its seeded RNG), so the two runs
agree in their hit ratios, not key by key.

Needs `redis-server` on PATH (Debian's redis-server): locally the test is skipped without it, in CI it fails.
Run with `-s` to see the table.
"""

from __future__ import annotations

import itertools
import random
import shutil
import socket
import subprocess
import time
from pathlib import Path

import fakeredis
import pytest
import redis
from conftest import running_in_ci

from strategies import CacheAside, Costs, Database, SimClock
from strategies.features.policies import POLICIES

KEYS = 2_000               # distinct keys, each a row of the database
REQUESTS = 4_000           # reads per policy
ZIPF = 0.9                 # popularity exponent: key k is read with weight 1 / (k + 1) ** ZIPF
VALUE_BYTES = 4_090        # large values (a 4 KiB allocation each), so that the few KiB a client's buffers
                           # take and give back during the run are a key or two, not dozens
ROOM = 1_250_000           # bytes for keys: about 300 of these keys, 15 % of them
TTL = 3_600                # no key expires during the run; volatile-* may evict every key
TOLERANCE = 0.03           # 3 percentage points
SEED = 18


def workload() -> list[str]:
    rng = random.Random(SEED)
    weights = list(itertools.accumulate(1.0 / (rank + 1) ** ZIPF for rank in range(KEYS)))
    return [key_name(number) for number in rng.choices(range(KEYS), cum_weights=weights, k=REQUESTS)]


def key_name(number: int) -> str:
    return f"key:{number:05d}"


def value_of(key: str) -> str:
    return f"the value of {key}, padded".ljust(VALUE_BYTES, ".")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def own_redis(tmp_path_factory) -> redis.Redis:
    """A redis-server of this module's own on a free loopback port (FLUSHALL and CONFIG SET are ours to use)."""
    binary = shutil.which("redis-server")
    if binary is None:
        if running_in_ci():
            pytest.fail("CI=true but redis-server is not on PATH: the eviction fidelity test needs one", pytrace=False)
        pytest.skip("redis-server is not on PATH: the eviction fidelity test is skipped")
    port, folder = free_port(), Path(tmp_path_factory.mktemp("redis-fidelity"))
    server = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                               "--dir", str(folder), "--maxmemory-samples", "5", "--lfu-log-factor", "10",
                               "--lfu-decay-time", "1"], stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    client = redis.Redis(host="127.0.0.1", port=port, decode_responses=True, socket_timeout=10)
    try:
        for _ in range(100):
            try:
                client.ping()
                break
            except redis.ConnectionError:
                time.sleep(0.05)
        else:
            pytest.fail(f"redis-server did not answer on port {port}")
        yield client
    finally:
        client.close()
        server.terminate()
        server.wait(timeout=10)


def baseline(client: redis.Redis) -> int:
    """Redis' used memory with no key, with this client's buffers as the run will have them (after a SET and a GET
    of a value as large as the run's)."""
    client.set("warm-up", value_of("warm-up"))
    client.get("warm-up")
    client.delete("warm-up")
    return client.info("memory")["used_memory"]


def replay(own_redis: redis.Redis, policy: str, keys: list[str]) -> tuple[float, float]:
    """One policy: each read on Redis, then on the lab at the same moment; (Redis' hit ratio, the lab's)."""
    own_redis.flushall()
    own_redis.config_set("maxmemory", 0)
    own_redis.config_set("maxmemory-policy", policy)
    own_redis.config_set("maxmemory", baseline(own_redis) + ROOM)
    db = Database(":memory:", seed=False)
    db.put_many([(key_name(number), value_of(key_name(number))) for number in range(KEYS)])
    start = time.time()
    origin = start - start % 60                                # the lab's clock: seconds since this minute began
    lab = CacheAside(fakeredis.FakeRedis(server=fakeredis.FakeServer(), decode_responses=True), db,
                     namespace="fidelity:{0}:", clock=SimClock(start - origin), costs=Costs(0.0, 0.0, 0.0),
                     ttl_seconds=TTL, maxmemory=ROOM, maxmemory_policy=policy)
    redis_hits = 0
    try:
        for key in keys:
            asked = time.time()
            if own_redis.get(key) is not None:
                redis_hits += 1
            else:
                try:
                    own_redis.set(key, value_of(key), ex=TTL)
                except redis.exceptions.OutOfMemoryError:
                    pass                                       # noeviction: full, so nothing is cached
            lab.clock.advance_to(asked - origin)
            lab.read(key)
    finally:
        own_redis.config_set("maxmemory", 0)
        db.close()
    assert lab.eviction.used() <= ROOM
    return redis_hits / len(keys), lab.counters.hits / len(keys)


def test_the_labs_hit_ratio_is_redis_own_for_every_policy(own_redis):
    keys = workload()
    rows = [(policy, *replay(own_redis, policy, keys)) for policy in POLICIES]
    print(f"\n{REQUESTS:,} Zipf({ZIPF}) reads of {KEYS:,} keys, room {ROOM:,} bytes, Redis "
          f"{own_redis.info('server')['redis_version']}\n")
    print("| policy | Redis hit ratio | lab hit ratio | difference |\n| --- | --- | --- | --- |")
    for policy, real, lab in rows:
        print(f"| {policy} | {real:.1%} | {lab:.1%} | {100 * (lab - real):+.1f} pp |")
    far = [(policy, real, lab) for policy, real, lab in rows if abs(lab - real) > TOLERANCE]
    assert not far, f"more than {TOLERANCE:.0%} apart: {far}"
