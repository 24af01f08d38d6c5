"""Which learner sessions this server process holds, and the reaper that releases those whose owner is gone.

A browser tab that closes leaves its Streamlit session behind for a while (so a reconnect can resume it),
then Streamlit drops it, without telling the script. Each LearnerSession is registered here under the id
of the Streamlit session that made it; a daemon thread asks, every `interval` seconds, which of those ids
are still alive (`live_ids`, given by the UI layer: this module never imports Streamlit) and closes the
labs of the others (`LearnerSession.close`). It needs no other learner to connect, and no page to rerun.
An owner must be missing from `confirmations` passes in a row (default 2): Streamlit's list is read
without its locks, and a session reconnecting at that moment moves between its two maps.

`live_ids` answering None means "cannot tell" (no Streamlit runtime, an API that moved): then nothing
is released. Releasing a learner who is still there would be far worse than keeping one who left.

Python keeps freed memory for reuse, so a released lab makes room for the next learner's but the
process's RSS would not shrink; after a pass that released something the reaper asks glibc to hand
its free heap back (`malloc_trim`; measured: 40 learners with all four labs, +31 MB built, +26 MB
still resident after close(), +9 MB after the trim).

`sweep_stale_folders` removes data/sessions/<id> folders nobody has touched for a day: what a server
that was killed (no reaper ran) left behind. It runs once, when the reaper starts.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import shutil
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from .session import LearnerSession

log = logging.getLogger(__name__)

REAP_INTERVAL_S = 30.0
STALE_FOLDER_AGE_S = 24 * 3600.0

LiveIds = Callable[[], Iterable[str] | None]


class SessionRegistry:
    """LearnerSessions by owner id (the Streamlit session id), and their release once the owner is gone."""

    def __init__(self, live_ids: LiveIds, *, interval: float = REAP_INTERVAL_S, confirmations: int = 2) -> None:
        self._live_ids = live_ids
        self.interval = interval
        self.confirmations = max(1, confirmations)
        self._sessions: dict[str, LearnerSession] = {}
        self._missing: dict[str, int] = {}     # owner -> passes in a row it was not alive
        self._on_gone: dict[str, Callable[[], None]] = {}
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self.released = 0            # learner sessions released since start, for the logs and the tests

    def register(self, owner_id: str, session: LearnerSession, on_gone: Callable[[], None] | None = None) -> None:
        """Track `session` as belonging to `owner_id`; an earlier session of the same owner is released.
        `on_gone` runs once the reaper has found the owner gone and released its session: what else the owner
        left behind (the UI layer closes the Streamlit session that Streamlit dropped without closing)."""
        with self._lock:
            previous = self._sessions.get(owner_id)
            self._sessions[owner_id] = session
            if on_gone is None:
                self._on_gone.pop(owner_id, None)
            else:
                self._on_gone[owner_id] = on_gone
        if previous is not None and previous is not session:
            self._release(owner_id, previous)

    def owners(self) -> list[str]:
        with self._lock:
            return list(self._sessions)

    def __len__(self) -> int:
        with self._lock:
            return len(self._sessions)

    def reap(self) -> list[str]:
        """Release the sessions whose owner has not been alive for `confirmations` passes; returns their ids.

        The registry is read before the live set, so a session registered meanwhile is never a candidate:
        every candidate's owner was alive when it registered and is missing from a later live set."""
        with self._lock:
            candidates = dict(self._sessions)
        if not candidates:
            return []
        try:
            live = self._live_ids()
        except Exception:        # noqa: BLE001 — a reaper that cannot tell must not release anyone
            log.warning("could not list the live sessions; nothing released", exc_info=True)
            return []
        if live is None:
            return []
        live = set(live)
        gone = []
        with self._lock:
            for owner in candidates:
                if owner in live:
                    self._missing.pop(owner, None)
                    continue
                self._missing[owner] = self._missing.get(owner, 0) + 1
                if self._missing[owner] >= self.confirmations:
                    gone.append(owner)
        for owner in gone:
            with self._lock:
                self._missing.pop(owner, None)
                session = self._sessions.get(owner)
                if session is not candidates[owner]:
                    continue     # replaced meanwhile
                del self._sessions[owner]
                on_gone = self._on_gone.pop(owner, None)
            self._release(owner, session)
            if on_gone is not None:
                try:
                    on_gone()
                except Exception:    # noqa: BLE001 — one broken owner must not stop the reaper
                    log.exception("cleaning up after the owner %s of learner session %s failed", owner, session.id)
        if gone:
            trim_heap()
        return gone

    def _release(self, owner: str, session: LearnerSession) -> None:
        try:
            session.close()
        except Exception:        # noqa: BLE001 — one broken session must not stop the reaper
            log.exception("releasing learner session %s (owner %s) failed", session.id, owner)
        else:
            self.released += 1
            log.info("released learner session %s: its Streamlit session %s is gone", session.id, owner)

    def start(self) -> None:
        """Run `reap` every `interval` seconds on a daemon thread (once; later calls do nothing)."""
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                return
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="lab-session-reaper", daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        thread = self._thread
        if thread is not None:
            thread.join(timeout)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.reap()
            except Exception:    # noqa: BLE001 — keep reaping
                log.exception("session reaper pass failed")

    def release_all(self) -> None:
        """Release every registered session (server shutdown, tests)."""
        with self._lock:
            sessions, self._sessions = self._sessions, {}
            self._missing.clear()
            self._on_gone.clear()
        for owner, session in sessions.items():
            self._release(owner, session)


def _libc_malloc_trim():
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return libc.malloc_trim
    except (OSError, AttributeError):   # not glibc (musl, macOS): nothing to trim
        return None


_malloc_trim = _libc_malloc_trim()


def trim_heap() -> bool:
    """Return the C heap's free memory to the OS where the libc can (glibc); True if it did anything."""
    return bool(_malloc_trim(0)) if _malloc_trim is not None else False


def newest_mtime(folder: Path) -> float:
    """The latest modification time of `folder` or anything in it (a learner's SQLite writes touch its files)."""
    newest = folder.stat().st_mtime
    for path in folder.rglob("*"):
        try:
            newest = max(newest, path.stat().st_mtime)
        except OSError:
            pass
    return newest


def sweep_stale_folders(root: Path, *, max_age: float = STALE_FOLDER_AGE_S, keep: Iterable[str] = (),
                        now: float | None = None) -> list[Path]:
    """Remove the session folders under `root` untouched for `max_age` seconds (except names in `keep`);
    returns the removed paths. A missing root is fine."""
    now = time.time() if now is None else now
    keep = set(keep)
    removed: list[Path] = []
    try:
        folders = [p for p in root.iterdir() if p.is_dir() and p.name not in keep]
    except OSError:
        return removed
    for folder in folders:
        try:
            if now - newest_mtime(folder) < max_age:
                continue
        except OSError:
            continue
        shutil.rmtree(folder, ignore_errors=True)
        if not folder.exists():
            removed.append(folder)
    if removed:
        log.info("removed %d stale session folder(s) under %s", len(removed), root)
    return removed
