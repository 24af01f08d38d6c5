"""History and replay: the lab's log of requests, every step in the order performed, and the tables as they
were right after any of them.

Every step carries the changes its call made; the lab applies them to its `LabState` as they are recorded,
so the tables at an earlier step are the live state with every later change undone (`state_after`): no copy
of the tables is kept per step, and showing a step costs no Redis or SQL call. The log is bounded: the
oldest requests leave it a batch at a time, and their steps leave the history with them.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator

from .state import Change, LabState
from .trace import Step, Trace

LOG_LIMIT = 500          # requests a lab remembers (numbers stay; the oldest are forgotten)
TRIM_BATCH = 50


class History:
    """The log (number -> trace, in the order requests started) and the history of their steps."""

    def forget_everything(self) -> None:
        self.log: dict[int, Trace] = {}
        # Steps are numbered one after the other as they are recorded (`seq`), so history[i].seq ==
        # history[0].seq + i: trimming the oldest needs no search.
        self.history: list[Step] = []
        self._seq = 0
        self._numbers = 0
        # A scenario that makes more requests than this keeps them all while it is on screen (its director
        # raises the limit for the run): its scenes replay every step.
        self.log_limit = LOG_LIMIT

    def next_seq(self) -> int:
        self._seq += 1
        return self._seq

    @property
    def last_seq(self) -> int:
        """The number of the last step recorded (0: none yet)."""
        return self._seq

    @property
    def next_number(self) -> int:
        """The number the next request will get."""
        return self._numbers + 1

    def new_trace(self, operation: str, key: str | None = None, value: str | None = None,
                  client: str | None = None) -> Trace:
        self._numbers += 1
        trace = Trace(self._numbers, self.name, operation, key, value, client or self.client)
        self.log[trace.number] = trace
        if len(self.log) > self.log_limit + TRIM_BATCH:
            self._forget(TRIM_BATCH)
        return trace

    def _forget(self, count: int) -> None:
        """The oldest requests leave the log (a batch at a time, so a long class pays this rarely), and their
        steps leave the history: the tables no longer replay them."""
        log, history = self.log, self.history
        oldest = list(itertools.islice(log, count))
        last = max((log[number].steps[-1].seq for number in oldest if log[number].steps), default=0)
        for number in oldest:
            del log[number]
        if history and history[0].seq <= last:
            del history[:last - history[0].seq + 1]

    def request(self, number: int) -> Trace | None:
        """Request #number, while it is still in the log."""
        return self.log.get(number)

    def state_at(self, trace: Trace, step_number: int) -> LabState | None:
        """The tables right after step `step_number` of `trace`: the live state with every later change
        undone, whichever request made it. None if that step has left the history."""
        if not trace.steps:
            return self.live()
        return self.state_after(trace.steps[min(max(step_number, 1), len(trace.steps)) - 1])

    def state_after(self, step: Step) -> LabState | None:
        """The tables right after `step` (of any request): None if a later step has left the history."""
        history = self.history
        if history and history[0].seq > step.seq + 1:
            return None              # some later step has left the history: it cannot be undone
        return self.state.before(self._changes_after(step.seq), step.at_ms / 1000)

    def _changes_after(self, seq: int) -> Iterator[Change]:
        """Every change made after step number `seq` (lab-wide), newest first."""
        for later in reversed(self.history):
            if later.seq <= seq:
                return
            yield from reversed(later.changes)
