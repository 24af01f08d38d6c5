"""Predict each step: with the toggle on, the lab asks what happens next before it shows it, then says
whether the answer was right and why. Scores are kept for the session and for each scenario.

The question is made by `strategies.quiz` from the step about to be shown (the real trace), and kept in
the page's state with the frame it is about, so the answer is checked against the question the learner saw.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import streamlit as st

from strategies import Lab
from strategies.quiz import Question, question_for

from . import playback
from .learner import safely
from .narration import plain
from .state import PageState
from .text import say


@dataclass
class Score:
    right: int = 0
    asked: int = 0
    per_scenario: dict[str, list[int]] = field(default_factory=dict)   # slug -> [right, asked]

    def add(self, right: bool, scenario: str | None) -> None:
        self.right += right
        self.asked += 1
        if scenario:
            tally = self.per_scenario.setdefault(scenario, [0, 0])
            tally[0] += right
            tally[1] += 1


def score() -> Score:
    return st.session_state.setdefault("quiz-score", Score())


def keep_toggle(page: PageState) -> None:
    page.predict = bool(st.session_state.get(page.key("predict:widget")))
    pb = playback.playback(page)
    if page.predict and pb is not None:
        pb.playing = False          # the learner moves on by answering
    page.feedback = None


def toggle(page: PageState) -> None:
    st.session_state[page.key("predict:widget")] = page.predict
    st.toggle("Predict each step", key=page.key("predict:widget"), on_change=keep_toggle, args=(page,),
              help=say("predict-help"))


def next_question(page: PageState, lab: Lab) -> tuple[int, Question] | None:
    """The question about the frame after the one on screen (made once per frame)."""
    pb = playback.playback(page)
    if pb is None or pb.at_end:
        return None
    frame = pb.frame + 1
    kept = page.question
    if kept is not None and kept[0] == (id(pb.scenes), frame):
        return frame, kept[1]
    saved_frame = pb.frame
    pb.frame = frame
    located = pb.locate()
    pb.frame = saved_frame
    _, scene, index = located
    step = scene.steps[index]
    trace = lab.request(scene.number_of(step))
    state = lab.state_after(step)
    row = state.db.get(step.key) if state is not None and step.key is not None else None
    question = question_for(lab.name, step, trace, row.value if row is not None else None, list(scene.steps))
    page.question = ((id(pb.scenes), frame), question)
    return frame, question


@safely
def answer(page: PageState, frame: int, question: Question) -> None:
    pb = playback.playback(page)
    if pb is None or pb.frame + 1 != frame:
        return                      # the diagram moved meanwhile: this question is no longer the next step
    chosen = st.session_state.get(page.key("choice"))
    if chosen is None:
        page.feedback = ("info", say("predict-choose"))
        return
    right = question.is_right(chosen)
    score().add(right, pb.scenario)
    playback.go_to(page, frame)
    verdict = say("predict-right") if right else say("predict-wrong", answer=question.choices[question.answer])
    page.feedback = ("success" if right else "error", f"{verdict} {question.why}")
    st.session_state[page.key("choice")] = None


def box(page: PageState, lab: Lab) -> None:
    """The question before the next step, the verdict on the last answer, and the score."""
    if not page.predict:
        return
    asked = next_question(page, lab)        # the panel's run holds the session's lock
    with st.container(border=True, key=page.box("quiz")):
        if page.feedback is not None:
            kind, text = page.feedback
            (st.success if kind == "success" else st.error if kind == "error" else st.info)(plain(text))
        if asked is None:
            st.caption(say("predict-idle"))
        else:
            frame, question = asked
            # The question may quote the learner's key or value: shown literally, never as Markdown.
            st.radio(plain(question.prompt), question.choices, index=None, key=page.key("choice"), format_func=plain)
            st.button("Answer and show the step", key=page.key("answer"), icon=":material/quiz:", type="primary",
                      on_click=answer, args=(page, frame, question))
        st.caption(score_line(playback.playback(page)))


def score_line(pb: playback.Playback | None) -> str:
    total = score()
    line = say("predict-score", right=total.right, asked=total.asked)
    if pb is not None and pb.scenario and pb.scenario in total.per_scenario:
        right, asked = total.per_scenario[pb.scenario]
        line += " " + say("predict-score-scenario", right=right, asked=asked)
    return line
