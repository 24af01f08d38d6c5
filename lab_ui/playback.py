"""What the diagram shows and which step is current: a list of scenes, stepped frame by frame.

A scene is the steps that belong on one diagram (`strategies.scenario.Scene`): one request, two clients'
interleaved requests, or a scene of a guided scenario. Frames number every step of every scene from 1,
so Step back / Step forward walk across a whole scenario. The playback and its speed live in the page's
state (`state.PageState`), not in the speed widget's key: a widget that is not drawn in some run loses its
state, a preference must not.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from strategies import Step, Trace
from strategies.scenario import Scene
from strategies.series import Series

from .state import PageState

SPEEDS = {"0.5×": 3.0, "1×": 1.5, "2×": 0.75, "4×": 0.4}   # seconds per step
DEFAULT_SPEED = "1×"


@dataclass
class Playback:
    scenes: list[Scene]
    frame: int = 1              # 1-based, across all scenes
    playing: bool = True
    last_move: float = 0.0      # monotonic time of the last step change
    scenario: str | None = None           # the guided scenario's slug, if one is loaded
    summary: str | None = None            # its "what you saw", computed from the run
    chart: Series | None = None           # its chart (database reads per simulated second…), from the run
    clients: dict[str, int] = field(default_factory=dict)   # two-client mode: client -> its request number

    @property
    def total(self) -> int:
        return sum(len(scene.steps) for scene in self.scenes)

    def locate(self) -> tuple[int, Scene, int] | None:
        """(scene number from 0, the scene, the step's index in it) of the current frame."""
        left = min(max(self.frame, 1), self.total)
        for number, scene in enumerate(self.scenes):
            if left <= len(scene.steps):
                return number, scene, left - 1
            left -= len(scene.steps)
        return None

    @property
    def step(self) -> Step | None:
        found = self.locate()
        return found[1].steps[found[2]] if found else None

    @property
    def at_end(self) -> bool:
        return self.frame >= self.total


def playback(page: PageState) -> Playback | None:
    pb = page.playback
    return pb if pb is not None and pb.total else None


def show(page: PageState, pb: Playback) -> None:
    pb.last_move = time.monotonic()
    page.playback = pb


def play(page: PageState, trace: Trace, *, step: int = 1, playing: bool = True) -> None:
    """Play one request from `step`."""
    show(page, Playback([Scene.of(trace)], step, playing))


def speed(page: PageState) -> str:
    return page.speed if page.speed in SPEEDS else DEFAULT_SPEED


def seconds_per_step(page: PageState) -> float:
    return SPEEDS[speed(page)]


def step_by(page: PageState, delta: int) -> None:
    """Step back or forward by hand: playback pauses where the learner put it."""
    pb = playback(page)
    if pb is not None:
        pb.frame = min(max(1, pb.frame + delta), pb.total)
        pb.playing, pb.last_move = False, time.monotonic()


def go_to(page: PageState, frame: int) -> None:
    pb = playback(page)
    if pb is not None:
        pb.frame = min(max(1, frame), pb.total)
        pb.playing, pb.last_move = False, time.monotonic()


def marks(pb: Playback) -> list[int]:
    """The frames where a scene or one of its captions begins, and the last one, in order: where a long scenario
    is worth jumping to (a scene of thousands of steps has a caption where its story turns)."""
    found, before = {pb.total}, 0
    for scene in pb.scenes:
        found.add(before + 1)
        found.update(before + index + 1 for index, _ in scene.captions)
        before += len(scene.steps)
    return sorted(found)


def mark_after(pb: Playback) -> int | None:
    return next((frame for frame in marks(pb) if frame > pb.frame), None)


def mark_before(pb: Playback) -> int | None:
    return next((frame for frame in reversed(marks(pb)) if frame < pb.frame), None)


def jump(page: PageState, forward: bool) -> None:
    """To the next (or previous) scene or caption, or the end; playback pauses there."""
    pb = playback(page)
    if pb is not None:
        found = mark_after(pb) if forward else mark_before(pb)
        if found is not None:
            go_to(page, found)


def toggle(page: PageState) -> None:
    pb = playback(page)
    if pb is not None:
        if not pb.playing and pb.at_end:
            pb.frame = 1          # play a finished request again from the start
        pb.playing, pb.last_move = not pb.playing, time.monotonic()


def tick(pb: Playback, period: float) -> bool:
    """Move one step if the speed says it is time; True if playback has just reached the end."""
    if not pb.playing:
        return False
    if pb.at_end:
        pb.playing = False
        return True
    if time.monotonic() - pb.last_move >= period * 0.9:
        pb.frame += 1
        pb.last_move = time.monotonic()
    return False
