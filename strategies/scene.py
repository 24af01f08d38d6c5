"""A scene: the steps shown on one diagram, in the order they were performed, and the captions in force at each.

A free request is a scene of one request (`Scene.of`); interleaved clients, a stampede of readers or a scenario's
part are several requests' steps merged in the order performed (`Scene.of_traces`). The page, the exports and the
scenarios' director (scenario.py) all step through scenes.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from .trace import Step, Trace


@dataclass
class Scene:
    """Steps shown on one diagram, in the order performed; `numbers` are their requests, oldest first.

    `captions` are (index of the first step they apply to, text) — while a scenario's script runs, (index,
    the caption's id), until `run_scenario` fills in its figures; `owner` maps a step's lab-wide `seq` to the
    number of the request that made it."""

    steps: Sequence[Step]
    numbers: tuple[int, ...]
    captions: tuple[tuple[int, str], ...] = ()
    owner: dict[int, int] = field(default_factory=dict)

    @classmethod
    def of(cls, trace: Trace) -> Scene:
        """One request: its own (possibly still growing) list of steps."""
        return cls(trace.steps, (trace.number,), (), {})

    @classmethod
    def of_traces(cls, traces: Iterable[Trace], captions: tuple[tuple[int, str], ...] = ()) -> Scene:
        """Several requests' steps merged in the order they were performed (interleaved clients)."""
        traces = list(traces)
        owner = {step.seq: trace.number for trace in traces for step in trace.steps}
        steps = sorted((step for trace in traces for step in trace.steps), key=lambda step: step.seq)
        return cls(steps, tuple(trace.number for trace in traces), captions, owner)

    def number_of(self, step: Step) -> int:
        """The request that made `step`."""
        return self.owner.get(step.seq, self.numbers[0] if self.numbers else 0)

    def caption_at(self, index: int) -> str | None:
        """The caption in force at step `index` (0-based): the last one that started at or before it."""
        found = None
        for start, text in self.captions:
            if start > index:
                break
            found = text
        return found

    @property
    def clients(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(step.client for step in self.steps))
