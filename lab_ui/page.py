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
    inputs,
    playback_buttons,
    request_buttons,
)
from .explanation import explanation
from .learner import learner, show_flashes
from .menu import more_menu, presenter_toggle
from .narration import plain
from .panel import lab_panel
from .requests import request_log
from .routing import inject_css, inject_motion, inject_presenter_css
from .text import say, sections


def pattern_page(pattern: str, *, settings: tuple[Setting, ...] = (),
                 status: Callable[[Lab, LabState, bool], str] | None = None,
                 extras: tuple[ExtraButton, ...] = ()) -> None:
    """The page of `pattern`; `settings` are the pattern's own knobs (More → "Settings and faults"),
    `status(lab, state, live)` says what its background worker is doing in the tables shown (under them),
    `extras` are its own buttons.

    Above the diagram: the title and one row of controls (Key, Value, Read, Write, the step buttons, the
    scenario, and one menu for everything else), so that the diagram starts in the upper half of a
    projector's screen. Presenting, the row holds only what a presenter steps a scenario with.

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
    inject_motion(playback.seconds_per_step(pattern))
    # The diagram leads the run: the browser handles a run's messages in order, and every element before
    # the diagram's delays it (measured: ~25 elements of controls and tables cost the browser 40-60 ms).
    # So the places are laid out first, empty, and the panel is drawn into its own before the rest.
    top = st.container()
    panel_slot = st.container()
    with panel_slot:
        lab_panel(pattern, lab, status)
    with top:
        if not presenting:
            heading(lab.title, sections(pattern).get("In one line", ""))
        show_flashes()
        fault_banners(lab)
        pb = playback.playback(pattern)
        with st.container(horizontal=True, vertical_alignment="bottom", gap="xsmall", key=f"{pattern}-controls"):
            if presenting:      # what a presenter steps a scenario with
                scenarios.picker(pattern, settings, labelled=False)
                playback_buttons(pattern, pb)
                quiz.toggle(pattern)
                presenter_toggle(presenting)
            else:
                inputs(pattern)
                request_buttons(pattern, extras)
                playback_buttons(pattern, pb)
                scenarios.picker(pattern, settings)
                more_menu(pattern, lab, pb, presenting, settings)
        client_row(pattern)
        clicker_buttons(pattern, pb)
    if not presenting:
        request_log(pattern, lab)
        st.divider()
        explanation(pattern)
    links.sync(pattern)


def heading(title: str, one_line: str) -> None:
    """The pattern's name and, beside it, what it does in one line."""
    with st.container(horizontal=True, vertical_alignment="center", gap="medium"):
        st.title(title, width="content")
        st.markdown(one_line, width="stretch")


def page_settings(settings: tuple[Setting, ...]) -> tuple[Setting, ...]:
    """Every setting of the page a link may carry: TTL, the pattern's own, the faults."""
    return (TTL, *settings, *FAULTS)


def fault_banners(lab: Lab) -> None:
    """Faults that are on, and a real cache server that stopped answering, said before anything else."""
    if lab.cache_error:
        st.error(plain(say("cache-unreachable", backend=learner().backend, error=lab.cache_error)),
                 icon=":material/cloud_off:")
    faults = [say(name) for name, on in (("cache-down-on", lab.cache_down), ("db-down-on", lab.db.down)) if on]
    if faults:
        st.warning(" ".join(faults), icon=":material/warning:")
