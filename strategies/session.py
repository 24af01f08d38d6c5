"""One learner's lab: a cache (own fakeredis server, or own namespace on a shared Redis) and, per
pattern, its own namespace and its own SQLite database, so each page shows only its pattern's doing
and no learner ever sees another's writes.
"""

from __future__ import annotations

import os
import time
import uuid
from pathlib import Path

import redis

from . import PATTERNS
from .base import Lab
from .cache import backend_description, connect_cache
from .database import Database


def default_data_dir() -> Path:
    """Where learners' SQLite files go: $LAB_DATA_DIR (default ./data, which git ignores)."""
    return Path(os.environ.get("LAB_DATA_DIR", "data")) / "sessions"


class LearnerSession:
    """Everything one browser session owns. Labs are built on first use."""

    def __init__(self, *, redis_url: str | None = None, data_dir: Path | None = None) -> None:
        self.id = uuid.uuid4().hex[:16]
        self.cache: redis.Redis = connect_cache(redis_url)
        self.backend = backend_description(redis_url)
        self.folder = (data_dir or default_data_dir()) / self.id
        self.folder.mkdir(parents=True, exist_ok=True)
        self.labs: dict[str, Lab] = {}
        self._walls: dict[str, float] = {}

    def lab(self, pattern: str) -> Lab:
        if pattern not in self.labs:
            db = Database(str(self.folder / f"{pattern}.sqlite3"))
            lab = PATTERNS[pattern](cache=self.cache, db=db, namespace=f"lab:{self.id}:{pattern}:")
            lab.record_states = True   # the page shows what each step left behind
            self.labs[pattern] = lab
        return self.labs[pattern]

    def catch_up_clock(self, lab: Lab) -> None:
        """Let simulated time follow the wall clock between reruns (requests add their own costs)."""
        now = time.monotonic()
        lab.clock.advance(max(0.0, now - self._walls.get(lab.name, now)))
        self._walls[lab.name] = now

    def reset(self) -> None:
        for lab in self.labs.values():
            lab.reset()
