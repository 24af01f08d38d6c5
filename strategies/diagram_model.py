"""The shape of a pattern's figure: its actors and the numbered arrows a textbook draws.

Plain data (no graphviz here) so the core can declare each pattern's figure next to its logic.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Actor:
    name: str           # as steps name it: "App", "Cache", "Database", "Queue", "Flusher", "Loader"
    label: str          # what the box says
    shape: str = "box"


@dataclass(frozen=True)
class FigureArrow:
    source: str
    target: str
    label: str
    background: bool = False


def figure(*arrows: str) -> tuple[FigureArrow, ...]:
    """A textbook figure's arrows, each written as it reads: "App → Cache: 1. look up"; an arrow of background
    work (drawn dashed) with "⇢": "Flusher ⇢ Queue: 4. later: read a batch"."""
    found = []
    for arrow in arrows:
        ends, _, label = arrow.partition(": ")
        source, kind, target = ends.split()
        if kind not in ("→", "⇢") or not label:
            raise ValueError(f"not an arrow: {arrow!r} (write 'Source → Target: label')")
        found.append(FigureArrow(source, target, label, background=kind == "⇢"))
    return tuple(found)


@dataclass(frozen=True)
class Topology:
    actors: tuple[Actor, ...]
    figure: tuple[FigureArrow, ...]
    # Top to bottom, the rows of the figure, each read left to right; "" leaves a slot empty so that
    # actors in the same position of two rows stand one above the other.
    rows: tuple[tuple[str, ...], ...] = field(default=())
    # Every pair of actors a request's steps connect (either direction; ("Cache", "Cache") where the
    # cache stores on its own). The diagram reserves room for a label both ways on each lane, so boxes
    # keep their places whichever arrows a request draws. (A key expiring or a crash, drawn as a loop on
    # the cache, may still nudge a figure whose requests never loop.)
    lanes: tuple[tuple[str, str], ...] = field(default=())

    def actor(self, name: str) -> Actor:
        return next(a for a in self.actors if a.name == name)


APP = Actor("App", "App", "box")
CACHE = Actor("Cache", "Cache\n(Redis)", "box")
DATABASE = Actor("Database", "Database\n(SQLite)", "cylinder")
