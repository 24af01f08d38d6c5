"""Moving the lab's time by hand: +10 s, +1 min and Next expiry, with every TTL in the learner's cache."""

from __future__ import annotations

import streamlit as st

from strategies.share import Action

from . import links, playback
from .learner import flash, learner, safely
from .state import PageState
from .text import say

FAST_FORWARDS = (("+10 s", 10.0), ("+1 min", 60.0))


@safely
def fast_forward(page: PageState, seconds: float | None) -> None:
    """Move the lab's clock (and every TTL in its cache); `None`: to the next key's expiry."""
    lab = learner().lab(page.pattern)
    if seconds is None:
        seconds = lab.next_expiry_in()
        if seconds is None:
            flash(say("no-expiry"), "info")
            return
        seconds += 0.001          # just past the moment, so the key is gone
    happened = links.record(page, Action("t", seconds=round(seconds, 3)), lambda: lab.advance_time(seconds))
    if happened:
        playback.play(page, happened[-1])
        if len(happened) > 1:
            flash(say("time-events", count=len(happened), first=happened[0].number, last=happened[-1].number), "info")
    else:
        st.toast(say("time-moved", seconds=f"{seconds:g}"))


def time_buttons(page: PageState) -> None:
    """+10 s, +1 min, Next expiry: drawn into the row the caller is filling."""
    for label, seconds in FAST_FORWARDS:
        st.button(label, key=page.key(f"ff{seconds:g}"), icon=":material/fast_forward:",
                  help=say("fast-forward-help"), on_click=fast_forward, args=(page, seconds))
    st.button("Next expiry", key=page.key("ff-next"), icon=":material/timer:", help=say("next-expiry-help"),
              on_click=fast_forward, args=(page, None))
