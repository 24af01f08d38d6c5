"""In front of a class (AppTest): share links reproduce what was on screen, bad links say why and change
nothing, the URL follows the step, presenter mode keeps only the diagram and its controls, and
"Predict each step" scores right and wrong answers."""

from __future__ import annotations

import pytest
from app_support import (
    click,
    dot,
    messages,
    open_log,
    open_menu,
    page_state,
    send,
    settings,
    step_counter,
    texts,
    values,
    widget,
)
from streamlit.testing.v1 import AppTest

from strategies.share import MAX_ACTIONS


def screen(at: AppTest) -> tuple:
    """What a learner sees of the lab: step counter, tables, narration and the diagram's arrows."""
    return step_counter(at), values(at, "Cache"), values(at, "Database"), texts(at), dot(at)


def link_of(at: AppTest) -> dict:
    return {name: at.query_params[name] for name in at.query_params}


def test_a_scenario_link_to_a_step_shows_what_stepping_there_by_hand_shows(app):
    by_hand = app("cache-aside", scenario="stale-set-race")
    for _ in range(6):
        click(by_hand, "cache-aside:forward")
    assert step_counter(by_hand)[0] == 7
    assert by_hand.query_params["step"] == "7"           # the URL followed the steps
    linked = app("cache-aside", **link_of(by_hand))
    assert screen(linked) == screen(by_hand)


def test_free_requests_travel_in_a_link_with_their_settings_and_time(app):
    at = app("cache-aside")
    settings(at, "cache-aside", ttl=30)
    send(at, "cache-aside", "read", key="user:1")
    send(at, "cache-aside", "write", key="user:2", value="Grace ~ 100% <b>")
    send(at, "cache-aside", "read", key="user:2")
    click(at, "cache-aside:ff10")
    send(at, "cache-aside", "read", key="user:1", to_end=False)
    click(at, "cache-aside:forward")
    params = link_of(at)
    assert "scenario" not in params and params["step"] == "2"
    assert params["do"][0] == "s~ttl~30" and "t~10" in params["do"]
    linked = app("cache-aside", **params)
    assert screen(linked) == screen(at)
    lab, original = (x.session_state["learner"].lab("cache-aside") for x in (linked, at))
    assert lab.ttl_seconds == 30 and lab.clock.now() == pytest.approx(original.clock.now())
    assert [t.label for t in lab.log.values()] == [t.label for t in original.log.values()]


def test_requests_after_a_scenario_link_on_top_of_it(app):
    at = app("write-behind", scenario="coalescing")
    send(at, "write-behind", "write", key="user:9", value="Nine")
    click(at, "write-behind:Flush now")
    params = link_of(at)
    assert params["scenario"] == "coalescing" and params["do"] == ["w~user:9~Nine", "f"]
    linked = app("write-behind", **params)
    assert screen(linked) == screen(at)


def test_an_earlier_request_replayed_from_the_log_is_what_the_link_shows(app):
    at = app("read-through")
    send(at, "read-through", "read", key="user:1")
    send(at, "read-through", "read", key="user:1")
    open_log(at)
    at.selectbox(key="read-through:replay").set_value(1).run()
    assert at.query_params["show"] == "1"
    linked = app("read-through", **link_of(at))
    assert screen(linked) == screen(at)


def test_a_link_sends_each_request_as_its_client_so_near_caches_replay_on_the_same_instance(app):
    """With near caches on, the client says which app instance serves a request (B: App 2): a link carries it
    (`rB~key`) and the page performs the request as that client, then writes the same link back."""
    do = ["s~near-ttl~10", "s~near-invalidation~pubsub", "r~user:1", "rB~user:1", "w~user:1~Ada King", "rB~user:1"]
    at = app("cache-aside", do=do)
    lab = at.session_state["learner"].lab("cache-aside")
    assert (lab.near_ttl, lab.near_invalidation) == (10, "pubsub")
    assert [(t.operation, t.client) for t in lab.log.values()] == [("read", "A"), ("read", "B"), ("write", "A"),
                                                                   ("read", "B")]
    # App 2 kept user:1, heard of A's write on the channel, dropped its copy, and read the new value back.
    assert dict(lab.live().near2)["user:1"].value == "Ada King" and "user:1" not in lab.live().near1
    assert 'label="App 2\\n+ near cache"' in dot(at)
    assert link_of(at)["do"] == do


BAD_LINKS = [
    (dict(scenario="stale-set-race", step="-1"), "step must be a whole number"),
    (dict(scenario="stale-set-race", step="abc"), "step must be a whole number"),
    (dict(scenario="no-such-thing"), "There is no scenario called"),
    (dict(scenario="coalescing"), "is on another page: open /write_behind"),  # another page's scenario
    (dict(do=["r~user:1", "zz~top"]), "request 2 of the link is not one the lab knows"),
    (dict(do=["w~user:1"]), "has 1 parts"),
    (dict(do=["r~   "]), "The key is empty"),
    (dict(do=["t~1e309"]), "moves time by"),
    (dict(do=["s~ttl~-5"]), "sets TTL (seconds) to '-5'"),
    (dict(do=["s~batch~1"]), "not a setting of this page"),    # write-behind's batch size
    (dict(do=["f"]), "only the write-behind page has"),
    (dict(do=["r~k"] * (MAX_ACTIONS + 1)), "at most 40"),
    (dict(do=["w~k~" + "x" * 5000]), "characters long"),
]


@pytest.mark.parametrize(("params", "said"), BAD_LINKS)
def test_a_malformed_link_says_why_and_changes_nothing(app, params, said):
    at = app("cache-aside", **params)
    assert said in messages(at), messages(at)
    lab = at.session_state["learner"].lab("cache-aside")
    assert not lab.log and values(at, "Cache") == {}


def test_a_step_past_the_end_is_clamped_and_said(app):
    at = app("cache-aside", scenario="stale-set-race", step="99999")
    total = step_counter(at)[1]
    assert step_counter(at) == (total, total)
    assert "asked for step 99999" in messages(at)


def test_presenter_mode_keeps_the_diagram_and_drops_the_log_and_the_explanation(app):
    normal = app("cache-aside", scenario="stampede", step="4")
    presenting = app("cache-aside", scenario="stampede", step="4", present="1")
    headings = lambda at: [h.value for h in at.subheader]          # noqa: E731
    assert "Requests" in headings(normal) and "Requests" not in headings(presenting)
    explains = lambda at: [c for c in at.get("button_group") if c.key == "cache-aside:explain"]   # noqa: E731
    assert explains(normal) and not explains(presenting)
    assert step_counter(normal)[0] == 4
    assert dot(presenting) == dot(normal) and step_counter(presenting) == step_counter(normal)
    assert presenting.query_params["present"] == "1" and "present" not in normal.query_params
    click(presenting, "cache-aside:forward")             # presenting, the playback keys still step
    assert step_counter(presenting)[0] == 5 and presenting.query_params["step"] == "5"
    presenting.toggle(key="present-widget").set_value(False).run()
    assert "Requests" in headings(presenting) and "present" not in presenting.query_params


def test_predict_mode_asks_before_each_step_and_keeps_score(app):
    at = app("cache-aside", scenario="cold-then-warm")
    shown_all = dot(at)
    widget(at, "toggle", "cache-aside:predict:widget").set_value(True).run()
    assert at.button(key="cache-aside:forward").disabled
    assert 'label="2. ' in shown_all and 'label="2. ' not in dot(at)     # the next arrow would give it away
    answered = []
    for attempt in range(2):
        question = page_state(at, "cache-aside").question[1]
        before = step_counter(at)[0]
        chosen = question.choices[question.answer] if attempt == 0 else \
            next(c for c in question.choices if c != question.choices[question.answer])
        at.radio(key="cache-aside:choice").set_value(chosen).run()
        click(at, "cache-aside:answer")
        assert step_counter(at)[0] == before + 1
        answered.append(" ".join(block.value for block in (*at.success, *at.error)))
    assert answered[0].startswith("Right") and answered[1].startswith("Not quite")
    score = at.session_state["quiz-score"]
    assert (score.right, score.asked) == (1, 2) and score.per_scenario["cold-then-warm"] == [1, 2]
    assert any("Your score: 1 of 2. In this scenario: 1 of 2." in c.value for c in at.caption)


def test_answering_without_a_choice_asks_for_one_and_does_not_move(app):
    at = app("write-behind", scenario="coalescing")
    widget(at, "toggle", "write-behind:predict:widget").set_value(True).run()
    before = step_counter(at)
    click(at, "write-behind:answer")
    assert step_counter(at) == before
    assert "Choose an answer first" in messages(at)
    assert at.session_state["quiz-score"].asked == 0


def test_the_share_section_gives_the_link_and_two_clients_say_they_cannot_travel(app):
    at = app("cache-aside")
    send(at, "cache-aside", "read", key="user:1")
    open_menu(at, "cache-aside")
    link = at.code[0].value
    assert link.startswith("http") and "/cache_aside?" in link and "do=r~user%3A1" in link
    widget(at, "toggle", "cache-aside:two-clients:widget").set_value(True).run()
    click(at, "cache-aside:read")
    assert "two clients" in messages(at) and "do" not in at.query_params


def test_export_offers_slides_and_a_gif_of_what_is_on_the_diagram(app, monkeypatch):
    at = open_menu(app("cache-aside", scenario="stale-set-race"), "cache-aside")
    offered = [button.proto.label for button in at.get("download_button")]
    assert offered == ["Slides (HTML)", "Animated GIF"]
    assert any('"Stale-set race (no leases)", 10 steps' in c.value for c in at.caption)

    monkeypatch.setenv("PATH", "/nonexistent")        # no `dot`: the page says what to install instead
    at.run()
    assert not at.get("download_button")
    assert "apt-get install graphviz" in messages(at)


def test_export_is_off_until_something_is_on_the_diagram(app):
    at = open_menu(app("write-through"), "write-through")
    assert not at.get("download_button")
    assert any("what is on the diagram can then be downloaded" in c.value for c in at.caption)
    send(at, "write-through", "read", key="user:1")
    assert [button.proto.label for button in at.get("download_button")] == ["Slides (HTML)", "Animated GIF"]
    total = step_counter(at)[1]
    assert any(f"Request #1, {total} steps." in c.value for c in at.caption)


def test_a_learner_back_after_days_still_gets_a_link_that_opens(app):
    at = app("cache-aside")
    send(at, "cache-aside", "read", key="user:1")
    at.session_state["learner"].lab("cache-aside").wall_time_passed(3 * 86_400)   # as the wall clock does it
    send(at, "cache-aside", "read", key="user:1")
    assert "t~86400" in at.query_params["do"]
    linked = app("cache-aside", **link_of(at))
    assert not messages(linked) and screen(linked) == screen(at)
