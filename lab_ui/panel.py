"""The diagram, its narration and the tables: one fragment that a timer re-runs while something moves.

The timer ticks at the playback speed while a request plays, once a second while time matters (a TTL
counting down, a write waiting for the flusher), and not at all otherwise: an idle learner costs the
server nothing. A timer's period is fixed when the fragment is declared, so when it must change (a
request has finished playing, the last TTL ran out) the fragment asks for one full rerun to declare
it again. Each tick lets simulated time follow the wall clock: keys expire without a click and
write-behind's flusher runs when its batch is due.
"""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st

from strategies import Lab, Trace
from strategies.diagram import build_diagram
from strategies.views import cache_rows, changed_keys, db_rows, queue_rows

from . import playback, tables
from .learner import learner
from .narration import narration, plain
from .text import say

IDLE_TICK = 1.0


def period_for(lab: Lab, pattern: str) -> float | None:
    """How often the panel must re-run: the playback speed, a 1 s clock, or never."""
    pb = playback.playback(pattern)
    if pb is not None and pb.playing:
        return playback.seconds_per_step(pattern)
    timed = bool(lab.live().queue) or lab.next_expiry_in() is not None     # the expiry heap, not a scan
    return IDLE_TICK if timed and learner().follows_wall else None


def lab_panel(pattern: str, lab: Lab, status_line: Callable[[Lab], str] | None = None) -> None:
    declared = period_for(lab, pattern)

    @st.fragment(run_every=declared)
    def panel() -> None:
        session = learner()
        with session.lock:
            happened = session.follow_wall_clock(lab)
            pb, trace = playback.shown(lab, pattern)
            announce(pattern, happened, pb, trace)
            pb, trace = playback.shown(lab, pattern)
            period = playback.seconds_per_step(pattern)
            finished = pb is not None and trace is not None and playback.tick(pb, trace, period)
            draw(lab, pb, trace, status_line)
            wanted = period_for(lab, pattern)
        if finished or wanted != declared:
            st.rerun()    # declare the timer again with its new period

    panel()


def announce(pattern: str, happened: list[Trace], pb: playback.Playback | None, trace: Trace | None) -> None:
    """What time did by itself: a flush takes the diagram if the learner is not watching a request."""
    watching = pb is not None and trace is not None and (pb.playing or pb.step < len(trace.steps))
    for event in happened:
        if event.operation == "flush":
            st.toast(say("flusher-ran", number=event.number))
            if not watching:
                playback.play(pattern, event)
        elif event.operation == "expiry":
            st.toast(say("keys-expired", count=len(event.steps), number=event.number))


def draw(lab: Lab, pb: playback.Playback | None, trace: Trace | None,
         status_line: Callable[[Lab], str] | None) -> None:
    number = min(max(pb.step, 1), len(trace.steps)) if pb and trace else 0
    step = trace.steps[number - 1] if trace else None
    # Mid-request, the tables replay the state right after the step on screen; at its last step they
    # are live (keys keep expiring, other requests may have run since).
    replaying = trace is not None and number < len(trace.steps)
    state = lab.state_at(trace, number) if replaying else lab.live()
    left, right = st.columns([5, 3], gap="medium")
    with left:
        if trace is not None:
            head = st.container(horizontal=True, vertical_alignment="center")
            head.markdown(f"**step {number} of {len(trace.steps)}**", width="content")
            head.caption(plain(f"request #{trace.number}: {trace.operation} {trace.key or ''}".rstrip()))
        st.graphviz_chart(build_diagram(lab.topology, trace, number or None), width="stretch",
                          alt=step.explanation if step is not None else say("figure-alt"))
        narration(lab, trace, number, state)
    with right:
        when = say("tables-at-step", step=number, number=trace.number, now=f"{state.now:.1f}") \
            if replaying and state is not None else say("tables-live", now=f"{lab.clock.now():.1f}")
        st.caption(when)
        shown = state if state is not None else lab.live()
        changes = step.changes if step is not None else ()
        tables.show("Cache", cache_rows(shown, changed=changed_keys(changes, "cache")), say("cache-empty"))
        tables.show("Database", db_rows(shown, changed=changed_keys(changes, "db")), say("db-empty"))
        if lab.has_queue:
            tables.show("Write-behind queue", queue_rows(shown, changed=changed_keys(changes, "queue")),
                        say("queue-empty"))
        if status_line is not None:
            st.caption(status_line(lab))
