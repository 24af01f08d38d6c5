"""The diagram is a pure function of topology and trace, and learners' text never changes its shape.

The structure checks lay the DOT out with Graphviz's own `dot` (Debian's graphviz package, which
.ci/run installs) and read the SVG it draws, as the browser's renderer would.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET

import fakeredis
import pytest

from strategies import PATTERNS, Database
from strategies.diagram import build_diagram

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


def lab_for(name: str):
    lab = PATTERNS[name](cache=fakeredis.FakeRedis(server=fakeredis.FakeServer(), decode_responses=True),
                         db=Database(":memory:"))
    if name == "write-behind":
        lab.batch_size = 1   # the write's trace then carries its background flush too
    return lab


def layout(source: str) -> ET.Element:
    dot = shutil.which("dot")
    if dot is None:
        if os.environ.get("CI") == "true":
            pytest.fail("Graphviz's dot is missing in CI: .ci/run must install Debian's graphviz package")
        pytest.skip("Graphviz's dot is not installed")
    svg = subprocess.run([dot, "-Tsvg"], input=source, capture_output=True, text=True, check=True).stdout
    return ET.fromstring(svg)


def shape_of(svg: ET.Element) -> tuple[list[str], list[str]]:
    """The node names and the edges (as "A->B") that Graphviz actually drew."""
    groups = svg.iter(f"{SVG}g")
    nodes, edges = [], []
    for group in groups:
        kind = group.get("class", "").split()
        title = group.findtext(f"{SVG}title")
        if "node" in kind:
            nodes.append(title)
        elif "edge" in kind:
            edges.append(re.sub(r":\w+", "", title))   # "Cache:s->Cache:s": a self-loop drawn below its box
    return sorted(nodes), sorted(edges)


@pytest.mark.parametrize("name", PATTERNS)
def test_hostile_keys_and_values_never_change_the_shape(name):
    benign = lab_for(name)
    benign.write("plain", "value")
    expected = shape_of(layout(build_diagram(benign.topology, benign.read("plain"), 2).source))
    expected_write = shape_of(layout(build_diagram(benign.topology, benign.log[0], 2).source))
    actors = sorted(a.name for a in benign.topology.actors)
    assert expected[0] == actors

    for text in HOSTILE:
        lab = lab_for(name)
        write = lab.write(text, text)
        read = lab.read(text)
        assert read.value == text   # the text itself survives the round trip
        assert shape_of(layout(build_diagram(lab.topology, write, 2).source)) == expected_write
        assert shape_of(layout(build_diagram(lab.topology, read, 2).source)) == expected


@pytest.mark.parametrize("name", PATTERNS)
def test_every_step_is_one_numbered_arrow_and_exactly_one_is_active(name):
    lab = lab_for(name)
    trace = lab.read("user:1")
    for current in range(1, len(trace.steps) + 1):
        source = build_diagram(lab.topology, trace, current).source
        classes = re.findall(r'label="(\d+)\. [^"]*"[^\]]*class="?([\w ]+)"?', source)
        assert [int(n) for n, _ in classes] == list(range(1, len(trace.steps) + 1))
        phases = [c.split()[0] for _, c in classes]
        assert phases == ["done"] * (current - 1) + ["active"] + ["todo"] * (len(trace.steps) - current)
        assert source.count("active") == 1
    finished = build_diagram(lab.topology, trace, None).source
    assert "active" not in finished and "todo" not in finished


def test_diagram_is_a_pure_function_of_its_inputs():
    lab = lab_for("write-through")
    trace = lab.write("user:1", "Grace")
    assert build_diagram(lab.topology, trace, 3).source == build_diagram(lab.topology, trace, 3).source
    assert build_diagram(lab.topology, trace, 3).source != build_diagram(lab.topology, trace, 4).source


def test_without_a_trace_the_textbook_arrows_are_drawn():
    for name, pattern in PATTERNS.items():
        source = build_diagram(pattern.topology).source
        for arrow in pattern.topology.figure:
            assert re.search(f'label="?{re.escape(arrow.label)}"?[ \\]]', source), (name, arrow.label)
        _, edges = shape_of(layout(source))
        assert set(edges) >= {f"{a.source}->{a.target}" for a in pattern.topology.figure}


def test_failed_steps_are_marked_and_background_steps_dashed():
    lab = lab_for("write-behind")
    lab.db.down = True
    lab.batch_size = 10
    lab.write("user:1", "x")
    failed = lab.flush()
    source = build_diagram(lab.topology, failed, 2).source
    assert "✗" in source and "failed" in source
    lab.db.down = False
    lab.batch_size = 1
    lab.clock.advance(lab.backoff_seconds)   # past the failed batch's retry time
    source = build_diagram(lab.topology, lab.write("user:2", "y"), 1).source
    assert re.search(r'class="todo background"[^\]]*style=dashed', source)
