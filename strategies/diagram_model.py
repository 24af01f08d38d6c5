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
    group: str | None = None   # actors drawn together inside one cluster (the cache and its loader)


@dataclass(frozen=True)
class FigureArrow:
    source: str
    target: str
    label: str
    background: bool = False


@dataclass(frozen=True)
class Topology:
    actors: tuple[Actor, ...]
    figure: tuple[FigureArrow, ...]
    rank: tuple[tuple[str, ...], ...] = field(default=())   # actors that sit side by side

    def actor(self, name: str) -> Actor:
        return next(a for a in self.actors if a.name == name)


APP = Actor("App", "App", "box")
CACHE = Actor("Cache", "Cache\n(Redis)", "box")
DATABASE = Actor("Database", "Database\n(SQLite)", "cylinder")
