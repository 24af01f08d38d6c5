"""What a request leaves behind: its steps as data, the simulated clock and the latency model.

Each pattern performs real Redis and SQLite calls and records one `Step` per arrow a textbook figure
would draw. Time is simulated: a step advances an injected clock by its modelled cost, so tests and
the UI control time (as `cachetools.TTLCache(timer=...)` does) and nothing ever sleeps.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, NamedTuple

Outcome = Literal["hit", "miss", "ok", "error"]


class SimClock:
    """Simulated time in seconds; it only moves when somebody advances it."""

    def __init__(self, start: float = 0.0) -> None:
        self._now = start

    def now(self) -> float:
        return self._now

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("time does not run backwards")
        self._now += seconds


@dataclass
class Costs:
    """Modelled cost of one call, in milliseconds; a slow database multiplies its own costs."""

    cache_ms: float = 1.0
    db_read_ms: float = 10.0
    db_write_ms: float = 20.0


class Step(NamedTuple):
    """One arrow of the figure: `source` asked `target` to do `action`, with this outcome.

    A NamedTuple: immutable, and cheap enough to record on every call of every request.
    """

    number: int
    source: str
    target: str
    action: str
    key: str | None
    value: str | None
    outcome: Outcome
    cost_ms: float
    explanation: str
    command: str
    at_ms: float
    background: bool = False
    client: str = "A"

    @property
    def failed(self) -> bool:
        return self.outcome == "error"


@dataclass
class Counters:
    """Per-learner tallies shown beside the request log."""

    hits: int = 0
    misses: int = 0
    db_reads: int = 0
    db_writes: int = 0
    queued_writes: int = 0
    lost_writes: int = 0
    stale_reads: int = 0

    @property
    def hit_ratio(self) -> float | None:
        lookups = self.hits + self.misses
        return self.hits / lookups if lookups else None


@dataclass(slots=True)
class Trace:
    """Everything one request did, step by step, and how it ended."""

    pattern: str
    operation: str
    key: str | None = None
    value: str | None = None
    hit: bool | None = None
    ok: bool = True
    error: str | None = None
    stale: bool = False
    client: str = "A"
    steps: list[Step] = field(default_factory=list)
    # One Snapshot (strategies.base) per step, taken right after it, when the lab records states.
    states: list = field(default_factory=list)

    @property
    def latency_ms(self) -> float:
        """What the caller waited for: background steps (write-behind flushes) are not included."""
        return sum(step.cost_ms for step in self.steps if not step.background)

    @property
    def db_calls(self) -> int:
        return sum(1 for step in self.steps if "Database" in (step.source, step.target) and step.action != "REPLY")

    @property
    def outcome(self) -> str:
        if not self.ok:
            return "error"
        if self.hit is not None:
            return "hit" if self.hit else "miss"
        return "ok"


class Recorder:
    """Builds a Trace: each `step()` appends a Step and advances the clock by its cost."""

    __slots__ = ("trace", "clock")

    def __init__(self, trace: Trace, clock: SimClock) -> None:
        self.trace = trace
        self.clock = clock

    def step(
        self,
        source: str,
        target: str,
        action: str,
        *,
        command: str,
        explanation: str,
        key: str | None = None,
        value: str | None = None,
        outcome: Outcome = "ok",
        cost_ms: float = 0.0,
        background: bool = False,
    ) -> Step:
        clock, steps = self.clock, self.trace.steps
        if cost_ms:
            clock.advance(cost_ms / 1000)
        step = Step(len(steps) + 1, source, target, action, key, value, outcome, cost_ms, explanation, command,
                    clock.now() * 1000, background, self.trace.client)
        steps.append(step)
        return step

    def fail(self, source: str, target: str, action: str, error: Exception | str, **details) -> Step:
        """Record a failed call; the request ends with ok=False and this error."""
        self.trace.ok = False
        self.trace.error = str(error)
        return self.step(source, target, action, outcome="error", **details)
