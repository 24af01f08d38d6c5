"""The page's More menu: what a learner reaches for less often than Read, Write and the step buttons.

Three tabs: Settings and faults (time jumps, every knob the lab declares, the faults, Crash and Reset), View
(Restart, the playback speed, the seeded keys, two clients, predicting, presenter mode), and Share and export
(the link to what is on screen, downloads for slides). It is drawn only while open (its widgets would
otherwise be sent with every click); each widget keeps its value in the page's state, so closing the menu
changes nothing, and every keyboard shortcut works with it closed (`stepping.clicker_buttons`).
"""

from __future__ import annotations

import streamlit as st

from strategies import Lab

from . import clients, links, playback, quiz
from .exporting import export_section
from .sending import seeded_keys
from .settings import settings_and_faults
from .state import PageState
from .stepping import restart_button, speed_control
from .text import say
from .timetravel import time_buttons


def more_menu(page: PageState, lab: Lab, pb: playback.Playback | None, presenting: bool) -> None:
    menu = st.popover("More", icon=":material/menu:", key=page.key("more"), on_change="rerun", help=say("more-help"))
    if not menu.open:
        return
    with menu:
        lab_tab, view_tab, share_tab = st.tabs([say("menu-lab"), say("menu-view"), say("menu-share")])
        with lab_tab:
            with st.container(horizontal=True):
                time_buttons(page)
            settings_and_faults(page, lab)
        with view_tab:
            with st.container(horizontal=True, vertical_alignment="center"):
                restart_button(page, pb is None, shortcut=False)
                speed_control(page)
            seeded_keys(page)
            clients.two_clients_toggle(page)
            quiz.toggle(page)
            presenter_toggle(presenting)
        with share_tab:
            links.share_section(page)
            st.divider()
            export_section(page, lab)


def presenter_toggle(presenting: bool) -> None:
    st.session_state["present-widget"] = presenting
    st.toggle("Presenter mode", key="present-widget", on_change=keep_presenting, help=say("present-help"))


def keep_presenting() -> None:
    st.session_state["present"] = bool(st.session_state.get("present-widget"))
