"""Redis Cluster: every key one learner's labs touch carries the learner's hash tag, so all of them live in one
slot: the Lua scripts (several keys each) and the pipelines never cross slots, and the learner's keys are found
by scanning one node.

`test_one_learners_keys_share_one_slot` watches a private fakeredis server execute commands (every command,
including the ones a Lua script or a pipeline runs) and reads each command's keys off its arguments with the
table below. A command missing from the table fails the test: whoever teaches the core a new command says where
its keys are. The tests taking `cluster_url` / `cluster_cache` run the same on the real cluster at
$REDIS_CLUSTER_URL (see conftest.py; the pattern tests run there too, through the `cache` fixture).
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from core_support import assert_live_is_real
from fakeredis._socket._base import BaseFakeSocket  # the one place every command (scripted or not) runs
from redis.crc import key_slot

from strategies import PATTERNS, CacheUnavailable, Database, backend_description, connect_cache
from strategies.cache import cluster_url, hash_tag, is_cluster, scan_keys
from strategies.scenario import run_scenario
from strategies.scenarios import runs_on
from strategies.session import LearnerSession


def _first(args: list[bytes]) -> list[bytes]:
    return args[:1]


def _all(args: list[bytes]) -> list[bytes]:
    return list(args)


def _script(args: list[bytes]) -> list[bytes]:       # EVAL/EVALSHA body-or-sha numkeys key... arg...
    return list(args[2:2 + int(args[1])])


KEYS_OF: dict[str, Callable[[list[bytes]], list[bytes]]] = {
    **dict.fromkeys(("get", "set", "expire", "pexpire", "ttl", "pttl", "hget", "hset", "hdel", "hexists", "hgetall",
                     "hmget", "xadd", "xrange", "xlen", "xdel"), _first),
    **dict.fromkeys(("del", "unlink", "mget", "exists"), _all),
    # Pub/Sub channels are hashed like keys (the near caches' channel carries the learner's tag).
    **dict.fromkeys(("publish", "spublish"), _first),
    **dict.fromkeys(("subscribe", "ssubscribe", "unsubscribe", "sunsubscribe"), _all),
    **dict.fromkeys(("eval", "evalsha"), _script),
}
KEYLESS = {"scan", "script", "script load", "script exists", "ping", "multi", "exec", "discard", "hello",
           "client", "client setinfo", "select", "info"}

# Learner keys that try to bring a hash tag of their own: the namespace's tag comes first, so it still decides.
BRACED_KEYS = ("{user}:1", "a}b{c", "{}", "}{")


@pytest.fixture
def commands(monkeypatch) -> list[tuple[str, list[bytes]]]:
    """Every command the fakeredis servers execute while the test runs, as (name, arguments)."""
    seen: list[tuple[str, list[bytes]]] = []
    run = BaseFakeSocket._run_command

    def recording(self, func, sig, args, from_script):
        seen.append((sig.name.lower(), list(args)))
        return run(self, func, sig, args, from_script)

    monkeypatch.setattr(BaseFakeSocket, "_run_command", recording)
    return seen


def keys_touched(commands: list[tuple[str, list[bytes]]]) -> set[bytes]:
    unknown = sorted({name for name, _ in commands if name not in KEYS_OF and name not in KEYLESS})
    assert not unknown, f"commands this test cannot read keys from (add them to KEYS_OF or KEYLESS): {unknown}"
    return {key for name, args in commands if name in KEYS_OF for key in KEYS_OF[name](args)}


def exercise(lab) -> None:
    """Every feature of the lab's pattern that writes to Redis: fills, misses, writes, leases (granted, busy,
    released, run out), negative entries, the write-behind queue (coalesced or not, full, flushed, failing),
    TTL sync after a fast-forward, a resync and a crash; then a few keys again."""
    name = lab.name
    if name == "cache-aside":
        lab.leases, lab.negative_ttl, lab.max_lease_waits = True, 30, 2
    if name in ("cache-aside", "read-through"):    # early refresh's hash beside each key, and jittered TTLs
        lab.xfetch_beta, lab.refresh_ahead, lab.ttl_jitter = 1.0, 0.5, 10
    if name == "write-behind":
        lab.batch_size, lab.queue_limit = 3, 6
    if name == "write-through":
        lab.ordering = "naive"
    for key in ("user:1", "user:404", *BRACED_KEYS):
        lab.read(key)
        lab.read(key)
        lab.write(key, f"{key} v2")
        lab.read(key)
    readers = [lab.start_read("user:2", client=client) for client in "ABC"]   # lease: granted, busy, waits
    for _ in range(12):
        for request in readers:
            request.advance()
    holder = lab.start_read("user:3", client="D")
    for _ in range(3):
        holder.advance()                      # holds user:3's lease (cache-aside) and walks away from it
    lab.advance_time(5)                        # leases run out, write-behind's flusher runs; TTLs resynced
    if name == "write-behind":
        lab.coalesce = False
        for number in range(8):               # past the queue limit: some writes are refused
            lab.write(f"bulk:{number}", str(number))
        lab.db.down = True
        lab.advance_time(6)                    # the batch fails and waits to be retried
        lab.db.down = False
        assert lab.flush().ok
    lab.advance_time(61)                       # every TTL runs out
    lab.read("user:1")
    lab.write("user:1", "again")
    lab._resync_needed = True                  # as after a failed call: compare notes with the cache
    lab.read("user:1")
    lab.read_real_state()
    lab.crash_cache()
    lab.read("user:1")
    lab.write("user:2", "after the crash")


def exercise_learner(session: LearnerSession) -> None:
    """Every pattern's lab of one learner, every feature and every scenario; the labs keep their last keys. The
    scenarios run first (some take a second or more on a cluster): the exercises, whose TTLs the callers compare
    with Redis's own afterwards, then run close together."""
    for name in PATTERNS:
        lab = session.lab(name)
        for scenario in runs_on(name):
            if scenario.unavailable(lab) is None:            # CLIENT TRACKING: on a real server only
                assert run_scenario(scenario, lab).what_you_saw    # its summary measures write-through's lab "beside"
        lab.reset()
    for name in PATTERNS:
        exercise(session.lab(name))


def test_one_learners_keys_share_one_slot(tmp_path, commands):
    session = LearnerSession(redis_url="", data_dir=tmp_path)
    tag = hash_tag(session.lab("cache-aside").namespace)
    assert tag == session.id
    exercise_learner(session)
    session.reset()
    touched = keys_touched(commands)
    slot = key_slot(tag.encode())
    escaped = sorted(key for key in touched if key_slot(key) != slot)
    assert not escaped, f"keys outside the learner's slot {slot}: {escaped}"
    prefix = f"lab:{{{tag}}}:".encode()
    assert [key for key in touched if not key.startswith(prefix)] == []
    reached = {part for key in touched
               for part in (b":wb:queue", b":lease:", b":beside:", b":early:", b":near:invalidations") if part in key}
    assert len(touched) > 50 and len(reached) == 5, \
        f"the workload should reach queue, leases, lab beside, early refresh, the near caches' channel: {reached}"
    for lab in session.labs.values():
        lab.db.close()


def test_the_namespace_tag_decides_whatever_the_key():
    namespace = "lab:{abc}:cache-aside:kv:"
    for key in BRACED_KEYS:
        assert key_slot((namespace + key).encode()) == key_slot(b"abc")


@pytest.mark.parametrize(("namespace", "tag"), [
    ("lab:{abc}:", "abc"), ("test:{x}:one:", "x"), ("lab:{a}{b}:", "a"), ("outage:", None), ("lab:{}:", None),
    ("lab:{abc:", None), ("lab:}{abc}:", "abc")])
def test_hash_tag_is_what_redis_hashes(namespace, tag):
    assert hash_tag(namespace) == tag
    if tag is not None:                         # redis-py's own slot function agrees
        assert key_slot(f"{namespace}anything{{else}}".encode()) == key_slot(tag.encode())


# ---- the cluster URL -----------------------------------------------------------------------------------------


def test_cluster_urls_name_redis_py_schemes():
    assert cluster_url("redis+cluster://127.0.0.1:7100/0") == "redis://127.0.0.1:7100/0"
    assert cluster_url("rediss+cluster://u:p@cache.example:6380/") == "rediss://u:p@cache.example:6380/"
    assert cluster_url("redis://127.0.0.1:6379/0") is None and cluster_url("") is None
    assert backend_description("redis+cluster://u:s3cret@h:1/") == "Redis Cluster at redis+cluster://u:***@h:1/"


def test_unreachable_cluster_is_reported_without_its_password():
    with pytest.raises(CacheUnavailable) as caught:
        connect_cache("redis+cluster://learner:s3cret@127.0.0.1:1/0")
    assert "Redis Cluster at redis+cluster://learner:***@127.0.0.1:1/0" in str(caught.value)
    assert "s3cret" not in str(caught.value)


# ---- on the real cluster at $REDIS_CLUSTER_URL -----------------------------------------------------------------


def learner_keys_per_node(cluster, tag: str) -> dict[str, list[str]]:
    """Every node's keys of the learner tagged `tag` (a SCAN of every primary)."""
    found = {}
    for node in cluster.get_primaries():
        found[node.name] = sorted(cluster.scan_iter(match=f"lab:{{{tag}}}:*", count=500, target_nodes=node))
    return found


def test_connect_cache_gives_a_cluster_client(cluster_url):
    client = connect_cache(cluster_url)
    try:
        assert is_cluster(client) and len(client.get_primaries()) >= 2
    finally:
        client.close()


def test_one_learners_keys_live_in_one_slot_of_the_cluster(cluster_url, cluster_cache, tmp_path):
    session = LearnerSession(redis_url=cluster_url, data_dir=tmp_path)
    assert session.backend.startswith("Redis Cluster at ")
    try:
        exercise_learner(session)
        for lab in session.labs.values():
            assert lab.cache_error is None, (lab.name, lab.cache_error)
            assert_live_is_real(lab, context=lab.name)
        per_node = learner_keys_per_node(cluster_cache, session.id)
        holding = {name: keys for name, keys in per_node.items() if keys}
        home = cluster_cache.get_node_from_key(f"{{{session.id}}}").name
        assert list(holding) == [home], f"the learner's keys should all be on {home}: {per_node}"
        slot = key_slot(session.id.encode())
        assert {cluster_cache.keyslot(key) for key in holding[home]} == {slot}
        namespace = session.labs["cache-aside"].namespace
        assert sorted(scan_keys(cluster_cache, namespace + "*", namespace=namespace)) == \
            [key for key in holding[home] if key.startswith(namespace)]
    finally:
        session.reset()
        for lab in session.labs.values():
            lab.db.close()
    assert all(keys == [] for keys in learner_keys_per_node(cluster_cache, session.id).values()), "reset missed keys"


def test_a_namespace_without_a_hash_tag_is_refused_on_a_cluster(cluster_cache):
    with pytest.raises(ValueError, match="hash tag"):
        PATTERNS["write-behind"](cluster_cache, Database(":memory:"), namespace="untagged:")
