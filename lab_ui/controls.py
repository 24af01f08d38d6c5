"""The widgets a learner drives the lab with: requests, settings and faults, time, playback.

Every button acts through an `on_click` callback wrapped in `safely`: callbacks run before the rerun
draws anything, so every widget shows the state its click produced, and nothing a click runs into can
reach the learner as a traceback.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import streamlit as st

from strategies import Lab
from strategies.database import SEED_ROWS
from strategies.share import Action

from . import clients, playback, share
from .learner import flash, learner, safely
from .text import PAGE_FILES, say

DB_SPEEDS = {"normal": 1.0, "5× slower": 5.0, "20× slower": 20.0}
FAST_FORWARDS = (("+10 s", 10.0), ("+1 min", 60.0))


@dataclass(frozen=True)
class ExtraButton:
    """A pattern's own request button (write-behind's "Flush now"), by the share-link action it performs."""

    label: str
    icon: str
    action: str          # its kind of action in a share link (strategies.share), e.g. "f"
    help: str = ""


def lab_of(pattern: str) -> Lab:
    return learner().lab(pattern)


# ---- requests ------------------------------------------------------------------------------------
def send(pattern: str, action: Action) -> None:
    """A free-form request: performed, recorded for share links, and played."""
    traces = share.run(pattern, action, lambda: share.perform(lab_of(pattern), action))
    if traces:
        playback.play(pattern, traces[-1])


@safely
def send_read(pattern: str) -> None:
    key = st.session_state.get(f"{pattern}:key", "")
    if clients.enabled(pattern):
        share.two_clients_used(pattern)
        clients.start(pattern, lambda lab, client: lab.start_read(key, client=client))
        return
    send(pattern, Action("r", key=key))


@safely
def send_write(pattern: str) -> None:
    key, value = st.session_state.get(f"{pattern}:key", ""), st.session_state.get(f"{pattern}:value", "")
    if not value:
        flash(say("no-value"))
        return
    if clients.enabled(pattern):
        share.two_clients_used(pattern)
        clients.start(pattern, lambda lab, client: lab.start_write(key, value, client=client))
        return
    send(pattern, Action("w", key=key, value=value))


@safely
def send_extra(pattern: str, kind: str) -> None:
    send(pattern, Action(kind))


def pick_seeded_key(pattern: str) -> None:
    picked = st.session_state.get(f"{pattern}:pick")
    if picked:
        st.session_state[f"{pattern}:key"] = picked
        st.session_state[f"{pattern}:pick"] = None


def seeded_keys() -> list[str]:
    return [key for key, _ in SEED_ROWS[:4]]


def inputs(pattern: str) -> None:
    """Key and Value, drawn into the row the page is filling."""
    st.session_state.setdefault(f"{pattern}:key", "user:1")
    st.text_input("Key", key=f"{pattern}:key", width=110)
    st.text_input("Value", key=f"{pattern}:value", placeholder="e.g. Ada", width=110)


def keep_two_clients(pattern: str) -> None:
    st.session_state[f"{pattern}:two-clients"] = bool(st.session_state.get(f"{pattern}:two-clients:widget"))


def two_clients_toggle(pattern: str) -> None:
    st.session_state[f"{pattern}:two-clients:widget"] = clients.enabled(pattern)
    st.toggle("Two clients", key=f"{pattern}:two-clients:widget", on_change=keep_two_clients, args=(pattern,),
              help=say("two-clients-help"))


def keep_client(pattern: str) -> None:
    chosen = st.session_state.get(f"{pattern}:client:widget")
    if chosen in clients.CLIENTS:
        st.session_state[f"{pattern}:client"] = chosen


def client_row(pattern: str) -> None:
    """Two-client mode: who sends the next Read or Write, and each client's request in flight."""
    if not clients.enabled(pattern) and not clients.busy(pattern):
        return
    row = st.container(horizontal=True, vertical_alignment="center")
    with row:
        if clients.enabled(pattern):
            st.session_state[f"{pattern}:client:widget"] = clients.chosen(pattern)
            st.segmented_control("Send as", list(clients.CLIENTS), key=f"{pattern}:client:widget",
                                 on_change=keep_client, args=(pattern,), format_func=lambda client: f"Client {client}",
                                 label_visibility="collapsed")
        clients.client_buttons(pattern)


def request_buttons(pattern: str, extras: tuple[ExtraButton, ...]) -> None:
    st.button("Read", type="primary", key=f"{pattern}:read", icon=":material/download:", on_click=send_read,
              args=(pattern,))
    st.button("Write", key=f"{pattern}:write", icon=":material/upload:", on_click=send_write, args=(pattern,))
    for extra in extras:
        st.button(extra.label, key=f"{pattern}:{extra.label}", icon=extra.icon, help=extra.help or None,
                  on_click=send_extra, args=(pattern, extra.action))


# ---- settings and faults ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Setting:
    """One knob of "Settings and faults". Its value lives in st.session_state["<pattern>:<name>"], a key no
    widget owns, so it survives the runs in which its widget is not drawn (the popover is closed); it is
    applied to the lab on every run, and the widget, when drawn, starts from it."""

    name: str
    label: str
    widget: Callable[..., object]               # st.number_input, st.toggle, st.radio, st.select_slider
    default: object
    apply: Callable[[Lab, object], None]
    options: dict = field(default_factory=dict)   # the widget's own arguments (bounds, choices…)
    help: str = ""
    fault: bool = False                         # "Reset my lab" turns it off
    disabled: Callable[[Lab], bool] | None = None
    knob: str | None = None                     # the lab attribute a scenario sets (see strategies.scenarios)

    def value(self, pattern: str) -> object:
        return st.session_state.get(f"{pattern}:{self.name}", self.default)

    def remember(self, pattern: str, value: object) -> None:
        """Set its value from outside the widget (a scenario): the widget starts from it when next drawn."""
        st.session_state[f"{pattern}:{self.name}"] = value
        st.session_state.pop(f"{pattern}:{self.name}:widget", None)

    def draw(self, pattern: str, lab: Lab) -> None:
        widget_key = f"{pattern}:{self.name}:widget"
        if widget_key not in st.session_state:
            st.session_state[widget_key] = self.value(pattern)
        self.widget(self.label, key=widget_key, help=say(self.help) if self.help else None, on_change=_remember,
                    args=(pattern, self.name), disabled=bool(self.disabled and self.disabled(lab)), **self.options)


def _remember(pattern: str, name: str) -> None:
    st.session_state[f"{pattern}:{name}"] = st.session_state[f"{pattern}:{name}:widget"]


def _set_ttl(lab: Lab, seconds: object) -> None:
    lab.ttl_seconds = int(seconds) or None


def _set_cache_down(lab: Lab, down: object) -> None:
    lab.cache_down = bool(down)


def _set_db_down(lab: Lab, down: object) -> None:
    lab.db.down = bool(down)


def _set_db_speed(lab: Lab, speed: object) -> None:
    lab.db.slowdown = DB_SPEEDS.get(speed, 1.0)


TTL = Setting("ttl", "TTL (seconds)", st.number_input, 60, _set_ttl,
              dict(min_value=0, max_value=86_400, step=10), "ttl-help", knob="ttl_seconds")
FAULTS = (
    Setting("cache-down", "Cache down", st.toggle, False, _set_cache_down, help="cache-down-help", fault=True),
    Setting("down", "Database down", st.toggle, False, _set_db_down, help="db-down-help", fault=True),
    Setting("slow", "Database speed", st.select_slider, "normal", _set_db_speed, dict(options=list(DB_SPEEDS)),
            "db-speed-help", fault=True),
)


def apply_settings(pattern: str, lab: Lab, settings: tuple[Setting, ...]) -> None:
    """Every setting's remembered value onto the lab: cheap, and done on every run."""
    for setting in (TTL, *settings, *FAULTS):
        setting.apply(lab, setting.value(pattern))


def settings_and_faults(pattern: str, settings: tuple[Setting, ...]) -> None:
    lab = lab_of(pattern)
    for setting in (TTL, *settings):
        setting.draw(pattern, lab)
    with st.container(horizontal=True, vertical_alignment="center"):
        for setting in FAULTS[:2]:
            setting.draw(pattern, lab)
    FAULTS[2].draw(pattern, lab)
    with st.container(horizontal=True):
        st.button("Crash the cache", key=f"{pattern}:crash", icon=":material/bolt:", help=say("crash-help"),
                  on_click=crash, args=(pattern,))
        st.button("Reset my lab", key=f"{pattern}:reset", icon=":material/restart_alt:", help=say("reset-help"),
                  on_click=reset_lab, args=(pattern,))
    st.caption(say("backend", backend=learner().backend))


@safely
def crash(pattern: str) -> None:
    send(pattern, Action("x"))


@safely
def reset_lab(pattern: str) -> None:
    learner().reset()
    faults = {f"{page}:{setting.name}" for page in PAGE_FILES for setting in FAULTS}
    for name in list(st.session_state):   # faults off again, playback forgotten; preferences stay
        name = str(name)
        if name.startswith("playback:") or name in faults or name.removesuffix(":widget") in faults:
            del st.session_state[name]
    for page in PAGE_FILES:
        clients.forget(page)               # requests in flight were on the labs just reset
        share.forget(page)
        st.session_state.pop(f"{page}:scenario-choice", None)
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
    happened = share.run(pattern, Action("t", seconds=round(seconds, 3)), lambda: lab.advance_time(seconds))
    if happened:
        playback.play(pattern, happened[-1])
        if len(happened) > 1:
            flash(say("time-events", count=len(happened), first=happened[0].number, last=happened[-1].number), "info")
    else:
        st.toast(say("time-moved", seconds=f"{seconds:g}"))


def time_buttons(pattern: str) -> None:
    """+10 s, +1 min, Next expiry: drawn into the row the caller is filling."""
    for label, seconds in FAST_FORWARDS:
        st.button(label, key=f"{pattern}:ff{seconds:g}", icon=":material/fast_forward:", help=say("fast-forward-help"),
                   on_click=fast_forward, args=(pattern, seconds))
    st.button("Next expiry", key=f"{pattern}:ff-next", icon=":material/timer:", help=say("next-expiry-help"),
               on_click=fast_forward, args=(pattern, None))


# ---- playback ---------------------------------------------------------------------------------------
@safely
def step_by(pattern: str, delta: int) -> None:
    playback.step_by(pattern, delta)


@safely
def go_to(pattern: str, frame: int) -> None:
    playback.go_to(pattern, frame)


@safely
def play_or_pause(pattern: str) -> None:
    playback.toggle(pattern)


def keep_speed(pattern: str) -> None:
    chosen = st.session_state.get(f"{pattern}:speed-choice")
    if chosen in playback.SPEEDS:
        st.session_state[f"{pattern}:speed"] = chosen


def playback_buttons(pattern: str, pb: playback.Playback | None) -> None:
    """Step back, Play/Pause and Step forward, each with its key, drawn into the row the page is filling."""
    idle = pb is None
    predicting = bool(st.session_state.get(f"{pattern}:predict"))
    st.button("Step back", key=f"{pattern}:back", icon=":material/skip_previous:", disabled=idle, shortcut="Left",
              on_click=step_by, args=(pattern, -1))
    playing = pb is not None and pb.playing
    st.button("Pause" if playing else "Play", key=f"{pattern}:play", disabled=idle or predicting, shortcut="Space",
              icon=":material/pause:" if playing else ":material/play_arrow:", on_click=play_or_pause, args=(pattern,))
    st.button("Step forward", key=f"{pattern}:forward", icon=":material/skip_next:", icon_position="right",
              disabled=idle or predicting, shortcut="Right", on_click=step_by, args=(pattern, +1),
              help=say("predict-forward") if predicting else None)


def speed_control(pattern: str) -> None:
    st.session_state[f"{pattern}:speed-choice"] = playback.speed(pattern)
    st.segmented_control("Speed", list(playback.SPEEDS), key=f"{pattern}:speed-choice", on_change=keep_speed,
                         args=(pattern,), label_visibility="collapsed")


def restart_button(pattern: str, idle: bool, *, shortcut: bool = True) -> None:
    """Back to the first step; the page's hidden copy carries the Home key (`clicker_buttons`)."""
    st.button("Restart", key=f"{pattern}:{'home' if shortcut else 'restart'}", icon=":material/first_page:",
              disabled=idle, shortcut="Home" if shortcut else None, on_click=go_to, args=(pattern, 1),
              help=say("restart-help"))


def clicker_buttons(pattern: str, pb: playback.Playback | None) -> None:
    """Keys without a button on screen, on buttons the page hides: a presenter's clicker sends PageDown /
    PageUp (the same steps as → / ←), and Home restarts."""
    idle, predicting = pb is None, bool(st.session_state.get(f"{pattern}:predict"))
    with st.container(key=f"{pattern}-clicker"):
        restart_button(pattern, idle)
        st.button("Next (clicker)", key=f"{pattern}:page-down", shortcut="PageDown", disabled=idle or predicting,
                  on_click=step_by, args=(pattern, +1))
        st.button("Previous (clicker)", key=f"{pattern}:page-up", shortcut="PageUp", disabled=idle,
                  on_click=step_by, args=(pattern, -1))
