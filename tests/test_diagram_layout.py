"""Every step of every scenario, laid out: no label runs into another, and the boxes never move.

Each scenario of the catalogue runs on a fresh lab (`run_scenario`); each of its steps is drawn as the page
draws it (`build_diagram(topology, scene.steps, index + 1)`) and laid out by Graphviz's own `dot` (the
diagrams pin every position, `layout=nop2`, so `dot` and the browser's d3-graphviz place everything alike).
Text boxes are measured as the browser draws them: the advance widths of the chart's face (Source Sans,
`diagram_layout.text_width`) at the SVG's font-size, from the ascent to the descent around the baseline.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache

import pytest
from conftest import _real_redis, running_in_ci
from core_support import new_lab

from strategies import PATTERNS
from strategies.diagram import build_diagram, drawn_steps, step_text
from strategies.diagram_layout import LABEL_ROOM, figure_of, text_width
from strategies.scenario import run_scenario
from strategies.scenarios import CATALOGUE, find

SVG = "{http://www.w3.org/2000/svg}"
# Every scenario on every page it runs on (a slug may run on several: cache-aside and read-through).
SLUGS = [pytest.param(f"{scenario.pattern}:{scenario.slug}", id=f"{scenario.pattern}:{scenario.slug}")
         for scenario in CATALOGUE]
EVERY_STEP_UP_TO = 60        # a longer scene (a thousand readers) is drawn at its first and last steps and a sample


def scenario_of(case: str):
    pattern, _, slug = case.partition(":")
    return find(pattern, slug)


def frames_of(count: int) -> list[int]:
    """The steps (1-based) of a scene of `count` steps that are drawn and laid out: all of them, or for a long scene
    its first and last steps and an even sample between (thousands of layouts would take minutes)."""
    if count <= EVERY_STEP_UP_TO:
        return list(range(1, count + 1))
    edge = EVERY_STEP_UP_TO // 3
    stride = max(1, (count - 2 * edge) // edge)
    return sorted({*range(1, edge + 1), *range(edge + 1, count - edge, stride), *range(count - edge + 1, count + 1)})


fresh_lab = new_lab


@contextmanager
def scenario_lab(scenario) -> Iterator:
    """A fresh lab for `scenario`: on a private fakeredis, or — for a scenario needing a real server's feature
    (CLIENT TRACKING) — on the Redis at REDIS_URL under a namespace of its own (skipped locally without it, failed
    in CI), its keys deleted afterwards."""
    lab = fresh_lab(scenario.pattern)
    if scenario.unavailable(lab) is None:
        try:
            yield lab
        finally:
            lab.db.close()
        return
    lab.db.close()
    client = _real_redis()
    lab = fresh_lab(scenario.pattern, cache=client, namespace=f"test:{{{uuid.uuid4().hex}}}:")
    try:
        yield lab
    finally:
        lab.reset()
        lab.db.close()
        client.close()


def lay_out(sources: list[str]) -> list[ET.Element]:
    """Many DOT sources through one run of `dot -Tsvg` (it writes one SVG per graph, in order)."""
    dot = shutil.which("dot")
    if dot is None:
        if running_in_ci():
            pytest.fail("Graphviz's dot is missing in CI: .ci/run must install Debian's graphviz package")
        pytest.skip("Graphviz's dot is not installed")
    out = subprocess.run([dot, "-Tsvg"], input="\n".join(sources), capture_output=True, text=True, check=True).stdout
    svgs = [chunk + "</svg>" for chunk in out.split("</svg>") if "<svg" in chunk]
    assert len(svgs) == len(sources)
    return [ET.fromstring(svg[svg.index("<svg"):]) for svg in svgs]


@cache
def scenario_drawn(case: str) -> tuple[frozenset[str], list[tuple[str, int, str]]]:
    """The actors the scenario's lab draws (its pattern's, as the lab's parts redraw them: two app instances…), and
    (scene number, step number in the scene, DOT) for every step of the scenario (of a long scene, a sample:
    `frames_of`), in order."""
    scenario = scenario_of(case)
    with scenario_lab(scenario) as lab:
        run = run_scenario(scenario, lab)
        return frozenset(actor.name for actor in lab.topology.actors), [
            (number, current, build_diagram(lab.topology, scene.steps, current).source)
            for number, scene in enumerate(run.scenes) for current in frames_of(len(scene.steps))]


def scenario_frames(case: str) -> list[tuple[str, int, str]]:
    return scenario_drawn(case)[1]


def text_boxes(svg: ET.Element) -> list[tuple[str, str, float, tuple[float, float, float, float]]]:
    """(owner's title, text, font size, box) of every text drawn: advance width around its anchor, ascent to
    descent around its baseline."""
    found = []
    for group in svg.iter(f"{SVG}g"):
        if not {"node", "edge"} & set(group.get("class", "").split()):
            continue
        owner = group.findtext(f"{SVG}title")
        for text in group.iter(f"{SVG}text"):
            size, x, y = float(text.get("font-size")), float(text.get("x")), float(text.get("y"))
            width = text_width(text.text or "", size)
            anchor = text.get("text-anchor", "start")
            x0 = x - width / 2 if anchor == "middle" else x - width if anchor == "end" else x
            found.append((owner, text.text or "", size, (x0, y - 0.75 * size, x0 + width, y + 0.22 * size)))
    return found


def collisions(svg: ET.Element) -> list[tuple[str, str]]:
    """Pairs of texts of different boxes or arrows whose boxes meet, or that stand on one line closer than
    a quarter of their font size."""
    boxes = text_boxes(svg)
    found = []
    for number, (owner, text, size, (ax0, ay0, ax1, ay1)) in enumerate(boxes):
        for other, text2, size2, (bx0, by0, bx1, by1) in boxes[number + 1:]:
            if owner == other:
                continue                # the lines of one box's name
            meet = ax0 < bx1 and bx0 < ax1 and ay0 < by1 and by0 < ay1
            one_line = abs((ay0 + ay1) / 2 - (by0 + by1) / 2) < min(ay1 - ay0, by1 - by0) / 2
            apart = max(bx0 - ax1, ax0 - bx1)
            if meet or (one_line and apart < min(size, size2) / 4):
                found.append((text, text2))
    return found


def actor_places(svg: ET.Element) -> dict[str, str]:
    """Each box's drawn outline (its polygon points or path), by actor name, and the drawing's size."""
    places = {"viewBox": svg.get("viewBox"), "transform": svg.find(f"{SVG}g").get("transform")}
    for group in svg.iter(f"{SVG}g"):
        if "node" in group.get("class", "").split():
            shape = group.find(f"{SVG}polygon")
            if shape is None:
                shape = group.find(f"{SVG}path")
            places[group.findtext(f"{SVG}title")] = shape.get("points") or shape.get("d")
    return places


@pytest.mark.parametrize("slug", SLUGS)
def test_no_label_runs_into_another_at_any_step(slug):
    frames = scenario_frames(slug)
    for (scene, step, _), svg in zip(frames, lay_out([dot for _, _, dot in frames]), strict=True):
        assert not collisions(svg), f"{slug}, scene {scene + 1}, step {step}: {collisions(svg)}"


@pytest.mark.parametrize("slug", SLUGS)
def test_the_boxes_stay_where_they_are_at_every_step(slug):
    """Stepping through a scenario moves no box and resizes no drawing: only the arrows change."""
    frames = scenario_frames(slug)
    places = [actor_places(svg) for svg in lay_out([dot for _, _, dot in frames])]
    expected = places[0]
    actors = scenario_drawn(slug)[0]
    assert actors <= set(expected)
    for (scene, step, _), found in zip(frames, places, strict=True):
        assert found == expected, f"{slug}, scene {scene + 1}, step {step} moved: " + ", ".join(
            name for name in expected if found.get(name) != expected[name])


def assert_drawn_in_place(lab, traces) -> dict[str, str]:
    """Every step of `traces` drawn and laid out (each active in turn, then each trace whole) keeps the boxes of the
    lab's figure where its textbook drawing has them, with no label running into another; those places."""
    sources = [build_diagram(lab.topology).source]
    sources += [build_diagram(lab.topology, trace, current).source
                for trace in traces for current in [*range(1, len(trace.steps) + 1), None]]
    svgs = lay_out(sources)
    expected = actor_places(svgs[0])
    for number, svg in enumerate(svgs):
        assert actor_places(svg) == expected, f"drawing {number} moved a box"
        assert not collisions(svg), f"drawing {number}: {collisions(svg)}"
    return expected


@pytest.mark.parametrize("name", PATTERNS)
def test_free_requests_and_faults_draw_the_same_boxes_without_collisions(name):
    """Requests a learner sends by hand (misses, hits, writes, failures, a crash, an expiry, a flush) draw the
    same boxes as the textbook figure, and no label runs into another."""
    lab = fresh_lab(name, **({"batch_size": 2} if name == "write-behind" else {}))
    traces = [lab.read("user:1"), lab.read("user:1"), lab.read("ghost"), lab.write("user:1", "a" * 80),
              lab.write("user:2", "b"), lab.read("user:2"), lab.crash_cache(), lab.read("ключ 😀 " * 6)]
    lab.db.down = True
    traces += [lab.read("user:3"), lab.write("user:3", "c"), lab.write("user:3", "d")]
    lab.db.down, lab.cache_down = False, True
    traces += [lab.read("user:1"), lab.write("user:1", "e")]
    lab.cache_down = False
    traces += lab.advance_time(3600)
    assert_drawn_in_place(lab, traces)
    lab.db.close()


@pytest.mark.parametrize("slug", SLUGS)
def test_every_step_runs_along_a_lane_and_the_current_and_previous_steps_are_drawn(slug):
    """No step of a scenario is on a lane its figure lacks (it could not be drawn), the step on screen and the
    one before it always are, every drawn label fits its room, and a scene that fits is drawn whole."""
    scenario = scenario_of(slug)
    with scenario_lab(scenario) as lab:
        scenes = run_scenario(scenario, lab).scenes
        topology = lab.topology                    # as the scenario's knobs draw it (two app instances…)
    lanes = figure_of(topology).lanes
    for scene in scenes:
        steps = list(scene.steps)
        for step in steps:
            assert frozenset((step.source, step.target)) in lanes, f"{step.source} → {step.target}"
        whole = all(sum(frozenset((s.source, s.target)) == lane for s in steps) <= len(slots)
                    for lane, slots in lanes.items())
        for current in frames_of(len(steps)):
            drawn = drawn_steps(topology, steps, current)
            shown = {item.index for item in drawn}
            assert current - 1 in shown and (current == 1 or current - 2 in shown), (current, sorted(shown))
            assert len({item.slot for item in drawn}) == len(drawn), "two arrows in one slot"
            if whole:
                assert shown == set(range(len(steps))), "a scene that fits is drawn whole"
            else:
                assert max(shown) == current - 1, "a scene that does not fit draws nothing still to come"
            for item in drawn:
                assert text_width(step_text(steps[item.index], 99, named=True)) <= LABEL_ROOM


def test_a_long_command_is_cut_to_its_room_but_never_its_failure_mark(lab_for):
    lab = lab_for("write-behind")
    lab.db.down = True
    lab.write("product:42", "x")
    failed = lab.flush()
    upsert = next(step for step in failed.steps if step.failed)
    text = step_text(upsert, 123, named=True)
    assert text.endswith(" ✗") and text_width(text) <= LABEL_ROOM
    assert re.search(r"\.\s", text)


@pytest.mark.parametrize("name", PATTERNS)
def test_every_topology_keeps_its_label_rooms_apart(name):
    """The figure's geometry itself: label rooms clear of each other, of the boxes and of every arrow
    (`Figure.check`, run again here so that a topology change is caught even without `dot`)."""
    figure = figure_of(PATTERNS[name].topology)
    figure.check()
    assert all(len(slots) >= 1 for slots in figure.lanes.values())
    assert {frozenset(lane) for lane in PATTERNS[name].topology.lanes} == set(figure.lanes)


@pytest.mark.parametrize("name", ["cache-aside", "read-through", "write-through"])
def test_two_app_instances_draw_their_requests_and_faults_without_collisions(name):
    """With near caches on (features/near_cache.py) the figure has two app instances and the Pub/Sub channel:
    both instances' misses, hits, writes and invalidations, a lost subscriber, a crash and expiries draw the same
    boxes, and no label runs into another."""
    leases = {"leases": True} if name == "cache-aside" else {}
    lab = fresh_lab(name, near_ttl=10, near_invalidation="pubsub", **leases)
    traces = [lab.read("user:1", client="A"), lab.read("user:1", client="B"), lab.read("user:1", client="B"),
              lab.write("user:1", "a" * 80, client="B"), lab.near.disconnect("App 1"),
              lab.write("user:1", "b", client="B"), lab.near.reconnect("App 1"), lab.read("ghost", client="A"),
              lab.crash_cache()]
    lab.cache_down = True
    traces += [lab.read("user:2", client="A"), lab.write("user:2", "c", client="A")]
    lab.cache_down = False
    traces += lab.advance_time(3600)
    assert {"App 1", "App 2", "Channel"} <= set(assert_drawn_in_place(lab, traces))
    lab.db.close()
