"""Guided scenarios and two clients through the pages (AppTest): a scenario opened by its URL, on every page it
runs on, steps to its end and leaves exactly the tables the core run leaves; links with bad parts say so; the
picker loads a scenario and its settings; in two-client mode each client's button moves that client only."""

from __future__ import annotations

import pytest
from app_support import EMPTY, click, dot, has_counter, messages, page_state, step_counter, values, warnings, widget
from core_support import ALL_PATTERNS, new_lab
from streamlit.testing.v1 import AppTest

from strategies.scenario import run_scenario
from strategies.scenarios import CATALOGUE, SCENARIOS, find
from strategies.views import TABLE_LIMIT, cache_rows, shown_value

PAIRS = [(scenario.pattern, scenario.slug) for scenario in CATALOGUE]     # a slug may run on several pages


def expected_tables(pattern: str, slug: str) -> tuple[dict[str, str], dict[str, str]]:
    """What the scenario leaves in the cache and the database on `pattern`'s page, from a core run of its own (the
    Cache table also shows the keys lately evicted, as rows of their own)."""
    scenario = find(pattern, slug)
    lab = new_lab(pattern)
    state = run_scenario(scenario, lab).lab.live()
    cache = {key: shown_value(item.value) for key, item in state.cache.items()}
    cache.update((row[0], row[1]) for row in cache_rows(state).rows if row[0] in cache_rows(state).greyed)
    return cache, {key: row.value for key, row in state.db.items()}


def infos(at: AppTest) -> str:
    return " ".join(block.value for block in at.info)


MAX_CLICKS = 40          # a scenario of thousands of steps (a thousand keys expiring) is stepped this far, then its
                         # end is opened by link


@pytest.mark.parametrize(("pattern", "slug"), PAIRS)
def test_a_scenario_link_loads_and_steps_to_its_end_on_every_page_it_runs_on(app, pattern, slug):
    at = app(pattern, scenario=slug)
    scenario = find(pattern, slug)
    why = scenario.unavailable(new_lab(pattern))
    if why is not None:              # needs a real server (CLIENT TRACKING); these pages run on fakeredis
        assert not has_counter(at) and why in messages(at), "the page says why, and loads nothing"
        return
    assert step_counter(at)[0] == 1
    assert scenario.title in infos(at) and scenario.intro in infos(at)
    total = step_counter(at)[1]
    for _ in range(min(total - 1, MAX_CLICKS)):
        click(at, f"{pattern}:forward")
    if total - 1 > MAX_CLICKS:
        assert step_counter(at) == (MAX_CLICKS + 1, total)
        at = app(pattern, scenario=slug, step=str(total))
    assert step_counter(at) == (total, total)
    assert any(block.value.startswith("**What you saw:**") for block in at.success)
    cache, db = expected_tables(pattern, slug)
    for title, expected in (("Cache", cache), ("Database", db)):
        shown = values(at, title)          # a big table shows its TABLE_LIMIT most recently changed rows
        assert shown.items() <= expected.items() and len(shown) == min(len(expected), TABLE_LIMIT), title
    assert at.query_params["scenario"] == slug


@pytest.mark.parametrize("slug", ["near-cache-stale", "expiry-spike", "noeviction-oom"])
def test_a_slug_of_both_read_pages_opens_on_read_through_with_read_throughs_own_texts(app, slug):
    at = app("read-through", scenario=slug)
    scenario = find("read-through", slug)
    assert scenario is not None and has_counter(at) and not warnings(at)
    assert scenario.title in infos(at) and at.query_params["scenario"] == slug
    assert "Loader" in dot(at), "drawn on read-through's figure, where the cache's loader reads the database"
    summary = run_scenario(scenario, new_lab("read-through")).what_you_saw
    assert page_state(at, "read-through").playback.summary == summary


def test_a_slug_that_runs_on_no_page_of_this_kind_says_which_pages_have_it(app):
    at = app("write-behind", scenario="expiry-spike")
    assert not has_counter(at)
    assert ('The scenario "Expiry spike: a thousand keys expire together" is on another page: open /cache_aside or '
            '/read_through to watch it.') in warnings(at)


def test_a_link_to_a_step_opens_there_and_a_bad_link_says_why(app):
    at = app("cache-aside", scenario="stale-set-race", step="8")
    assert step_counter(at) == (8, 10)
    assert "Client A finally stores what it read earlier" in infos(at)
    spec = dot(at)
    assert "A5. SET user:1" in spec and "B3. DEL user:1" in spec and "clients\\nA B" in spec

    at = app("cache-aside", scenario="stale-set-race", step="999")
    assert step_counter(at) == (10, 10)
    assert any("asked for step 999" in block.value for block in at.info)

    at = app("cache-aside", scenario="<script>alert(1)</script>")
    assert not has_counter(at)
    assert "There is no scenario called '<script>alert(1)</script>'" in warnings(at)

    at = app("write-behind", scenario="stampede")           # a cache-aside scenario, on another page
    assert not has_counter(at)
    assert 'The scenario "Stampede: a hot key expires under load" is on another page: open /cache_aside' in warnings(at)


def test_mid_scenario_the_totals_say_they_already_count_what_is_to_come(app):
    earlier = "including any after the moment on the diagram"
    at = app("cache-aside", scenario="stale-set-race", step="3")
    assert any(earlier in c.value for c in at.caption)
    assert "Stale reads **1**" in " ".join(m.value for m in at.markdown)    # the race's read, still to come
    at = app("cache-aside", scenario="stale-set-race", step="999")    # at the end: plain totals
    assert not any(earlier in c.value for c in at.caption)


def test_the_picker_loads_a_scenario_and_its_settings_then_gives_the_learners_back(app):
    at = app("cache-aside")
    page_state(at, "cache-aside").settings["ttl"] = 30      # the learner's own setting, before any scenario
    at.selectbox(key="cache-aside:scenario-choice").set_value("stampede-leases").run()
    assert not at.exception, at.exception
    page = page_state(at, "cache-aside")
    assert page.settings["leases"] is True and page.settings["ttl"] == 60
    assert step_counter(at)[0] == 1 and at.query_params["scenario"] == "stampede-leases"
    lab = at.session_state["learner"].lab("cache-aside")
    assert lab.leases is True
    at.selectbox(key="cache-aside:scenario-choice").set_value("stale-set-race").run()   # a second scenario

    at.selectbox(key="cache-aside:scenario-choice").set_value("").run()
    assert not has_counter(at) and "scenario" not in at.query_params
    assert page.settings["leases"] is False and page.settings["ttl"] == 30
    assert "with your own settings back" in " ".join(toast.value for toast in at.toast)
    at.text_input(key="cache-aside:key").input("user:3").run()
    click(at, "cache-aside:read")               # free play runs with the learner's settings: no lease, TTL 30
    read = lab.request(max(lab.log))
    assert [step.action for step in read.steps] == ["GET", "REPLY", "SELECT", "REPLY", "SET"]
    assert read.steps[-1].command == "SET user:3 … EX 30"


def steps_of(at: AppTest, pattern: str, number: int) -> int:
    return len(at.session_state["learner"].lab(pattern).request(number).steps)


def test_a_client_step_that_only_completes_its_request_says_so(app):
    at = app("cache-aside")
    widget(at, "toggle", "cache-aside:two-clients:widget").set_value(True).run()
    click(at, "cache-aside:read")
    said = lambda: " ".join(block.value for block in at.info)                   # noqa: E731
    for _ in range(20):
        if not [b for b in at.button if b.key == "cache-aside:next-A"]:
            break
        steps = steps_of(at, "cache-aside", 1)
        assert "had no call left" not in said()
        click(at, "cache-aside:next-A")
    else:
        raise AssertionError("client A's read never finished")
    lab = at.session_state["learner"].lab("cache-aside")
    assert lab.request(1).finished and steps_of(at, "cache-aside", 1) == steps   # the last click drew nothing new
    assert "request #1 had no call left to make: it is complete (miss)" in said()


@pytest.mark.parametrize("pattern", ALL_PATTERNS)
def test_two_clients_step_only_the_client_chosen(app, pattern):
    at = app(pattern)
    widget(at, "toggle", f"{pattern}:two-clients:widget").set_value(True).run()
    click(at, f"{pattern}:read")                                  # client A: its first step
    assert steps_of(at, pattern, 1) == 1
    at.segmented_control(key=f"{pattern}:client:widget").set_value("B").run()
    at.text_input(key=f"{pattern}:value").input("Ada King").run()
    click(at, f"{pattern}:write")                                 # client B: its first step
    # Write-behind's enqueue script is one atomic call drawn as two arrows (the SET, and what it did to the
    # queue): they come in one step, so no other client's arrow can stand between them.
    first = 2 if pattern == "write-behind" else 1
    assert (steps_of(at, pattern, 1), steps_of(at, pattern, 2)) == (1, first)
    click(at, f"{pattern}:next-B")
    assert (steps_of(at, pattern, 1), steps_of(at, pattern, 2)) == (1, first + 1)
    click(at, f"{pattern}:next-A")
    assert (steps_of(at, pattern, 1), steps_of(at, pattern, 2)) == (2, first + 1)
    assert step_counter(at) == (3 + first, 3 + first)
    spec = dot(at)
    assert "A2." in spec and "B2." in spec and "clients\\nA B" in spec
    click(at, f"{pattern}:write")                                 # B is still busy: said, nothing started
    assert any("Client B is still busy" in block.value for block in at.warning)
    assert len(at.session_state["learner"].lab(pattern).log) == 2
    click(at, f"{pattern}:end-A")
    click(at, f"{pattern}:end-B")
    lab = at.session_state["learner"].lab(pattern)
    assert all(trace.finished for trace in lab.log.values())
    assert not [button for button in at.button if button.key.startswith(f"{pattern}:next-")]
    step, total = step_counter(at)
    assert step == total == sum(len(trace.steps) for trace in lab.log.values() if trace.operation in ("read", "write"))


def test_an_empty_queue_after_a_crash_says_the_writes_were_lost_not_delivered(app):
    """At the end of cache-crash-loss the queue is empty because the crash emptied it: the queue table's caption
    and the flusher's line must not claim every acknowledged write reached the database."""
    at = app("write-behind", scenario="cache-crash-loss", step="999")
    captions = " ".join(block.value for block in at.caption)
    assert "every acknowledged write has reached the database" not in captions
    assert "3 acknowledged writes never reached the database: they were lost" in captions
    assert "Flusher: idle" in captions


# ---- two app instances with near caches (strategies/features/near_cache.py) -----------------------------------
def test_near_cache_scenario_shows_both_instances_their_tables_and_the_stale_copy(app):
    run = run_scenario(SCENARIOS["near-cache-stale"], new_lab("cache-aside"))
    stale = next(number for number, step in enumerate(run.steps, start=1)
                 if step.action == "LOOKUP" and step.outcome == "hit")
    at = app("cache-aside", scenario="near-cache-stale", step=str(stale))
    assert step_counter(at) == (stale, len(run.steps))
    headings = [block.value for block in at.subheader]
    assert {"Near cache of App 1", "Near cache of App 2"} <= set(headings)
    assert any("App 1 keeps no copy in its near cache." in block.value for block in at.caption)
    near_rows = [dict(zip(frame.value["Key"], zip(frame.value["Value"], frame.value["State"], strict=True),
                          strict=True))
                 for frame in at.dataframe if "TTL (s)" in frame.value.columns]
    # The write deleted user:1 from the shared cache, whose table is empty; App 2's own copy is still there.
    assert any(EMPTY["Cache"] in block.value for block in at.caption)
    assert near_rows == [{"user:1": ("Ada Lovelace", "⚠ stale: DB has v2")}]
    spec = dot(at)
    assert 'label="App 1\\n+ near cache"' in spec and 'label="App 2\\n+ near cache"' in spec
    assert "Pub/Sub channel" in spec and "near GET user:1: hit" in spec
