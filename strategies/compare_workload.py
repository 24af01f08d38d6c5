"""The Compare page's workload: its knobs, checked, and the seeded list of reads and writes every pattern runs.

A `Workload` is a frozen dataclass of knobs (how many requests, the read share, how many keys and how
popular each is, the TTL, write-behind's batching, the database's latency, the time between requests,
and an optional fault). `make_operations()` turns it into the same list of reads and writes for every
pattern, the same for the same seed; `seed_rows()` is the database every lab starts with. The run is
`strategies.compare`, its summary `strategies.compare_summary`.
"""

from __future__ import annotations

import itertools
import random
from dataclasses import asdict, dataclass
from typing import Literal, NamedTuple

from .compare_summary import say
from .features.policies import POLICIES

FAULTS = ("none", "db-outage", "cache-crash", "cache-down")
WINDOW_FAULTS = frozenset({"db-outage", "cache-down"})
MIN_REQUESTS, MAX_REQUESTS = 100, 100_000
MAX_KEYS = 20_000

Popularity = Literal["uniform", "zipf"]
Fault = Literal["none", "db-outage", "cache-crash", "cache-down"]


@dataclass(frozen=True)
class Workload:
    """Every knob of a comparison; the same Workload (seed included) always gives the same numbers."""

    requests: int = 2_000
    read_ratio: float = 0.8
    keys: int = 200
    popularity: Popularity = "zipf"
    zipf_exponent: float = 1.1
    ttl_seconds: int = 60
    batch_size: int = 10
    max_delay_seconds: float = 5.0
    coalesce: bool = True
    db_latency_ms: float = 10.0
    gap_ms: float = 10.0                 # simulated time between one request's end and the next one's start
    fault: Fault = "none"
    fault_at: int = 1_000                # the request (0-based) at which the fault starts
    fault_length: int = 200              # requests the outage lasts (db-outage, cache-down)
    seed: int = 1
    maxmemory: int | None = None         # each lab's memory limit in bytes (features/eviction.py); None: none
    maxmemory_policy: str = "noeviction"

    def problems(self) -> list[str]:
        """Why this workload cannot run, as sentences from assets/compare.md; empty if it can."""
        found = []
        if not MIN_REQUESTS <= self.requests <= MAX_REQUESTS:
            found.append(say("bad-requests", low=f"{MIN_REQUESTS:,}", high=f"{MAX_REQUESTS:,}"))
        if not 0.0 <= self.read_ratio <= 1.0:
            found.append(say("bad-read-ratio"))
        if not 1 <= self.keys <= MAX_KEYS:
            found.append(say("bad-keys", high=f"{MAX_KEYS:,}"))
        if self.popularity not in ("uniform", "zipf"):
            found.append(say("bad-popularity"))
        elif self.popularity == "zipf" and not 0.0 < self.zipf_exponent <= 5.0:
            found.append(say("bad-zipf"))
        if self.ttl_seconds < 1:
            found.append(say("bad-ttl"))
        if self.batch_size < 1 or not self.max_delay_seconds > 0:
            found.append(say("bad-batch"))
        if self.db_latency_ms < 0 or self.gap_ms < 0:
            found.append(say("bad-times"))
        if self.maxmemory is not None and self.maxmemory < 1 or self.maxmemory_policy not in POLICIES:
            found.append(say("bad-memory", policies=", ".join(POLICIES)))
        if self.fault not in FAULTS:
            found.append(say("bad-fault"))
        elif self.fault != "none":
            if not 0 <= self.fault_at < self.requests:
                found.append(say("bad-fault-at", last=f"{self.requests - 1:,}"))
            elif self.fault in WINDOW_FAULTS and not 1 <= self.fault_length <= self.requests - self.fault_at:
                found.append(say("bad-fault-window", at=self.fault_at, left=f"{self.requests - self.fault_at:,}"))
        return found

    @property
    def window(self) -> range:
        """The requests the fault covers: its window for an outage, the first request after a crash."""
        if self.fault == "none":
            return range(0)
        if self.fault == "cache-crash":
            return range(self.fault_at, self.fault_at + 1)
        return range(self.fault_at, self.fault_at + self.fault_length)

    def as_dict(self) -> dict[str, object]:
        """The knobs as a plain dict (hashable by Streamlit's cache); `Workload(**d)` rebuilds it."""
        return asdict(self)


class WorkloadError(ValueError):
    """A workload that cannot run; its args are the sentences saying why."""


class Operation(NamedTuple):
    key: str
    value: str | None          # None: a read


def key_name(number: int) -> str:
    return f"key:{number:05d}"


def seed_rows(workload: Workload) -> list[tuple[str, str]]:
    """The database every lab starts with: one row per key of the workload."""
    return [(key_name(n), f"seed {n}") for n in range(workload.keys)]


def make_operations(workload: Workload) -> list[Operation]:
    """The workload's requests, in order: the same list for every pattern, and for the same seed."""
    rng = random.Random(workload.seed)
    count, n = workload.requests, workload.keys
    if workload.popularity == "zipf":
        weights = itertools.accumulate(1.0 / (rank + 1) ** workload.zipf_exponent for rank in range(n))
        picks = rng.choices(range(n), cum_weights=list(weights), k=count)
    else:
        picks = [rng.randrange(n) for _ in range(count)]
    names = [key_name(k) for k in range(n)]
    share, chance = workload.read_ratio, rng.random
    return [Operation(names[k], None) if chance() < share else Operation(names[k], f"v{number}")
            for number, k in enumerate(picks)]
