"""One pattern's page: the lab on top (requests, playback, diagram, tables), its explanation below.

The lab is a fragment, so a click re-runs only the lab: the explanation and the page around it stay put,
and the diagram answers sooner.
"""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st

from strategies import Lab

from . import playback
from .controls import ExtraButton, playback_row, request_row, time_row
from .explanation import explanation
from .learner import learner, show_flashes
from .narration import plain
from .panel import lab_panel
from .requests import request_log
from .routing import inject_css
from .text import say, sections


def pattern_page(pattern: str, *, settings: Callable[[Lab], None] | None = None,
                 status: Callable[[Lab], str] | None = None, extras: tuple[ExtraButton, ...] = ()) -> None:
    """The page of `pattern`; `settings` draws the pattern's own settings (inside "Settings and faults"),
    `status` says what its background worker is doing (under the tables), `extras` are its own buttons."""
    inject_css()
    lab = learner().lab(pattern)
    st.title(lab.title)
    st.markdown(sections(pattern).get("In one line", ""))
    lab_fragment(pattern, settings, status, extras)
    st.divider()
    explanation(pattern)


@st.fragment
def lab_fragment(pattern: str, settings: Callable[[Lab], None] | None, status_line: Callable[[Lab], str] | None,
                 extras: tuple[ExtraButton, ...]) -> None:
    lab = learner().lab(pattern)
    show_flashes()
    request_row(pattern, extras, settings)
    status(lab)
    controls = st.container(horizontal=True, vertical_alignment="center")
    with controls:
        playback_row(pattern, playback.playback(pattern))
        time_row(pattern)
    lab_panel(pattern, lab, status_line)
    request_log(pattern, lab)


def status(lab: Lab) -> None:
    """Faults that are on, and a real cache server that stopped answering, said before anything else."""
    if lab.cache_error:
        st.error(plain(say("cache-unreachable", backend=learner().backend, error=lab.cache_error)),
                 icon=":material/cloud_off:")
    faults = [say(name) for name, on in (("cache-down-on", lab.cache_down), ("db-down-on", lab.db.down)) if on]
    if faults:
        st.warning(" ".join(faults), icon=":material/warning:")
