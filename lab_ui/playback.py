"""Which request the diagram shows and which of its steps is current.

Requests are named by their number, which they keep for good, so playing #17 again still plays #17
after older requests have left the log. The speed lives in a session key the speed widget does not
own: a widget that is not drawn in some run loses its state, a preference must not.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import streamlit as st

from strategies import Lab, Trace

SPEEDS = {"0.5×": 3.0, "1×": 1.5, "2×": 0.75, "4×": 0.4}   # seconds per step
DEFAULT_SPEED = "1×"


@dataclass
class Playback:
    number: int                 # the request's number in its lab
    step: int = 1               # 1-based
    playing: bool = True
    last_move: float = 0.0      # monotonic time of the last step change


def playback(pattern: str) -> Playback | None:
    return st.session_state.get(f"playback:{pattern}")


def shown(lab: Lab, pattern: str) -> tuple[Playback | None, Trace | None]:
    """The playback position and the request it shows (None if that request has left the log)."""
    pb = playback(pattern)
    trace = lab.request(pb.number) if pb is not None else None
    if trace is not None and not trace.steps:
        trace = None
    return pb, trace


def play(pattern: str, trace: Trace, *, step: int = 1, playing: bool = True) -> None:
    st.session_state[f"playback:{pattern}"] = Playback(trace.number, step, playing, time.monotonic())


def speed(pattern: str) -> str:
    chosen = st.session_state.get(f"{pattern}:speed")
    return chosen if chosen in SPEEDS else DEFAULT_SPEED


def seconds_per_step(pattern: str) -> float:
    return SPEEDS[speed(pattern)]


def step_by(lab: Lab, pattern: str, delta: int) -> None:
    """Step back or forward by hand: playback pauses where the learner put it."""
    pb, trace = shown(lab, pattern)
    if pb and trace:
        pb.step = min(max(1, pb.step + delta), len(trace.steps))
        pb.playing, pb.last_move = False, time.monotonic()


def toggle(lab: Lab, pattern: str) -> None:
    pb, trace = shown(lab, pattern)
    if pb and trace:
        if not pb.playing and pb.step >= len(trace.steps):
            pb.step = 1          # play a finished request again from the start
        pb.playing, pb.last_move = not pb.playing, time.monotonic()


def tick(pb: Playback, trace: Trace, period: float) -> bool:
    """Move one step if the speed says it is time; True if playback has just reached the end."""
    if not pb.playing:
        return False
    if pb.step >= len(trace.steps):
        pb.playing = False
        return True
    if time.monotonic() - pb.last_move >= period * 0.9:
        pb.step += 1
        pb.last_move = time.monotonic()
    return False
