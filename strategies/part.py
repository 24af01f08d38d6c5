"""A part: a feature several patterns or scenarios switch on (leases, the write-behind queue and its flusher, TTL
jitter, early refresh, near caches, a memory limit), composed into a pattern and plugged into the engine through
these hooks, each of which does nothing here.

The engine (the lab's requests, calls, time, faults and reconciliation) knows no pattern and no feature: it asks
each of the lab's parts which app instance serves a client and what it does around a request, how it redraws the
figure, when its background work is due and runs it, which of its tables live in the cache (a crash empties
them, a resync compares them), what a crash or a wipe cost it, and what the page shows of it: its tables
(`views`), totals (`metrics`), how full it is (`gauges`), a line on its background work (`status`), and, as data
in its class, its knobs and its buttons (`knobs`, `actions`: see `strategies.knobs`). It tells each part of every
change to the tables and of every key a cache call found, and lets each part look at a call that is about to
store values in the cache first: a part may make room (recording what it did) or refuse it.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import TYPE_CHECKING, ClassVar, NamedTuple

from .knobs import Knob, LabAction, declare_actions

if TYPE_CHECKING:
    from .diagram_model import Topology
    from .lab import Lab
    from .request import Request, Steps
    from .state import Change, LabState
    from .trace import Trace
    from .views import Gauge, TableView

# A value a cache call is about to store: (key, value, TTL in seconds or None).
Store = tuple[str, str, int | None]
# The hooks the engine calls on every request, cache call or step. Most parts answer them with nothing (Part's own
# hooks below), so a lab works out once, when its parts are set, which of them answer each (`listeners`), and asks
# only those.
EVERY_CALL_HOOKS = ("app_of", "around", "before_store", "tables_changed", "accessed")


class PageText(NamedTuple):
    """A sentence of the page's own texts (a `## <id>` section of assets/ui.md) and the fields it is filled with."""

    id: str
    fields: dict


class Part:
    """A feature of one lab; `lab` is the lab it is part of (its cache, tables, clock and knobs)."""

    cache_tables: tuple[str, ...] = ()      # LabState tables this part keeps in the cache
    knobs: ClassVar[tuple[Knob, ...]] = ()          # its settings, drawn on the page after the pattern's own
    heading: ClassVar[str] = ""     # the id of its title in assets/ui.md, which its knobs are drawn under
    note: ClassVar[str] = ""        # the id of a sentence said under that title (assets/ui.md); "": none
    actions: ClassVar[tuple[LabAction, ...]] = ()   # its buttons beside Read and Write

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        declare_actions(cls.actions)

    def __init__(self, lab: Lab) -> None:
        self.lab = lab

    # ---- requests: which app serves them, and what a part does around the pattern's own read or write ----
    def app_of(self, client: str) -> str | None:
        """The app instance (an actor of the figure) serving `client`'s requests, if this part runs several;
        None: the lab's one "App"."""
        return None

    def around(self, operation: str, body: Callable[..., Steps]) -> Callable[..., Steps]:
        """The body of a request of `operation` ("read", "write") with this part's steps around the pattern's
        own `body` (a near cache answers before it, and learns of a write after it); `body` itself if none."""
        return body

    def redraw(self, topology: Topology) -> Topology:
        """The figure with what this part adds to it (actors, lanes); `topology` itself if nothing."""
        return topology

    # ---- time: background work ---------------------------------------------------------------------
    def due_at(self) -> float | None:
        """When this part's background work is next due (simulated seconds); None if none is waiting."""
        return None

    def tick(self) -> Trace | None:
        """Run the background work that is due now; its trace, or None if nothing ran."""
        return None

    # ---- the cache's calls ------------------------------------------------------------------------------
    def before_store(self, t: Request, stores: tuple[Store, ...]) -> None:
        """A cache call is about to store `stores`: make room first (recording on `t` what that did, as part of
        the same atomic call), or refuse the call by raising `calls.CacheRefused`."""

    def tables_changed(self, changes: tuple[Change, ...]) -> None:
        """These changes were just applied to the lab's tables (every change, as its step is recorded)."""

    def accessed(self, key: str) -> None:
        """A cache call just found `key` in the cache: any call whose outcome is a hit (a GET, early refresh's GET
        + δ, a lease's GET, a near cache's tracked GET)."""

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

    def release(self) -> None:
        """Close whatever this part holds open of its own (connections beside the lab's client): the lab is done."""

    # ---- what the page shows ---------------------------------------------------------------------------
    def views(self) -> tuple[TableView, ...]:
        return ()

    def state_clause(self, state: LabState) -> str | None:
        """A few words on this part's tables in `state`, for the sentence under the diagram; None: nothing."""
        return None

    def metrics(self, state: LabState) -> list[tuple[str, object]]:
        """(label, value) figures this part adds to the lab's totals."""
        return []

    def gauges(self, state: LabState) -> list[Gauge]:
        """How full something this part keeps is in `state` (used of a limit), for a bar on the page."""
        return []

    def status(self, state: LabState, live: bool) -> PageText | None:
        """What its background work is doing in the tables `state` (`live`: they are the lab's now, not a
        replay), said under the tables; None: nothing."""
        return None

    def moves_with_time(self) -> bool:
        """Whether what the page shows of this part changes while time passes (a write waiting for its flush:
        its wait grows), so that the page redraws every second."""
        return False


def listeners(parts: tuple[Part, ...], hook: str) -> tuple[Part, ...]:
    """The `parts` whose class answers `hook` itself (Part's own does nothing), in order."""
    return tuple(part for part in parts if getattr(type(part), hook) is not getattr(Part, hook))
