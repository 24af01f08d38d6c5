"""Page logic through Streamlit's AppTest: every page starts from app.py, as a learner's browser does.

`run_every` fragments never tick inside AppTest, so playback is driven by its buttons here; the
browser tests cover the animation itself.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parent.parent
PAGES = {"cache-aside": "cache_aside", "read-through": "read_through", "write-through": "write_through",
         "write-behind": "write_behind"}
ACTIVE = re.compile(r'class="?active"?[\s\]]')


@pytest.fixture(autouse=True)
def private_data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("LAB_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("REDIS_URL", raising=False)


def open_page(pattern: str) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=30).run()
    at.switch_page(f"pages/{PAGES[pattern]}.py").run()
    assert not at.exception, at.exception
    return at


def send(at: AppTest, pattern: str, button: str, key: str | None = None, value: str | None = None, *,
         to_end: bool = True) -> AppTest:
    """Click a request button; then, unless to_end is False, step the playback to its last step, where
    the tables are live (while a request plays they show the state after the current step)."""
    if key is not None:
        at.text_input(key=f"{pattern}:key").input(key)
    if value is not None:
        at.text_input(key=f"{pattern}:value").input(value)
    at.button(key=f"{pattern}:{button}").click().run()
    assert not at.exception, at.exception
    while to_end and has_button(at, f"{pattern}:forward") and not at.button(key=f"{pattern}:forward").disabled:
        at.button(key=f"{pattern}:forward").click().run()
    return at


def has_button(at: AppTest, key: str) -> bool:
    return any(b.key == key for b in at.button)


def table(at: AppTest, heading: str) -> pd.DataFrame:
    """The dataframe shown under a heading ("Cache", "Database", "Requests"), by its columns."""
    columns = {"Cache": "TTL (s)", "Database": "Version", "Requests": "Latency (ms)", "Queue": "Stream id"}[heading]
    for frame in at.dataframe:
        if columns in frame.value.columns:
            return frame.value
    return pd.DataFrame(columns=["Key", "Value"])


def values(at: AppTest, heading: str) -> dict[str, str]:
    frame = table(at, heading)
    return dict(zip(frame["Key"], frame["Value"], strict=True))


def dot(at: AppTest) -> str:
    return at.get("graphviz_chart")[0].proto.spec


def step_counter(at: AppTest) -> tuple[int, int]:
    for block in at.markdown:
        found = re.fullmatch(r"\*\*step (\d+) of (\d+)\*\*", block.value)
        if found:
            return int(found[1]), int(found[2])
    raise AssertionError("no step counter on the page")


def test_home_orients_a_newcomer():
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=30).run()
    assert not at.exception
    assert at.title[0].value == "Cache Patterns Lab"
    assert [s.value for s in at.subheader] == ["Cache-aside", "Read-through", "Write-through", "Write-behind"]
    charts = at.get("graphviz_chart")
    assert len(charts) == 4
    assert all("App" in chart.proto.spec and "Cache" in chart.proto.spec for chart in charts)
    assert any("How to use this lab" in m.value for m in at.markdown)
    assert at.sidebar.button[0].label == "Reset my lab"


@pytest.mark.parametrize("pattern", PAGES)
def test_read_misses_then_hits_and_draws_numbered_steps(pattern):
    at = open_page(pattern)
    assert "1. look up" in dot(at) or "1. read" in dot(at) or "1. write" in dot(at)   # the textbook figure
    send(at, pattern, "read", key="user:1")
    log = table(at, "Requests")
    assert list(log["Outcome"]) == ["miss"]
    spec = dot(at)
    assert "1. GET user:1" in spec and "SELECT … WHERE key=?" in spec
    assert len(ACTIVE.findall(spec)) == 1
    assert values(at, "Cache")["user:1"] == "Ada Lovelace"

    send(at, pattern, "read")
    assert list(table(at, "Requests")["Outcome"]) == ["hit", "miss"]   # newest first
    assert "SELECT" not in dot(at)


@pytest.mark.parametrize("pattern", PAGES)
def test_step_buttons_move_the_active_arrow(pattern):
    at = send(open_page(pattern), pattern, "read", key="user:2", to_end=False)
    assert step_counter(at) == (1, 5)
    assert re.search(r'label="1\. GET user:2"[^\]]*class=active', dot(at))
    at.button(key=f"{pattern}:forward").click().run()
    at.button(key=f"{pattern}:forward").click().run()
    assert step_counter(at) == (3, 5)
    spec = dot(at)
    assert len(ACTIVE.findall(spec)) == 1
    assert re.search(r'label="3\. [^"]*"[^\]]*class=active', spec)
    assert re.search(r'label="1\. GET user:2"[^\]]*class=done', spec)
    assert re.search(r'label="5\. [^"]*"[^\]]*class=todo', spec)
    at.button(key=f"{pattern}:back").click().run()
    assert step_counter(at) == (2, 5)
    assert re.search(r'label="2\. [^"]*"[^\]]*class=active', dot(at))


def test_cache_aside_write_updates_db_then_invalidates():
    at = send(open_page("cache-aside"), "cache-aside", "read", key="user:1")
    assert "user:1" in values(at, "Cache")
    send(at, "cache-aside", "write", key="user:1", value="Grace")
    assert values(at, "Database")["user:1"] == "Grace"
    assert "user:1" not in values(at, "Cache")
    assert "1. INSERT … ON CONFLICT" in dot(at) and "DEL user:1" in dot(at)


def test_read_through_write_invalidates_through_the_cache():
    at = send(open_page("read-through"), "read-through", "read", key="user:3")
    assert "Loader" in dot(at)
    send(at, "read-through", "write", key="user:3", value="Barbara Liskov")
    assert values(at, "Database")["user:3"] == "Barbara Liskov"
    assert "user:3" not in values(at, "Cache")
    send(at, "read-through", "read")
    assert values(at, "Cache")["user:3"] == "Barbara Liskov"


def test_write_through_updates_cache_and_db_together():
    at = send(open_page("write-through"), "write-through", "write", key="user:1", value="Grace")
    assert values(at, "Database")["user:1"] == "Grace"
    assert values(at, "Cache")["user:1"] == "Grace"
    assert set(table(at, "Cache")["State"]) == {"✓ same as DB"}


def test_write_through_naive_ordering_with_db_down_shows_a_stale_cache():
    at = open_page("write-through")
    at.radio(key="write-through:ordering").set_value("naive")
    at.toggle(key="write-through:down").set_value(True)
    send(at, "write-through", "write", key="user:1", value="Grace")
    assert values(at, "Cache")["user:1"] == "Grace"
    assert values(at, "Database")["user:1"] == "Ada Lovelace"
    assert table(at, "Cache").set_index("Key").loc["user:1", "State"].startswith("⚠ stale")
    assert list(table(at, "Requests")["Outcome"]) == ["error"]
    assert "✗" in dot(at)


def test_write_behind_db_waits_for_flush_now():
    at = open_page("write-behind")
    send(at, "write-behind", "write", key="user:1", value="Grace")
    assert values(at, "Cache")["user:1"] == "Grace"
    assert values(at, "Database")["user:1"] == "Ada Lovelace"
    assert table(at, "Cache").set_index("Key").loc["user:1", "State"] == "pending flush"
    assert list(table(at, "Queue")["Key"]) == ["user:1"]
    send(at, "write-behind", "flush")
    assert values(at, "Database")["user:1"] == "Grace"
    assert table(at, "Queue").empty
    assert "XDEL queue" in dot(at)


def test_write_behind_full_batch_flushes_in_the_background():
    at = open_page("write-behind")
    at.number_input(key="write-behind:batch").set_value(2)
    send(at, "write-behind", "write", key="user:1", value="one")
    send(at, "write-behind", "write", key="user:2", value="two", to_end=False)
    assert 'class="todo background"' in dot(at)   # the flush is drawn, dashed, after the acknowledgement
    send(at, "write-behind", "read", key="user:3")
    assert values(at, "Database")["user:1"] == "one" and values(at, "Database")["user:2"] == "two"


@pytest.mark.parametrize("key, value, rule", [
    ("", "x", "empty"),
    ("   ", "x", "empty"),
    ("k" * 201, "x", "at most 200"),
    ("user:1", "v" * (64 * 1024 + 1), "64 KiB"),
    ("bad\x00key", "x", "control character"),
    ("user:1", "bell\x07", "control character"),
])
def test_bad_input_shows_the_rule_and_changes_nothing(key, value, rule):
    at = open_page("cache-aside")
    before = values(at, "Database")
    send(at, "cache-aside", "write", key=key, value=value)
    assert len(at.error) == 1 and rule in at.error[0].value
    assert values(at, "Database") == before
    assert table(at, "Requests").empty
    send(at, "cache-aside", "read", key="user:2")   # the page keeps working
    assert values(at, "Cache")["user:2"] == "Alan Turing"


@pytest.mark.parametrize("key", ['<script>alert(1)</script>', 'a" -> b [label="x"]; {', "**bold** :red[x] $x$"])
def test_hostile_text_is_data_not_markup(key):
    at = open_page("write-through")
    send(at, "write-through", "write", key=key, value='"; DROP TABLE kv; --')
    assert values(at, "Database")[key] == '"; DROP TABLE kv; --'
    assert values(at, "Cache")[key] == '"; DROP TABLE kv; --'
    assert not any(key in m.value for m in at.markdown)    # shown only as plain text, never as Markdown
    assert any(key in t.value for t in at.text)
    assert len(ACTIVE.findall(dot(at))) == 1


def test_two_sessions_never_see_each_others_writes():
    alice, bob = open_page("cache-aside"), open_page("cache-aside")
    send(alice, "cache-aside", "write", key="user:1", value="Alice was here")
    send(alice, "cache-aside", "read")
    send(bob, "cache-aside", "read", key="user:1")
    assert values(alice, "Database")["user:1"] == "Alice was here"
    assert values(bob, "Database")["user:1"] == "Ada Lovelace"
    assert values(bob, "Cache")["user:1"] == "Ada Lovelace"


def test_reset_my_lab_restores_the_seed_for_this_session_only():
    at = send(open_page("write-through"), "write-through", "write", key="user:9", value="new")
    assert "user:9" in values(at, "Database")
    at.sidebar.button[0].click().run()
    assert "user:9" not in values(at, "Database")
    assert values(at, "Cache") == {}
    assert table(at, "Requests").empty


def test_each_step_shows_the_line_of_code_that_performs_it():
    at = send(open_page("cache-aside"), "cache-aside", "read", key="user:1", to_end=False)
    codes = [block.value for block in at.code]
    assert "yield from self.cache_get(t, \"App\", key)" in codes[-1]           # step 1: GET
    assert any("def _read(self, t: Recorder, key: str) -> Steps:" in c for c in codes)   # the Code tab
    at.button(key="cache-aside:forward").click().run()
    at.button(key="cache-aside:forward").click().run()
    assert "db_select(" in [block.value for block in at.code][-1]                  # step 3: SELECT
    assert any("strategies/cache_aside.py, line" in c.value for c in at.caption)


def test_selecting_a_past_request_replays_it():
    at = send(open_page("cache-aside"), "cache-aside", "read", key="user:1")
    send(at, "cache-aside", "read")
    assert "SELECT" not in dot(at)                  # the hit is on the diagram
    at.selectbox(key="cache-aside:replay").set_value(1).run()
    assert "SELECT … WHERE key=?" in dot(at)        # the first request, a miss, plays again


def test_narration_says_what_each_step_left_behind():
    at = send(open_page("cache-aside"), "cache-aside", "read", key="user:1", to_end=False)
    assert "After this step, for 'user:1': the cache has nothing; the database has 'Ada Lovelace' (version 1)." in [
        t.value for t in at.text]
    assert "user:1" not in values(at, "Cache")        # the tables replay the request, step by step
    for _ in range(4):
        at.button(key="cache-aside:forward").click().run()
    assert "After this step, for 'user:1': the cache has 'Ada Lovelace'; the database has 'Ada Lovelace' " \
           "(version 1)." in [t.value for t in at.text]
    assert values(at, "Cache")["user:1"] == "Ada Lovelace"


def test_pause_and_play_toggle_and_play_restarts_a_finished_request():
    at = send(open_page("write-through"), "write-through", "write", key="user:1", value="Grace", to_end=False)
    assert at.button(key="write-through:play").label == "Pause"       # a new request plays by itself
    at.button(key="write-through:play").click().run()
    assert at.button(key="write-through:play").label == "Play"
    for _ in range(4):
        at.button(key="write-through:forward").click().run()
    assert step_counter(at) == (5, 5)
    assert at.button(key="write-through:forward").disabled
    at.button(key="write-through:play").click().run()                 # from the end: play again
    assert at.button(key="write-through:play").label == "Pause"
    assert step_counter(at)[0] == 1


def test_write_without_a_value_is_refused():
    at = send(open_page("write-through"), "write-through", "write", key="user:1", value="")
    assert len(at.error) == 1 and "type a Value" in at.error[0].value
    assert values(at, "Database")["user:1"] == "Ada Lovelace"


def test_reset_switches_the_faults_off():
    at = open_page("cache-aside")
    at.toggle(key="cache-aside:down").set_value(True).run()
    send(at, "cache-aside", "read", key="user:2")
    assert list(table(at, "Requests")["Outcome"]) == ["error"]
    at.sidebar.button[0].click().run()
    assert at.toggle(key="cache-aside:down").value is False
    send(at, "cache-aside", "read", key="user:2")
    assert list(table(at, "Requests")["Outcome"]) == ["miss"]
