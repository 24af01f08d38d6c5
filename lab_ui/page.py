"""One pattern's page: the lab on top (requests, playback, diagram, tables), its explanation below."""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st

from strategies import Lab, LabState

from . import links, playback, quiz, scenarios, share
from .controls import (
    FAULTS,
    TTL,
    ExtraButton,
    Setting,
    apply_settings,
    clicker_buttons,
    client_row,
    inputs_row,
    playback_buttons,
    request_buttons,
    time_buttons,
    two_clients_toggle,
)
from .explanation import explanation
from .exporting import export_popover
from .learner import learner, show_flashes
from .narration import plain
from .panel import lab_panel
from .requests import request_log
from .routing import inject_css, inject_presenter_css
from .text import say, sections


def pattern_page(pattern: str, *, settings: tuple[Setting, ...] = (),
                 status: Callable[[Lab, LabState, bool], str] | None = None,
                 extras: tuple[ExtraButton, ...] = ()) -> None:
    """The page of `pattern`; `settings` are the pattern's own knobs (under "Settings and faults"),
    `status(lab, state, live)` says what its background worker is doing in the tables shown (under them),
    `extras` are its own buttons.

    One fragment only: the panel, which its timer re-runs. Everything a learner clicks is drawn by the page
    itself, so a click is a full run, which also declares the panel's timer afresh. (A lab fragment holding
    the controls with the timed panel nested in it crashed Streamlit's frontend under quick clicks from many
    learners — a blank page, "Bad delta path index"; and inputs outside it with buttons inside crashed it the
    same way when one batch of widget changes spanned both.)"""
    inject_css()
    presenting = links.presenting()
    if presenting:
        inject_presenter_css()
    share.register(pattern, page_settings(settings))
    lab = learner().lab(pattern)
    links.from_url(pattern)
    apply_settings(pattern, lab, settings)
    # The diagram leads the run: the browser handles a run's messages in order, and every element before
    # the diagram's delays it (measured: ~25 elements of controls and tables cost the browser 40-60 ms).
    # So the places are laid out first, empty, and the panel is drawn into its own before the rest.
    top = st.container()
    panel_slot = st.container()
    with panel_slot:
        lab_panel(pattern, lab, status)
    with top:
        if not presenting:
            st.title(lab.title)
            st.markdown(sections(pattern).get("In one line", ""))
        show_flashes()
        if not presenting:
            row = inputs_row(pattern, settings)
            with row:
                scenarios.picker(pattern, settings)
                two_clients_toggle(pattern)
        fault_banners(lab)
        client_row(pattern)
        pb = playback.playback(pattern)
        if presenting:      # one row: what a presenter steps a scenario with
            with st.container(horizontal=True, vertical_alignment="center"):
                scenarios.picker(pattern, settings)
                playback_buttons(pattern, pb, compact=True)
                quiz.toggle(pattern)
                presenter_toggle(presenting)
        else:
            with st.container(horizontal=True, vertical_alignment="center"):
                request_buttons(pattern, extras)
                playback_buttons(pattern, pb)
            with st.container(horizontal=True, vertical_alignment="center"):
                time_buttons(pattern)
                quiz.toggle(pattern)
                presenter_toggle(presenting)
                links.share_popover(pattern)
                export_popover(pattern, lab)
        clicker_buttons(pattern, pb, with_restart=presenting)
    if not presenting:
        request_log(pattern, lab)
        st.divider()
        explanation(pattern)
    links.sync(pattern)


def page_settings(settings: tuple[Setting, ...]) -> tuple[Setting, ...]:
    """Every setting of the page a link may carry: TTL, the pattern's own, the faults."""
    return (TTL, *settings, *FAULTS)


def presenter_toggle(presenting: bool) -> None:
    st.session_state["present-widget"] = presenting
    st.toggle("Presenter mode", key="present-widget", on_change=keep_presenting, help=say("present-help"))


def keep_presenting() -> None:
    st.session_state["present"] = bool(st.session_state.get("present-widget"))


def fault_banners(lab: Lab) -> None:
    """Faults that are on, and a real cache server that stopped answering, said before anything else."""
    if lab.cache_error:
        st.error(plain(say("cache-unreachable", backend=learner().backend, error=lab.cache_error)),
                 icon=":material/cloud_off:")
    faults = [say(name) for name, on in (("cache-down-on", lab.cache_down), ("db-down-on", lab.db.down)) if on]
    if faults:
        st.warning(" ".join(faults), icon=":material/warning:")
