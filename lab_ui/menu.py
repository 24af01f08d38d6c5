"""The page's More menu: what a learner reaches for less often than Read, Write and the step buttons.

Three tabs: Settings and faults (time jumps, the TTL and the pattern's own knobs, the faults, Crash and
Reset), View (Restart, the playback speed, the seeded keys, two clients, predicting, presenter mode), and
Share and export (the link to what is on screen, downloads for slides). It is drawn only while open (its
widgets would otherwise be sent with every click); each widget keeps its value in a session key of its own,
so closing the menu changes nothing, and every keyboard shortcut works with it closed
(`controls.clicker_buttons`).
"""

from __future__ import annotations

import streamlit as st

from strategies import Lab

from . import links, playback, quiz
from .controls import (
    Setting,
    pick_seeded_key,
    restart_button,
    seeded_keys,
    settings_and_faults,
    speed_control,
    time_buttons,
    two_clients_toggle,
)
from .exporting import export_section
from .text import say


def more_menu(pattern: str, lab: Lab, pb: playback.Playback | None, presenting: bool,
              settings: tuple[Setting, ...]) -> None:
    menu = st.popover("More", icon=":material/menu:", key=f"{pattern}:more", on_change="rerun",
                      help=say("more-help"))
    if not menu.open:
        return
    with menu:
        lab_tab, view_tab, share_tab = st.tabs([say("menu-lab"), say("menu-view"), say("menu-share")])
        with lab_tab:
            with st.container(horizontal=True):
                time_buttons(pattern)
            settings_and_faults(pattern, settings)
        with view_tab:
            with st.container(horizontal=True, vertical_alignment="center"):
                restart_button(pattern, pb is None, shortcut=False)
                speed_control(pattern)
            st.pills(say("menu-keys"), seeded_keys(), key=f"{pattern}:pick", on_change=pick_seeded_key,
                     args=(pattern,), help=say("seeded-keys-help"))
            two_clients_toggle(pattern)
            quiz.toggle(pattern)
            presenter_toggle(presenting)
        with share_tab:
            links.share_section(pattern)
            st.divider()
            export_section(pattern, lab)


def presenter_toggle(presenting: bool) -> None:
    st.session_state["present-widget"] = presenting
    st.toggle("Presenter mode", key="present-widget", on_change=keep_presenting, help=say("present-help"))


def keep_presenting() -> None:
    st.session_state["present"] = bool(st.session_state.get("present-widget"))
