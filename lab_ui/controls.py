"""The widgets a learner drives the lab with: requests, settings and faults, time, playback.

Every button acts through an `on_click` callback wrapped in `safely`: callbacks run before the rerun
draws anything, so every widget shows the state its click produced, and nothing a click runs into can
reach the learner as a traceback.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import streamlit as st

from strategies import Lab, Trace
from strategies.database import SEED_ROWS

from . import playback
from .learner import flash, learner, safely
from .text import say

DB_SPEEDS = {"normal": 1.0, "5× slower": 5.0, "20× slower": 20.0}
FAST_FORWARDS = (("+10 s", 10.0), ("+1 min", 60.0))


@dataclass(frozen=True)
class ExtraButton:
    """A pattern's own request button (write-behind's "Flush now"): what it does returns the trace to play."""

    label: str
    icon: str
    act: Callable[[Lab], Trace]
    help: str = ""


def lab_of(pattern: str) -> Lab:
    return learner().lab(pattern)


# ---- requests ------------------------------------------------------------------------------------
@safely
def send_read(pattern: str) -> None:
    lab = lab_of(pattern)
    playback.play(pattern, lab.read(st.session_state.get(f"{pattern}:key", "")))


@safely
def send_write(pattern: str) -> None:
    value = st.session_state.get(f"{pattern}:value", "")
    if not value:
        flash(say("no-value"))
        return
    lab = lab_of(pattern)
    playback.play(pattern, lab.write(st.session_state.get(f"{pattern}:key", ""), value))


@safely
def send_extra(pattern: str, act: Callable[[Lab], Trace]) -> None:
    playback.play(pattern, act(lab_of(pattern)))


def pick_seeded_key(pattern: str) -> None:
    picked = st.session_state.get(f"{pattern}:pick")
    if picked:
        st.session_state[f"{pattern}:key"] = picked
        st.session_state[f"{pattern}:pick"] = None


def request_row(pattern: str, extras: tuple[ExtraButton, ...], settings: Callable[[Lab], None] | None) -> None:
    st.session_state.setdefault(f"{pattern}:key", "user:1")
    row = st.container(horizontal=True, vertical_alignment="bottom")
    row.text_input("Key", key=f"{pattern}:key", width=190)
    row.text_input("Value", key=f"{pattern}:value", placeholder="e.g. Ada", width=190)
    row.button("Read", type="primary", key=f"{pattern}:read", icon=":material/download:", on_click=send_read,
               args=(pattern,))
    row.button("Write", key=f"{pattern}:write", icon=":material/upload:", on_click=send_write, args=(pattern,))
    for extra in extras:
        row.button(extra.label, key=f"{pattern}:{extra.label}", icon=extra.icon, help=extra.help or None,
                   on_click=send_extra, args=(pattern, extra.act))
    with row.popover("Settings and faults", icon=":material/tune:"):
        settings_and_faults(pattern, settings)
    st.pills("Seeded keys", [k for k, _ in SEED_ROWS[:4]], key=f"{pattern}:pick", on_change=pick_seeded_key,
             args=(pattern,), help=say("seeded-keys-help"), label_visibility="collapsed")


# ---- settings and faults ---------------------------------------------------------------------------
def settings_and_faults(pattern: str, settings: Callable[[Lab], None] | None) -> None:
    lab = lab_of(pattern)
    ttl = st.number_input("TTL (seconds)", min_value=0, max_value=86_400, value=60, step=10, key=f"{pattern}:ttl",
                          help=say("ttl-help"))
    lab.ttl_seconds = int(ttl) or None
    if settings is not None:
        settings(lab)
    st.divider()
    lab.cache_down = st.toggle("Cache down", key=f"{pattern}:cache-down", help=say("cache-down-help"))
    lab.db.down = st.toggle("Database down", key=f"{pattern}:down", help=say("db-down-help"))
    lab.db.slowdown = DB_SPEEDS[st.select_slider("Database speed", list(DB_SPEEDS), key=f"{pattern}:slow",
                                                 help=say("db-speed-help"))]
    st.button("Crash the cache", key=f"{pattern}:crash", icon=":material/bolt:", help=say("crash-help"),
              on_click=crash, args=(pattern,))
    st.divider()
    st.button("Reset my lab", key=f"{pattern}:reset", icon=":material/restart_alt:", help=say("reset-help"),
              on_click=reset_lab)
    st.caption(say("backend", backend=learner().backend))


@safely
def crash(pattern: str) -> None:
    playback.play(pattern, lab_of(pattern).crash_cache())


@safely
def reset_lab() -> None:
    learner().reset()
    for name in list(st.session_state):   # faults off again, playback forgotten; preferences stay
        if str(name).startswith("playback:") or str(name).endswith((":down", ":slow", ":cache-down")):
            del st.session_state[name]
    st.toast(say("reset-done"))


# ---- time -----------------------------------------------------------------------------------------
@safely
def fast_forward(pattern: str, seconds: float | None) -> None:
    """Move the lab's clock (and every TTL in its cache); `None`: to the next key's expiry."""
    lab = lab_of(pattern)
    if seconds is None:
        seconds = lab.next_expiry_in()
        if seconds is None:
            flash(say("no-expiry"), "info")
            return
        seconds += 0.001          # just past the moment, so the key is gone
    happened = lab.advance_time(seconds)
    if happened:
        playback.play(pattern, happened[-1])
        if len(happened) > 1:
            flash(say("time-events", count=len(happened), first=happened[0].number, last=happened[-1].number), "info")
    else:
        st.toast(say("time-moved", seconds=f"{seconds:g}"))


def time_row(pattern: str) -> None:
    row = st.container(horizontal=True, vertical_alignment="center")
    for label, seconds in FAST_FORWARDS:
        row.button(label, key=f"{pattern}:ff{seconds:g}", icon=":material/fast_forward:", help=say("fast-forward-help"),
                   on_click=fast_forward, args=(pattern, seconds))
    row.button("Next expiry", key=f"{pattern}:ff-next", icon=":material/timer:", help=say("next-expiry-help"),
               on_click=fast_forward, args=(pattern, None))


# ---- playback ---------------------------------------------------------------------------------------
@safely
def step_by(pattern: str, delta: int) -> None:
    playback.step_by(lab_of(pattern), pattern, delta)


@safely
def play_or_pause(pattern: str) -> None:
    playback.toggle(lab_of(pattern), pattern)


def keep_speed(pattern: str) -> None:
    chosen = st.session_state.get(f"{pattern}:speed-choice")
    if chosen in playback.SPEEDS:
        st.session_state[f"{pattern}:speed"] = chosen


def playback_row(pattern: str, pb: playback.Playback | None) -> None:
    row = st.container(horizontal=True, vertical_alignment="center")
    idle = pb is None
    row.button("Step back", key=f"{pattern}:back", icon=":material/skip_previous:", disabled=idle,
               on_click=step_by, args=(pattern, -1))
    playing = pb is not None and pb.playing
    row.button("Pause" if playing else "Play", key=f"{pattern}:play", disabled=idle,
               icon=":material/pause:" if playing else ":material/play_arrow:", on_click=play_or_pause, args=(pattern,))
    row.button("Step forward", key=f"{pattern}:forward", icon=":material/skip_next:", icon_position="right",
               disabled=idle, on_click=step_by, args=(pattern, +1))
    st.session_state[f"{pattern}:speed-choice"] = playback.speed(pattern)
    row.segmented_control("Speed", list(playback.SPEEDS), key=f"{pattern}:speed-choice", on_change=keep_speed,
                          args=(pattern,), label_visibility="collapsed")
