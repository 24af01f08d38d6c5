"""This browser session's own lab, and the guard every callback runs behind.

No learner ever sees a traceback: the core records failed cache and database calls as failed steps,
and anything else a click runs into is caught here and said in words (`flash`), the lab unchanged.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any

import streamlit as st

from strategies import CacheUnavailable, InvalidInput
from strategies.session import LearnerSession

from .text import say

log = logging.getLogger(__name__)
FLASHES = "flashes"


def learner() -> LearnerSession:
    """This browser session's own cache and databases, made on its first page view."""
    if "learner" not in st.session_state:
        try:
            st.session_state.learner = LearnerSession()
        except CacheUnavailable as err:
            st.error(say("redis-unreachable", error=err))
            st.button("Try again", icon=":material/refresh:")
            st.stop()
    return st.session_state.learner


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
