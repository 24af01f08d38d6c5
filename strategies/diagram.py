"""A pattern's figure as a graphviz.Digraph: a pure function of its topology and a recorded trace.

Graphviz lays nothing out here: `diagram_layout` fixes every box, arrow and label room from the topology
alone, and the DOT carries those positions (`layout=nop2`: nodes at their `pos`, every edge along its
`pos` spline, every label at its `lp`), so the browser's d3-graphviz and Graphviz's own `dot` draw the very
same picture, and the boxes stand still whichever step is shown. Each step is one numbered arrow in one of
its lane's slots; when a scene has more arrows than its lanes hold, the current step, the one before and
then the latest are drawn, and the rest are left to the narration (`drawn_steps`). Its DOT `class` says
where playback stands: `done`, `active` (exactly one, the current step) or `todo`; page CSS animates
`.active`. Learners' keys and values reach the DOT only as escaped, shortened label text, so they can never
change the diagram's structure.

Graphviz's own formatting (quoting, attribute lists) is memoised per line: a diagram is redrawn on every
playback tick, and the same arrows come back again and again.
"""

from __future__ import annotations

import zlib
from collections import Counter
from collections.abc import Sequence
from functools import lru_cache
from typing import NamedTuple

import graphviz

from .diagram_layout import ACTOR_PT, CLIENT_LINES, LABEL_PT, LABEL_ROOM, Slot, figure_of, text_width
from .diagram_model import Topology
from .trace import Step, Trace

INK = "#1f2a33"
DONE = "#2f6f9f"
ACTIVE = "#d9480f"
ACTIVE_TEXT = "#a8380a"     # the active label, darker than its arrow: 5:1 on the page's background
TODO = "#8a96a3"
TODO_TEXT = "#5f6b76"
FAILED = "#c92a2a"
# One colour per client, told apart by their labels too (A1, B1…): blue, purple, green, brown, teal; grey-blue
# for the reporting job that reads the database directly. Work no client asked for has a colour of its own, never
# client A's (trace.RESERVED_CLIENTS): the flusher gold, the cache server raspberry, the refresher olive, an app
# instance's own events grey, the import and warm-up job indigo. (More readers than these, a herd of twenty, share
# client A's blue: their labels tell them apart.)
CLIENT_COLORS = {"A": DONE, "B": "#7b3fa0", "C": "#2b8a3e", "D": "#8f5b1e", "E": "#0b7285", "R": "#5c677d",
                 "F": "#946c00", "S": "#c2255c", "W": "#5c940d", "N": "#495057", "J": "#3b5bdb"}
# The browser draws the chart in Streamlit's own face (Source Sans, whose widths the layout measures) whatever
# this says; it names the face Graphviz's `dot` draws exports with: DejaVu Sans Condensed (Debian's
# fonts-dejavu), about as wide as Source Sans, where plain DejaVu Sans would overrun the label rooms.
FONT = "DejaVu Sans Condensed,Helvetica,Arial,sans-serif"
FONT_SIZES = (LABEL_PT, ACTOR_PT)   # the sizes the page's CSS gives back to the chart's text
ARROW = 0.9                         # arrowsize: graphviz draws a head 10 pt × this long
LABEL_LIMIT = 28                    # characters of a box's line


class Drawn(NamedTuple):
    index: int          # the step's place in the scene
    slot: Slot


def safe_label(*lines: str, limit: int = LABEL_LIMIT) -> str:
    """Label text that DOT shows literally: no HTML label, no escape sequences, one line per item."""
    shown = [line if len(line) <= limit else line[: limit - 1] + "…" for line in lines]
    # Escape backslashes ourselves, then join with DOT's own line break; nohtml keeps "<…>" as text.
    return graphviz.nohtml("\\n".join(text.replace("\\", "\\\\").replace("\n", " ⏎ ") for text in shown))


def fitted(text: str, room: float = LABEL_ROOM, keep: str = "") -> str:
    """`text` + `keep`, cut (with "…") until it is no wider than `room`; `keep` (a failure mark) is never cut."""
    text = text.replace("\n", " ⏎ ")
    if text_width(text + keep) <= room:
        return text + keep
    while text and text_width(text + "…" + keep) > room:
        text = text[:-1]
    return text.rstrip() + "…" + keep


def step_text(step: Step, ordinal: int | None = None, *, named: bool | None = None) -> str:
    """"3. GET user:1", or "B2. GET user:1" when several clients share the diagram (`named`), fitted to a slot."""
    ordinal = step.number if ordinal is None else ordinal
    named = step.client != "A" if named is None else named
    number = f"{step.client}{ordinal}." if named else f"{ordinal}."
    return fitted(f"{number} {step.command}", keep=" ✗" if step.failed else "")


def step_label(step: Step, ordinal: int | None = None, *, named: bool | None = None) -> str:
    return safe_label(step_text(step, ordinal, named=named), limit=10_000)


def drawn_steps(topology: Topology, steps: Sequence[Step], current: int | None) -> list[Drawn]:
    """Which steps get an arrow, and in which slot. When every lane has room for all of its steps, all are
    drawn (those to come too). Otherwise the current step, the one before it and then the latest ones before
    those, as many as each lane holds; the steps to come are not drawn. Within a lane the drawn steps fill its
    slots in the order they happened."""
    figure = figure_of(topology)
    if not steps:
        return []
    here = len(steps) - 1 if current is None else min(max(current, 1), len(steps)) - 1
    # A scene may have thousands of steps on a handful of lanes: one lane object per pair of boxes, counted in C,
    # and the walk back from the current step stops once every lane's slots are taken.
    lane_of: dict[tuple[str, str], frozenset[str]] = {}
    lanes = [lane_of.get(pair) or lane_of.setdefault(pair, frozenset(pair))
             for pair in ((step.source, step.target) for step in steps)]
    counts = Counter(lanes)
    fits = all(count <= len(figure.lanes.get(lane, ())) for lane, count in counts.items())
    order = list(range(here, -1, -1)) + (list(range(here + 1, len(steps))) if fits else [])
    room = sum(min(count, len(figure.lanes.get(lane, ()))) for lane, count in counts.items())
    chosen: dict[frozenset[str], list[int]] = {}
    taken = 0
    for index in order:
        if taken == room:
            break
        slots = figure.lanes.get(lanes[index])
        picked = chosen.setdefault(lanes[index], [])
        if slots is not None and len(picked) < len(slots):
            picked.append(index)
            taken += 1
    return sorted(Drawn(index, slot) for lane, picked in chosen.items()
                  for slot, index in zip(figure.lanes.get(lane, ()), sorted(picked), strict=False))


def build_diagram(topology: Topology, trace: Trace | Sequence[Step] | None = None,
                  current: int | None = None) -> graphviz.Digraph:
    """The figure of `topology`, with the steps of `trace` (a request, or a scene's steps in the order
    performed) as numbered arrows and step `current` (1-based) active. Without steps, the textbook's own
    numbered arrows are drawn. When several clients share the steps, each step is numbered among its
    client's (A1, A2, B1…) and the App box names them."""
    steps = list(trace.steps if isinstance(trace, Trace) else trace or ())
    active = steps[current - 1] if steps and current and 1 <= current <= len(steps) else None
    involved = frozenset((active.source, active.target)) if active else frozenset()
    clients = tuple(dict.fromkeys(step.client for step in steps))
    named = len(clients) > 1 or (len(clients) == 1 and clients[0] != "A")
    # The App box names the clients that act from it, in letter order (A B C, whichever acted first); a worker
    # (the flusher, "F") is numbered apart but is none.
    senders = tuple(sorted(dict.fromkeys(step.client for step in steps if step.source == "App")))
    body = list(_frame(topology, involved, senders if named else ()))
    height = figure_of(topology).height
    if steps:
        counted: dict[str, int] = {}
        ordinals = []
        for step in steps:
            counted[step.client] = counted.get(step.client, 0) + 1
            ordinals.append(counted[step.client])
        for index, slot in drawn_steps(topology, steps, current):
            step = steps[index]
            phase = "active" if step is active else "todo" if current is not None and index + 1 > current else "done"
            body.append(_arrow_line(slot, height, step.source, step_text(step, ordinals[index], named=named), phase,
                                    step.failed, step.background, step.client))
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


def _at(x: float, y: float, height: float) -> str:
    """A point as DOT's `pos` wants it: points, with y growing upwards."""
    return f"{x:.1f},{height - y:.1f}"


@lru_cache(maxsize=256)
def _frame(topology: Topology, involved: frozenset[str], clients: tuple[str, ...] = ()) -> tuple[str, ...]:
    """Everything but the arrows: graph style, the actors at their places (lit when the current step involves
    them), and two invisible corners that hold the drawing's size whatever its arrows."""
    figure = figure_of(topology)

    def build(graph: graphviz.Digraph) -> None:
        graph.attr(layout="nop2", bgcolor="transparent", pad="0.05", outputorder="edgesfirst", fontname=FONT)
        graph.attr("node", shape="box", style="rounded,filled", fillcolor="white", color=INK, fontname=FONT,
                   fontcolor=INK, fontsize=f"{ACTOR_PT:g}", penwidth="1.5", fixedsize="true")
        graph.attr("edge", fontname=FONT, fontsize=f"{LABEL_PT:g}", arrowsize=f"{ARROW:g}")
        for actor in topology.actors:
            box = figure.boxes[actor.name]
            lit = actor.name in involved
            lines = actor.label.split("\n")
            if actor.name == "App" and clients:
                lines += [CLIENT_LINES[0], client_line(clients)]
            graph.node(actor.name, label=safe_label(*lines), shape=actor.shape,
                       pos=_at((box.x0 + box.x1) / 2, (box.y0 + box.y1) / 2, figure.height),
                       width=f"{(box.x1 - box.x0) / 72:.3f}", height=f"{(box.y1 - box.y0) / 72:.3f}",
                       style="filled" if actor.shape == "cylinder" else "rounded,filled",
                       fillcolor="#fff1dc" if lit else "white", penwidth="2.6" if lit else "1.5",
                       **{"class": "actor involved" if lit else "actor"})
        for corner, (x, y) in (("frame_nw", (0.0, 0.0)), ("frame_se", (figure.width, figure.height))):
            graph.node(corner, label="", shape="point", style="invis", width="0.01", fixedsize="true",
                       pos=_at(x, y, figure.height))

    return _lines(build)


def client_line(clients: tuple[str, ...]) -> str:
    """The clients the App box names: all of them ("A B C D E"), or, when more than its line holds, the first
    and the last and how many ("A … Z (20)")."""
    if len(clients) <= len(CLIENT_LINES[1].split()):
        return " ".join(clients)
    return f"{clients[0]} … {clients[-1]} ({len(clients)})"


@lru_cache(maxsize=64)
def _figure_lines(topology: Topology) -> tuple[str, ...]:
    """The textbook's own arrows, in the slots the steps use."""
    figure = figure_of(topology)
    taken: dict[frozenset[str], int] = {}
    lines = []
    for arrow in topology.figure:
        lane = frozenset((arrow.source, arrow.target))
        slots = figure.lanes.get(lane, ())
        if taken.get(lane, 0) >= len(slots):
            continue
        slot = slots[taken.get(lane, 0)]
        taken[lane] = taken.get(lane, 0) + 1
        lines.append(_arrow_line(slot, figure.height, arrow.source, fitted(arrow.label), "figure", False,
                                 arrow.background, "A"))
    return tuple(lines)


def _spline(path: tuple[tuple[float, float], ...], height: float) -> str:
    """A polyline as DOT's edge `pos`: its arrowhead's tip, then cubic Bézier points whose controls lie on each
    segment (so every segment stays straight); the last segment stops where the arrowhead begins."""
    tip, before = path[-1], path[-2]
    length = max(abs(tip[0] - before[0]) + abs(tip[1] - before[1]), 1e-6)
    shorter = min(10 * ARROW, length - 1)
    end = (tip[0] - (tip[0] - before[0]) * shorter / length, tip[1] - (tip[1] - before[1]) * shorter / length)
    points = list(path[:-1]) + [end]
    spline = [points[0]]
    for a, b in zip(points, points[1:], strict=False):
        spline += [(a[0] + (b[0] - a[0]) / 3, a[1] + (b[1] - a[1]) / 3),
                   (a[0] + 2 * (b[0] - a[0]) / 3, a[1] + 2 * (b[1] - a[1]) / 3), b]
    return "e," + _at(*tip, height) + " " + " ".join(_at(x, y, height) for x, y in spline)


def label_point(slot: Slot, text: str) -> tuple[float, float]:
    """Where graphviz centres the label's text: the middle of its room, or beside a column's arrow."""
    room, width = slot.room, text_width(text)
    x = {"left": room.x0 + width / 2, "right": room.x1 - width / 2}.get(slot.align, (room.x0 + room.x1) / 2)
    return x, (room.y0 + room.y1) / 2


@lru_cache(maxsize=8192)
def _arrow_line(slot: Slot, height: float, source: str, text: str, phase: str, failed: bool, background: bool,
                client: str) -> str:
    forward = slot.ends[0] == source
    path = slot.path if forward else slot.path[::-1]
    tail, head = slot.ends if forward else slot.ends[::-1]
    color = {"done": CLIENT_COLORS.get(client, DONE), "active": ACTIVE, "todo": TODO, "figure": INK}[phase]
    text_color = {"active": ACTIVE_TEXT, "todo": TODO_TEXT}.get(phase, INK)
    if failed and phase != "todo":
        color = text_color = FAILED
    classes = [phase] + (["failed"] if failed else []) + (["background"] if background else [])
    if client != "A":
        classes.append(f"client-{client.lower()}")
    label_x, label_y = label_point(slot, text)
    [line] = _lines(lambda graph: graph.edge(
        tail, head, label=safe_label(text, limit=10_000), pos=_spline(path, height), lp=_at(label_x, label_y, height),
        color=color, fontcolor=text_color, style="dashed" if background else "solid",
        penwidth={"active": "3.5", "done": "2.2", "figure": "2"}.get(phase, "1.4"), **{"class": " ".join(classes)}))
    return line
