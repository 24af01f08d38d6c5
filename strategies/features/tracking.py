"""Server-assisted client-side caching, by hand: Redis itself tells an app instance that a key it cached has
changed (CLIENT TRACKING, Redis 6 and later), so the application publishes nothing.

Each app instance opens two connections of its own to the server that holds the lab's keys (on a Redis Cluster, the
node serving the lab's slot): a subscriber, subscribed to `__redis__:invalidate`, and a tracking connection switched
on with `CLIENT TRACKING ON REDIRECT <the subscriber's id>`. When the instance keeps a copy it reads the key through
its tracking connection, so the server remembers that this client holds it; the next time that key is modified — by
any client: a write's DEL, another instance's SET, a crash, an expiry — the server sends its name to the subscriber,
once, and forgets the key until it is read again.

redis-py (5.1 and later) does this itself (`Redis(protocol=3, cache_config=CacheConfig())`: RESP3 push messages on
the same connection, no redirect), but refuses servers older than Redis 7.4; fakeredis has no CLIENT TRACKING at all.
This mode needs a real Redis 6 or later, and says so (`unavailable`).
"""

from __future__ import annotations

import uuid

import fakeredis
import redis
from redis.client import PubSub

from ..cache import is_cluster

INVALIDATE = "__redis__:invalidate"
# What a dedicated connection copies from the lab's own (its other settings are the client's internals).
COPIED = ("host", "port", "db", "username", "password", "socket_timeout", "socket_connect_timeout")


def unavailable(cache: object) -> str | None:
    """Why `cache` cannot track what a client cached (None: it can)."""
    if isinstance(cache, fakeredis.FakeRedis):
        return ("this needs a real Redis server: fakeredis has no CLIENT TRACKING, which server-assisted "
                "client-side caching relies on (start the lab with REDIS_URL set)")
    return None


def server_of(cache: redis.Redis, namespace: str) -> redis.ConnectionPool:
    """The connection pool of the server holding the keys under `namespace` (on a cluster, its slot's node)."""
    return cache.get_node_from_key(namespace).redis_connection.connection_pool if is_cluster(cache) \
        else cache.connection_pool


def connection_to(pool: redis.ConnectionPool, *, name: str | None = None, single: bool = False) -> redis.Redis:
    """A client of its own (RESP2, answers decoded; `name`: its CLIENT SETNAME; `single`: one connection, kept) to
    the server behind `pool`."""
    kept = {key: value for key, value in pool.connection_kwargs.items() if key in COPIED or key.startswith("ssl")}
    own = redis.ConnectionPool(connection_class=pool.connection_class, **kept, protocol=2, decode_responses=True,
                               **({"client_name": name} if name else {}))
    return redis.Redis(connection_pool=own, single_connection_client=single)


class Tracker:
    """One app instance's tracking connection and the subscriber its invalidations are redirected to."""

    def __init__(self, cache: redis.Redis, namespace: str, *, waits: int, wait_seconds: float) -> None:
        pool = server_of(cache, namespace)
        name = f"lab-near-{uuid.uuid4().hex[:12]}"       # to find the subscriber's client id (names are not shown)
        self.subscriber = connection_to(pool, name=name)
        self.listener: PubSub = self.subscriber.pubsub()
        self.listener.subscribe(INVALIDATE)
        self.waits, self.wait_seconds = waits, wait_seconds
        if not self._confirmed():
            self.close()
            raise redis.ConnectionError(f"the server did not confirm the subscription to {INVALIDATE}")
        self.tracking = connection_to(pool, single=True)
        found = [client["id"] for client in self.tracking.client_list() if client.get("name") == name]
        self.tracking.execute_command("CLIENT", "TRACKING", "ON", "REDIRECT", found[0])

    def _confirmed(self) -> bool:
        for _ in range(self.waits):
            got = self.listener.get_message(timeout=self.wait_seconds)
            if got is not None and got["type"] == "subscribe":
                return True
        return False

    def read(self, name: str) -> str | None:
        """GET `name` through the tracking connection: from now on the server tells us when it changes."""
        return self.tracking.get(name)

    def invalidated(self, expected: set[str]) -> list[str | None]:
        """The names the server said changed (None: "everything", after a FLUSHALL), waiting for `expected` ones
        (at most `waits` reads of the socket); then whatever else has already arrived."""
        found: list[str | None] = []
        missing, reads = set(expected), 0
        while True:
            patient = bool(missing) and reads < self.waits
            got = self.listener.get_message(timeout=self.wait_seconds if patient else 0)
            reads += 1
            if got is None:
                if patient:
                    continue
                return found
            if got["type"] != "message":
                continue
            names = got["data"] if isinstance(got["data"], list) else [None]
            found += names
            missing -= set(names)

    def close(self) -> None:
        for closing in (self.listener.close, self.subscriber.close, getattr(self, "tracking", self.subscriber).close):
            try:
                closing()
            except (redis.RedisError, OSError):
                pass
