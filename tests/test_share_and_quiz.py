"""The core of share links and of "predict the next step", without Streamlit.

Links: any key and value a learner may type survives the trip through a link; bad or oversized links are
refused before anything runs. Quiz: the right answer is what the lab really did, the choices are distinct
arrows the pattern really draws, and the database question follows each pattern's write semantics."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from strategies.quiz import question_for
from strategies.share import MAX_ACTIONS, Action, InvalidLink, decode, encode, parse
from strategies.validation import InvalidInput, validate_key, validate_value

typed = st.text(min_size=1, max_size=60).filter(lambda text: _usable(text))


def _usable(text: str) -> bool:
    try:
        validate_key(text)
        validate_value(text)
    except InvalidInput:
        return False
    return True


@given(key=typed, value=typed)
def test_any_typed_key_and_value_survive_a_link(key, value):
    for action in (Action("r", key=key), Action("w", key=key, value=value), Action("s", key="ttl", value=value)):
        assert decode(encode(action)) == action


@pytest.mark.parametrize("action", [Action("f"), Action("x"), Action("t", seconds=12.5), Action("t", seconds=0.001)])
def test_plain_actions_survive_a_link(action):
    assert decode(encode(action)) == action


@pytest.mark.parametrize(("items", "said"), [
    (["q"], "not one the lab knows"),
    (["r"], "has 0 parts"),
    (["r~a~b"], "has 2 parts"),
    (["t~0"], "more than 0"),
    (["t~nan"], "more than 0"),
    (["t~soon"], "cannot read"),
    (["r~\x00"], "control character"),
    (["w~k~" + "é" * 40_000], "characters long"),
    (["r~k"] * (MAX_ACTIONS + 1), f"at most {MAX_ACTIONS}"),
])
def test_a_bad_link_is_refused_with_its_reason(items, said):
    with pytest.raises(InvalidLink, match=said):
        parse(items)


def test_a_link_is_checked_whole_before_any_of_it_is_used():
    with pytest.raises(InvalidLink, match="request 3"):
        parse(["r~user:1", "w~user:1~Ada", "t~-4"])


def test_a_failed_cache_call_is_the_third_answer(lab_for):
    lab = lab_for("cache-aside")
    lab.cache_down = True
    trace = lab.read("user:1")
    failed = next(step for step in trace.steps if step.failed)
    question = question_for("cache-aside", failed, trace)
    assert question.kind == "hit" and "fails" in question.choices[question.answer]
