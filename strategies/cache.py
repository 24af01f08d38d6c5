"""Where the cache lives: an in-process fakeredis server per learner, a real Redis at REDIS_URL, or a Redis
Cluster when REDIS_URL says so (`redis+cluster://host:port/` or `rediss+cluster://…`: any one node will do,
the client finds the others).

Either way the client speaks the Redis protocol, and every key a learner touches sits under the
learner's own namespace prefix, so many learners can share one real server. The namespace carries a hash
tag (`lab:{<learner>}:…`), so on a cluster all of one learner's keys live in one slot, on one node: the Lua
scripts and pipelines see only same-slot keys, and finding a learner's keys scans that one node. Nothing
here ever runs FLUSHALL or FLUSHDB: clearing a learner's cache deletes only that learner's keys.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from urllib.parse import urlsplit, urlunsplit

import fakeredis
import redis
from redis.backoff import ExponentialBackoff
from redis.cluster import RedisCluster
from redis.exceptions import RedisClusterException
from redis.retry import Retry

log = logging.getLogger(__name__)

# A learner's click must say "the cache is not answering" within a moment, not after long retries.
# (On a cluster `retry` is the client's own retry of a command; its per-node connections never retry.)
FAIL_FAST = dict(socket_connect_timeout=1, socket_timeout=2, retry=Retry(ExponentialBackoff(cap=0.05, base=0.01), 1))

# A URL scheme naming a cluster, and the plain scheme redis-py is given for it.
CLUSTER_SCHEMES = {"redis+cluster": "redis", "rediss+cluster": "rediss"}

Client = redis.Redis | RedisCluster


class CacheUnavailable(RuntimeError):
    """The Redis server at REDIS_URL could not be reached; the message says which and why."""


def redact(url: str) -> str:
    """The URL without its password, fit to show a learner."""
    parts = urlsplit(url)
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
        parts = parts._replace(netloc=netloc)
    return urlunsplit(parts)


def cluster_url(url: str) -> str | None:
    """For a cluster URL (redis+cluster://, rediss+cluster://), the same URL with redis-py's own scheme; else None."""
    scheme, sep, rest = url.partition("://")
    plain = CLUSTER_SCHEMES.get(scheme.lower()) if sep else None
    return f"{plain}://{rest}" if plain else None


def open_client(url: str, **options) -> Client:
    """A redis-py client (decode_responses=True) for `url`: a RedisCluster for a cluster URL, else a Redis."""
    plain = cluster_url(url)
    if plain is not None:
        return RedisCluster.from_url(plain, decode_responses=True, **options)
    return redis.Redis.from_url(url, decode_responses=True, **options)


def backend_description(url: str | None = None) -> str:
    url = os.environ.get("REDIS_URL") if url is None else url
    if not url:
        return "embedded fakeredis (in-process, one server per learner)"
    return f"Redis Cluster at {redact(url)}" if cluster_url(url) else f"Redis at {redact(url)}"


def connect_cache(url: str | None = None) -> Client:
    """A redis-py client: a real server (or cluster) when `url` (default: $REDIS_URL) is set, else a private
    fakeredis.

    Raises CacheUnavailable, with the URL and the failure, when a real server does not answer PING.
    """
    url = os.environ.get("REDIS_URL") if url is None else url
    if not url:
        return fakeredis.FakeRedis(server=fakeredis.FakeServer(), decode_responses=True)
    try:
        client = open_client(url, **FAIL_FAST)
        client.ping()
    except (redis.RedisError, RedisClusterException, ValueError, OSError) as err:
        what = "Redis Cluster" if cluster_url(url) else "Redis server"
        raise CacheUnavailable(f"Cannot reach the {what} at {redact(url)}: {err}") from None
    return client


def is_cluster(cache: object) -> bool:
    return isinstance(cache, RedisCluster)


def hash_tag(namespace: str) -> str | None:
    """The hash tag a key starting with `namespace` is hashed by (the text between its first "{" and the
    next "}"), or None if the namespace fixes none: then each key's slot depends on the rest of the key."""
    start = namespace.find("{")
    end = namespace.find("}", start + 1) if start >= 0 else -1
    return namespace[start + 1:end] if end > start + 1 else None


def scan_keys(cache: Client, match: str, *, namespace: str, count: int = 500) -> Iterator[str]:
    """SCAN MATCH `match` (a pattern within `namespace`). On a cluster only the node serving the namespace's
    slot is scanned: every key of a tagged namespace lives there (a cluster SCAN would visit every node)."""
    if is_cluster(cache) and hash_tag(namespace) is not None:
        node = cache.get_node_from_key(namespace)
        return cache.scan_iter(match=match, count=count, target_nodes=node)
    return cache.scan_iter(match=match, count=count)


def glob_escape(text: str) -> str:
    """Escape Redis glob metacharacters so a namespace matches only itself."""
    return "".join("\\" + c if c in "*?[]\\" else c for c in text)


def private_fake_server(client: redis.Redis) -> fakeredis.FakeServer | None:
    """The fakeredis server behind `client` when it is one (connect_cache's per-learner server), else None."""
    if not isinstance(client, fakeredis.FakeRedis):
        return None
    return client.connection_pool.connection_kwargs.get("server")


def release_cache(client: Client, namespace: str) -> int:
    """Free what one learner's cache holds; returns how many keys were deleted.

    Deletes the keys under `namespace` only (SCAN MATCH + DEL, on a cluster at the node of its slot, as a
    lab's reset does; never FLUSHALL or FLUSHDB, the server may be shared). On a private fakeredis server it
    then drops the server's databases and its Lua interpreter too, so the memory goes even while something
    still refers to the client. Finally the client's connections are closed. A Redis that does not answer is logged, not
    raised: the learner is gone, and its keys carry TTLs or are found by `lab:{id}:*`.
    """
    glob = glob_escape(namespace) + "*"
    deleted = 0
    try:
        names = list(scan_keys(client, glob, namespace=namespace))
        for start in range(0, len(names), 500):
            deleted += client.delete(*names[start:start + 500])
    except (redis.RedisError, OSError) as err:
        log.warning("could not delete the keys under %s: %s", namespace, err)
    server = private_fake_server(client)
    if server is not None:
        with server.lock:
            server.dbs.clear()
            server.script_cache.clear()
            server.__dict__.pop("_lua_runtime", None)
    try:
        client.close()
    except (redis.RedisError, OSError):
        pass
    return deleted
