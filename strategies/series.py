"""Figures over simulated time, computed from recorded steps: what a chart beside a scenario (or the compare page)
draws, such as the database reads of each simulated second during an expiry spike."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from .trace import Step


@dataclass(frozen=True)
class Series:
    """A chart of one figure over simulated time: `points` are (second, value) for every whole simulated second
    from the first to the last counted (zeros included), so a chart needs no gaps filled in."""

    title: str
    x_label: str
    y_label: str
    points: tuple[tuple[int, int], ...]

    @property
    def peak(self) -> tuple[int, int]:
        """(second, value) of the highest point (the earliest, if several); (0, 0) for an empty series."""
        return max(self.points, key=lambda point: (point[1], -point[0])) if self.points else (0, 0)

    def busy_seconds(self, at_least: int = 1) -> int:
        """How many seconds counted at least `at_least`."""
        return sum(value >= at_least for _, value in self.points)


def is_db_read(step: Step) -> bool:
    """A query the database answers (a SELECT, a warm-up's bulk SELECT): one read, however many rows."""
    return step.target == "Database" and step.action == "SELECT" and not step.failed


def second_of(step: Step) -> int:
    """The simulated second a step's call started in: where a chart counts it (and marks it as the step on screen)."""
    return int((step.at_ms - step.cost_ms) // 1000)


def per_second(steps: Iterable[Step], counted: Callable[[Step], bool] = is_db_read, *,
               start: int | None = None, end: int | None = None) -> tuple[tuple[int, int], ...]:
    """(second, how many `steps` in it are `counted`) for every simulated second from `start` (default: the first
    counted) to `end` (default: the last counted). A step counts in the second its call started."""
    found = Counter(second_of(step) for step in steps if counted(step))
    if not found and (start is None or end is None):
        return ()
    first = min(found) if start is None else start
    last = max(found) if end is None else end
    return tuple((second, found.get(second, 0)) for second in range(first, last + 1))
