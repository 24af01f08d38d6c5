"""The diagram is a pure function of topology and trace, and learners' text never changes its shape.

The structure checks lay the DOT out with Graphviz's own `dot` (Debian's graphviz package, which
.ci/run installs) and read the SVG it draws, as the browser's renderer would. Every step drawn here is
recorded by the core itself (no hand-made Steps). What every pattern's diagram promises (hostile text never
changes its shape, one numbered arrow per step, every step on a lane of its figure) is in the contract suite
(tests/contract.py).
"""

from __future__ import annotations

import re

from diagram_support import layout, shape_of, step_arrows

from strategies import PATTERNS
from strategies.diagram import ACTIVE, CLIENT_COLORS, FAILED, TODO, build_diagram
from strategies.trace import RESERVED_CLIENTS


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
