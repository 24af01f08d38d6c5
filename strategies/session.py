"""One learner's lab: a cache (own fakeredis server, or own namespace on a shared Redis) and, per
pattern, its own namespace and its own SQLite database, so each page shows only its pattern's doing
and no learner ever sees another's writes.

Simulated time follows the wall clock here (a TTL counts down while the learner watches), plus whatever
the learner fast-forwards. With LAB_CLOCK=manual it moves only with requests and fast-forwards: tests
use that, so that no test depends on how long it took to run.
"""

from __future__ import annotations

import logging
import os
import shutil
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import redis

from . import PATTERNS
from .cache import backend_description, connect_cache, release_cache
from .database import Database
from .lab import Lab
from .trace import Trace

log = logging.getLogger(__name__)


class SessionClosed(RuntimeError):
    """The learner's lab was released (its browser session is gone); a new LearnerSession is needed."""


def default_data_dir() -> Path:
    """Where learners' SQLite files go: $LAB_DATA_DIR (default ./data, which git ignores)."""
    return Path(os.environ.get("LAB_DATA_DIR", "data")) / "sessions"


def clock_follows_wall() -> bool:
    return os.environ.get("LAB_CLOCK", "").strip().lower() != "manual"


class LearnerSession:
    """Everything one browser session owns. Labs are built on first use.

    `lock` serialises what the session's reruns do to its labs (Streamlit may run a fragment's timer and a
    click on different threads)."""

    def __init__(self, *, redis_url: str | None = None, data_dir: Path | None = None,
                 wall: Callable[[], float] | None = None) -> None:
        self.id = uuid.uuid4().hex[:16]
        self.cache: redis.Redis = connect_cache(redis_url)
        self.backend = backend_description(redis_url)
        self.folder = (data_dir or default_data_dir()) / self.id
        self.folder.mkdir(parents=True, exist_ok=True)
        self.labs: dict[str, Lab] = {}
        self.lock = threading.RLock()
        self.follows_wall = wall is not None or clock_follows_wall()
        self._wall = wall or time.monotonic
        self._marks: dict[str, float] = {}
        self.closed = False

    @property
    def namespace(self) -> str:
        """Every key of this learner's, on any page, starts with this ({id} is a Redis Cluster hash tag)."""
        return f"lab:{{{self.id}}}:"

    def lab(self, pattern: str) -> Lab:
        if self.closed:
            raise SessionClosed(f"learner session {self.id} was released")
        if pattern not in self.labs:
            db = Database(str(self.folder / f"{pattern}.sqlite3"))
            # {id} is a Redis Cluster hash tag: all of a learner's keys live in one slot.
            self.labs[pattern] = PATTERNS[pattern](cache=self.cache, db=db, namespace=f"{self.namespace}{pattern}:")
            self._marks[pattern] = self._wall()
        return self.labs[pattern]

    def follow_wall_clock(self, lab: Lab, *, catch_up: bool = True) -> list[Trace]:
        """Let simulated time catch up with the wall clock since the last call (requests add their own
        costs on top): keys expire and due background work runs. Returns what happened. Without
        `catch_up` the wall time since the last call is skipped (a scenario has just set the clock)."""
        now = self._wall()
        elapsed = now - self._marks.get(lab.name, now)
        self._marks[lab.name] = now
        if not self.follows_wall or elapsed <= 0 or not catch_up:
            return []
        return lab.wall_time_passed(elapsed)

    def reset(self) -> None:
        for lab in self.labs.values():
            lab.reset()

    def close(self) -> None:
        """Release everything this session built: its SQLite connections, its keys (on a shared Redis only
        its own namespace, never FLUSHALL; its private fakeredis server is emptied and dropped, Lua
        interpreter included) and its folder. Idempotent; each part is tried even if another fails."""
        with self.lock:
            if self.closed:
                return
            self.closed = True
            labs, self.labs = self.labs, {}
            self._marks.clear()
        for name, lab in labs.items():
            lab.release()                      # connections a part opened of its own (near caches' tracking)
            try:
                lab.db.close()
            except sqlite3.Error:
                log.warning("closing the %s database of learner %s failed", name, self.id, exc_info=True)
        release_cache(self.cache, self.namespace)
        shutil.rmtree(self.folder, ignore_errors=True)
