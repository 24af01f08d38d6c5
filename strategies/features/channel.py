"""The near caches' invalidation channel: a real Redis Pub/Sub channel, named under the lab's namespace, that every
app instance subscribes to and every write publishes on.

On a Redis Cluster it is a sharded channel (SPUBLISH, SSUBSCRIBE, Redis 7): it lives on the shard serving its slot —
under the lab's hash tag, the node that holds the lab's keys — where a classic PUBLISH is forwarded to every node of
the cluster (its answer then counts only the subscribers of the node it ran on). Pub/Sub keeps no message: a
subscriber that is not connected when a message is published never receives it.
"""

from __future__ import annotations

import json

import redis
from redis.client import PubSub

from ..cache import is_cluster


def publish(cache: redis.Redis, channel: str, number: int, sender: str, key: str) -> int:
    """Publish "`key` changed" (message `number`, from `sender`); how many subscribers Redis handed it to."""
    message = json.dumps({"n": number, "from": sender, "key": key})
    return cache.spublish(channel, message) if is_cluster(cache) else cache.publish(channel, message)


def verb(cache: redis.Redis) -> str:
    return "SPUBLISH" if is_cluster(cache) else "PUBLISH"


class Listener:
    """One app instance's subscriber: a connection of its own, subscribed once the server confirmed it (so that a
    message published right after is received)."""

    def __init__(self, cache: redis.Redis, channel: str, *, waits: int, wait_seconds: float) -> None:
        self.sharded = is_cluster(cache)
        self.wait_seconds = wait_seconds
        self.pubsub: PubSub = cache.pubsub()
        (self.pubsub.ssubscribe if self.sharded else self.pubsub.subscribe)(channel)
        if not any(got is not None and got["type"] in ("subscribe", "ssubscribe") for got in self._reads(waits)):
            self.close()
            raise redis.ConnectionError(f"the server did not confirm the subscription to {channel}")

    def _reads(self, count: int):
        for _ in range(count):
            yield self.pubsub.get_sharded_message(timeout=self.wait_seconds) if self.sharded else \
                self.pubsub.get_message(timeout=self.wait_seconds)

    def heard(self, number: int, waits: int) -> bool:
        """Read the socket until message `number` arrives (True), or `waits` reads brought nothing more."""
        for got in self._reads(waits):
            if got is not None and got["type"] in ("message", "smessage") and json.loads(got["data"])["n"] == number:
                return True
        return False

    @property
    def subscribed(self) -> bool:
        return self.pubsub.subscribed

    def close(self) -> None:
        self.pubsub.close()
