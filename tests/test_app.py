"""Page logic through Streamlit's AppTest: every page starts from app.py, as a learner's browser does.

`run_every` fragments never tick inside AppTest, and the lab's clock is manual here (LAB_CLOCK=manual):
time moves only with requests and the fast-forward buttons, never with how long a test took. Playback
is driven by its buttons; the browser tests cover the animation itself.
"""

from __future__ import annotations

import re

import pytest
from app_support import (
    ACTIVE,
    ROOT,
    click,
    close_settings,
    dot,
    is_empty,
    open_log,
    open_menu,
    page_state,
    send,
    settings,
    step_counter,
    step_to_end,
    table,
    texts,
    values,
)
from core_support import ALL_PATTERNS
from streamlit.testing.v1 import AppTest

from strategies.assets import markdown_sections


# ---- the home page and each pattern page ---------------------------------------------------------------
def test_home_orients_a_newcomer(app):
    at = app()
    assert not at.exception
    assert at.title[0].value == "Cache Patterns Lab"
    assert [s.value for s in at.subheader] == ["Cache-aside", "Read-through", "Write-through", "Write-behind"]
    charts = at.get("graphviz_chart")
    assert len(charts) == 4
    assert all("App" in chart.proto.spec and "Cache" in chart.proto.spec for chart in charts)
    assert any("How to use this lab" in m.value for m in at.markdown)


@pytest.mark.parametrize("pattern", ALL_PATTERNS)
def test_read_misses_then_hits_and_draws_numbered_steps(app, pattern):
    at = app(pattern)
    assert "1. look up" in dot(at) or "1. read" in dot(at) or "1. write" in dot(at)   # the textbook figure
    assert is_empty(at, "Cache") and is_empty(at, "Requests")
    send(at, pattern, "read", key="user:1")
    assert list(table(at, "Requests")["Outcome"]) == ["miss"]
    spec = dot(at)
    assert "1. GET user:1" in spec and "SELECT … WHERE key=?" in spec
    assert len(ACTIVE.findall(spec)) == 1
    assert values(at, "Cache")["user:1"] == "Ada Lovelace"

    send(at, pattern, "read")
    assert list(table(at, "Requests")["Outcome"]) == ["hit", "miss"]   # newest first
    assert list(table(at, "Requests")["#"]) == [2, 1]
    assert "SELECT" not in dot(at)


def arrow_phase(spec: str, label_start: str) -> str:
    """The playback class (done, active, todo) of the step arrow whose label starts so."""
    [line] = [line for line in spec.splitlines() if f'label="{label_start}' in line]
    return re.search(r'class="?(\w+)', line)[1]


@pytest.mark.parametrize("pattern", ALL_PATTERNS)
def test_step_buttons_move_the_active_arrow(app, pattern):
    at = send(app(pattern), pattern, "read", key="user:2", to_end=False)
    first, steps = step_counter(at)
    assert first == 1 and steps >= 5
    assert arrow_phase(dot(at), "1. GET user:2") == "active"
    click(at, f"{pattern}:forward")
    click(at, f"{pattern}:forward")
    assert step_counter(at) == (3, steps)
    spec = dot(at)
    assert len(ACTIVE.findall(spec)) == 1
    assert arrow_phase(spec, "3. ") == "active"
    assert arrow_phase(spec, "1. GET user:2") == "done"
    assert arrow_phase(spec, f"{steps}. ") == "todo"
    click(at, f"{pattern}:back")
    assert step_counter(at) == (2, steps)
    assert arrow_phase(dot(at), "2. ") == "active"


def test_cache_aside_write_updates_db_then_invalidates(app):
    at = send(app("cache-aside"), "cache-aside", "read", key="user:1")
    assert "user:1" in values(at, "Cache")
    send(at, "cache-aside", "write", key="user:1", value="Grace")
    assert values(at, "Database")["user:1"] == "Grace"
    assert "user:1" not in values(at, "Cache")
    assert "1. INSERT … ON CONFLICT" in dot(at) and "DEL user:1" in dot(at)


def test_cache_aside_tables_show_the_window_between_commit_and_delete(app):
    """Between the UPSERT (step 1) and the DEL (step 3) the cache still holds the old value: stale."""
    at = send(app("cache-aside"), "cache-aside", "read", key="user:1")
    send(at, "cache-aside", "write", key="user:1", value="Grace", to_end=False)
    assert values(at, "Database")["user:1"] == "Grace"
    assert values(at, "Cache")["user:1"] == "Ada Lovelace"
    assert table(at, "Cache").set_index("Key").loc["user:1", "State"].startswith("⚠ stale")
    step_to_end(at, "cache-aside")
    assert "user:1" not in values(at, "Cache")


def test_read_through_write_invalidates_through_the_cache(app):
    at = send(app("read-through"), "read-through", "read", key="user:3")
    assert "Loader" in dot(at)
    send(at, "read-through", "write", key="user:3", value="Barbara Liskov")
    assert values(at, "Database")["user:3"] == "Barbara Liskov"
    assert "user:3" not in values(at, "Cache")
    send(at, "read-through", "read")
    assert values(at, "Cache")["user:3"] == "Barbara Liskov"


def test_write_through_updates_cache_and_db_together(app):
    at = send(app("write-through"), "write-through", "write", key="user:1", value="Grace")
    assert values(at, "Database")["user:1"] == "Grace"
    assert values(at, "Cache")["user:1"] == "Grace"
    assert set(table(at, "Cache")["State"]) == {"✓ same as DB"}


def test_write_through_naive_ordering_with_db_down_says_the_cache_is_ahead(app):
    at = app("write-through")
    settings(at, "write-through", ordering="naive", down=True)
    send(at, "write-through", "write", key="user:1", value="Grace")
    assert values(at, "Cache")["user:1"] == "Grace"
    assert values(at, "Database")["user:1"] == "Ada Lovelace"
    assert table(at, "Cache").set_index("Key").loc["user:1", "State"] == "⚠ ahead: DB never committed this"
    assert list(table(at, "Requests")["Outcome"]) == ["error"]
    assert "✗" in dot(at)
    send(at, "write-through", "read")            # the cache serves what the database never committed
    summary = [t for t in texts(at) if t.startswith("Done in")][-1]
    assert "the cache is ahead of the database" in summary and "newer value" not in summary


def test_cache_aside_stale_read_says_the_cache_is_behind(app):
    at = send(app("cache-aside"), "cache-aside", "read", key="user:1")
    settings(at, "cache-aside", cache_down=True)
    send(at, "cache-aside", "write", key="user:1", value="Grace")        # committed; the DEL failed
    assert any("invalidation failed" in w.value or "did not answer the DEL" in w.value for w in at.warning)
    settings(at, "cache-aside", cache_down=False)
    send(at, "cache-aside", "read")
    summary = [t for t in texts(at) if t.startswith("Done in")][-1]
    assert "STALE" in summary and "the cache is behind" in summary


def test_write_behind_db_waits_for_flush_now(app):
    at = app("write-behind")
    send(at, "write-behind", "write", key="user:1", value="Grace")
    assert values(at, "Cache")["user:1"] == "Grace"
    assert values(at, "Database")["user:1"] == "Ada Lovelace"
    assert table(at, "Cache").set_index("Key").loc["user:1", "State"] == "newer than DB: write queued"
    assert list(table(at, "Queue")["Key"]) == ["user:1"]
    send(at, "write-behind", "Flush now")
    assert values(at, "Database")["user:1"] == "Grace"
    assert is_empty(at, "Queue")
    assert "XDEL queue" in dot(at)


def test_write_behind_full_batch_flushes_in_the_background(app):
    at = app("write-behind")
    settings(at, "write-behind", batch=2)
    send(at, "write-behind", "write", key="user:1", value="one")
    send(at, "write-behind", "write", key="user:2", value="two", to_end=False)
    spec = dot(at)                  # the flush is drawn, dashed, after the acknowledgement, as the flusher's
    assert 'class="todo background client-f"' in spec and "F1. XRANGE" in spec
    step_to_end(at, "write-behind")
    assert values(at, "Database")["user:1"] == "one" and values(at, "Database")["user:2"] == "two"
    assert is_empty(at, "Queue")


# ---- time ----------------------------------------------------------------------------------------------
def test_fast_forward_expires_a_key_and_the_next_read_misses(app):
    at = send(app("cache-aside"), "cache-aside", "read", key="user:1")
    assert table(at, "Cache").set_index("Key").loc["user:1", "TTL (s)"] == "60"
    click(at, "cache-aside:ff10")
    assert table(at, "Cache").set_index("Key").loc["user:1", "TTL (s)"] == "50"   # the TTL moved with the clock
    click(at, "cache-aside:ff-next")                                               # to just past its expiry
    assert is_empty(at, "Cache")
    assert list(table(at, "Requests")["Request"])[0] == "expiry"
    assert "EXPIRE" not in dot(at) and "TTL of user:1 ran out" in dot(at)
    send(at, "cache-aside", "read")
    assert list(table(at, "Requests")["Outcome"])[0] == "miss"


def test_next_expiry_without_any_ttl_says_so(app):
    at = click(app("write-through"), "write-through:ff-next")
    assert any("nothing will expire" in i.value for i in at.info)


def test_write_behind_max_delay_flush_runs_when_time_is_fast_forwarded(app):
    at = app("write-behind")
    send(at, "write-behind", "write", key="user:1", value="later")
    assert values(at, "Database")["user:1"] == "Ada Lovelace"
    click(at, "write-behind:ff10")                                   # past the 5 s max delay
    step_to_end(at, "write-behind")
    assert values(at, "Database")["user:1"] == "later"
    assert list(table(at, "Requests")["Request"])[0] == "flush"


# ---- the cache as a fault --------------------------------------------------------------------------------
@pytest.mark.parametrize("pattern", ALL_PATTERNS)
def test_cache_down_on_every_page(app, pattern):
    at = send(app(pattern), pattern, "read", key="user:1")
    settings(at, pattern, cache_down=True)
    assert any("The cache is down" in w.value for w in at.warning)
    send(at, pattern, "read", key="user:2")
    outcome = list(table(at, "Requests")["Outcome"])[0]
    if pattern == "cache-aside":      # read around the cache: the value, degraded
        assert outcome == "degraded"
        assert any("'Alan Turing'" in t for t in texts(at))
        assert "user:2" not in values(at, "Cache")
    else:                             # the cache is a hard dependency: a clean failure
        assert outcome == "error"
    send(at, pattern, "write", key="user:2", value="while down")
    db = values(at, "Database")
    if pattern in ("cache-aside", "read-through"):
        assert db["user:2"] == "while down"              # committed; only the invalidation failed
    else:
        assert db["user:2"] == "Alan Turing"             # nothing acknowledged, nothing written
        assert list(table(at, "Requests")["Outcome"])[0] == "error"
    settings(at, pattern, cache_down=False)
    send(at, pattern, "read", key="user:1")
    assert list(table(at, "Requests")["Outcome"])[0] == "hit"   # the cache kept its data


# ---- bad input, isolation, reset ---------------------------------------------------------------------
@pytest.mark.parametrize("key, value, rule", [
    ("", "x", "empty"),
    ("   ", "x", "empty"),
    ("k" * 201, "x", "at most 200"),
    ("user:1", "v" * (64 * 1024 + 1), "64 KiB"),
    ("bad\x00key", "x", "control character"),
    ("user:1", "bell\x07", "control character"),
])
def test_bad_input_shows_the_rule_and_changes_nothing(app, key, value, rule):
    at = app("cache-aside")
    before = values(at, "Database")
    send(at, "cache-aside", "write", key=key, value=value)
    assert len(at.error) == 1 and rule in at.error[0].value
    assert values(at, "Database") == before
    assert is_empty(at, "Requests")
    send(at, "cache-aside", "read", key="user:2")   # the page keeps working
    assert values(at, "Cache")["user:2"] == "Alan Turing"


@pytest.mark.parametrize("key", ['<script>alert(1)</script>', 'a" -> b [label="x"]; {', "**bold** :red[x] $x$"])
def test_hostile_text_is_data_not_markup(app, key):
    at = app("write-through")
    send(at, "write-through", "write", key=key, value='"; DROP TABLE kv; --')
    assert values(at, "Database")[key] == '"; DROP TABLE kv; --'
    assert values(at, "Cache")[key] == '"; DROP TABLE kv; --'
    assert not any(key in m.value for m in at.markdown)    # shown only as plain text, never as Markdown
    assert not any(key in c.value for c in at.caption)
    assert any(key in t for t in texts(at))
    assert len(ACTIVE.findall(dot(at))) == 1


def test_two_sessions_never_see_each_others_writes(app):
    alice, bob = app("cache-aside"), app("cache-aside")
    send(alice, "cache-aside", "write", key="user:1", value="Alice was here")
    send(alice, "cache-aside", "read")
    send(bob, "cache-aside", "read", key="user:1")
    assert values(alice, "Database")["user:1"] == "Alice was here"
    assert values(bob, "Database")["user:1"] == "Ada Lovelace"
    assert values(bob, "Cache")["user:1"] == "Ada Lovelace"


def test_reset_my_lab_restores_the_seed_and_switches_the_faults_off(app):
    at = send(app("write-through"), "write-through", "write", key="user:9", value="new")
    assert "user:9" in values(at, "Database")
    settings(at, "write-through", down=True, cache_down=True)
    click(at, "write-through:reset")                                  # in the open popover
    assert "user:9" not in values(at, "Database")
    assert is_empty(at, "Cache") and is_empty(at, "Requests")
    assert not at.warning, "no fault banner"
    settings(at, "write-through")
    assert at.toggle(key="write-through:down:widget").value is False
    assert at.toggle(key="write-through:cache-down:widget").value is False
    send(at, "write-through", "read", key="user:2")
    assert list(table(at, "Requests")["Outcome"]) == ["miss"]


def test_the_knobs_the_new_parts_declare_are_drawn_applied_and_carried_by_the_link(app):
    """Eviction, jitter, early refresh and near caches declare their knobs (strategies/features/): the page draws
    them with no page edit, applies them to the lab, and its link carries them."""
    at = app("cache-aside")
    settings(at, "cache-aside", maxmemory=256, maxmemory_policy="allkeys-lru", ttl_jitter=10, refresh_ahead="0.5",
             xfetch="1", near_ttl=10, near_invalidation="tracking")
    lab = at.session_state["learner"].lab("cache-aside")
    assert (lab.maxmemory, lab.maxmemory_policy, lab.ttl_jitter, lab.refresh_ahead, lab.xfetch_beta, lab.near_ttl,
            lab.near_invalidation) == (256, "allkeys-lru", 10, 0.5, 1.0, 10, "tracking")
    send(at, "cache-aside", "read", key="user:1")
    assert 'label="App 1\\n+ near cache"' in dot(at)
    # fakeredis has no CLIENT TRACKING: the page says what the instances then hear of a write (nothing)
    assert any("no instance hears of a write" in caption.value for caption in at.caption)
    assert {"s~maxmemory~256", "s~maxmemory-policy~allkeys-lru", "s~ttl-jitter~10", "s~refresh-ahead~0.5",
            "s~xfetch~1", "s~near-ttl~10", "s~near-invalidation~tracking"} <= set(at.query_params["do"])
    settings(at, "cache-aside", maxmemory=0, refresh_ahead="off", near_ttl=0)
    assert (lab.maxmemory, lab.refresh_ahead, lab.near_ttl) == (None, None, None), "0 and off: none"


# ---- narration, code, playback ---------------------------------------------------------------------------
def test_each_step_shows_the_line_of_code_that_performs_it(app):
    at = send(app("cache-aside"), "cache-aside", "read", key="user:1", to_end=False)
    step_one = 'cached = yield from self.early.get(t, "App", key, tolerate=True)'
    assert at.code[0].value.startswith(step_one)                                      # step 1: GET
    assert not any("def _read(" in c.value for c in at.code)           # the Code tab is drawn only when open
    at.session_state["cache-aside:explain"] = "Code"
    at.run()
    assert any("def _read(self, t: Request, key: str) -> Steps:" in c.value for c in at.code)             # the Code tab
    click(at, "cache-aside:forward")
    click(at, "cache-aside:forward")
    assert at.code[0].value == 'loaded = yield from self.db_select(t, "App", key)'                 # step 3
    assert any("strategies/cache_aside.py, line" in c.value for c in at.caption)


def test_the_explanation_shows_one_section_at_a_time_and_never_none(app):
    at = app("cache-aside")
    sections = markdown_sections(ROOT / "assets" / "cache_aside.md")
    shown = lambda: " ".join(m.value for m in at.markdown)          # noqa: E731
    assert sections["How it works"][:60] in shown() and sections["Cons"][:60] not in shown()
    control = next(c for c in at.get("button_group") if c.key == "cache-aside:explain")
    control.set_value("Cons").run()
    assert sections["Cons"][:60] in shown() and sections["How it works"][:60] not in shown()
    control = next(c for c in at.get("button_group") if c.key == "cache-aside:explain")
    control.set_value(None).run()        # clicking the chosen section again un-selects it: the section stays
    assert sections["Cons"][:60] in shown()
    assert at.session_state["cache-aside:explain"] == "Cons"


def test_write_through_safe_ordering_points_at_the_set_after_the_commit(app):
    at = send(app("write-through"), "write-through", "write", key="user:1", value="Grace", to_end=False)
    lines = []
    for _ in range(5):
        lines.append(at.code[0].value)
        click(at, "write-through:forward")
    assert lines[3].startswith("yield from self.cache_set(") and "version=version" in lines[3]
    assert lines[1].startswith("version = yield from self.db_upsert(")


def test_selecting_a_past_request_replays_it(app):
    at = send(app("cache-aside"), "cache-aside", "read", key="user:1")
    send(at, "cache-aside", "read")
    assert "SELECT" not in dot(at)                  # the hit is on the diagram
    open_log(at)
    at.selectbox(key="cache-aside:replay").set_value(1).run()
    assert "SELECT … WHERE key=?" in dot(at)        # the first request, a miss, plays again
    assert step_counter(at)[1] == 5


def test_narration_says_what_each_step_left_behind(app):
    at = send(app("cache-aside"), "cache-aside", "read", key="user:1", to_end=False)
    assert "After this step, for 'user:1': the cache has nothing; the database has 'Ada Lovelace' (version 1)." \
        in texts(at)
    assert is_empty(at, "Cache")        # the tables replay the request, step by step
    for _ in range(4):
        click(at, "cache-aside:forward")
    assert "After this step, for 'user:1': the cache has 'Ada Lovelace' (60 s left); the database has " \
           "'Ada Lovelace' (version 1)." in texts(at)
    assert values(at, "Cache")["user:1"] == "Ada Lovelace"


def test_pause_and_play_toggle_and_play_restarts_a_finished_request(app):
    at = send(app("write-through"), "write-through", "write", key="user:1", value="Grace", to_end=False)
    assert at.button(key="write-through:play").label == "Pause"       # a new request plays by itself
    click(at, "write-through:play")
    assert at.button(key="write-through:play").label == "Play"
    step_to_end(at, "write-through")
    assert step_counter(at) == (5, 5)
    click(at, "write-through:play")                                   # from the end: play again
    assert at.button(key="write-through:play").label == "Pause"
    assert step_counter(at)[0] == 1


def test_speed_survives_runs_in_which_nothing_plays_and_sets_how_fast_a_step_draws_itself(app):
    at = open_menu(app("cache-aside"), "cache-aside")
    assert "--cpl-draw: 0.50s" in page_styles(at)                    # 1×: a third of its 1.5 s step
    at.segmented_control(key="cache-aside:speed-choice").set_value("4×").run()
    assert page_state(at, "cache-aside").speed == "4×"
    open_menu(at, "cache-aside", open_=False)                        # the control is not drawn now
    click(at, "cache-aside:reset")                                    # playback forgotten, preference kept
    send(at, "cache-aside", "read", key="user:1")
    assert page_state(at, "cache-aside").speed == "4×"
    assert "--cpl-draw: 0.13s" in page_styles(at)                    # in step with a 0.4 s step
    assert open_menu(at, "cache-aside").segmented_control(key="cache-aside:speed-choice").value == "4×"


def page_styles(at: AppTest) -> str:
    return " ".join(element.proto.body for element in at.get("html"))


def test_a_fault_switched_on_stays_on_while_its_popover_is_closed(app):
    """Widget state that is not on screen in one run must not vanish: the settings are drawn only while
    their popover is open, and their values live elsewhere."""
    at = settings(app("cache-aside"), "cache-aside", down=True, ttl=15)
    close_settings(at, "cache-aside")
    assert not any(t.key == "cache-aside:down:widget" for t in at.toggle)      # not drawn...
    assert any("The database is down" in w.value for w in at.warning)         # ...but still on
    send(at, "cache-aside", "read", key="user:2")
    assert list(table(at, "Requests")["Outcome"]) == ["error"]
    settings(at, "cache-aside", down=False)
    close_settings(at, "cache-aside")
    send(at, "cache-aside", "read", key="user:2")
    assert table(at, "Cache").set_index("Key").loc["user:2", "TTL (s)"] == "15"


def test_write_without_a_value_is_refused(app):
    at = send(app("write-through"), "write-through", "write", key="user:1", value="")
    assert len(at.error) == 1 and "type a Value" in at.error[0].value
    assert values(at, "Database")["user:1"] == "Ada Lovelace"


def test_db_down_is_a_failed_step_and_a_banner(app):
    at = app("cache-aside")
    settings(at, "cache-aside", down=True)
    assert any("The database is down" in w.value for w in at.warning)
    send(at, "cache-aside", "read", key="user:2")
    assert list(table(at, "Requests")["Outcome"]) == ["error"]
    assert "✗" in dot(at)
    assert any("The request failed" in t for t in texts(at))
