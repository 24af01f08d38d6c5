"""A cache that is full: a memory limit per lab (`maxmemory`, in bytes) and Redis' eviction policies.

Neither fakeredis (no maxmemory, MEMORY USAGE or OBJECT FREQ) nor a shared real Redis (one maxmemory for every
learner) can give each learner a limit of their own, so the lab evicts by itself, with Redis' own algorithms
(policies.py) and Redis' own way of counting memory (memory.py):

store:  a call that stores values (SET, a fill, write-behind's enqueue script) names them; before it runs, while
        what the cache holds and what it will hold do not fit the limit:
            the policy names a victim → Cache → Cache EVICT: a real DEL of that key, recorded as a step of the same
                                        atomic call (so no other client comes between), performed by the cache
                                        server ("S"), its row kept a while in the Cache table, greyed
            no victim (noeviction; volatile-* with no key that has a TTL; a value larger than the limit)
                                      → the call is refused with Redis' OOM error, and nothing is stored
access: every change to the Cache table (a key stored, overwritten, given a TTL, gone) and every key a call found
        updates that key's 24 bits (its LRU clock, or its LFU counter) and the bytes the cache holds.

Redis checks before every command whether it is over its limit and evicts until it is not, so a write can take it
past the limit by what that write adds; the lab, which knows what a write will add, makes room before it, so the
Cache table never holds more than the limit (a TTL the flusher adds can still pass it by a few bytes, as in Redis).
"""

from __future__ import annotations

import random
from typing import TYPE_CHECKING

from ..calls import CacheRefused
from ..knobs import Knob
from ..narration import explain_warning
from ..part import Part, Store
from ..state import CacheItem, Change, Evicted, LabState
from ..trace import CACHE_SERVER
from ..views import Gauge
from .memory import amounts, entry_bytes, item_bytes, table_bytes, used_memory
from .policies import (
    MAXMEMORY_SAMPLES,
    POLICIES,
    Candidates,
    Policy,
    Victim,
    make_policy,
    new_field,
    score_of,
    touched_field,
)

if TYPE_CHECKING:
    from ..lab import Lab
    from ..request import Request

EVICTED_KEPT = 8        # evicted keys the Cache table keeps showing, greyed (the newest)
SEED = 0                # every lab's eviction randomness starts here, so a scenario or a share link replays exactly


class KeyRing:
    """A set of keys that can also be sampled at random: a list, and each key's place in it."""

    def __init__(self) -> None:
        self.keys: list[str] = []
        self._at: dict[str, int] = {}

    def add(self, key: str) -> None:
        if key not in self._at:
            self._at[key] = len(self.keys)
            self.keys.append(key)

    def discard(self, key: str) -> None:
        place = self._at.pop(key, None)
        if place is None:
            return
        last = self.keys.pop()
        if place < len(self.keys):           # the last key takes the freed place
            self.keys[place] = last
            self._at[last] = place

    def __contains__(self, key: str) -> bool:
        return key in self._at

    def __len__(self) -> int:
        return len(self.keys)


class Eviction(Part):
    """The memory limit of one lab; its knobs are the lab's `maxmemory` (bytes; None: no limit) and
    `maxmemory_policy` (one of policies.POLICIES)."""

    heading = "part-eviction"
    note = "part-eviction-note"
    knobs = (
        Knob("maxmemory", "Memory limit (bytes)", "number", 0, "maxmemory", low=0, high=1_048_576, step=64,
             help="maxmemory-help", zero_is_none=True),
        Knob("maxmemory-policy", "Eviction policy", "choice", "noeviction", "maxmemory_policy", choices=POLICIES,
             help="maxmemory-policy-help"),
    )

    def __init__(self, lab: Lab, *, seed: int = SEED) -> None:
        super().__init__(lab)
        self.seed = seed
        self.reset()

    def reset(self) -> None:
        self.rng = random.Random(self.seed)
        self.fields: dict[str, int] = {}     # each cached key's 24 bits: its LRU clock, or LFU's minute and counter
        self.sizes: dict[str, int] = {}      # each cached key's bytes (memory.entry_bytes)
        self.data = 0                        # their sum
        self.every, self.timed = KeyRing(), KeyRing()     # the cached keys; those with a TTL
        self.evictions = 0
        self.refusals = 0                    # stores refused with Redis' OOM error
        self._policy: Policy | None = None

    @property
    def policy(self) -> Policy:
        """The lab's policy (its eviction pool lasts while the policy stays the same)."""
        name = self.lab.maxmemory_policy
        if self._policy is None or self._policy.name != name:
            self._policy = make_policy(name)
        return self._policy

    def used(self) -> int:
        """The bytes the cache holds now (memory.used_memory of the live Cache table, kept up to date)."""
        return self.data + table_bytes(len(self.every)) + table_bytes(len(self.timed))

    # ---- following the cache: its bytes, and each key's access bits --------------------------------------
    def tables_changed(self, changes: tuple[Change, ...]) -> None:
        for change in changes:
            if change.table == "cache":
                self._follow(change.key, change.after)

    def _follow(self, key: str, item: CacheItem | None) -> None:
        self.data -= self.sizes.pop(key, 0)
        if item is None:                                 # deleted, expired, evicted, crashed, vanished
            self.fields.pop(key, None)
            self.every.discard(key)
            self.timed.discard(key)
            return
        size = self.sizes[key] = item_bytes(key, item)
        self.data += size
        self.every.add(key)
        (self.timed.add if item.expires_at is not None else self.timed.discard)(key)
        now, field = self.lab.clock.now(), self.fields.get(key)
        # A new key starts afresh; a key written again (SET, EXPIRE) is an access, as Redis' lookupKeyWrite is.
        self.fields[key] = new_field(self.policy.lfu, now) if field is None else \
            touched_field(field, self.policy.lfu, now, self.rng)

    def accessed(self, key: str) -> None:
        field = self.fields.get(key)
        if field is not None:
            self.fields[key] = touched_field(field, self.policy.lfu, self.lab.clock.now(), self.rng)

    # ---- before a store: make room, or refuse ------------------------------------------------------------
    def before_store(self, t: Request, stores: tuple[Store, ...]) -> None:
        limit = self.lab.maxmemory
        if limit is None:
            return
        alone = sum(entry_bytes(key, value, ttl=ttl is not None) for key, value, ttl in stores) + \
            table_bytes(len(stores)) + table_bytes(sum(ttl is not None for *_, ttl in stores))
        if alone > limit:                                # it could not fit even in an empty cache
            self.refusals += 1
            raise CacheRefused(("oom-too-big", {"size": alone, "limit": limit}))
        while True:
            used, after = self.used(), self._used_after(stores)
            if after <= limit:
                return
            need = max(0, after - used)      # 0: the cache is already past its limit (a TTL the flusher added)
            victim = self.policy.victim(self._candidates(), self.rng)
            if victim is None:
                self.refusals += 1
                raise CacheRefused(self._refusal(used, need, limit))
            self._evict(t, victim, used, need, limit)

    def _used_after(self, stores: tuple[Store, ...]) -> int:
        """What the cache would hold once `stores` are stored (each replacing its key's current value)."""
        data, keys, timed = self.data, len(self.every), len(self.timed)
        for key, value, ttl in stores:
            if key in self.sizes:
                data, keys, timed = data - self.sizes[key], keys - 1, timed - (key in self.timed)
            data, keys, timed = data + entry_bytes(key, value, ttl=ttl is not None), keys + 1, timed + (ttl is not None)
        return data + table_bytes(keys) + table_bytes(timed)

    def _candidates(self) -> Candidates:
        policy, fields, cache, now = self.policy, self.fields, self.lab.state.cache, self.lab.clock.now()
        ring = self.timed if policy.volatile else self.every

        def score(key: str) -> int:
            expires = cache[key].expires_at
            return score_of(policy, fields[key], None if expires is None else int(expires * 1000), now)

        return Candidates(ring.keys, ring.__contains__, score)

    def _evict(self, t: Request, victim: Victim, used: int, need: int, limit: int) -> None:
        """Delete the victim for real, as Redis' own eviction does, and record it as a step: the key leaves the
        Cache table and joins the greyed rows of the keys lately evicted."""
        lab, key = self.lab, victim.key
        lab.cache.delete(lab.redis_key(key))
        state, now = lab.state, lab.clock.now()
        item = state.cache[key]
        gone = Evicted(item.value, now, self.policy.name)
        changes = [Change("cache", key, item, None, "evicted"), Change("evicted", key, state.evicted.get(key), gone)]
        older = [old for old in state.evicted if old != key]
        dropped = older[:max(0, len(older) + 1 - EVICTED_KEPT)]          # the oldest greyed rows make way
        changes += [Change("evicted", old, state.evicted[old], None) for old in dropped]
        self.evictions += 1
        # The cache server evicts on its own, before it runs the call that needs the room: its step, not the
        # client's, though it is recorded inside the client's call (no other client comes between).
        client, t.client = t.client, CACHE_SERVER
        try:
            t.step("Cache", "Cache", "EVICT", key=key, value=item.value, command=f"DEL {key} (evicted)",
                   changes=tuple(changes), note=self._evict_note(victim, item, used, need, limit))
        finally:
            t.client = client

    def _evict_note(self, victim: Victim, item: CacheItem, used: int, need: int, limit: int) -> tuple[str, dict]:
        """Why this key: its score when it was ranked (a candidate kept in the pool from an earlier sample keeps
        the score it had then, as in Redis, even if it was read since)."""
        policy = self.policy
        fields = {"policy": policy.name, "used": used, "limit": limit, "need": need, "sampled": victim.sampled}
        if policy.name.endswith("-random"):
            return "evict-random", fields
        pool = "-pool" if not victim.sampled else ""
        if policy.name == "volatile-ttl":
            return f"evict-ttl{pool}", {**fields, "left": round(max(0.0, item.expires_at - self.lab.clock.now()), 1)}
        if policy.lfu:
            return f"evict-lfu{pool}", {**fields, "counter": 255 - victim.score}
        return f"evict-lru{pool}", {**fields, "idle": victim.score // 1000}

    def _refusal(self, used: int, need: int, limit: int) -> tuple[str, dict]:
        name = self.policy.name
        if name == "noeviction":
            return "oom-noeviction", {"used": used, "limit": limit, "need": need}
        return "oom-volatile", {"policy": name, "used": used, "limit": limit, "need": need, "keys": len(self.every)}

    # ---- what the page shows ------------------------------------------------------------------------------
    def gauges(self, state: LabState) -> list[Gauge]:
        used, limit = used_memory(state.cache), self.lab.maxmemory
        if limit is None:
            text = explain_warning("memory-gauge-unlimited", used=used)
        else:
            text = explain_warning("memory-gauge", amounts=amounts(used, limit), policy=self.lab.maxmemory_policy)
        return [Gauge("Memory", used, limit, "bytes", text)]

    def state_clause(self, state: LabState) -> str | None:
        if self.lab.maxmemory is None:
            return None
        return explain_warning("memory-clause", used=used_memory(state.cache), limit=self.lab.maxmemory)

    def metrics(self, state: LabState) -> list[tuple[str, object]]:
        if self.lab.maxmemory is None:
            return []
        return [("Memory", f"{used_memory(state.cache):,} / {self.lab.maxmemory:,} B"), ("Evicted", self.evictions)]


def compose(lab: Lab, maxmemory: int | None, maxmemory_policy: str) -> Eviction:
    """Give `lab` its memory limit knobs and the part that enforces them (every pattern composes it)."""
    make_policy(maxmemory_policy)                   # an unknown policy fails here, not at the first store
    lab.maxmemory, lab.maxmemory_policy = maxmemory, maxmemory_policy
    return Eviction(lab)


__all__ = ["EVICTED_KEPT", "MAXMEMORY_SAMPLES", "Eviction", "KeyRing", "compose"]
