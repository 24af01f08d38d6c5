"""The buttons that move the diagram: Step back, Play/Pause, Step forward, Restart, the speed, and the keys a
presenter's clicker sends (on buttons the page hides)."""

from __future__ import annotations

import streamlit as st

from . import playback
from .learner import safely
from .state import PageState
from .text import say


@safely
def step_by(page: PageState, delta: int) -> None:
    playback.step_by(page, delta)


@safely
def go_to(page: PageState, frame: int) -> None:
    playback.go_to(page, frame)


@safely
def jump(page: PageState, forward: bool) -> None:
    playback.jump(page, forward)


@safely
def play_or_pause(page: PageState) -> None:
    playback.toggle(page)


def keep_speed(page: PageState) -> None:
    picked = st.session_state.get(page.key("speed-choice"))
    if picked in playback.SPEEDS:
        page.speed = picked


def playback_buttons(page: PageState, pb: playback.Playback | None) -> None:
    """Step back, Play/Pause and Step forward, each with its key, drawn into the row the page is filling."""
    idle = pb is None
    st.button("Step back", key=page.key("back"), icon=":material/skip_previous:", disabled=idle, shortcut="Left",
              on_click=step_by, args=(page, -1))
    playing = pb is not None and pb.playing
    st.button("Pause" if playing else "Play", key=page.key("play"), disabled=idle or page.predict, shortcut="Space",
              icon=":material/pause:" if playing else ":material/play_arrow:", on_click=play_or_pause, args=(page,))
    st.button("Step forward", key=page.key("forward"), icon=":material/skip_next:", icon_position="right",
              disabled=idle or page.predict, shortcut="Right", on_click=step_by, args=(page, +1),
              help=say("predict-forward") if page.predict else None)
    scene_buttons(page, pb)


def scene_buttons(page: PageState, pb: playback.Playback | None) -> None:
    """A scenario's Previous scene / Next scene: to where the previous or next scene or caption begins, so that a
    scene of thousands of steps need not be played through (predicting, only back: forward skips questions)."""
    if pb is None or pb.scenario is None:
        return
    st.button("Previous scene", key=page.key("scene-back"), icon=":material/keyboard_double_arrow_left:",
              shortcut="Shift+Left", disabled=playback.mark_before(pb) is None, on_click=jump, args=(page, False),
              help=say("scene-back-help"))
    st.button("Next scene", key=page.key("scene-forward"), icon=":material/keyboard_double_arrow_right:",
              icon_position="right", shortcut="Shift+Right", disabled=page.predict or playback.mark_after(pb) is None,
              on_click=jump, args=(page, True), help=say("scene-forward-help"))


def speed_control(page: PageState) -> None:
    st.session_state[page.key("speed-choice")] = playback.speed(page)
    st.segmented_control("Speed", list(playback.SPEEDS), key=page.key("speed-choice"), on_change=keep_speed,
                         args=(page,), label_visibility="collapsed")


def restart_button(page: PageState, idle: bool, *, shortcut: bool = True) -> None:
    """Back to the first step; the page's hidden copy carries the Home key (`clicker_buttons`)."""
    st.button("Restart", key=page.key("home" if shortcut else "restart"), icon=":material/first_page:",
              disabled=idle, shortcut="Home" if shortcut else None, on_click=go_to, args=(page, 1),
              help=say("restart-help"))


def clicker_buttons(page: PageState, pb: playback.Playback | None) -> None:
    """Keys without a button on screen, on buttons the page hides: a presenter's clicker sends PageDown /
    PageUp (the same steps as → / ←), and Home restarts."""
    idle = pb is None
    with st.container(key=page.box("clicker")):
        restart_button(page, idle)
        st.button("Next (clicker)", key=page.key("page-down"), shortcut="PageDown", disabled=idle or page.predict,
                  on_click=step_by, args=(page, +1))
        st.button("Previous (clicker)", key=page.key("page-up"), shortcut="PageUp", disabled=idle,
                  on_click=step_by, args=(page, -1))
