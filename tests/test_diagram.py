"""The diagram is a pure function of topology and trace, and learners' text never changes its shape.

The structure checks lay the DOT out with Graphviz's own `dot` (Debian's graphviz package, which
.ci/run installs) and read the SVG it draws, as the browser's renderer would. Every step drawn here is
recorded by the core itself (no hand-made Steps).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import xml.etree.ElementTree as ET

import pytest
from conftest import running_in_ci

from strategies import PATTERNS
from strategies.diagram import ACTIVE, CLIENT_COLORS, FAILED, TODO, build_diagram
from strategies.trace import RESERVED_CLIENTS

SVG = "{http://www.w3.org/2000/svg}"
HOSTILE = [
    'a" -> b [label="x"]; {',
    "<b>html</b>",
    "<script>alert(1)</script>",
    "back\\slash \\N \\l \\G",
    "'; DROP TABLE kv; --",
    "}} subgraph cluster_x { evil }",
    "ключ 😀 עברית e\u0301",
    "line\nbreak\ttab",
]
NUMBERED = re.compile(r'\bx?label="(?:[AB])?(\d+)\. ')


def layout(source: str) -> ET.Element:
    dot = shutil.which("dot")
    if dot is None:
        if running_in_ci():
            pytest.fail("Graphviz's dot is missing in CI: .ci/run must install Debian's graphviz package")
        pytest.skip("Graphviz's dot is not installed")
    svg = subprocess.run([dot, "-Tsvg"], input=source, capture_output=True, text=True, check=True).stdout
    return ET.fromstring(svg)


def shape_of(svg: ET.Element) -> tuple[list[str], list[str]]:
    """The node names and the edges (as "A->B") that Graphviz actually drew."""
    nodes, edges = [], []
    for group in svg.iter(f"{SVG}g"):
        kind = group.get("class", "").split()
        title = group.findtext(f"{SVG}title")
        if "node" in kind:
            nodes.append(title)
        elif "edge" in kind:
            edges.append(re.sub(r":\w+", "", title))   # "Cache:s->Cache:s": a self-loop drawn below its box
    return sorted(nodes), sorted(edges)


def step_arrows(source: str) -> list[tuple[int, list[str]]]:
    """(number, classes) of every numbered step arrow in the DOT, in order (labels may be xlabels)."""
    found = []
    for line in source.splitlines():
        number = NUMBERED.search(line)
        classes = re.search(r'\bclass=(?:"([^"]*)"|(\w+))', line)
        if number and classes:
            found.append((int(number.group(1)), (classes.group(1) or classes.group(2)).split()))
    return found


@pytest.mark.parametrize("name", PATTERNS)
def test_hostile_keys_and_values_never_change_the_shape(lab_for, name):
    options = {"batch_size": 1} if name == "write-behind" else {}   # a write's trace then carries its flush
    benign = lab_for(name, **options)
    benign_write = benign.write("plain", "value")
    benign_read = benign.read("plain")
    expected = shape_of(layout(build_diagram(benign.topology, benign_read, 2).source))
    expected_write = shape_of(layout(build_diagram(benign.topology, benign_write, 2).source))
    assert expected[0] == sorted(a.name for a in benign.topology.actors)
    assert len(expected_write[1]) >= len(benign_write.steps)

    for text in HOSTILE:
        lab = lab_for(name, **options)
        write = lab.write(text, text)
        read = lab.read(text)
        assert read.value == text   # the text itself survives the round trip
        assert [s.action for s in write.steps] == [s.action for s in benign_write.steps]
        assert shape_of(layout(build_diagram(lab.topology, write, 2).source)) == expected_write
        assert shape_of(layout(build_diagram(lab.topology, read, 2).source)) == expected


@pytest.mark.parametrize("name", PATTERNS)
def test_every_step_is_one_numbered_arrow_and_exactly_one_is_active(lab_for, name):
    lab = lab_for(name)
    trace = lab.read("user:1")
    count = len(trace.steps)
    for current in range(1, count + 1):
        source = build_diagram(lab.topology, trace, current).source
        arrows = step_arrows(source)
        assert [number for number, _ in arrows] == list(range(1, count + 1))
        phases = [classes[0] for _, classes in arrows]
        assert phases == ["done"] * (current - 1) + ["active"] + ["todo"] * (count - current)
        assert len(re.findall(r"\bactive\b", source)) == 1
    finished = build_diagram(lab.topology, trace, None).source
    assert {classes[0] for _, classes in step_arrows(finished)} == {"done"}
    assert not re.search(r"\b(active|todo)\b", finished)


def test_the_same_trace_draws_the_same_diagram_in_any_lab(lab_for):
    """A pure function of what was recorded: two labs that did the same thing draw the same figure; the
    step on screen is what changes it."""
    one, two = lab_for("write-through"), lab_for("write-through")
    first, second = one.write("user:1", "Grace"), two.write("user:1", "Grace")
    assert build_diagram(one.topology, first, 3).source == build_diagram(two.topology, second, 3).source
    assert build_diagram(one.topology, first, 3).source != build_diagram(one.topology, first, 4).source
    assert build_diagram(one.topology, first, 3).name != build_diagram(one.topology, first, 4).name


def test_without_a_trace_the_textbook_arrows_are_drawn():
    for name, pattern in PATTERNS.items():
        source = build_diagram(pattern.topology).source
        for arrow in pattern.topology.figure:
            assert re.search(f'label="?{re.escape(arrow.label)}"?[ \\]]', source), (name, arrow.label)
        _, edges = shape_of(layout(source))
        assert set(edges) >= {f"{a.source}->{a.target}" for a in pattern.topology.figure}


def test_failed_steps_are_marked_and_background_steps_dashed(lab_for):
    lab = lab_for("write-behind")
    lab.db.down = True
    lab.write("user:1", "x")
    failed = lab.flush()
    source = build_diagram(lab.topology, failed, 2).source
    [upsert] = [line for line in source.splitlines() if "UPSERT" in line or "INSERT" in line]
    assert 'class="active failed client-f"' in upsert and "✗" in upsert, "a long command is cut, never the failure mark"
    lab.db.down = False
    lab.batch_size = 1
    lab.clock.advance(lab.backoff_seconds)   # past the failed batch's retry time
    write = lab.write("user:2", "y")
    assert [s.background for s in write.steps] == [False] * 3 + [True] * 4
    source = build_diagram(lab.topology, write, 1).source
    assert len(re.findall(r'class="todo background client-f"[^\]]*style=dashed', source)) == 4


def test_work_no_client_asked_for_never_wears_a_clients_colour():
    """The flusher, the cache server, the refresher, an app instance itself and the jobs each have a colour of their
    own, unlike every client's and the step states' (active, failed, still to come)."""
    others = set(CLIENT_COLORS) - RESERVED_CLIENTS
    assert RESERVED_CLIENTS <= set(CLIENT_COLORS) and {"A", "B", "C", "D", "E"} <= others
    colours = list(CLIENT_COLORS.values()) + [ACTIVE, FAILED, TODO]
    assert len(set(colours)) == len(colours), colours


def test_an_eviction_inside_a_read_is_the_cache_servers_arrow(lab_for):
    lab = lab_for("cache-aside", maxmemory=200, maxmemory_policy="allkeys-lru")
    lab.read("user:1")
    lab.read("user:2")
    trace = lab.read("user:3", client="B")
    evictions = [step for step in trace.steps if step.action == "EVICT"]
    assert evictions and all(step.client == "S" for step in evictions)
    source = build_diagram(lab.topology, trace, len(trace.steps)).source
    [line] = [line for line in source.splitlines() if "(evicted)" in line]
    assert re.search(r'\bx?label="S1\. DEL user:\d \(evicted\)"', line), line
    assert "client-s" in line and f'color="{CLIENT_COLORS["S"]}"' in line, line


def test_a_second_client_is_numbered_and_classed_apart(lab_for):
    lab = lab_for("cache-aside")
    trace = lab.read("user:1", client="B")
    source = build_diagram(lab.topology, trace, None).source
    assert [number for number, _ in step_arrows(source)] == list(range(1, len(trace.steps) + 1))
    assert 'label="B1. GET user:1"' in source or 'xlabel="B1. GET user:1"' in source
    assert all("client-b" in classes for _, classes in step_arrows(source))


@pytest.mark.parametrize("name", PATTERNS)
def test_every_step_of_a_request_runs_along_a_lane_of_its_figure(lab_for, name):
    """The figure reserves room for labels on its lanes only: a request's step between two actors that share
    no lane (or an actor the figure lacks) would move the boxes."""
    lab = lab_for(name, **({"batch_size": 2} if name == "write-behind" else {}))
    actors = {actor.name for actor in lab.topology.actors}
    lanes = {frozenset(lane) for lane in lab.topology.lanes}
    traces = [lab.read("user:1"), lab.read("user:1"), lab.read("ghost"), lab.write("user:1", "a"),
              lab.write("user:2", "b"), lab.read("user:2")]
    lab.crash_cache()
    traces.append(lab.read("user:2"))
    lab.db.down = True
    traces += [lab.read("user:3"), lab.write("user:3", "c"), lab.write("user:3", "d")]
    lab.cache_down = True
    traces += [lab.read("user:1"), lab.write("user:1", "e")]
    if name == "write-behind":
        lab.cache_down = lab.db.down = False
        traces.append(lab.flush())
    for trace in traces:
        for step in trace.steps:
            assert {step.source, step.target} <= actors, f"{trace.label}: {step.source} → {step.target}"
            assert frozenset((step.source, step.target)) in lanes, \
                f"{trace.label} step {step.number}: {step.source} → {step.target} is on no lane of {name}"
