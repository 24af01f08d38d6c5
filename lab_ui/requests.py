"""The counters and the request log, with "play an earlier request again"."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from strategies import Lab

from . import playback
from .learner import safely
from .state import PageState
from .text import say

LOG_ROWS = 100


@safely
def replay(page: PageState, lab: Lab) -> None:
    number = st.session_state.get(page.key("replay"))
    trace = lab.request(number) if number else None
    if trace is not None and trace.steps:
        playback.play(page, trace)
    st.session_state[page.key("replay")] = None


def counters(lab: Lab, earlier: bool = False) -> None:
    """The lab's totals; `earlier`: the diagram shows an earlier moment (a scenario or request replaying),
    so the totals say they already count what is still to come there (a scenario's stale read, say).
    A free request playing is not flagged: its totals change by that one request only."""
    metrics = lab.metrics()
    st.markdown(" · ".join(f"{label} **{value}**" for label, value in metrics))
    if earlier:
        st.caption(say("counters-earlier", count=len(lab.log)))


def request_log(page: PageState, lab: Lab) -> None:
    """The counters, and the log in an expander drawn only while open: below the fold, a table built on every
    click would cost every click its rendering (measured with bench/browser.py)."""
    st.subheader("Requests")
    pb = playback.playback(page)
    counters(lab, earlier=pb is not None and pb.scenario is not None and not pb.at_end)
    if not lab.log:
        st.caption(say("no-requests"))
        return
    log = st.expander(say("log-title", count=len(lab.log)), key=page.key("log"), on_change="rerun",
                      icon=":material/list:")
    if log.open:
        with log:
            log_table(page, lab)


def log_table(page: PageState, lab: Lab) -> None:
    recent = list(lab.log.values())[-LOG_ROWS:]
    frame = pd.DataFrame([{"#": t.number, "Request": t.operation, "Key": t.key or "",
                           "Outcome": t.outcome, "DB calls": t.db_calls, "Latency (ms)": round(t.latency_ms, 1),
                           "Note": t.error or t.warning or ("stale read" if t.stale else "")}
                          for t in reversed(recent)])
    st.dataframe(frame, hide_index=True, width="stretch", height=min(38 + 35 * len(frame), 318))
    if len(lab.log) > LOG_ROWS:
        st.caption(say("log-cut", shown=LOG_ROWS, total=len(lab.log)))
    st.selectbox("Play an earlier request again", list(frame["#"]), index=None, key=page.key("replay"),
                 placeholder="Choose a request by its #", on_change=replay, args=(page, lab),
                 format_func=lambda n: lab.request(n).label if lab.request(n) else f"#{n}")
