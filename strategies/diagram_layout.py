"""Where every box, arrow and label of a pattern's figure goes, from its topology alone (no trace, no graphviz).

The figure is a grid of actors (`Topology.rows`). Every lane (a pair of actors a request may connect) owns a
fixed set of slots, each one arrow's path and the room for its label: a lane along a row stacks HSLOTS
arrows between the two boxes, each label above its arrow; a lane down a column holds VSLOTS arrows side by
side, their labels beside them in the gap between the rows; a lane from a box down into another row's box
two columns away (an "L") runs down, then along that row; a box's own lane is two loops over its top. Label
rooms never meet each other, a box or an arrow (`Figure.check` proves it when the figure is made), so
whichever arrows a step draws into its slots, no two labels collide, and the boxes never move.

Sizes are SVG user units (points). Text is measured with the widths of the face the browser draws the
chart in (Streamlit gives every chart text its body font, Source Sans; measured in Chromium at 100 px,
the larger of regular and bold), so a label that fits its room here fits it on screen.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

from .diagram_model import Topology

LABEL_PT = 20.0                  # an arrow's label
ACTOR_PT = 22.0                  # a box's name
LABEL_ROOM = 260.0               # the widest label a slot holds
LABEL_H = 26.0                   # a label's line box
LABEL_GAP = 4.0                  # a label's bottom to its arrow
LINE_GAP = 12.0                  # an arrow to the next slot's label
PITCH = LABEL_H + LABEL_GAP + LINE_GAP
HSLOTS, VSLOTS = 3, 2
BAND_PAD = 10.0                  # a row's box edge to its first label
LANE_MARGIN = 16.0               # a label room to the boxes beside it
SIDE_PAD = 9.0                   # a vertical arrow to its label
LINE_APART = 18.0                # half the distance between a column lane's two arrows
LOOP_RISE = 28.0
LOOP_SLOTS = 2                   # a box's own loops: the step on screen and the one before may both be one
LOOP_INSET, LOOP_APART = 12.0, 6.0
ROW_GAP_PAD = 12.0
MIN_ROW_GAP = 60.0
MIN_BOX_W, BOX_PAD_X = 112.0, 18.0
MIN_BOX_H = 84.0
MARGIN = 14.0
SEPARATION = LABEL_PT / 4 + 1    # labels on one line stay at least a quarter of their size apart
# "App" also names the clients sharing a diagram (A B C D E, or A R): its box has room for that line.
CLIENT_LINES = ("clients", "A B C D E")

# Source Sans, the chart's face in the browser: advance widths of ASCII 32..126 in hundredths of an em.
_ASCII = (20, 34, 54, 53, 53, 86, 67, 30, 34, 34, 46, 53, 30, 33, 30, 35, 53, 53, 53, 53, 53, 53, 53, 53, 53, 53,
          30, 30, 53, 53, 53, 46, 90, 57, 60, 55, 63, 55, 52, 64, 67, 30, 47, 61, 52, 76, 66, 68, 60, 68, 61, 54,
          56, 66, 56, 81, 57, 52, 53, 34, 35, 34, 53, 50, 55, 53, 57, 44, 57, 52, 33, 53, 57, 28, 28, 55, 29, 86,
          57, 55, 57, 57, 40, 44, 36, 57, 52, 78, 51, 52, 46, 34, 27, 34, 53)
_OTHER = {"…": 98, "✗": 56, "∅": 87, "×": 53, "⏎": 84, "·": 30, "→": 62, "←": 62}


def text_width(text: str, size: float = LABEL_PT) -> float:
    """How wide `text` is drawn at `size` (anything unmeasured counts as a full em)."""
    total = sum(_ASCII[ord(ch) - 32] if 32 <= ord(ch) < 127 else _OTHER.get(ch, 100) for ch in text)
    return total * size / 100


Point = tuple[float, float]


@dataclass(frozen=True)
class Rect:
    x0: float
    y0: float
    x1: float
    y1: float

    def meets(self, other: Rect, apart: float = 0.0) -> bool:
        return (self.x0 < other.x1 + apart and other.x0 < self.x1 + apart
                and self.y0 < other.y1 + apart and other.y0 < self.y1 + apart)

    def crosses(self, a: Point, b: Point) -> bool:
        """Does the axis-parallel segment a-b pass through this rectangle?"""
        (ax, ay), (bx, by) = a, b
        return (min(ax, bx) < self.x1 and max(ax, bx) > self.x0
                and min(ay, by) < self.y1 and max(ay, by) > self.y0)

    def moved(self, dx: float, dy: float) -> Rect:
        return Rect(self.x0 + dx, self.y0 + dy, self.x1 + dx, self.y1 + dy)


@dataclass(frozen=True)
class Slot:
    """One arrow's place: its path from `ends[0]`'s box to `ends[1]`'s, and the room for its label; `align`
    says which side of the room the text keeps to ("center", or "left"/"right" beside a column's arrow)."""

    ends: tuple[str, str]
    path: tuple[Point, ...]
    room: Rect
    align: str = "center"

    def moved(self, dx: float, dy: float) -> Slot:
        return Slot(self.ends, tuple((x + dx, y + dy) for x, y in self.path), self.room.moved(dx, dy), self.align)


@dataclass(frozen=True)
class Figure:
    boxes: dict[str, Rect]
    lanes: dict[frozenset[str], tuple[Slot, ...]] = field(default_factory=dict)
    width: float = 0.0
    height: float = 0.0

    def slots(self) -> list[Slot]:
        return [slot for slots in self.lanes.values() for slot in slots]

    def check(self) -> None:
        """Every label room clear of every other, of every box and of every arrow; ValueError otherwise."""
        slots = self.slots()
        for number, slot in enumerate(slots):
            for other in slots[number + 1:]:
                if slot.room.meets(other.room, SEPARATION):
                    raise ValueError(f"label rooms meet: {slot.ends} and {other.ends}")
            for name, box in self.boxes.items():
                if slot.room.meets(box):
                    raise ValueError(f"the label room of {slot.ends} meets the box {name}")
            for other in slots:
                for a, b in zip(other.path, other.path[1:], strict=False):
                    if slot.room.crosses(a, b):
                        raise ValueError(f"the arrow {other.ends} runs through the label of {slot.ends}")


@lru_cache(maxsize=16)
def figure_of(topology: Topology) -> Figure:
    """The figure's fixed geometry (y grows downwards); the same for every step of every request."""
    grid = _Grid(topology)
    figure = grid.build()
    figure.check()
    return figure


class _Grid:
    """Columns first (they fix every x), then the labels between rows (they fix how tall each gap is)."""

    def __init__(self, topology: Topology) -> None:
        width = max(len(row) for row in topology.rows)
        self.rows = [tuple(row) + ("",) * (width - len(row)) for row in topology.rows]
        self.cell = {name: (r, c) for r, row in enumerate(self.rows) for c, name in enumerate(row) if name}
        self.labels = {actor.name: actor.label.split("\n") for actor in topology.actors}
        self.lanes = [frozenset(lane) for lane in dict.fromkeys(frozenset(lane) for lane in topology.lanes)]
        widths = {name: self.box_width(name) for name in self.cell}
        self.column_width = [max((widths[n] for n in col if n), default=0.0) for col in zip(*self.rows, strict=True)]
        gap = LABEL_ROOM + 2 * LANE_MARGIN
        self.cx, x = [], 0.0
        for column in self.column_width:
            self.cx.append(x + column / 2)
            x += column + gap
        self.box_w = widths

    def box_width(self, name: str) -> float:
        lines = self.labels[name] + (list(CLIENT_LINES) if name == "App" else [])
        return max(MIN_BOX_W, max(text_width(line, ACTOR_PT) for line in lines) + 2 * BOX_PAD_X)

    def kind(self, lane: frozenset[str]) -> str:
        if len(lane) == 1:
            return "loop"
        (r0, c0), (r1, c1) = sorted(self.cell[name] for name in lane)
        if r0 == r1 and all(not self.rows[r0][c] for c in range(min(c0, c1) + 1, max(c0, c1))):
            return "row"
        if c0 == c1 and all(not self.rows[r][c0] for r in range(r0 + 1, r1)) and r1 == r0 + 1:
            return "column"
        if r1 > r0 and all(not self.rows[r][c0] for r in range(r0 + 1, r1 + 1)) \
                and all(not self.rows[r1][c] for c in range(min(c0, c1) + 1, max(c0, c1))):
            return "down-across"
        raise ValueError(f"no way to draw the lane {sorted(lane)} on rows {self.rows}")

    def x_span(self, name: str) -> tuple[float, float]:
        c = self.cell[name][1]
        return self.cx[c] - self.box_w[name] / 2, self.cx[c] + self.box_w[name] / 2

    # ---- x first: the lines that cross each gap between rows, and where their labels go -------------------
    def column_lines(self, lane: frozenset[str]) -> list[float]:
        c = self.cell[next(iter(lane))][1]
        return [self.cx[c] - LINE_APART, self.cx[c] + LINE_APART]

    def turn_lines(self, lane: frozenset[str]) -> list[float]:
        """The x of each slot's line down from the upper box, slot 0 (the one that turns highest) nearest the side
        the lane turns to, so that its arrows never cross. A box with several such lanes (an app instance reaching
        both the database and a channel below) shares its bottom among them, HSLOTS lines each, LINE_APART apart:
        lanes turning right to its right, lanes turning left to its left, and the lane that turns lower further
        from its side."""
        upper = min(lane, key=lambda name: self.cell[name][0])
        c = self.cell[upper][1]
        going = {other: self.cell[max(other, key=lambda name: self.cell[name][0])] for other in self.lanes
                 if upper in other and len(other) == 2 and min(other, key=lambda name: self.cell[name][0]) == upper
                 and self.kind(other) == "down-across"}
        right = sorted((other for other, (_, col) in going.items() if col > c), key=lambda other: going[other][0])
        left = sorted((other for other, (_, col) in going.items() if col < c), key=lambda other: -going[other][0])
        order = right + left                   # from the box's right edge leftwards
        count, first = len(order) * HSLOTS, order.index(lane) * HSLOTS
        from_right = [first + i if lane in right else first + HSLOTS - 1 - i for i in range(HSLOTS)]
        return [self.cx[c] + LINE_APART * ((count - 1) / 2 - q) for q in from_right]

    def place_gap_labels(self, gap: int) -> tuple[dict, int]:
        """(lane, slot) -> (x0, x1, sub-row, align) for the column lanes between rows `gap` and `gap+1`."""
        lo = min(self.x_span(name)[0] for name in self.cell)
        hi = max(self.x_span(name)[1] for name in self.cell)
        crossing = [lane for lane in self.lanes if self.kind(lane) == "column"
                    and min(self.cell[n][0] for n in lane) == gap]
        obstacles = [x for lane in crossing for x in self.column_lines(lane)]
        for lane in self.lanes:
            if self.kind(lane) == "down-across" and min(self.cell[n][0] for n in lane) <= gap < max(
                    self.cell[n][0] for n in lane):
                obstacles += self.turn_lines(lane)
        placed: dict = {}
        taken: list[tuple[float, float, int]] = []

        def free_row(x0: float, x1: float) -> int:
            row = 0
            while any(r == row and x0 < t1 + SEPARATION and t0 < x1 + SEPARATION for t0, t1, r in taken):
                row += 1
            return row

        def sides(lane: frozenset[str], slot: int) -> list[tuple[str, float, float]]:
            """Slot 0's label left of the lane, slot 1's right of it; a side off the figure or across another
            lane's arrow only when there is no other."""
            left, right = self.column_lines(lane)
            both = [("right", left - SIDE_PAD - LABEL_ROOM, left - SIDE_PAD),
                    ("left", right + SIDE_PAD, right + SIDE_PAD + LABEL_ROOM)][:: -1 if slot % 2 else 1]
            clear = [side for side in both if not any(side[1] - 4 < x < side[2] + 4 for x in obstacles)]
            return [side for side in clear if side[1] >= lo and side[2] <= hi] or clear

        # Lanes with room on both sides first: their labels then keep to their own sides.
        for lane in sorted(crossing, key=lambda lane: min(len(sides(lane, slot)) for slot in range(VSLOTS)) < 2):
            for slot in range(VSLOTS):
                choices = sides(lane, slot)
                if not choices:
                    raise ValueError(f"no room beside the lane {sorted(lane)}")
                align, x0, x1 = choices[0]
                row = free_row(x0, x1)
                taken.append((x0, x1, row))
                placed[lane, slot] = (x0, x1, row, align)
        return placed, 1 + max((row for _, _, row in taken), default=-1)

    def loop_lines(self, name: str, slot: int) -> tuple[float, float]:
        """A box's two loops over its top: one on its left half, one on its right half (start, end x)."""
        x0, x1 = self.x_span(name)
        middle = (x0 + x1) / 2
        return (x0 + LOOP_INSET, middle - LOOP_APART) if slot == 0 else (middle + LOOP_APART, x1 - LOOP_INSET)

    def place_loop_labels(self, loops: list[str]) -> tuple[dict, int]:
        """(name, slot) -> (x0, sub-row, align): the left loop's label ends above its arrowhead, the right
        loop's starts above its tail, moved back onto the figure where they would leave it."""
        lo = min(self.x_span(name)[0] for name in self.cell)
        hi = max(self.x_span(name)[1] for name in self.cell)
        placed, taken = {}, []
        for name in loops:
            for slot in range(LOOP_SLOTS):
                start, end = self.loop_lines(name, slot)
                x0, align = (end - LABEL_ROOM, "right") if slot == 0 else (start, "left")
                x0 = min(max(x0, lo), hi - LABEL_ROOM)
                row = 0
                while any(r == row and x0 < t1 + SEPARATION and t0 < x0 + LABEL_ROOM + SEPARATION
                          for t0, t1, r in taken):
                    row += 1
                taken.append((x0, x0 + LABEL_ROOM, row))
                placed[name, slot] = (x0, row, align)
        return placed, 1 + max((row for _, _, row in taken), default=-1)

    # ---- then y, and every slot --------------------------------------------------------------------------
    def build(self) -> Figure:
        kinds = {lane: self.kind(lane) for lane in self.lanes}
        loops = [next(iter(lane)) for lane, kind in kinds.items() if kind == "loop"]
        if any(self.cell[name][0] not in (0,) for name in loops):
            raise ValueError("a box's own lane (a loop over its top) must be in the first row")
        loop_labels, loop_rows = self.place_loop_labels(loops)
        gaps = [self.place_gap_labels(gap) for gap in range(len(self.rows) - 1)]
        banded = {self.cell[n][0] for lane, kind in kinds.items() if kind in ("row", "down-across") for n in lane}
        y = (LOOP_RISE + LABEL_GAP + loop_rows * (LABEL_H + LINE_GAP)) if loops else 0.0
        tops, gap_tops = [], []
        for r in range(len(self.rows)):
            tops.append(y)
            y += HSLOTS * PITCH + 2 * BAND_PAD - LINE_GAP if r in banded else MIN_BOX_H
            if r < len(gaps):
                gap_tops.append(y)
                y += max(MIN_ROW_GAP, gaps[r][1] * (LABEL_H + 6) + 2 * ROW_GAP_PAD)
        heights = [(gap_tops[r] if r < len(gap_tops) else y) - tops[r] for r in range(len(self.rows))]
        boxes = {name: Rect(self.x_span(name)[0], tops[r], self.x_span(name)[1], tops[r] + heights[r])
                 for name, (r, _) in self.cell.items()}
        lanes: dict[frozenset[str], tuple[Slot, ...]] = {}
        for lane, kind in kinds.items():
            lanes[lane] = tuple(getattr(self, f"_{kind.replace('-', '_')}")(lane, boxes, tops, gap_tops, gaps,
                                                                           loop_labels))
        return _framed(boxes, lanes)

    def _line_y(self, top: float, i: int) -> float:
        return top + BAND_PAD + LABEL_H + LABEL_GAP + i * PITCH

    def _row(self, lane, boxes, tops, *_):
        left, right = sorted(lane, key=lambda name: self.cell[name][1])
        a, b = boxes[left], boxes[right]
        middle = (a.x1 + b.x0) / 2
        for i in range(HSLOTS):
            y = self._line_y(tops[self.cell[left][0]], i)
            yield Slot((left, right), ((a.x1, y), (b.x0, y)),
                       Rect(middle - LABEL_ROOM / 2, y - LABEL_GAP - LABEL_H, middle + LABEL_ROOM / 2, y - LABEL_GAP))

    def _column(self, lane, boxes, tops, gap_tops, gaps, _):
        upper, lower = sorted(lane, key=lambda name: self.cell[name][0])
        gap = self.cell[upper][0]
        for slot, x in enumerate(self.column_lines(lane)):
            x0, x1, row, align = gaps[gap][0][lane, slot]
            y0 = gap_tops[gap] + ROW_GAP_PAD + row * (LABEL_H + 6)
            yield Slot((upper, lower), ((x, boxes[upper].y1), (x, boxes[lower].y0)), Rect(x0, y0, x1, y0 + LABEL_H),
                       align)

    def _down_across(self, lane, boxes, tops, *_):
        upper, lower = sorted(lane, key=lambda name: self.cell[name][0])
        target = boxes[lower]
        rightwards = self.cell[lower][1] > self.cell[upper][1]
        for i, x in enumerate(self.turn_lines(lane)):
            y = self._line_y(tops[self.cell[lower][0]], i)
            end = target.x0 if rightwards else target.x1
            middle = (x + end) / 2
            yield Slot((upper, lower), ((x, boxes[upper].y1), (x, y), (end, y)),
                       Rect(middle - LABEL_ROOM / 2, y - LABEL_GAP - LABEL_H, middle + LABEL_ROOM / 2, y - LABEL_GAP))

    def _loop(self, lane, boxes, tops, gap_tops, gaps, loop_labels):
        name = next(iter(lane))
        box = boxes[name]
        top = box.y0 - LOOP_RISE
        for slot in range(LOOP_SLOTS):
            start, end = self.loop_lines(name, slot)
            x0, row, align = loop_labels[name, slot]
            y1 = top - LABEL_GAP - row * (LABEL_H + LINE_GAP)
            yield Slot((name, name), ((start, box.y0), (start, top), (end, top), (end, box.y0)),
                       Rect(x0, y1 - LABEL_H, x0 + LABEL_ROOM, y1), align)


def _framed(boxes: dict[str, Rect], lanes: dict[frozenset[str], tuple[Slot, ...]]) -> Figure:
    """Everything moved so that the figure starts at (MARGIN, MARGIN), and the frame's size."""
    rects = list(boxes.values()) + [slot.room for slots in lanes.values() for slot in slots]
    points = [point for slots in lanes.values() for slot in slots for point in slot.path]
    x0 = min([r.x0 for r in rects] + [p[0] for p in points])
    y0 = min([r.y0 for r in rects] + [p[1] for p in points])
    x1 = max([r.x1 for r in rects] + [p[0] for p in points])
    y1 = max([r.y1 for r in rects] + [p[1] for p in points])
    dx, dy = MARGIN - x0, MARGIN - y0
    return Figure({name: box.moved(dx, dy) for name, box in boxes.items()},
                  {lane: tuple(slot.moved(dx, dy) for slot in slots) for lane, slots in lanes.items()},
                  x1 - x0 + 2 * MARGIN, y1 - y0 + 2 * MARGIN)
