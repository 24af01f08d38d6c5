"""This browser session's own lab, the reaper that releases it once Streamlit drops the session, and the
guard every callback runs behind.

No learner ever sees a traceback: the core records failed cache and database calls as failed steps,
and anything else a click runs into is caught here and said in words (`flash`), the lab unchanged.
"""

from __future__ import annotations

import functools
import logging
import os
import threading
import weakref
from collections.abc import Callable
from typing import Any

import streamlit as st
from streamlit import runtime
from streamlit.runtime.scriptrunner import get_script_run_ctx

from strategies import CacheUnavailable, InvalidInput
from strategies.registry import REAP_INTERVAL_S, SessionRegistry, sweep_stale_folders
from strategies.session import LearnerSession, default_data_dir

from .text import say

log = logging.getLogger(__name__)
FLASHES = "flashes"


def _session_manager():
    """Streamlit's session manager, or None (no runtime; AppTest's mock runtime has none)."""
    if not runtime.exists():
        return None
    manager = getattr(runtime.get_instance(), "_session_mgr", None)
    return manager if callable(getattr(manager, "list_sessions", None)) else None


def live_streamlit_sessions() -> set[str] | None:
    """The ids of the sessions Streamlit still holds: connected ones, and disconnected ones it keeps for a
    reconnect (server.disconnectedSessionTTL); an expired one is not listed. None when it cannot tell.

    Streamlit has no public call for this: the runtime's session manager (`Runtime._session_mgr`,
    `SessionManager.list_sessions()`) is what its own shutdown and stats use. Under AppTest the runtime
    is a mock without one, so nothing is ever released there."""
    try:
        manager = _session_manager()
        return None if manager is None else {info.session.id for info in manager.list_sessions()}
    except Exception:        # noqa: BLE001 — a moved API, or the storage changing under us: cannot tell
        log.debug("could not list Streamlit's sessions", exc_info=True)
        return None


_registry: SessionRegistry | None = None
_registry_lock = threading.Lock()


def registry() -> SessionRegistry:
    """This server's learner sessions. Made (and its reaper started, stale folders swept) on first use."""
    global _registry
    with _registry_lock:
        if _registry is None:
            interval = float(os.environ.get("LAB_REAP_INTERVAL", REAP_INTERVAL_S))
            _registry = SessionRegistry(live_streamlit_sessions, interval=interval)
            sweep_stale_folders(default_data_dir())
            _registry.start()
        return _registry


def learner() -> LearnerSession:
    """This browser session's own cache and databases, made on its first page view."""
    current = st.session_state.get("learner")
    if current is None or getattr(current, "closed", False):
        try:
            current = st.session_state.learner = LearnerSession()
        except CacheUnavailable as err:
            st.error(say("redis-unreachable", error=err))
            st.button("Try again", icon=":material/refresh:")
            st.stop()
        # Registered only where the reaper can see Streamlit's sessions: elsewhere (AppTest) nothing would
        # ever release it, and the registry would keep alive what garbage collection frees today.
        ctx = get_script_run_ctx()
        if ctx is not None and _session_manager() is not None:
            registry().register(ctx.session_id, current, on_gone=closer_of(ctx.session_id))
    return current


def closer_of(session_id: str) -> Callable[[], None]:
    """What to run once Streamlit has dropped the session `session_id`: its AppSession's own shutdown.

    Streamlit keeps a disconnected session for a reconnect in a TTL cache and, when the entry expires,
    simply forgets it: AppSession.shutdown() never runs, so the event loop each AppSession owns for its
    script thread (an epoll and a socket pair: 3 file descriptors) stayed open, with the session's media and
    dataframe references (measured: 20 browser sessions closed left 57 descriptors, about 3 each). The
    AppSession is held weakly: if nothing else holds it, it is gone already and there is nothing to close.
    Its shutdown runs on the server's event loop, where Streamlit runs its own."""
    try:
        info = _session_manager().get_session_info(session_id)
    except Exception:        # noqa: BLE001 — a moved API: the lab is still released, only this is skipped
        log.debug("could not find Streamlit's session %s", session_id, exc_info=True)
        info = None
    if info is None:
        return lambda: None
    held = weakref.ref(info.session)

    def close() -> None:
        session = held()
        if session is None:
            return
        server_loop = getattr(session, "_event_loop", None)
        if server_loop is not None and not server_loop.is_closed():
            server_loop.call_soon_threadsafe(session.shutdown)
        else:
            session.shutdown()

    return close


def flash(message: str, kind: str = "error") -> None:
    """A message for the learner, shown once at the top of the lab on its next run."""
    st.session_state.setdefault(FLASHES, []).append((kind, message))


def show_flashes() -> None:
    for kind, message in st.session_state.pop(FLASHES, []):
        (st.error if kind == "error" else st.warning if kind == "warning" else st.info)(message)


def safely(action: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap a widget callback: bad input becomes a clear message, anything unexpected a polite one
    (logged for the developers), and the session's lock keeps a timer and a click from interleaving."""

    @functools.wraps(action)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        try:
            with learner().lock:
                return action(*args, **kwargs)
        except InvalidInput as err:
            flash(say("nothing-sent", reason=err))
        except Exception as err:     # noqa: BLE001 — a teaching page must never show a traceback
            log.exception("callback %s failed", action.__name__)
            flash(say("something-went-wrong", error=type(err).__name__))
        return None

    return guarded
