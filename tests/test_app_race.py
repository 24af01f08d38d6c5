"""Find the race through Streamlit's AppTest, as a learner (or a script through the agent API) drives it: build the
paths from cards, move a card, find the race, step the shortest bad interleaving on the diagram; the report says
what the core's search says; a link brings the same screen back, a bad link says which part is wrong and changes
nothing; presenter mode shows the report and the interleaving."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from strategies.diagram import CLIENT_COLORS
from strategies.races import PRESETS, Race, explore, replay
from strategies.races.report import summary

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def private_lab(tmp_path, monkeypatch):
    monkeypatch.setenv("LAB_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("LAB_CLOCK", "manual")
    monkeypatch.delenv("REDIS_URL", raising=False)


def open_race(**params: str) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60).run()
    for name, value in params.items():
        at.query_params[name] = value
    at.switch_page("pages/find_the_race.py").run()
    assert not at.exception, at.exception
    return at


def ran(at: AppTest) -> AppTest:
    at.run()
    assert not at.exception, at.exception
    return at


def click(at: AppTest, key: str) -> AppTest:
    at.button(key=key).click()
    return ran(at)


def said(at: AppTest) -> str:
    return "\n".join(block.value for kind in ("markdown", "caption", "text") for block in getattr(at, kind))


def step_counter(at: AppTest) -> tuple[int, int] | None:
    found = re.search(r"\*\*step (\d+) of (\d+)\*\*", said(at))
    return (int(found[1]), int(found[2])) if found else None


def dot(at: AppTest) -> str:
    charts = at.get("graphviz_chart")
    return charts[0].proto.spec if charts else ""


def warnings(at: AppTest) -> str:
    return " ".join(block.value for block in at.warning)


def test_a_learner_builds_the_paths_moves_a_card_finds_the_race_and_steps_it():
    at = open_race()
    assert at.button(key="race:find").disabled                 # no paths yet: nothing to search
    assert "empty" in warnings(at)
    at.multiselect(key="race:read-path").set_value(["SELECT", "GET", "SET-TTL"])
    at.multiselect(key="race:write-path").set_value(["UPDATE", "DEL"])
    ran(at)
    assert "comes before" not in warnings(at)                   # a GET after SELECT is allowed, just pointless
    click(at, "race:read-up-1")                                # GET up: GET, SELECT, SET with a TTL
    assert at.multiselect(key="race:read-path").value == ["GET", "SELECT", "SET-TTL"]
    assert at.selectbox(key="race:preset").value == "cache-aside"    # the picker names the paths it sees
    click(at, "race:find")
    report = explore(Race(("GET", "SELECT", "SET-TTL"), ("UPDATE", "DEL"), "rw"))
    for line in summary(report):
        assert line.removeprefix("- ") in said(at)
    steps = replay(report.race, report.shortest).steps
    total = len(steps)
    assert step_counter(at) == (1, total)
    assert "A1. GET user:1" in dot(at)
    for _ in range(total - 1):
        click(at, "race:forward")
    assert step_counter(at) == (total, total)
    assert f"A{sum(step.client == 'A' for step in steps)}. SET user:1 … EX 60" in dot(at)
    assert at.button(key="race:forward").disabled
    click(at, "race:back")
    assert step_counter(at) == (total - 1, total)
    assert at.query_params["read"] == "GET,SELECT,SET-TTL" and at.query_params["step"] == str(total - 1)
    assert "At the end the cache holds 'Ada Lovelace' and the database 'Ada King'." in said(at)


def test_a_preset_stays_picked_while_its_paths_are_on_screen():
    at = open_race()
    at.selectbox(key="race:preset").set_value("read-through")   # the same cards as cache-aside
    ran(at)
    assert at.selectbox(key="race:preset").value == "read-through"
    click(at, "race:write-up-1")                               # now DEL, UPDATE: delete-then-update
    assert at.selectbox(key="race:preset").value == "delete-then-update"


def test_a_preset_that_never_breaks_says_so_and_what_it_rests_on():
    at = open_race()
    at.selectbox(key="race:preset").set_value("leases")
    ran(at)
    assert at.radio(key="race:clients").value == "rrw"
    click(at, "race:find")
    assert "None of the 560 interleavings breaks" in said(at)
    assert "**SET with lease**: with a plain **SET with a TTL** in its place" in said(at)
    assert "**DEL under a lease**: with a plain **DEL the cache** in its place" in said(at)
    assert step_counter(at) is None and not dot(at)


def test_a_fault_is_chosen_from_the_calls_the_paths_make():
    at = open_race()
    at.selectbox(key="race:preset").set_value("set-then-update")
    ran(at)
    options = at.selectbox(key="race:fault").options
    assert "The database fails at B's card 2 (UPDATE the database)" in options
    assert not any("database fails at B's card 1" in option for option in options)    # a SET calls no database
    at.selectbox(key="race:fault").set_value("db:B2")
    click(at, "race:find")
    assert "The fault struck in" in said(at)
    assert "B: UPDATE the database, which fails" in said(at)
    assert at.query_params["fault"] == "db:B2"


def test_paths_changed_after_a_search_are_not_taken_for_it():
    at = open_race(read="GET,SELECT,SET-TTL", write="UPDATE,DEL", clients="rw")
    click(at, "race:edit")
    at.multiselect(key="race:write-path").set_value(["DEL", "UPDATE"])
    ran(at)
    assert "have changed since this search: press **Find the race**" in said(at)
    assert at.query_params["write"] == "UPDATE,DEL"            # the link still says what is on screen
    click(at, "race:close")                                    # folded again, unsearched: the row says so
    assert "Write: UPDATE the database → DEL the cache" in said(at)
    assert "press **Edit**, then **Find the race**" in said(at)


def test_a_search_folds_the_paths_into_one_row_and_edit_opens_them_as_they_were():
    at = open_race()
    at.selectbox(key="race:preset").set_value("cache-aside")
    ran(at)
    at.radio(key="race:clients").set_value("rrw")
    ran(at)
    click(at, "race:find")
    assert not at.multiselect and not at.radio                  # the paths folded away: the result is on screen
    report = explore(Race(("GET", "SELECT", "SET-TTL"), ("UPDATE", "DEL"), "rrw"))
    row = at.markdown[0].value
    assert row == ("**Cache-aside (update, then delete)** · Read: GET → SELECT → SET with a TTL · "
                   "Write: UPDATE the database → DEL the cache · A and B read, C writes · No fault")
    assert f"**{report.bad} of the {report.interleavings} interleavings break.** The shortest bad one:" in said(at)
    assert step_counter(at)[0] == 1 and dot(at)
    for _ in range(2):
        click(at, "race:forward")                               # runs that draw no builder keep its choices
    click(at, "race:edit")
    assert at.multiselect(key="race:read-path").value == ["GET", "SELECT", "SET-TTL"]
    assert at.radio(key="race:clients").value == "rrw" and at.selectbox(key="race:preset").value == "cache-aside"
    # Drawn anew, a widget shows in the browser only a value its own run sent it: every choice is sent again.
    read = at.multiselect(key="race:read-path").proto
    assert read.set_value and list(read.raw_values) == ["GET", "SELECT", "SET with a TTL"]
    assert at.radio(key="race:clients").proto.set_value and at.multiselect(key="race:write-path").proto.set_value
    assert step_counter(at)[0] == 3                             # the search stays on screen below the paths
    at.radio(key="race:clients").set_value("rw")
    ran(at)
    click(at, "race:find")
    assert not at.multiselect and "A reads, B writes" in at.markdown[0].value
    assert step_counter(at)[0] == 1


def test_a_write_only_search_leaves_the_unused_read_path_out_of_its_row():
    at = open_race(read="GET,SELECT,SET-TTL", write="UPDATE,SET", clients="ww")
    assert at.markdown[0].value == ("**Mistake: update, then set** · Write: UPDATE the database → SET the cache · "
                                    "A and B write · No fault")


def test_a_link_brings_back_the_same_screen():
    by_hand = open_race()
    by_hand.selectbox(key="race:preset").set_value("delayed-double-delete")
    ran(by_hand)
    click(by_hand, "race:find")
    for _ in range(3):
        click(by_hand, "race:forward")
    link = {name: by_hand.query_params[name] for name in by_hand.query_params}
    assert link["clients"] == "rrw" and link["step"] == "4"
    opened = open_race(**link)
    assert step_counter(opened) == step_counter(by_hand)
    assert dot(opened) == dot(by_hand)
    click(opened, "race:edit")
    assert opened.multiselect(key="race:write-path").value == list(PRESETS["delayed-double-delete"].write)


@pytest.mark.parametrize("params,words", [
    ({"read": "GET,TELEPORT", "write": "UPDATE,DEL"}, "does not know: TELEPORT"),
    ({"read": "GET,SELECT", "write": "UPDATE", "clients": "everyone"}, "`clients` part"),
    ({"read": "GET,SELECT", "write": "UPDATE", "fault": "db:Q9"}, "`fault` part"),
    ({"read": "GET,SELECT", "write": "UPDATE", "fault": "cache:B1"}, "does not call the cache"),
    ({"read": "GET,SELECT", "write": "UPDATE", "step": "-3"}, "`step` part"),
    ({"read": "SET,SELECT", "write": "UPDATE"}, "comes before anything loaded"),
])
def test_a_bad_link_says_which_part_is_wrong_and_changes_nothing(params, words):
    at = open_race(**params)
    assert words in warnings(at) and "nothing changed" in warnings(at)
    assert at.multiselect(key="race:read-path").value == [] and step_counter(at) is None
    assert "interleavings explored" not in said(at)


def test_a_bad_link_leaves_the_search_on_screen_as_it_was():
    at = open_race(read="GET,SELECT,SET-TTL", write="UPDATE,DEL", step="3")
    before = (step_counter(at), dot(at), at.session_state["race:read-path"], at.markdown[0].value)
    at.query_params["clients"] = "nobody"
    ran(at)
    assert "`clients` part" in warnings(at)
    assert (step_counter(at), dot(at), at.session_state["race:read-path"], at.markdown[0].value) == before


def test_a_step_beyond_the_end_shows_the_last_and_says_so():
    at = open_race(read="GET,SELECT,SET-TTL", write="UPDATE,DEL", step="999")
    total = step_counter(at)[1]
    assert step_counter(at) == (total, total)
    assert f"asks for step 999, but this interleaving has {total} steps" in " ".join(b.value for b in at.info)
    assert at.query_params["step"] == str(total)


def test_presenter_mode_shows_the_report_and_the_interleaving():
    at = open_race(read="GET,SELECT,SET-TTL", write="DEL,UPDATE", step="2", present="1")
    assert not at.title                                          # a slide: no page title
    assert step_counter(at)[0] == 2 and dot(at)
    assert "interleavings break" in said(at)
    assert at.toggle(key="race:present").value
    assert at.query_params["present"] == "1"


def test_three_clients_are_named_in_letter_order_and_drawn_each_in_its_colour():
    race = Race(("GET", "SELECT", "SET-TTL"), ("DEL", "UPDATE"), "rrw")
    steps = replay(race, explore(race).shortest).steps
    assert [step.client for step in steps].index("C") < [step.client for step in steps].index("B")   # C acts first
    at = open_race(read="GET,SELECT,SET-TTL", write="DEL,UPDATE", clients="rrw", step=str(len(steps)))
    spec = dot(at)
    assert "clients\\nA B C" in spec
    for letter in "BC":                    # every arrow of B's and C's already taken is in that client's colour
        done = [line for line in spec.splitlines() if f'"done client-{letter.lower()}' in line]
        assert done and all(f'color="{CLIENT_COLORS[letter]}"' in line for line in done), letter
