"""The Compare page's workload: its knobs, checked, and the seeded list of reads and writes every pattern runs.

A `Workload` is a frozen dataclass of knobs (how many requests, the read share, how many keys and how
popular each is, the TTL, write-behind's batching, the database's latency, the time between requests,
an optional fault, a memory limit and its policy, and the knobs of the parts some patterns compose: TTL
jitter, early refresh, and two app instances with near caches). `make_operations()` turns it into the same
list of reads and writes for every pattern, the same for the same seed; `seed_rows()` is the database every
lab starts with. The run is `strategies.compare`, its summary `strategies.compare_summary`.
"""

from __future__ import annotations

import itertools
import random
from dataclasses import asdict, dataclass
from typing import Literal, NamedTuple

from .compare_summary import say
from .features.jitter import MAX_JITTER
from .features.policies import POLICIES

FAULTS = ("none", "db-outage", "cache-crash", "cache-down")
WINDOW_FAULTS = frozenset({"db-outage", "cache-down"})
MIN_REQUESTS, MAX_REQUESTS = 100, 100_000
MAX_KEYS = 20_000

Popularity = Literal["uniform", "zipf"]
Fault = Literal["none", "db-outage", "cache-crash", "cache-down"]
NEAR_INVALIDATIONS = ("ttl", "pubsub")   # how an app instance hears of a write (fakeredis has no CLIENT TRACKING)
MAX_XFETCH_BETA = 10.0


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
    # The knobs of parts only some patterns compose (`part_knobs`): each pattern that has the knob runs with it.
    ttl_jitter: float = 0                # ± percent on every TTL a fill sets (features/jitter.py); 0: off
    refresh_ahead: float | None = None   # Coherence's refresh-ahead factor (features/early_refresh.py); None: off
    xfetch_beta: float | None = None     # XFetch's β; None: off
    app_instances: int = 1               # 2: requests take turns on App 1 (client A) and App 2 (client B)
    near_ttl: int = 10                   # with two instances: seconds each keeps its near copy (features/near_cache.py)
    near_invalidation: str = "ttl"       # how an instance hears of a write: "ttl" (it does not) or "pubsub"

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
        if not 0 <= self.ttl_jitter <= MAX_JITTER:
            found.append(say("bad-jitter", high=MAX_JITTER))
        if self.refresh_ahead is not None and not 0 < self.refresh_ahead < 1:
            found.append(say("bad-refresh-ahead"))
        if self.xfetch_beta is not None and not 0 < self.xfetch_beta <= MAX_XFETCH_BETA:
            found.append(say("bad-xfetch", high=f"{MAX_XFETCH_BETA:g}"))
        if self.app_instances not in (1, 2):
            found.append(say("bad-instances"))
        elif self.app_instances == 2 and (self.near_ttl < 1 or self.near_invalidation not in NEAR_INVALIDATIONS):
            found.append(say("bad-near", ways=" or ".join(NEAR_INVALIDATIONS)))
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

    def part_knobs(self) -> dict[str, object]:
        """The lab attributes of the knobs only some patterns have, as this workload sets them (a pattern whose
        page has no such knob runs without it: `compare.new_lab`)."""
        return {"ttl_jitter": self.ttl_jitter, "refresh_ahead": self.refresh_ahead, "xfetch_beta": self.xfetch_beta,
                "near_ttl": self.near_ttl if self.app_instances == 2 else None,
                "near_invalidation": self.near_invalidation}

    def client(self, number: int) -> str:
        """Who sends request `number`: with two app instances, A (App 1) and B (App 2) take turns."""
        return "B" if self.app_instances == 2 and number % 2 else "A"

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
