"""A cache that is full, as a learner sees it through the pages (AppTest): the memory bar above the Cache table
with the run's own numbers, the keys lately evicted greyed in that table, and the settings grouped under the
heading of the part that declares them (the memory limit's with its sentence on how the lab evicts)."""

from __future__ import annotations

import re

import pytest
from app_support import close_settings, open_menu, send, settings, step_counter, table, unescaped
from core_support import ALL_PATTERNS, new_lab
from streamlit.testing.v1 import AppTest

from lab_ui.text import say
from strategies.features.memory import amounts, used_memory
from strategies.scenario import run_scenario
from strategies.scenarios import find
from strategies.views import cache_rows

LIMIT = 384                 # room for the three seeded users with a TTL each (328 bytes), not for a product too
GREY_ROW = re.compile(r"#T_\w+_row(\d+)_col\d+")


def bars(at: AppTest) -> list[tuple[int, str]]:
    """The page's bars: (percent drawn, their text as a learner reads it)."""
    return [(bar.proto.value, unescaped(bar.proto.text)) for bar in at.get("progress")]


def greyed_rows(at: AppTest, heading: str) -> set[str]:
    """The keys of the rows the table under `heading` draws greyed (the pandas Styler's cells, by row)."""
    frame = table(at, heading)
    shown = next(f for f in at.dataframe if f.value.columns.equals(frame.columns) and f.value.equals(frame))
    rows = {int(number) for number in GREY_ROW.findall(shown.proto.arrow_data.styler.styles)}
    return {frame["Key"][row] for row in rows}


# ---- the memory bar ------------------------------------------------------------------------------------------
def test_without_a_memory_limit_there_is_no_bar(app):
    at = send(app("cache-aside"), "cache-aside", "read", "user:1")
    assert bars(at) == []


def test_a_memory_limit_set_in_settings_shows_the_bar_with_the_runs_numbers(app):
    at = app("cache-aside")
    settings(at, "cache-aside", maxmemory=LIMIT, maxmemory_policy="allkeys-lru")
    close_settings(at, "cache-aside")
    lab = at.session_state["learner"].lab("cache-aside")
    assert lab.maxmemory == LIMIT and lab.maxmemory_policy == "allkeys-lru"
    assert bars(at) == [(0, f"Memory: 0 of {LIMIT} bytes used (allkeys-lru)")]
    seen = []
    for key in ("user:1", "user:2", "user:3", "product:42", "product:7"):
        send(at, "cache-aside", "read", key)
        used = used_memory(lab.live().cache)
        assert 0 < used <= LIMIT
        [(percent, text)] = bars(at)
        assert text == f"Memory: {used:,} of {LIMIT} bytes used (allkeys-lru)"
        assert percent == int(100 * used / LIMIT)
        seen.append(used)
    assert len(set(seen)) > 1, "the bar follows the cache"
    evicted = [step.key for trace in lab.log.values() for step in trace.steps if step.action == "EVICT"]
    assert evicted, "the products do not fit beside the users: the cache evicted to make room"


def test_a_bar_past_its_limit_is_drawn_full_and_says_by_how_much():
    """Redis, too, goes past its limit by what one command adds (a TTL the flusher sets): the bar is full and its
    words say the real numbers, with no error."""

    def page() -> None:
        from lab_ui.tables import bars
        from strategies.views import Gauge

        bars([Gauge("Memory", 5_000, 4_096, "bytes", "about 4.9 KB of 4 KB used"),
              Gauge("Memory", 10, None, "bytes", "10 bytes used (no memory limit)")])

    at = AppTest.from_function(page).run()
    assert not at.exception
    assert bars(at) == [(100, "Memory: about 4.9 KB of 4 KB used")]


def test_a_large_limit_is_said_in_kilobytes():
    assert amounts(432, 512) == "432 of 512 bytes"
    assert amounts(3_200, 8_192) == "about 3.1 KB of 8 KB"
    assert amounts(0, 65_536) == "about 0 KB of 64 KB"
    assert amounts(1_100_000, 1_048_576) == "about 1,074 KB of 1,024 KB"


# ---- greyed rows ---------------------------------------------------------------------------------------------
def first_eviction(slug: str, pattern: str) -> tuple[int, str]:
    """The step (counted from 1) of the scenario's first eviction, and the key it evicted (a core run)."""
    run = run_scenario(find(pattern, slug), new_lab(pattern))
    return next((number, step.key) for number, step in enumerate(run.steps, start=1) if step.action == "EVICT")


def test_an_eviction_shows_a_greyed_row(app):
    pattern = "cache-aside"      # (read-through runs it too, once the pages look scenarios up by page)
    step, key = first_eviction("lru-scan-pollution", pattern)
    at = app(pattern, scenario="lru-scan-pollution", step=str(step - 1))
    assert key in set(table(at, "Cache")["Key"]) and greyed_rows(at, "Cache") == set()
    at = app(pattern, scenario="lru-scan-pollution", step=str(step))
    assert step_counter(at)[0] == step
    frame = table(at, "Cache").set_index("Key")
    assert greyed_rows(at, "Cache") == {key}
    assert frame.loc[key, "State"].startswith("✗ evicted at") and frame.loc[key, "TTL (s)"] == "–"
    assert not any(state.startswith("✗") for name, state in frame["State"].items() if name != key)
    [(percent, text)] = bars(at)
    limit = find(pattern, "lru-scan-pollution").knobs["maxmemory"]
    assert text.startswith("Memory: ") and f"of {limit} bytes used (allkeys-lru)" in text


def test_greyed_rows_are_the_keys_lately_evicted_at_the_end(app):
    slug, pattern = "lru-scan-pollution", "cache-aside"
    run = run_scenario(find(pattern, slug), new_lab(pattern))
    expected = cache_rows(run.lab.live()).greyed
    at = app(pattern, scenario=slug, step=str(len(run.steps)))
    assert len(expected) > 1 and greyed_rows(at, "Cache") == expected
    assert greyed_rows(at, "Database") == set()


# ---- the settings, grouped ---------------------------------------------------------------------------------
def groups_on_screen(at: AppTest) -> dict[str, list[str]]:
    """Each settings group's heading and the keys of the widgets drawn under it (a group is one column)."""
    found = {}
    for column in at.columns:
        headings = [heading.value for heading in column.subheader]
        if len(headings) == 1:
            found[headings[0]] = [widget.key for kind in ("number_input", "radio", "toggle", "select_slider")
                                  for widget in getattr(column, kind)]
    return found


@pytest.mark.parametrize("pattern", ALL_PATTERNS)
def test_settings_are_grouped_under_the_heading_of_the_part_that_declares_them(app, pattern):
    at = open_menu(app(pattern), pattern)
    lab = at.session_state["learner"].lab(pattern)
    shown = groups_on_screen(at)
    expected = {say(group.heading, title=lab.title): sorted(f"{pattern}:{knob.name}:widget" for knob in group.knobs)
                for group in lab.knob_groups()}
    assert {heading: sorted(keys) for heading, keys in shown.items() if heading in expected} == expected
    assert list(expected)[0] == lab.title and list(expected)[-1] == say("settings-faults")
    eviction = say("part-eviction")
    assert f"{pattern}:maxmemory:widget" in shown[eviction]
    note = next(column for column in at.columns if [h.value for h in column.subheader] == [eviction]).caption
    assert [caption.value for caption in note] == [say("part-eviction-note")]


def test_a_knob_set_under_its_group_keeps_its_agent_api_key_and_applies(app):
    at = app("cache-aside")
    settings(at, "cache-aside", near_ttl=20, xfetch="1", leases=True)
    lab = at.session_state["learner"].lab("cache-aside")
    assert (lab.near_ttl, lab.xfetch_beta, lab.leases) == (20, 1.0, True)
