"""One pattern's page: the lab on top (requests, playback, diagram, tables), its explanation below.

Everything on it comes from the pattern's lab: its knobs, buttons, tables, totals and status lines are what
the lab and its parts declare (`strategies.knobs`, `strategies.part.Part`), so a page file is one call.
"""

from __future__ import annotations

import streamlit as st

from strategies import Lab

from . import links, playback, quiz, scenarios
from .clients import client_row
from .explanation import explanation
from .learner import learner, show_flashes
from .menu import more_menu, presenter_toggle
from .narration import plain
from .panel import lab_panel
from .requests import request_log
from .routing import inject_css, inject_motion, inject_presenter_css
from .sending import inputs, request_buttons
from .settings import apply_settings
from .state import page_state
from .stepping import clicker_buttons, playback_buttons
from .text import say, sections


def pattern_page(pattern: str) -> None:
    """The page of `pattern`.

    Above the diagram: the title and one row of controls (Key, Value, Read, Write, the step buttons, the
    scenario, and one menu for everything else), so that the diagram starts in the upper half of a
    projector's screen; it stays one line at 1280 px with a lab's own buttons and a scenario's scene jumps, the
    scenario picker taking what room is left. Presenting, the row holds only what a presenter steps a scenario
    with.

    One fragment only: the panel, which its timer re-runs. Everything a learner clicks is drawn by the page
    itself, so a click is a full run, which also declares the panel's timer afresh. (A lab fragment holding
    the controls with the timed panel nested in it crashed Streamlit's frontend under quick clicks from many
    learners — a blank page, "Bad delta path index"; and inputs outside it with buttons inside crashed it the
    same way when one batch of widget changes spanned both.)"""
    inject_css()
    presenting = links.presenting()
    if presenting:
        inject_presenter_css()
    page = page_state(pattern)
    lab = learner().lab(pattern)
    links.from_url(page)
    apply_settings(page, lab)
    inject_motion(playback.seconds_per_step(page))
    # The diagram leads the run: the browser handles a run's messages in order, and every element before
    # the diagram's delays it (measured: ~25 elements of controls and tables cost the browser 40-60 ms).
    # So the places are laid out first, empty, and the panel is drawn into its own before the rest.
    top = st.container()
    panel_slot = st.container()
    with panel_slot:
        lab_panel(page, lab)
    with top:
        if not presenting:
            heading(lab.title, sections(pattern).get("In one line", ""))
        show_flashes()
        fault_banners(lab)
        pb = playback.playback(page)
        with st.container(horizontal=True, vertical_alignment="bottom", gap="xsmall", key=page.box("controls")):
            if presenting:      # what a presenter steps a scenario with
                scenarios.picker(page, labelled=False)
                playback_buttons(page, pb)
                quiz.toggle(page)
                presenter_toggle(presenting)
            else:
                inputs(page)
                request_buttons(page, lab)
                playback_buttons(page, pb)
                scenarios.picker(page)
                more_menu(page, lab, pb, presenting)
        client_row(page, lab, sending=not presenting)
        clicker_buttons(page, pb)
    if not presenting:
        request_log(page, lab)
        st.divider()
        explanation(page)
    links.sync(page)


def heading(title: str, one_line: str) -> None:
    """The pattern's name and, beside it, what it does in one line."""
    with st.container(horizontal=True, vertical_alignment="center", gap="medium"):
        st.title(title, width="content")
        st.markdown(one_line, width="stretch")


def fault_banners(lab: Lab) -> None:
    """Faults that are on, and a real cache server that stopped answering, said before anything else."""
    if lab.cache_error:
        st.error(plain(say("cache-unreachable", backend=learner().backend, error=lab.cache_error)),
                 icon=":material/cloud_off:")
    faults = [say(name) for name, on in (("cache-down-on", lab.cache_down), ("db-down-on", lab.db.down)) if on]
    if faults:
        st.warning(" ".join(faults), icon=":material/warning:")
