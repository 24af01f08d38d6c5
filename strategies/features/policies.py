"""Redis' eviction policies (`maxmemory-policy`), following Redis 7's evict.c, db.c and object.c: which key a full
cache gives up, and how each access updates the 24 bits Redis keeps per key for that. Nothing here knows the lab.

Every key carries one 24-bit field (`robj.lru`). Under an LFU policy it holds the minute of the last decrement (16
bits) and a logarithmic access counter (8 bits); under any other policy, Redis' LRU clock (seconds, 24 bits) at the
last access. A new key starts at the current clock, or at LFU_INIT_VAL (5); each access sets the clock, or counts in
the LFU counter: first the counter loses 1 per `lfu-decay-time` minute since its last decrement, then it grows by
one with probability 1 / ((counter - 5) × lfu-log-factor + 1), so reaching 255 takes about a million accesses.

Choosing a victim, as performEvictions does:
    allkeys-* / volatile-*   sample among every key / among the keys that have a TTL
    noeviction               none: the write is refused (Redis' OOM error)
    *-random                 one key at random
    *-lru, *-lfu, volatile-ttl   sample maxmemory-samples (5) keys, put each in the 16-entry eviction pool, which
                             keeps the best candidates in ascending order of score (idle time; 255 − the LFU
                             counter; how soon the TTL ends), and evict the pool's best that still exists (an entry
                             whose key is gone is a "ghost" and skipped); an empty pick samples again.
The pool outlives one eviction, so a key sampled earlier can be the one evicted later. Randomness (which keys are
sampled, the LFU increments) comes from the `rng` the caller passes: a lab seeds its own.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from typing import NamedTuple

MAXMEMORY_SAMPLES = 5
EVPOOL_SIZE = 16
LRU_BITS = 24
LRU_CLOCK_MAX = (1 << LRU_BITS) - 1
LRU_CLOCK_RESOLUTION_MS = 1000
LFU_INIT_VAL = 5
LFU_LOG_FACTOR = 10
LFU_DECAY_TIME = 1          # minutes
NEVER = (1 << 64) - 1       # ULLONG_MAX: volatile-ttl scores a key by how far before this its TTL ends


# ---- the 24 bits of each key: an LRU clock, or LFU's decrement time and counter ------------------------------
def lru_clock(now: float) -> int:
    """Redis' LRU clock at `now` (seconds): whole seconds, in 24 bits."""
    return (int(now * 1000) // LRU_CLOCK_RESOLUTION_MS) & LRU_CLOCK_MAX


def idle_ms(field: int, now: float) -> int:
    """estimateObjectIdleTime: how long since the access stamped `field`, in ms (the clock wraps once)."""
    clock = lru_clock(now)
    return (clock - field if clock >= field else clock + LRU_CLOCK_MAX - field) * LRU_CLOCK_RESOLUTION_MS


def lfu_minutes(now: float) -> int:
    return int(now // 60) & 65535


def lfu_decayed(field: int, now: float) -> int:
    """LFUDecrAndReturn: the counter, less one per decay period since its last decrement."""
    last, counter = field >> 8, field & 255
    minutes = lfu_minutes(now)
    elapsed = minutes - last if minutes >= last else 65535 - last + minutes
    periods = elapsed // LFU_DECAY_TIME if LFU_DECAY_TIME else 0
    return 0 if periods > counter else counter - periods


def lfu_log_incr(counter: int, rng: random.Random) -> int:
    """LFULogIncr: add one with probability 1 / ((counter − LFU_INIT_VAL) × lfu-log-factor + 1); 255 at most."""
    if counter == 255:
        return 255
    base = max(0, counter - LFU_INIT_VAL)
    return counter + 1 if rng.random() < 1.0 / (base * LFU_LOG_FACTOR + 1) else counter


def new_field(lfu: bool, now: float) -> int:
    """A new key's 24 bits (createObject)."""
    return (lfu_minutes(now) << 8) | LFU_INIT_VAL if lfu else lru_clock(now)


def touched_field(field: int, lfu: bool, now: float, rng: random.Random) -> int:
    """The 24 bits after an access (lookupKey: updateLFU, or the LRU clock)."""
    if not lfu:
        return lru_clock(now)
    return (lfu_minutes(now) << 8) | lfu_log_incr(lfu_decayed(field, now), rng)


# ---- choosing a victim --------------------------------------------------------------------------------------
class Victim(NamedTuple):
    key: str
    sampled: int          # keys sampled to choose it (0: it was already in the eviction pool)
    score: int            # idle ms, 255 − counter, or NEVER − expiry ms: what ranked it


class Candidates(NamedTuple):
    """What a policy may look at: the keys it may evict (an indexable sequence, for sampling), whether a key is
    still one of them, and each key's score under the policy."""

    keys: Sequence[str]
    exists: Callable[[str], bool]
    score: Callable[[str], int]


class EvictionPool:
    """The 16 best candidates sampled so far, in ascending order of score; None: an empty slot."""

    def __init__(self) -> None:
        self.slots: list[tuple[int, str] | None] = [None] * EVPOOL_SIZE

    def populate(self, sampled: list[tuple[int, str]]) -> None:
        """evictionPoolPopulate: insert each (score, key) in place, dropping the worst when the pool is full."""
        pool, last = self.slots, EVPOOL_SIZE - 1
        for score, key in sampled:
            k = 0
            while k < EVPOOL_SIZE and pool[k] is not None and pool[k][0] < score:
                k += 1
            if k == 0 and pool[last] is not None:
                continue                       # worse than every candidate of a full pool
            if k < EVPOOL_SIZE and pool[k] is None:
                pass                           # an empty slot
            elif pool[last] is None:
                pool[k + 1:] = pool[k:last]    # room on the right: shift the better ones right
            else:
                k -= 1                         # full: shift the worse ones left, dropping the worst
                pool[:k] = pool[1:k + 1]
            pool[k] = (score, key)

    def take_best(self, exists: Callable[[str], bool]) -> tuple[int, str] | None:
        """The best entry whose key still exists, removed from the pool with every ghost passed on the way."""
        for k in range(EVPOOL_SIZE - 1, -1, -1):
            entry = self.slots[k]
            if entry is None:
                continue
            self.slots[k] = None
            if exists(entry[1]):
                return entry
        return None


class Policy:
    """A `maxmemory-policy`: its name, whether it evicts only keys with a TTL, and how it picks one."""

    def __init__(self, name: str, *, volatile: bool, lfu: bool = False) -> None:
        self.name, self.volatile, self.lfu = name, volatile, lfu

    def victim(self, candidates: Candidates, rng: random.Random) -> Victim | None:
        return None


class RandomPolicy(Policy):
    def victim(self, candidates: Candidates, rng: random.Random) -> Victim | None:
        if not candidates.keys:
            return None
        key = rng.choice(candidates.keys)
        return Victim(key, 1, candidates.score(key))


class SampledPolicy(Policy):
    """LRU, LFU and volatile-ttl: sampling into the eviction pool, which lasts from one eviction to the next."""

    def __init__(self, name: str, *, volatile: bool, lfu: bool = False) -> None:
        super().__init__(name, volatile=volatile, lfu=lfu)
        self.pool = EvictionPool()

    def victim(self, candidates: Candidates, rng: random.Random) -> Victim | None:
        keys = candidates.keys
        while keys:
            picks = rng.sample(keys, min(MAXMEMORY_SAMPLES, len(keys)))
            self.pool.populate([(candidates.score(key), key) for key in picks])
            best = self.pool.take_best(candidates.exists)
            if best is not None:
                score, key = best
                return Victim(key, len(picks) if key in picks else 0, score)
        return None


def make_policy(name: str) -> Policy:
    """The policy called `name` (one of POLICIES), with an empty eviction pool."""
    if name not in POLICIES:
        raise ValueError(f"unknown maxmemory-policy {name!r}: one of {', '.join(POLICIES)}")
    volatile = name.startswith("volatile-")
    if name == "noeviction":
        return Policy(name, volatile=False)
    if name.endswith("-random"):
        return RandomPolicy(name, volatile=volatile)
    return SampledPolicy(name, volatile=volatile, lfu=name.endswith("-lfu"))


def score_of(policy: Policy, field: int, expires_ms: int | None, now: float) -> int:
    """A key's score under `policy`: the higher, the better a victim (evictionPoolPopulate's "idle")."""
    if policy.name == "volatile-ttl":
        return NEVER - (expires_ms if expires_ms is not None else NEVER)
    if policy.lfu:
        return 255 - lfu_decayed(field, now)
    return idle_ms(field, now)


POLICIES = ("noeviction", "allkeys-lru", "allkeys-lfu", "allkeys-random", "volatile-lru", "volatile-lfu",
            "volatile-ttl", "volatile-random")
