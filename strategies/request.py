"""A request in flight: a generator of recorded steps, advanced one call at a time, and its recorder.

A pattern's read or write is a generator: it performs one real call, yields the `Step` it recorded, and waits
to be advanced before the next call. `Request.advance()` moves it one step, so several clients' requests can
be interleaved against one cache and one database; `run()` goes to the end. A call that fails is recorded as
a failed step, then `RequestFailed` ends the request (unless the pattern tolerates the failure: the call then
returns `FAILED`, or `REFUSED` when the cache said no to storing a value).

Which line of the pattern made a step: the recorder walks out of the call stack past the recording helpers
(functions marked `@helper`), and the first frame it finds is the pattern's own code.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Generator
from typing import TYPE_CHECKING, Any

from .trace import CodeRef, Outcome, Step, Trace

if TYPE_CHECKING:
    from .lab import Lab
    from .state import Change

Steps = Generator[Step, None, Any]
# The qualified names of the recording helpers: a step names the line that called them, not a line inside.
HELPERS: set[str] = set()


def helper(function: Callable) -> Callable:
    """Mark a recording helper: a step records the line that called it, not a line inside it."""
    HELPERS.add(function.__qualname__)
    return function


def calling_line() -> CodeRef:
    """The line of the pattern's code that is making the call being recorded (the first frame out from here
    that is not a recording helper)."""
    frame = inspect.currentframe().f_back
    while frame.f_code.co_qualname in HELPERS:
        frame = frame.f_back
    return CodeRef(frame.f_code, frame.f_lineno)


class RequestFailed(Exception):
    """Raised inside a request after its failed step was recorded; ends the request."""


class _Failed:
    """What a tolerated call returns when it failed (its failed step is already recorded)."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name


FAILED = _Failed("FAILED")
# What a call that may be refused returns when the cache said no to storing (Redis' OOM answer: its memory is full
# and its policy evicts nothing it may); the refused step is already recorded.
REFUSED = _Failed("REFUSED")


def as_one_step(steps: Steps) -> Steps:
    """Perform `steps` within one `advance()`: arrows that draw one atomic call (a script and what it did)
    are recorded together, so no other client's step can come between them; yields the last of them."""
    last = None
    while True:
        try:
            last = next(steps)
        except StopIteration as done:
            if last is not None:
                yield last
            return done.value


class Request:
    """One request in flight (`body`, a generator of steps), and the recorder of its steps: the `t` that every
    pattern method and recording helper takes. A Request without a body only records: events that are not
    requests (an expiry, a crash) use it so."""

    def __init__(self, lab: Lab, trace: Trace, body: Callable[..., Steps] | None = None, *args: Any) -> None:
        self.lab = lab
        self.trace = trace
        self.client = trace.client    # who performs the steps it records now (background work: its worker)
        self.background = False       # background work a part runs by itself: every step it records is so
        # The app instance serving this request: the pattern's code says "App", and its steps are drawn from
        # this actor ("App" itself, unless a part runs several instances: "App 1", "App 2").
        self.app = lab.app_of(trace.client)
        self.done = False
        self._body = body(self, *args) if body is not None else None

    def advance(self) -> Step | None:
        """Perform the next call; None once the request has finished (its trace is then complete)."""
        if self.done:
            return None
        self.lab.before_call()        # keys whose time ran out are gone first; a cache that failed, compared
        try:
            return next(self._body)
        except StopIteration as finished:
            self.done = True
            self.lab.finish(self.trace, finished.value)
            return None
        except RequestFailed:
            self.done = True
            self.lab.finish(self.trace, None)       # the failed call ends the request
            return self.trace.steps[-1]

    def run(self) -> Trace:
        """Advance until the request has finished; its trace."""
        while self.advance() is not None:
            pass
        return self.trace

    # ---- recording: each call a helper makes becomes one Step ----------------------------------------
    @helper
    def step(self, source: str, target: str, action: str, *, command: str, note: tuple[str, dict | None],
             key: str | None = None, value: str | None = None, outcome: Outcome = "ok", cost_ms: float = 0.0,
             background: bool = False, changes: tuple[Change, ...] = ()) -> Step:
        """Append a Step, apply its changes to the lab's tables and advance the clock by its cost."""
        lab = self.lab
        lab.clock.advance(cost_ms / 1000)
        source, target = (self.app if source == "App" else source), (self.app if target == "App" else target)
        step = Step(number=len(self.trace.steps) + 1, source=source, target=target, action=action, key=key,
                    value=value, outcome=outcome, cost_ms=cost_ms, command=command, at_ms=lab.clock.now() * 1000,
                    background=background or self.background, client=self.client, seq=lab.next_seq(), changes=changes,
                    code=calling_line(), note=note)
        for change in changes:
            lab.state.apply(change)
        if changes:
            for part in lab.listening["tables_changed"]:   # a part following the tables (their memory) hears
                part.tables_changed(changes)
        self.trace.steps.append(step)
        lab.history.append(step)
        return step

    @helper
    def fail(self, source: str, target: str, action: str, error: Exception | str, **details) -> Step:
        """Record a failed call; the request ends with ok=False and this error."""
        self.trace.ok = False
        self.trace.error = str(error)
        return self.step(source, target, action, outcome="error", **details)
