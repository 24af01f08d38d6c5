"""The new scenarios as a learner meets them on the pages (AppTest): a scenario a cache cannot run, marked and
refused with its reason; the chart beside a scenario, drawn from its run with the step on screen marked; a scene of
thousands of steps, its folded steps kept short and its scenes and captions a jump away; the background work of the
new parts announced as time moves; and, on a lab of two app instances, which instance serves the next request."""

from __future__ import annotations

import json
import os

import pyarrow as pa
import pytest
from app_support import (
    click,
    close_settings,
    dot,
    has_counter,
    messages,
    open_menu,
    page_state,
    send,
    settings,
    step_counter,
    texts,
)
from conftest import running_in_ci
from core_support import new_lab

from lab_ui.panel import FOLDED_LISTED
from lab_ui.text import say
from strategies.export import engine_available
from strategies.scenario import run_scenario
from strategies.scenarios import find
from strategies.series import second_of
from strategies.session import LearnerSession

REAL_REDIS = os.environ.get("REDIS_URL")       # read before the `app` fixture hides it from the pages


def picker_labels(at, pattern: str) -> list[str]:
    return list(at.selectbox(key=f"{pattern}:scenario-choice").options)


# ---- a scenario this lab's cache cannot run ----------------------------------------------------------------
def test_a_scenario_the_cache_cannot_run_is_marked_and_choosing_it_changes_nothing(app):
    at = app("read-through")
    tracking = find("read-through", "near-cache-tracking")
    labels = picker_labels(at, "read-through")
    assert say("scenario-needs-server", title=tracking.title) in labels
    assert find("read-through", "near-cache-stale").title in labels        # one it can run: not marked
    at.selectbox(key="read-through:scenario-choice").set_value("near-cache-stale").run()
    before = (step_counter(at), dot(at), len(at.session_state["learner"].lab("read-through").log))
    at.selectbox(key="read-through:scenario-choice").set_value("near-cache-tracking").run()
    assert not at.exception, at.exception
    why = tracking.unavailable(new_lab("read-through"))
    assert f'"{tracking.title}" cannot run here, because {why}' in messages(at)
    assert "Your lab is as it was" in messages(at)
    assert (step_counter(at), dot(at), len(at.session_state["learner"].lab("read-through").log)) == before
    assert at.selectbox(key="read-through:scenario-choice").value == "near-cache-stale", "the picker shows what is on"
    assert at.query_params["scenario"] == "near-cache-stale"


def test_a_link_to_a_scenario_the_cache_cannot_run_says_why_and_keeps_the_learners_lab(app):
    at = app("cache-aside")
    send(at, "cache-aside", "read", "user:2")
    at.query_params["scenario"] = "near-cache-tracking"
    at.run()
    why = find("cache-aside", "near-cache-tracking").unavailable(new_lab("cache-aside"))
    assert why in messages(at) and "Nothing was changed" in messages(at)
    lab = at.session_state["learner"].lab("cache-aside")
    assert [trace.key for trace in lab.log.values()] == ["user:2"] and "GET user:2" in dot(at)


def real_redis_url(monkeypatch) -> str:
    if not REAL_REDIS:
        if running_in_ci():
            pytest.fail("CI=true but REDIS_URL is not set", pytrace=False)
        pytest.skip("REDIS_URL is not set: the real-Redis page is not tried")
    monkeypatch.setenv("REDIS_URL", REAL_REDIS)
    return REAL_REDIS


def test_on_a_real_redis_the_tracking_scenario_is_listed_plain_loads_and_exports_the_learners_own_run(
        app, monkeypatch):
    real_redis_url(monkeypatch)
    at = app("cache-aside", scenario="near-cache-tracking")
    try:
        tracking = find("cache-aside", "near-cache-tracking")
        assert tracking.title in picker_labels(at, "cache-aside") and has_counter(at), messages(at)
        if not engine_available():
            return
        from lab_ui.exporting import scenario_export

        page = page_state(at, "cache-aside")
        lab = at.session_state["learner"].lab("cache-aside")
        slides = scenario_export(lab, page.playback, "cache-aside", "html").decode("utf-8")
        # A private fakeredis cannot run it: the slides are made from the learner's own run, every step of it.
        assert tracking.title in slides and f"step {page.playback.total} of {page.playback.total}" in slides
    finally:
        at.session_state["learner"].close()         # its keys leave the shared server


def test_a_scenario_exports_as_it_runs_on_its_page(app):
    if not engine_available():
        pytest.skip("no Graphviz dot: exports are not made here")
    from lab_ui.exporting import scenario_file

    through = scenario_file("stampede-compare", "read-through", "html").decode("utf-8")
    aside = scenario_file("stampede-compare", "cache-aside", "html").decode("utf-8")
    assert find("read-through", "stampede-compare").title in through
    assert find("cache-aside", "stampede-compare").title in aside
    assert "Loader" in through and "Loader" not in aside


# ---- the chart beside a scenario --------------------------------------------------------------------------------
def chart(at) -> tuple[dict, list[dict]]:
    """The page's one Vega-Lite chart: its spec, and its rows."""
    found = at.get("vega_lite_chart")
    assert len(found) == 1, f"{len(found)} charts on the page"
    proto = found[0].proto
    rows = pa.ipc.open_stream(proto.data.data).read_all().to_pylist() if proto.data.data else []
    return json.loads(proto.spec), rows


def test_the_charts_caption_reads_right_whatever_the_count():
    """The count of the second on screen may be 1 (the warm-up's one query, in second 0): the caption never says
    "1 database reads"."""
    run = run_scenario(find("read-through", "ttl-jitter"), new_lab("read-through"))
    series = run.chart
    peak_second, peak = series.peak
    for value in (0, 1, 93):
        said = say("chart-now", second=0, value=value, label=series.y_label, peak_second=peak_second, peak=peak)
        assert f"{value} {series.y_label}" not in said and str(value) in said, said


@pytest.mark.parametrize("present", [False, True])
def test_the_spike_scenarios_chart_the_runs_database_reads_with_the_step_on_screen_marked(app, present):
    run = run_scenario(find("read-through", "ttl-jitter"), new_lab("read-through"))
    series = run.chart
    frame = 1500                                       # in the spike: keys expiring at 13 moments
    step = run.steps[frame - 1]
    params = {"scenario": "ttl-jitter", "step": str(frame), **({"present": "1"} if present else {})}
    at = app("read-through", **params)
    spec, rows = chart(at)
    assert spec["title"]["text"] == series.title == "Database reads per simulated second"
    bars = spec["layer"][0]["encoding"]
    assert (bars["x"]["title"], bars["y"]["title"]) == (series.x_label, series.y_label)
    assert [(row["second"], row["value"]) for row in rows] == list(series.points)
    marked = [row["second"] for row in rows if row["now"]]
    assert marked == [second_of(step)], "the bar of the step on screen, and only it, is marked"
    assert spec["config"]["axis"]["labelFontSize"] >= (17 if present else 13)
    value = dict(series.points)[second_of(step)]
    peak_second, peak = series.peak
    said = say("chart-now", second=second_of(step), value=value, label=series.y_label, peak_second=peak_second,
               peak=peak)
    assert said in [block.value for block in at.caption]
    click(at, "read-through:forward")
    _, rows = chart(at)
    assert [row["second"] for row in rows if row["now"]] == [second_of(run.steps[frame])]


def test_a_scenario_without_a_chart_draws_none(app):
    at = app("cache-aside", scenario="stampede")
    assert not at.get("vega_lite_chart")


# ---- a scene of thousands of steps --------------------------------------------------------------------------
def test_a_long_scene_lists_only_the_folded_steps_near_the_step_on_screen(app):
    at = app("read-through", scenario="expiry-spike", step="6003")
    assert step_counter(at) == (6003, 6003)
    expander = next(block for block in at.expander if block.label.startswith("The whole scene"))
    listed = next(text for text in texts(at) if "(Cache → App)" in text)
    assert len(listed.splitlines()) == FOLDED_LISTED
    total = int(expander.label.split(": ")[1].split()[0].replace(",", ""))
    unlisted = total - FOLDED_LISTED
    assert unlisted > 4000
    assert say("folded-unlisted", listed=FOLDED_LISTED, count=f"{unlisted:,}") in [c.value for c in at.caption]


def caption_at(run, frame: int) -> str | None:
    before = 0
    for scene in run.scenes:
        if frame <= before + len(scene.steps):
            return scene.caption_at(frame - before - 1)
        before += len(scene.steps)
    return None


def test_next_scene_jumps_from_caption_to_caption_and_previous_scene_back(app):
    run = run_scenario(find("read-through", "expiry-spike"), new_lab("read-through"))
    starts, before = [], 0
    for scene in run.scenes:
        starts += [before + 1] + [before + index + 1 for index, _ in scene.captions if index]
        before += len(scene.steps)
    assert starts == [1, 4, 1004, 2004]
    at = app("read-through", scenario="expiry-spike")
    for frame in [*starts[1:], len(run.steps)]:
        click(at, "read-through:scene-forward")
        assert step_counter(at) == (frame, len(run.steps))
        assert caption_at(run, frame) in " ".join(block.value for block in at.info)
    assert any(block.value.startswith("**What you saw:**") for block in at.success)
    assert next(b for b in at.button if b.key == "read-through:scene-forward").disabled, "nothing after the end"
    click(at, "read-through:scene-back")
    assert step_counter(at)[0] == 2004
    click(at, "read-through:back")
    click(at, "read-through:scene-back")              # mid-way: back to where this scene began
    assert step_counter(at)[0] == 1004


def test_predicting_a_scene_cannot_be_skipped_forward(app):
    at = app("read-through", scenario="expiry-spike")
    open_menu(at, "read-through")
    page_state(at, "read-through").predict = True
    at.run()
    assert next(b for b in at.button if b.key == "read-through:scene-forward").disabled
    assert not any(b.key == "cache-aside:scene-forward" for b in at.button)


def test_free_requests_have_no_scene_buttons(app):
    at = app("cache-aside")
    send(at, "cache-aside", "read", "user:1")
    assert not any(b.key.endswith("scene-forward") for b in at.button)


# ---- background work of the new parts, announced as time moves ------------------------------------------------
def following(at, clock: list[float], tmp_path) -> LearnerSession:
    """This page's learner replaced by one whose simulated time follows `clock` (the wall clock of a browser)."""
    at.session_state["learner"].close()
    session = LearnerSession(data_dir=tmp_path / "following", wall=lambda: clock[0])
    at.session_state["learner"] = session
    at.run()
    return session


def toasts(at) -> list[str]:
    return [toast.value for toast in at.toast]


def test_a_refresh_ahead_refresh_is_announced_when_time_moves(app, tmp_path):
    at = app("cache-aside")
    clock = [0.0]
    session = following(at, clock, tmp_path)
    settings(at, "cache-aside", refresh_ahead=0.5)
    close_settings(at, "cache-aside")
    send(at, "cache-aside", "read", "user:1")
    clock[0] += 40                                          # inside the last half of its 60 s
    at.run()
    send(at, "cache-aside", "read", "user:1")               # a hit that schedules the refresh
    clock[0] += 5
    at.run()
    refresh = next(trace for trace in session.lab("cache-aside").log.values() if trace.operation == "refresh")
    assert say("refresh-ran", number=refresh.number) in toasts(at)
    assert step_counter(at) == (1, len(refresh.steps)), "the refresh takes the diagram: nothing else was watched"
    assert any("Refresher" in block.value or "refresher" in block.value for block in at.markdown)


def test_a_near_copy_running_out_is_announced_when_time_moves(app, tmp_path):
    at = app("cache-aside")
    clock = [0.0]
    session = following(at, clock, tmp_path)
    settings(at, "cache-aside", near_ttl=10)
    close_settings(at, "cache-aside")
    send(at, "cache-aside", "read", "user:1")
    clock[0] += 11
    at.run()
    expired = next(trace for trace in session.lab("cache-aside").log.values() if trace.operation == "near-expiry")
    assert say("near-expiry-ran", number=expired.number) in toasts(at)
    assert "App 1's near copy of 'user:1' ran out" in " ".join(texts(at))


# ---- two app instances: which one serves the next request ------------------------------------------------------
def test_with_two_app_instances_the_learner_chooses_which_serves_and_the_link_carries_it(app):
    at = app("cache-aside")
    assert not [control for control in at.segmented_control if control.key == "cache-aside:via:widget"]
    settings(at, "cache-aside", near_ttl=10)
    close_settings(at, "cache-aside")
    via = at.segmented_control(key="cache-aside:via:widget")
    assert via.options == ["App 1", "App 2"] and via.value == "A"
    via.set_value("B").run()
    send(at, "cache-aside", "read", "user:1")
    lab = at.session_state["learner"].lab("cache-aside")
    read = lab.request(max(lab.log))
    assert read.client == "B" and read.steps[0].source == "App 2"
    assert at.query_params["do"][-1] == "rB~user:1"
    link = at.query_params["do"]

    again = app("cache-aside", do=link)                     # the link replays it on App 2, and says so
    replayed = again.session_state["learner"].lab("cache-aside")
    assert replayed.request(max(replayed.log)).steps[0].source == "App 2"
    assert again.segmented_control(key="cache-aside:via:widget").value == "B"
    presenting = app("cache-aside", do=link, present="1")  # a slide has no Read or Write: nothing to send via
    assert not [control for control in presenting.segmented_control if control.key == "cache-aside:via:widget"]

    settings(at, "cache-aside", near_ttl=0)                 # one app instance again: no choice, client A sends
    close_settings(at, "cache-aside")
    assert not [control for control in at.segmented_control if control.key == "cache-aside:via:widget"]
    send(at, "cache-aside", "read", "user:2")
    assert lab.request(max(lab.log)).client == "A"
