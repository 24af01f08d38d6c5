"""A pattern's figure as a graphviz.Digraph: a pure function of its topology and a recorded trace.

Layout comes from the topology alone (invisible edges order its rows; every step's arrow has
`constraint=false`), so the boxes never move while a request plays. Each step is one numbered arrow;
its DOT `class` says where playback stands: `done`, `active` (exactly one, the current step) or
`todo`. Page CSS animates `.active` (st.graphviz_chart draws inline SVG and keeps the classes).
Learners' keys and values reach the DOT only as escaped, shortened label text, so they can never
change the diagram's structure.
"""

from __future__ import annotations

import zlib

import graphviz

from .diagram_model import Topology
from .trace import Step, Trace

INK = "#1f2a33"
DONE = "#2f6f9f"
ACTIVE = "#d9480f"
TODO = "#c5ced6"
FAILED = "#c92a2a"
FONT = "Helvetica,Arial,sans-serif"
LABEL_LIMIT = 34


def safe_label(*lines: str, limit: int = LABEL_LIMIT) -> str:
    """Label text that DOT shows literally: no HTML label, no escape sequences, one line per item."""
    shown = [line if len(line) <= limit else line[: limit - 1] + "…" for line in lines]
    # Escape backslashes ourselves, then join with DOT's own line break; nohtml keeps "<…>" as text.
    return graphviz.nohtml("\\n".join(text.replace("\\", "\\\\").replace("\n", " ⏎ ") for text in shown))


def step_label(step: Step) -> str:
    number = f"{step.number}." if step.client == "A" else f"{step.client}{step.number}."
    mark = " ✗" if step.failed else ""
    return safe_label(f"{number} {step.command}{mark}")


def build_diagram(topology: Topology, trace: Trace | None = None, current: int | None = None, *,
                  compact: bool = False) -> graphviz.Digraph:
    """The figure of `topology`, with `trace`'s steps as numbered arrows and step `current` (1-based)
    active. Without a trace, the textbook's own numbered arrows are drawn."""
    graph = graphviz.Digraph("pattern")
    # Edge labels set the width of a row, so fonts are sized against them: the chart is scaled to
    # the page's width and a short, large-lettered figure stays legible at the back of a classroom.
    graph.attr(rankdir="TB", bgcolor="transparent", nodesep="0.5", ranksep="0.6" if compact else "0.9",
               fontname=FONT, pad="0.1")
    graph.attr("node", shape="box", style="rounded,filled", fillcolor="white", color=INK, fontname=FONT,
               fontcolor=INK, fontsize="14" if compact else "18", penwidth="1.5", margin="0.15,0.08")
    graph.attr("edge", fontname=FONT, fontsize="12" if compact else "15", arrowsize="0.8")

    steps = trace.steps if trace else []
    active = steps[current - 1] if steps and current and 1 <= current <= len(steps) else None
    involved = {active.source, active.target} if active else set()
    _add_actors(graph, topology, involved)
    _add_rows(graph, topology)
    if steps:
        for step in steps:
            phase = "todo" if current is not None and step.number > current else "done"
            _add_step(graph, step, "active" if step is active else phase)
    else:
        for arrow in topology.figure:
            graph.edge(arrow.source, arrow.target, label=safe_label(arrow.label), constraint="false",
                       color=INK, fontcolor=INK, style="dashed" if arrow.background else "solid",
                       **_ports(arrow.source, arrow.target), **{"class": "figure"})
    # A name unique to this drawing: the browser's renderer (d3-graphviz) then draws it afresh
    # instead of morphing the previous drawing into it, which samples every outline point by point.
    graph.name = f"pattern_{zlib.crc32(graph.source.encode()):08x}"
    return graph


def _add_actors(graph: graphviz.Digraph, topology: Topology, involved: set[str]) -> None:
    for actor in topology.actors:
        lit = actor.name in involved
        graph.node(actor.name, label=safe_label(*actor.label.split("\n")), shape=actor.shape,
                   style="filled" if actor.shape == "cylinder" else "rounded,filled",
                   fillcolor="#fff1dc" if lit else "white", penwidth="2.6" if lit else "1.5",
                   **{"class": "actor involved" if lit else "actor"})


def _add_rows(graph: graphviz.Digraph, topology: Topology) -> None:
    for row in topology.rows:
        actors = [name for name in row if name]
        with graph.subgraph() as same:
            same.attr(rank="same")
            for left, right in zip(actors, actors[1:], strict=False):
                same.edge(left, right, style="invis", weight="10")
    for upper, lower in zip(topology.rows, topology.rows[1:], strict=False):
        for above, below in zip(upper, lower, strict=False):
            if above and below:
                graph.edge(above, below, style="invis", weight="10")


def _ports(source: str, target: str) -> dict[str, str]:
    """A self-loop (the cache storing what it just wrote through) hangs below its box, clear of the row."""
    return {"tailport": "s", "headport": "s"} if source == target else {}


def _add_step(graph: graphviz.Digraph, step: Step, phase: str) -> None:
    color = {"done": DONE, "active": ACTIVE, "todo": TODO}[phase]
    if step.failed and phase != "todo":
        color = FAILED
    style = "dashed" if phase == "active" or step.background else "solid"
    classes = [phase] + (["failed"] if step.failed else []) + (["background"] if step.background else [])
    if step.client != "A":
        classes.append(f"client-{step.client.lower()}")
    graph.edge(step.source, step.target, label=step_label(step), constraint="false", color=color,
               **_ports(step.source, step.target),
               fontcolor="#9aa6b1" if phase == "todo" else INK, style=style,
               penwidth={"active": "3.5", "done": "2"}.get(phase, "1.2"), **{"class": " ".join(classes)})
