"""The diagram, its narration and the tables: one fragment that a timer re-runs while something moves.

The timer ticks at the playback speed while a request plays, once a second while time matters (a TTL
counting down, a write waiting for its flush: `Lab.moves_with_time`), and not at all otherwise: an idle
learner costs the server nothing. A timer's period is fixed when the fragment is declared, so when it must
change (a request has finished playing, the last TTL ran out) the fragment asks for one full rerun to declare
it again. Each tick lets simulated time follow the wall clock: keys expire without a click and the lab's
parts run their background work when it is due.
"""

from __future__ import annotations

import streamlit as st

from strategies import Lab, Trace
from strategies.diagram import build_diagram, drawn_steps, step_text
from strategies.scenarios import find
from strategies.views import changed_keys

from . import charts, links, playback, quiz, tables
from .learner import learner
from .narration import narration, plain
from .state import PageState
from .text import say

IDLE_TICK = 1.0
FOLDED_LISTED = 12          # the folded steps listed under the narration: those just before the current one


def period_for(lab: Lab, page: PageState) -> float | None:
    """How often the panel must re-run: the playback speed, a 1 s clock, or never."""
    pb = playback.playback(page)
    if pb is not None and pb.playing:
        return playback.seconds_per_step(page)
    return IDLE_TICK if lab.moves_with_time() and learner().follows_wall else None


def lab_panel(page: PageState, lab: Lab) -> None:
    """Predicting, the panel holds the question's widgets, and a batch of widget changes spanning a fragment
    and the page crashed Streamlit's frontend (see `page.pattern_page`): so then it is drawn as part of the
    page, with no timer (playback is paused while predicting; the clock catches up at the next click)."""
    if page.predict:
        with learner().lock:
            panel_run(page, lab)
        return
    declared = period_for(lab, page)

    @st.fragment(run_every=declared)
    def panel() -> None:
        with learner().lock:
            finished = panel_run(page, lab)
            wanted = period_for(lab, page)
        if finished or wanted != declared:
            st.rerun()    # declare the timer again with its new period

    panel()


def panel_run(page: PageState, lab: Lab) -> bool:
    """Let time catch up, move playback, draw; True if playback has just reached the end."""
    happened = learner().follow_wall_clock(lab)
    announce(page, happened, playback.playback(page))
    pb = playback.playback(page)
    finished = pb is not None and playback.tick(pb, playback.seconds_per_step(page))
    draw(page, lab, pb)
    links.sync(page)        # playback moved the step: the URL follows
    return finished


def announce(page: PageState, happened: list[Trace], pb: playback.Playback | None) -> None:
    """What time did by itself: keys expiring are said; a part's background work (a flush) is said, and takes
    the diagram if the learner is not watching something (its toast: "<operation>-ran" in assets/ui.md)."""
    watching = pb is not None and (pb.playing or not pb.at_end or pb.scenario is not None or bool(pb.clients))
    for event in happened:
        if event.operation == "expiry":
            st.toast(say("keys-expired", count=len(event.steps), number=event.number))
            continue
        st.toast(say(f"{event.operation}-ran", number=event.number))
        if not watching:
            playback.play(page, event)


def draw(page: PageState, lab: Lab, pb: playback.Playback | None) -> None:
    located = pb.locate() if pb is not None else None
    scene, index = (located[1], located[2]) if located else (None, 0)
    step = scene.steps[index] if scene is not None else None
    trace = lab.request(scene.number_of(step)) if step is not None else None
    # Mid-way, the tables replay the state right after the step on screen; at the last step of a free
    # request they are live (keys keep expiring, other requests may have run since). A scenario always
    # replays, so its last step shows what the scenario left, whatever happened since.
    replaying = step is not None and (pb.scenario is not None or not pb.at_end)
    state = lab.state_after(step) if replaying else lab.live()
    # The diagram and its narration take most of the width (more when presenting); the tables stay beside them.
    left, right = st.columns([7, 3] if links.presenting() else [3, 2], gap="medium")
    with left:
        if pb is not None and step is not None:
            head = st.container(horizontal=True, vertical_alignment="center")
            head.markdown(f"**step {min(pb.frame, pb.total)} of {pb.total}**", width="content")
            head.caption(plain(where(lab, pb, located)))
        # Predicting, the arrows still to come are not drawn: their numbers and labels would give the answer away.
        drawn = None if scene is None else scene.steps[: index + 1] if page.predict else scene.steps
        current = index + 1 if scene is not None else None
        st.graphviz_chart(build_diagram(lab.topology, drawn, current), width="stretch",
                          alt=step.explanation if step is not None else say("figure-alt"))
        folded, unlisted = folded_steps(lab, drawn, current)
        narration(lab, step, trace, state, named=scene is not None and len(scene.clients) > 1,
                  label=arrow_number(scene, index) if scene is not None else None,
                  folded=folded, unlisted=unlisted, presenting=links.presenting())
    with right:
        # Predicting, the question about the next step sits beside the diagram, above the tables; a scenario's
        # caption (and, at its end, what it showed) too: beside the diagram, a slide keeps it on screen.
        quiz.box(page, lab)
        if pb is not None and pb.scenario is not None:
            scenario_box(page, pb, scene, index)
            if pb.chart is not None:         # a figure of the run over simulated time, the step's second marked
                charts.scenario_chart(pb.chart, step, presenting=links.presenting())
            if pb.at_end and pb.summary:
                st.success(f"**{say('what-you-saw')}** {pb.summary}", icon=":material/lightbulb:")
        when = say("tables-at-step", step=pb.frame, now=f"{state.now:.1f}") \
            if replaying and state is not None else say("tables-live", now=f"{lab.clock.now():.1f}")
        st.caption(when)
        shown = state if state is not None else lab.live()
        tables.bars(lab.gauges(shown))          # how full what the lab keeps is (`Lab.gauges`), above the tables
        changes = step.changes if step is not None else ()
        for view in lab.views():           # the cache, the database, and what the lab's parts bring
            if view.shown(shown):
                tables.show(view.title, view.rows(shown, changed=changed_keys(changes, view.table)),
                            view.empty(shown) or say(f"{view.table}-empty"))
        for said in lab.statuses(shown, not replaying):     # what the parts' background work is doing
            st.caption(say(said.id, **said.fields))


def where(lab: Lab, pb: playback.Playback, located: tuple) -> str:
    """What the diagram shows: a scenario's scene, several requests, or one request."""
    number, scene, _ = located
    if pb.scenario is not None:
        return f"scene {number + 1} of {len(pb.scenes)}"
    if len(scene.numbers) > 1:
        return "requests " + ", ".join(f"#{n}" for n in scene.numbers)
    trace = lab.request(scene.numbers[0]) if scene.numbers else None
    return trace.label.replace(" ", ": ", 1) if trace is not None else ""


def scenario_box(page: PageState, pb: playback.Playback, scene, index: int) -> None:
    """The scenario's title and the caption in force at this step (the introduction at the first step)."""
    found = find(page.pattern, pb.scenario)
    if found is None:
        return
    caption = scene.caption_at(index)
    lines = [f"**{found.title}**"]
    if pb.frame == 1:
        lines.append(found.intro)
    if caption:
        lines.append(caption)
    st.info("  \n".join(lines), icon=":material/school:")


def folded_steps(lab: Lab, steps, current: int | None) -> tuple[list[str], int]:
    """The labels of the steps the diagram has no room for (it draws the current step, the one before and the
    latest), for the narration to list: at most FOLDED_LISTED, those just before the current step, and how many
    earlier ones are counted but not listed (a scene of thousands of steps stays a short list, made fast)."""
    if not steps:
        return [], 0
    shown = {drawn.index for drawn in drawn_steps(lab.topology, steps, current)}
    if len(shown) == len(steps):
        return [], 0
    end = len(steps) if current is None else current
    hidden = [index for index in range(end) if index not in shown]
    listed = hidden[-FOLDED_LISTED:]
    if not listed:
        return [], 0
    named = len({step.client for step in steps}) > 1 or steps[0].client != "A"
    wanted, counted, numbers = set(listed), {}, {}
    for index, step in enumerate(steps[: listed[-1] + 1]):     # each step's number among its client's
        counted[step.client] = counted.get(step.client, 0) + 1
        if index in wanted:
            numbers[index] = counted[step.client]
    labels = [f"{step_text(steps[index], numbers[index], named=named)} ({steps[index].source} → "
              f"{steps[index].target})" for index in listed]
    return labels, len(hidden) - len(listed)


def arrow_number(scene, index: int) -> str:
    """The number the diagram gives step `index` of `scene`: its place among its client's steps there."""
    client = scene.steps[index].client
    return str(sum(1 for step in scene.steps[: index + 1] if step.client == client))
