"""Where the cache lives: an in-process fakeredis server per learner, or a real Redis at REDIS_URL.

Either way the client speaks the Redis protocol, and every key a learner touches sits under the
learner's own namespace prefix, so many learners can share one real server. Nothing here ever runs
FLUSHALL or FLUSHDB: clearing a learner's cache deletes only that learner's keys.
"""

from __future__ import annotations

import logging
import os
from urllib.parse import urlsplit, urlunsplit

import fakeredis
import redis
from redis.backoff import ExponentialBackoff
from redis.retry import Retry

log = logging.getLogger(__name__)

# A learner's click must say "the cache is not answering" within a moment, not after long retries.
FAIL_FAST = dict(socket_connect_timeout=1, socket_timeout=2, retry=Retry(ExponentialBackoff(cap=0.05, base=0.01), 1))


class CacheUnavailable(RuntimeError):
    """The Redis server at REDIS_URL could not be reached; the message says which and why."""


def redact(url: str) -> str:
    """The URL without its password, fit to show a learner."""
    parts = urlsplit(url)
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
        parts = parts._replace(netloc=netloc)
    return urlunsplit(parts)


def backend_description(url: str | None = None) -> str:
    url = os.environ.get("REDIS_URL") if url is None else url
    return f"Redis at {redact(url)}" if url else "embedded fakeredis (in-process, one server per learner)"


def connect_cache(url: str | None = None) -> redis.Redis:
    """A redis-py client: a real server when `url` (default: $REDIS_URL) is set, else a private fakeredis.

    Raises CacheUnavailable, with the URL and the failure, when a real server does not answer PING.
    """
    url = os.environ.get("REDIS_URL") if url is None else url
    if not url:
        return fakeredis.FakeRedis(server=fakeredis.FakeServer(), decode_responses=True)
    try:
        client = redis.Redis.from_url(url, decode_responses=True, **FAIL_FAST)
        client.ping()
    except (redis.RedisError, ValueError, OSError) as err:
        raise CacheUnavailable(f"Cannot reach the Redis server at {redact(url)}: {err}") from None
    return client


def private_fake_server(client: redis.Redis) -> fakeredis.FakeServer | None:
    """The fakeredis server behind `client` when it is one (connect_cache's per-learner server), else None."""
    if not isinstance(client, fakeredis.FakeRedis):
        return None
    return client.connection_pool.connection_kwargs.get("server")


def release_cache(client: redis.Redis, namespace: str) -> int:
    """Free what one learner's cache holds; returns how many keys were deleted.

    Deletes the keys under `namespace` only (SCAN MATCH + DEL, as a lab's reset does; never FLUSHALL or
    FLUSHDB, the server may be shared). On a private fakeredis server it then drops the server's
    databases and its Lua interpreter too, so the memory goes even while something still refers to the
    client. Finally the client's connections are closed. A Redis that does not answer is logged, not
    raised: the learner is gone, and its keys carry TTLs or are found by `lab:{id}:*`.
    """
    glob = "".join("\\" + c if c in "*?[]\\" else c for c in namespace) + "*"
    deleted = 0
    try:
        names = list(client.scan_iter(match=glob, count=500))
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
