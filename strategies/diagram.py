"""A pattern's figure as a graphviz.Digraph: a pure function of its topology and a recorded trace.

Layout comes from the topology alone, so the boxes keep their places whichever request is drawn:
invisible edges order its rows, every step's arrow has `constraint=false`, and each of the topology's
lanes carries an invisible arrow both ways whose label is as wide as the widest step label, so room for
labels is reserved whether or not a request uses that lane. Each step is one numbered arrow; its DOT
`class` says where playback stands: `done`, `active` (exactly one, the current step) or `todo`. Page CSS
animates `.active` (st.graphviz_chart draws inline SVG and keeps the classes). Learners' keys and values
reach the DOT only as escaped, shortened label text, so they can never change the diagram's structure.

Graphviz's own formatting (quoting, attribute lists) is memoised per line: a diagram is redrawn on every
playback tick, and the same arrows come back again and again.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from functools import lru_cache

import graphviz

from .diagram_model import Topology
from .trace import Step, Trace

INK = "#1f2a33"
DONE = "#2f6f9f"
ACTIVE = "#d9480f"
TODO = "#8a96a3"
FAILED = "#c92a2a"
# One colour per client, told apart by their labels too (A1, B1…): blue, purple, green, brown, teal; grey-blue
# for the reporting job that reads the database directly.
CLIENT_COLORS = {"A": DONE, "B": "#7b3fa0", "C": "#2b8a3e", "D": "#8f5b1e", "E": "#0b7285", "R": "#5c677d"}
WINDOW = 12                 # a long scene shows its last WINDOW steps up to the current one
FONT = "Helvetica,Arial,sans-serif"
LABEL_LIMIT = 28
LANE_RESERVE = "0" * 27     # as wide as a LABEL_LIMIT-character label of commands and keys
MARGIN_INCHES = "2.2"       # beside a box whose arrows' labels are placed after the layout


def safe_label(*lines: str, limit: int = LABEL_LIMIT) -> str:
    """Label text that DOT shows literally: no HTML label, no escape sequences, one line per item."""
    shown = [line if len(line) <= limit else line[: limit - 1] + "…" for line in lines]
    # Escape backslashes ourselves, then join with DOT's own line break; nohtml keeps "<…>" as text.
    return graphviz.nohtml("\\n".join(text.replace("\\", "\\\\").replace("\n", " ⏎ ") for text in shown))


def step_label(step: Step, ordinal: int | None = None, *, named: bool | None = None) -> str:
    """"3. GET user:1", or "B2. GET user:1" when several clients share the diagram (`named`)."""
    ordinal = step.number if ordinal is None else ordinal
    named = step.client != "A" if named is None else named
    number = f"{step.client}{ordinal}." if named else f"{ordinal}."
    mark = " ✗" if step.failed else ""
    text = f"{number} {step.command}"
    if mark and len(text) + len(mark) > LABEL_LIMIT:      # cut the command, never the failure mark
        text = text[: LABEL_LIMIT - len(mark) - 1] + "…"
    return safe_label(text + mark)


def build_diagram(topology: Topology, trace: Trace | Sequence[Step] | None = None, current: int | None = None, *,
                  compact: bool = False) -> graphviz.Digraph:
    """The figure of `topology`, with the steps of `trace` (a request, or a scene's steps in the order
    performed) as numbered arrows and step `current` (1-based) active. Without steps, the textbook's own
    numbered arrows are drawn. When several clients share the steps, each step is numbered among its
    client's (A1, A2, B1…), the App box names them, and a long scene shows only its latest steps."""
    steps = list(trace.steps if isinstance(trace, Trace) else trace or ())
    active = steps[current - 1] if steps and current and 1 <= current <= len(steps) else None
    involved = frozenset((active.source, active.target)) if active else frozenset()
    clients = tuple(dict.fromkeys(step.client for step in steps))
    named = len(clients) > 1 or (len(clients) == 1 and clients[0] != "A")
    body = list(_frame(topology, involved, compact, clients if named else ()))
    if steps:
        across = _across_rows(topology)
        counted: dict[str, int] = {}
        ordinals = []
        for step in steps:
            counted[step.client] = counted.get(step.client, 0) + 1
            ordinals.append(counted[step.client])
        first = 0
        if len(steps) > WINDOW and current is not None:
            first = max(0, min(current, len(steps)) - WINDOW)
        for index in range(first, len(steps)):
            step = steps[index]
            phase = "active" if step is active else "todo" if current is not None and index + 1 > current else "done"
            if phase == "todo" and len(steps) > WINDOW:
                continue             # a long scene: what is still to come would crowd the figure
            outside = step.source == step.target or frozenset((step.source, step.target)) in across
            body.append(_step_line(step.source, step.target, step_label(step, ordinals[index], named=named), phase,
                                   step.failed, step.background, step.client, outside))
    else:
        body += _figure_lines(topology)
    graph = graphviz.Digraph("pattern", body=body)
    # A name unique to this drawing: the browser's renderer (d3-graphviz) then draws it afresh
    # instead of morphing the previous drawing into it, which samples every outline point by point.
    graph.name = f"pattern_{zlib.crc32(graph.source.encode()):08x}"
    return graph


def _lines(build) -> tuple[str, ...]:
    """The DOT lines graphviz writes for what `build(graph)` adds to an empty graph."""
    graph = graphviz.Digraph()
    build(graph)
    return tuple(graph.body)


@lru_cache(maxsize=256)
def _frame(topology: Topology, involved: frozenset[str], compact: bool,
           clients: tuple[str, ...] = ()) -> tuple[str, ...]:
    """Everything but the arrows: graph style, the actors (lit when the current step involves them), the
    invisible edges that hold the rows in place, and the lanes' reserved room."""

    def build(graph: graphviz.Digraph) -> None:
        # Edge labels set the width of a row, so fonts are sized against them: the chart is scaled to
        # the page's width and a short, large-lettered figure stays legible at the back of a classroom.
        graph.attr(rankdir="TB", bgcolor="transparent", nodesep="0.5", ranksep="0.6" if compact else "0.9",
                   fontname=FONT, pad="0.1,0.3")
        graph.attr("node", shape="box", style="rounded,filled", fillcolor="white", color=INK, fontname=FONT,
                   fontcolor=INK, fontsize="14" if compact else "20", penwidth="1.5", margin="0.15,0.08")
        graph.attr("edge", fontname=FONT, fontsize="12" if compact else "18", arrowsize="0.8")
        for actor in topology.actors:
            lit = actor.name in involved
            lines = actor.label.split("\n")
            if actor.name == "App" and clients:
                lines.append("clients " + " · ".join(clients))
            graph.node(actor.name, label=safe_label(*lines), shape=actor.shape,
                       style="filled" if actor.shape == "cylinder" else "rounded,filled",
                       fillcolor="#fff1dc" if lit else "white", penwidth="2.6" if lit else "1.5",
                       **{"class": "actor involved" if lit else "actor"})
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
        if not compact:
            across = _across_rows(topology)
            _add_margins(graph, topology)
            for one, other in topology.lanes:
                if frozenset((one, other)) in across:
                    continue           # their labels go outside the layout (xlabel), into the margins
                if one == other:     # a loop's label sits outside the layout; the loop itself keeps its room
                    graph.edge(one, one, style="invis", constraint="false", **_ports(one, one), **{"class": "lane"})
                    continue
                for source, target in ((one, other), (other, one)):
                    graph.edge(source, target, label=LANE_RESERVE, style="invis", constraint="false",
                               **{"class": "lane"})

    return _lines(build)


def _add_margins(graph: graphviz.Digraph, topology: Topology) -> None:
    """Room beside the figure's outermost column where an arrow runs straight up or down it: that arrow's
    label is placed beside it after the layout, and without this room it would widen (and so shrink)
    some drawings but not others."""
    column = {name: index for row in topology.rows for index, name in enumerate(row) if name}
    last = max(len(row) for row in topology.rows) - 1
    vertical = {column[one] for one, other in topology.lanes
                if one != other and column[one] == column[other] and _row(topology, one) != _row(topology, other)}
    for index, side in ((0, "left"), (last, "right")):
        if index not in vertical:
            continue
        end = next(row[index] for row in topology.rows if row[index])
        margin = f"margin_{side}"
        graph.node(margin, label="", shape="box", style="invis", width=MARGIN_INCHES, **{"class": "margin"})
        with graph.subgraph() as same:
            same.attr(rank="same")
            same.edge(*((margin, end) if side == "left" else (end, margin)), style="invis", weight="10")


def _row(topology: Topology, name: str) -> int:
    return next(number for number, row in enumerate(topology.rows) if name in row)


@lru_cache(maxsize=64)
def _figure_lines(topology: Topology) -> tuple[str, ...]:
    across = _across_rows(topology)

    def build(graph: graphviz.Digraph) -> None:
        for arrow in topology.figure:
            outside = arrow.source == arrow.target or frozenset((arrow.source, arrow.target)) in across
            text = {"xlabel" if outside else "label": safe_label(arrow.label)}
            graph.edge(arrow.source, arrow.target, **text, constraint="false",
                       color=INK, fontcolor=INK, style="dashed" if arrow.background else "solid",
                       **_ports(arrow.source, arrow.target), **{"class": "figure"})

    return _lines(build)


def _ports(source: str, target: str) -> dict[str, str]:
    """A self-loop (the cache storing what it loaded or wrote through, a key expiring) sits on top of its
    box, clear of the row and of the arrows to the database below."""
    return {"tailport": "n", "headport": "n"} if source == target else {}


@lru_cache(maxsize=64)
def _across_rows(topology: Topology) -> frozenset[frozenset[str]]:
    """Pairs of actors in different rows: dot would give their labels room of their own, moving the boxes,
    so their labels are placed after the layout (xlabel) instead, as are a loop's."""
    row_of = {name: number for number, row in enumerate(topology.rows) for name in row if name}
    return frozenset(frozenset((a, b)) for a in row_of for b in row_of if row_of[a] != row_of[b])


@lru_cache(maxsize=8192)
def _step_line(source: str, target: str, label: str, phase: str, failed: bool, background: bool,
               client: str, outside: bool) -> str:
    color = {"done": CLIENT_COLORS.get(client, DONE), "active": ACTIVE, "todo": TODO}[phase]
    if failed and phase != "todo":
        color = FAILED
    style = "dashed" if phase == "active" or background else "solid"
    classes = [phase] + (["failed"] if failed else []) + (["background"] if background else [])
    if client != "A":
        classes.append(f"client-{client.lower()}")
    text = {"xlabel": label} if outside else {"label": label}
    [line] = _lines(lambda graph: graph.edge(
        source, target, **text, constraint="false", color=color, **_ports(source, target),
        fontcolor="#5f6b76" if phase == "todo" else INK, style=style,
        penwidth={"active": "3.5", "done": "2"}.get(phase, "1.2"), **{"class": " ".join(classes)}))
    return line
