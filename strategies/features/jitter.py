"""TTL jitter: every TTL a fill sets is spread by up to ± `ttl_jitter` percent, so keys loaded together do not all
expire together (and the database is not asked for all of them in the same second).

fill:  App (or the Loader) → Cache SET key value EX ttl ± spread, spread = ⌊ttl × ttl_jitter / 100⌋ whole seconds

`SET … EX` counts whole seconds, so the jittered TTL is a whole number too: ±10 % of 60 s is 54 to 66 s, and a
TTL too short to spread by a second is not spread at all. The draws come from a random generator of the lab's own,
seeded, and seeded again when the lab is reset: a scenario or a share link replays the very same TTLs.
"""

from __future__ import annotations

import random

from ..knobs import Knob
from ..part import Part

MAX_JITTER = 50          # percent: beyond it a TTL could come close to nothing
SEED = "ttl-jitter"


def spread_of(ttl: int, percent: float) -> int:
    """How many whole seconds a TTL of `ttl` may move either way at ± `percent` (clamped to 0..MAX_JITTER)."""
    return int(ttl * min(max(percent, 0), MAX_JITTER) / 100)


class TtlJitter(Part):
    """Its knob is the lab's `ttl_jitter` (percent, 0: off); the TTL it spreads is the lab's `ttl_seconds`."""

    heading = "part-jitter"
    knobs = (Knob("ttl-jitter", "TTL jitter (± %)", "number", 0, "ttl_jitter", low=0, high=MAX_JITTER, step=5,
                  help="ttl-jitter-help"),)

    def __init__(self, lab) -> None:
        super().__init__(lab)
        self.reset()

    def reset(self) -> None:
        self.random = random.Random(SEED)

    def ttl(self) -> int | None:
        """The TTL of the next fill: the lab's, moved by a seeded draw within ± the jitter (None: no expiry)."""
        base = self.lab.ttl_seconds
        spread = spread_of(base, self.lab.ttl_jitter) if base else 0
        if not spread:
            return base
        return max(1, base + self.random.randint(-spread, spread))

    def bounds(self) -> tuple[int, int] | None:
        """The shortest and longest TTL a fill may get now, or None without a TTL."""
        base = self.lab.ttl_seconds
        if not base:
            return None
        spread = spread_of(base, self.lab.ttl_jitter)
        return max(1, base - spread), base + spread


def compose(lab, ttl_jitter: float) -> TtlJitter:
    """Give `lab` its jitter knob and the part that draws the TTLs (cache-aside and read-through compose it)."""
    lab.ttl_jitter = ttl_jitter
    return TtlJitter(lab)
