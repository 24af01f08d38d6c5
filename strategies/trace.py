"""What a request leaves behind: its steps as data, its trace, the lab's counters and the latency model.

Each pattern performs real Redis and SQLite calls and records one `Step` per arrow a textbook figure
would draw. A step carries the changes its call made (see `state`), the line of the pattern's own code
that made it, and a note from which its explanation is written when somebody reads it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import CodeType
from typing import TYPE_CHECKING, Literal

from .narration import explain

if TYPE_CHECKING:
    from .state import Change

Outcome = Literal["hit", "miss", "ok", "error"]
# Who performs the cache server's own events (a TTL running out, a restart, the lab comparing notes with it):
# no client, so no client's letter.
CACHE_SERVER = "S"
# Letters no learner's client takes: each names a worker or a job of the lab's own, as assets/ui.md says
# (actor-<letter>): F the write-behind flusher, S the cache server, W early refresh's refresher, N an app instance
# itself (its near cache's TTL, its connection), J an import or warm-up job, R a reporting job. A scenario with
# many readers letters them around these.
RESERVED_CLIENTS = frozenset("FJNRSW")


@dataclass
class Costs:
    """Modelled cost of one call, in milliseconds; a slow database multiplies its own costs."""

    cache_ms: float = 1.0
    db_read_ms: float = 10.0
    db_write_ms: float = 20.0


# Steps and their code references are written once, when recorded, and only read afterwards; they are not frozen
# dataclasses because a frozen one sets each field through object.__setattr__, which made recording a step (16
# fields, thousands per session) cost three times as much.
@dataclass(slots=True)
class CodeRef:
    """The line of a pattern's own code that performed a step: its code object and line number."""

    code: CodeType
    line: int

    @property
    def filename(self) -> str:
        return self.code.co_filename

    @property
    def function(self) -> str:
        return self.code.co_qualname


@dataclass(slots=True, kw_only=True)
class Step:
    """One arrow of the figure: `source` asked `target` to do `action`, with this outcome.

    `number` is its place in its request; `seq` orders steps across all requests of a lab (interleaved clients
    included); `client` is who performed it (a client's letter, or a worker's: "F", the flusher; "S", the cache
    server's own events: expiry, a restart, a resync); `changes`
    are what the call did to the cache, the database or the queue; `note` is (narration id, fields) for
    `explanation`; `code` the pattern's line that made the call."""

    number: int
    source: str
    target: str
    action: str
    key: str | None
    value: str | None
    outcome: Outcome
    cost_ms: float
    command: str
    at_ms: float
    background: bool
    client: str
    seq: int
    changes: tuple[Change, ...]
    code: CodeRef | None
    note: tuple[str, dict | None]

    @property
    def failed(self) -> bool:
        return self.outcome == "error"

    @property
    def explanation(self) -> str:
        """One sentence for the learner, written from the note only when somebody reads it."""
        return explain(self)


@dataclass
class Counters:
    """Per-learner tallies shown beside the request log."""

    hits: int = 0
    misses: int = 0
    db_reads: int = 0
    db_writes: int = 0
    queued_writes: int = 0
    coalesced_writes: int = 0     # write-behind: writes that replaced a value still waiting in the queue
    lost_writes: int = 0
    stale_reads: int = 0
    expired: int = 0       # cached keys whose TTL ran out
    degraded: int = 0      # requests served around a cache that did not answer
    failed: int = 0        # requests that ended with an error

    @property
    def hit_ratio(self) -> float | None:
        lookups = self.hits + self.misses
        return self.hits / lookups if lookups else None


@dataclass(eq=False)
class Trace:
    """Everything one request did, step by step, and how it ended.

    `number` is the request's number in its lab for good (#17 stays #17 after older requests leave
    the log). `operation` is read, write, report (a query around the cache), flush, crash, expiry or resync.
    """

    number: int
    pattern: str
    operation: str
    key: str | None = None
    value: str | None = None
    client: str = "A"
    hit: bool | None = None
    ok: bool = True
    error: str | None = None
    warning: str | None = None     # the request succeeded, but something the learner should know went wrong
    stale: bool = False
    degraded: bool = False
    finished: bool = False
    fresh: str | None = None       # a read: the newest acknowledged value of its key when it started
    steps: list[Step] = field(default_factory=list)
    lost: tuple[tuple[str, str], ...] = ()   # the acknowledged writes it found lost for good (key, value)

    @property
    def latency_ms(self) -> float:
        """What the caller waited for: background steps (write-behind flushes) are not included."""
        return sum(step.cost_ms for step in self.steps if not step.background)

    @property
    def db_calls(self) -> int:
        return sum(1 for step in self.steps if step.target == "Database")

    @property
    def outcome(self) -> str:
        if not self.finished:
            return "running"
        if not self.ok:
            return "error"
        if self.hit is not None:
            return "hit" if self.hit else "miss"
        return "degraded" if self.degraded else "ok"

    @property
    def label(self) -> str:
        """e.g. "#3 read user:1", as the request log names it."""
        return f"#{self.number} {self.operation} {self.key or ''}".rstrip()
