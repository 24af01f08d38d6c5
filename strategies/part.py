"""A part: a feature several patterns or scenarios switch on (leases, the write-behind queue and its flusher),
composed into a pattern and plugged into the engine through these hooks, each of which does nothing here.

The engine (the lab's time, faults and reconciliation) knows no pattern and no feature: it asks each of the
lab's parts when its background work is due and runs it, which of its tables live in the cache (a crash
empties them, a resync compares them), what a crash or a wipe cost it, and what the page shows of it: its
tables (`views`), totals (`metrics`), a line on its background work (`status`), and, as data in its class,
its knobs and its buttons (`knobs`, `actions`: see `strategies.knobs`).
"""

from __future__ import annotations

from collections.abc import Collection
from typing import TYPE_CHECKING, ClassVar, NamedTuple

from .knobs import Knob, LabAction, declare_actions

if TYPE_CHECKING:
    from .lab import Lab
    from .state import Change, LabState
    from .trace import Trace
    from .views import TableView


class PageText(NamedTuple):
    """A sentence of the page's own texts (a `## <id>` section of assets/ui.md) and the fields it is filled with."""

    id: str
    fields: dict


class Part:
    """A feature of one lab; `lab` is the lab it is part of (its cache, tables, clock and knobs)."""

    cache_tables: tuple[str, ...] = ()      # LabState tables this part keeps in the cache
    knobs: ClassVar[tuple[Knob, ...]] = ()          # its settings, drawn on the page after the pattern's own
    actions: ClassVar[tuple[LabAction, ...]] = ()   # its buttons beside Read and Write

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        declare_actions(cls.actions)

    def __init__(self, lab: Lab) -> None:
        self.lab = lab

    # ---- time: background work ---------------------------------------------------------------------
    def due_at(self) -> float | None:
        """When this part's background work is next due (simulated seconds); None if none is waiting."""
        return None

    def tick(self) -> Trace | None:
        """Run the background work that is due now; its trace, or None if nothing ran."""
        return None

    # ---- faults and reconciliation ---------------------------------------------------------------------
    def held(self) -> tuple[str, ...]:
        """Entries this part has read from the cache and still holds (they survive a crash meanwhile)."""
        return ()

    def losses(self, left: LabState, held: Collection[str]) -> list[Change]:
        """The changes recording acknowledged writes this part can no longer deliver, now that the cache holds
        only what `left` says and the entries `held` are still held."""
        return []

    def crash_note(self, lost: tuple[tuple[str, str], ...], losses: list[Change]) -> tuple[str, dict | None] | None:
        """What the crash step says, if this part has something to say about it."""
        return None

    def read_real(self, real: LabState) -> None:
        """Fill in, from the cache, the tables this part keeps there."""

    def reset(self) -> None:
        """Back to a fresh lab's state."""

    # ---- what the page shows ---------------------------------------------------------------------------
    def views(self) -> tuple[TableView, ...]:
        return ()

    def state_clause(self, state: LabState) -> str | None:
        """A few words on this part's tables in `state`, for the sentence under the diagram; None: nothing."""
        return None

    def metrics(self, state: LabState) -> list[tuple[str, object]]:
        """(label, value) figures this part adds to the lab's totals."""
        return []

    def status(self, state: LabState, live: bool) -> PageText | None:
        """What its background work is doing in the tables `state` (`live`: they are the lab's now, not a
        replay), said under the tables; None: nothing."""
        return None

    def moves_with_time(self) -> bool:
        """Whether what the page shows of this part changes while time passes (a write waiting for its flush:
        its wait grows), so that the page redraws every second."""
        return False
