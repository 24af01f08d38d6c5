"""Guided scenarios: a scripted sequence of real requests, time jumps and faults, recorded as scenes.

A scenario resets a lab to a known state (seeded database, empty cache, clock at 0), sets the pattern's
knobs, then runs its script through a `Director`. The director only decides *what* happens and in which
order — which client takes the next step, when time jumps, when a component fails — and every outcome is
what the pattern's own code did against the real cache and database. The same scenario therefore always
records the same steps.

What the learner steps through is a list of `Scene`s (scene.py): the steps that belong on one diagram (two clients'
interleaved requests, a stampede of readers), in the order they were performed, with the scenario's own
captions attached to the step they start at. A free request is a scene of one request; the page's
two-client mode builds its scene as the learner advances each client.

Every number a caption or the "what you saw" paragraph quotes is a field filled in from the run (its
`figures`), after the script has run; a scenario also states those figures as data (`claims`), and the tests
check each claim against the run, so a text that no longer matches what the code does fails a test.

Transitions a script may make (director → lab):
    scene(id)            close the current scene; the next steps start a new one, captioned `id`
    say(id)              a caption from the next step on (say(id, at=step): from that step on)
    read / write / report / flush     a request run to its end
    start_read / start_write → Request; step(request, n); finish(request); round_robin(requests)
    side_by_side(reads)  reads arriving at given moments, overlapping in time as on a real server
    advance_time(s)      the clock and every TTL move; expiries and due flushes are recorded
    wait(s)              the clock moves, expiries and due work are recorded; Redis's TTLs are left as they are
    faults(cache_down=, db_down=)      a fault on or off (restored when the script ends)
    crash()              the cache restarts empty
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import cache, cached_property
from pathlib import Path
from typing import Any

from .assets import fill
from .history import LOG_LIMIT
from .lab import Lab
from .narration import shorten
from .request import Request
from .scene import Scene
from .series import Series
from .trace import Step, Trace
from .validation import InvalidInput

SCENARIO_FILE = Path(__file__).resolve().parent.parent / "assets" / "scenarios.md"


# ---- scenario texts ----------------------------------------------------------------------------------
@cache
def scenario_texts() -> dict[str, dict[str, str]]:
    """slug -> {part -> text}, from the '## slug' / '### part' sections of assets/scenarios.md."""
    found: dict[str, dict[str, str]] = {}
    for chunk in SCENARIO_FILE.read_text(encoding="utf-8").split("\n## ")[1:]:
        slug, _, body = chunk.partition("\n")
        parts: dict[str, str] = {}
        for part in ("\n" + body).split("\n### ")[1:]:
            name, _, text = part.partition("\n")
            parts[name.strip()] = " ".join(line.strip() for line in text.strip().splitlines() if line.strip())
        found[slug.strip()] = parts
    return found


def text_of(slug: str, part: str, **fields: Any) -> str:
    template = scenario_texts()[slug][part]
    return fill(template, {name: _field(value) for name, value in fields.items()})


def _field(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


# ---- the director -------------------------------------------------------------------------------------
class Director:
    """Runs a scenario's script on a lab and cuts what it records into captioned scenes."""

    def __init__(self, lab: Lab, slug: str) -> None:
        self.lab = lab
        self.slug = slug
        self.scenes: list[Scene] = []
        self._start_seq = lab.last_seq
        self._captions: list[tuple[int, str]] = []     # (seq after which it applies, text)
        self._faults: dict[str, bool] = {}
        lab.log_limit = math.inf       # every request of the run stays in the log, so every scene replays

    # -- captions and scenes
    def say(self, part: str, *, at: Step | None = None) -> None:
        """Caption the steps from the next one on (or from step `at` on) with the text `part` of this scenario."""
        self._captions.append((self.lab.last_seq if at is None else at.seq - 1, part))

    def scene(self, part: str | None = None) -> None:
        """Close the scene so far; the steps that follow start a new diagram (captioned `part`)."""
        self._close()
        if part is not None:
            self.say(part)

    def _close(self) -> None:
        lab, start, end = self.lab, self._start_seq, self.lab.last_seq
        if end > start:
            traces = [trace for trace in lab.log.values()
                      if trace.steps and trace.steps[-1].seq > start and trace.steps[0].seq <= end]
            steps = [step for step in lab.history if start < step.seq <= end]
            owner = {step.seq: trace.number for trace in traces for step in trace.steps if start < step.seq <= end}
            captions = []
            for after, part in sorted(self._captions, key=lambda caption: caption[0]):
                index = next((i for i, step in enumerate(steps) if step.seq > after), len(steps) - 1)
                captions.append((index, part))
            self.scenes.append(Scene(steps, tuple(trace.number for trace in traces), tuple(captions), owner))
            self._captions = []
        self._start_seq = end

    def finish_script(self) -> list[Scene]:
        self._close()
        lab = self.lab
        lab.log_limit = max(LOG_LIMIT, len(lab.log))     # requests sent afterwards trim the log as usual
        lab.cache_down = False        # faults a script turned on end with it: the page's toggles say "off"
        lab.db.down = False
        return self.scenes

    # -- requests
    def read(self, key: str, client: str = "A") -> Trace:
        return self.lab.read(key, client=client)

    def write(self, key: str, value: str, client: str = "A") -> Trace:
        return self.lab.write(key, value, client=client)

    def report(self, key: str, client: str = "R") -> Trace:
        return self.lab.report(key, client=client)

    def start_read(self, key: str, client: str = "A") -> Request:
        return self.lab.start_read(key, client=client)

    def start_write(self, key: str, value: str, client: str = "A") -> Request:
        return self.lab.start_write(key, value, client=client)

    def step(self, request: Request, count: int = 1) -> list[Step]:
        performed = []
        for _ in range(count):
            step = request.advance()
            if step is None:
                break
            performed.append(step)
        return performed

    def step_until(self, request: Request, done: Callable[[Step], bool]) -> Step | None:
        """Advance `request` until a step satisfies `done` (that step included); None if it finished first."""
        while (step := request.advance()) is not None:
            if done(step):
                return step
        return None

    def finish(self, request: Request) -> Trace:
        return request.run()

    def round_robin(self, requests: Sequence[Request], captions: dict[str, str] | None = None) -> list[Trace]:
        """One step each, in turn, until every request has finished. `captions` maps a narration id to a caption:
        the first step recorded with that id starts it (a long scene says what is happening as it happens)."""
        pending = dict(captions or {})
        while not all(request.done for request in requests):
            for request in requests:
                before = self.lab.last_seq
                request.advance()
                for step in self.lab.history:
                    if step.seq > before and step.note[0] in pending:
                        self.say(pending.pop(step.note[0]), at=step)
        return [request.trace for request in requests]

    def side_by_side(self, reads: Iterable[tuple[float, str, str]],
                     captions: dict[str, str] | None = None) -> list[Trace]:
        """Reads (moment, key, client) that overlap in time, as on a server with many connections: each read
        starts at its moment (simulated seconds, not before now) and takes its own calls' time, and the director
        always performs the call that starts first, at the time its own read has reached (the clock goes back
        to it: the call before may have been another read's, and ended later). Keys expire and background work
        runs at their moments in between. `captions` as in `round_robin`. The clock ends where the last read
        ended. Returns the reads' traces, in the order they arrived."""
        lab = self.lab
        start = lab.clock.now()
        arrivals = sorted((max(moment, start), order, key, client)
                          for order, (moment, key, client) in enumerate(reads))
        pending = dict(captions or {})
        running: list[tuple[float, int, Request]] = []     # (the time its next call starts, arrival order, read)
        started: list[Request] = []
        latest, next_arrival = start, 0
        while next_arrival < len(arrivals) or running:
            if next_arrival < len(arrivals) and (not running or arrivals[next_arrival][0] <= running[0][0]):
                moment, order, key, client = arrivals[next_arrival]
                next_arrival += 1
                latest = max(latest, self._move_to(moment))
                request = lab.start_read(key, client=client)
                started.append(request)
                heapq.heappush(running, (moment, order, request))
                continue
            moment, order, request = heapq.heappop(running)
            latest = max(latest, self._move_to(moment))
            before = lab.last_seq
            step = request.advance()
            latest = max(latest, lab.clock.now())
            if pending and step is not None:
                for later in lab.history[len(lab.history) - (lab.last_seq - before):]:
                    if later.note[0] in pending:
                        self.say(pending.pop(later.note[0]), at=later)
            if not request.done:
                heapq.heappush(running, (lab.clock.now(), order, request))
        lab.clock.advance_to(latest)
        return [request.trace for request in started]

    def _move_to(self, moment: float) -> float:
        """The clock to `moment` for the next call (`side_by_side`): forward, with what expires or falls due
        meanwhile, each at its own moment; back, for a call that starts before the last one ended, then what is
        due by then. Background work that ran meanwhile (a refresh) runs side by side too: the clock comes back
        to `moment` after it. Returns the latest time that work reached."""
        lab = self.lab
        if moment >= lab.clock.now():
            lab.wall_time_passed(moment - lab.clock.now())
        else:
            lab.clock.rewind_to(moment)
            lab.run_due()
        reached = lab.clock.now()
        lab.clock.rewind_to(moment)
        return reached

    # -- time and faults
    def advance_time(self, seconds: float) -> list[Trace]:
        return self.lab.advance_time(seconds)

    def wait(self, seconds: float) -> list[Trace]:
        """Time passes as it does on a page between clicks: keys expire and background work runs, each at its
        moment, and Redis's own TTLs (on the wall clock) are left as they are, never shorter than the lab's. A
        script that brings readers to within milliseconds of an expiry waits, rather than fast-forwards: a
        fast-forward would set Redis's TTLs to those milliseconds of wall time, and a slow run could then see a
        key vanish before its simulated time."""
        return self.lab.wall_time_passed(seconds)

    def faults(self, *, cache_down: bool | None = None, db_down: bool | None = None) -> None:
        if cache_down is not None:
            self.lab.cache_down = cache_down
        if db_down is not None:
            self.lab.db.down = db_down

    def crash(self) -> Trace:
        return self.lab.crash_cache()

    def flush(self) -> Trace:
        return self.lab.flush()      # write-behind only


# ---- scenarios ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Scenario:
    """A guided scenario: its pattern, the knobs it sets (lab attributes), its script, its figures and claims, and
    the rows its database starts with beside the seeded ones.

    `figures(run)` computes, from what the run did, every field its texts quote (captions and the "what you
    saw" paragraph); `claims` states what the texts say those figures are (every field they quote is claimed),
    and a test checks each claim against the run."""

    slug: str
    pattern: str
    knobs: dict[str, Any]
    script: Callable[[Director], None]
    figures: Callable[[ScenarioRun], dict[str, Any]]
    claims: dict[str, Any]
    rows: tuple[tuple[str, str], ...] = ()       # rows the database holds beside its seed, before the script runs
    # The `## section` of assets/scenarios.md its texts are in: its slug, unless a slug that runs on several
    # pages tells a different story on one of them ("read-through/stampede-compare").
    texts: str = ""
    # A chart the page draws beside the scenario, computed from the run (`Series`), or None.
    chart: Callable[[ScenarioRun], Series] | None = None

    # Why it cannot run on a lab's cache (a real server's feature fakeredis lacks), or None: it can.
    unavailable: Callable[[Lab], str | None] = lambda lab: None

    @property
    def section(self) -> str:
        return self.texts or self.slug

    @property
    def title(self) -> str:
        return text_of(self.section, "title")

    @property
    def intro(self) -> str:
        return text_of(self.section, "intro", **self.knobs)


@dataclass
class ScenarioRun:
    """What one run of a scenario recorded: its scenes, the lab it ran on, and the traces it made."""

    scenario: Scenario
    lab: Lab
    scenes: list[Scene]
    first_number: int                  # the first request number the run made

    @property
    def traces(self) -> list[Trace]:
        return [trace for number, trace in self.lab.log.items() if number >= self.first_number]

    @property
    def steps(self) -> list[Step]:
        return [step for scene in self.scenes for step in scene.steps]

    def of(self, operation: str) -> list[Trace]:
        """The run's requests of one kind (read, write, report, flush, crash, expiry), oldest first."""
        return [trace for trace in self.traces if trace.operation == operation]

    def count(self, *, action: str | None = None, target: str | None = None, client: str | None = None,
              outcome: str | None = None, note: str | None = None) -> int:
        return sum(1 for step in self.steps
                   if (action is None or step.action == action) and (target is None or step.target == target)
                   and (client is None or step.client == client) and (outcome is None or step.outcome == outcome)
                   and (note is None or step.note[0] == note))

    @cached_property
    def figures(self) -> dict[str, Any]:
        """Every figure the scenario's texts may quote: its knobs, the lab's counters at the end, and its own
        (computed once, when the script has run)."""
        counters = self.lab.counters
        common = {**self.scenario.knobs, "hits": counters.hits, "misses": counters.misses,
                  "db_reads": counters.db_reads, "db_writes": counters.db_writes, "lost": counters.lost_writes,
                  "stale": counters.stale_reads, "degraded": counters.degraded, "failed": counters.failed,
                  "steps": len(self.steps)}
        return {**common, **self.scenario.figures(self)}

    @property
    def what_you_saw(self) -> str:
        return text_of(self.scenario.section, "summary", **self.figures)

    @cached_property
    def chart(self) -> Series | None:
        """The scenario's chart of this run (database reads per simulated second…), or None."""
        return self.scenario.chart(self) if self.scenario.chart is not None else None


class ScenarioUnavailable(InvalidInput):
    """The scenario needs what this lab's cache lacks; the message says what, and nothing was touched."""


def apply_knobs(lab: Lab, knobs: dict[str, Any]) -> None:
    for name, value in knobs.items():
        if not hasattr(lab, name):
            raise AttributeError(f"{lab.name} has no knob {name!r}")
        setattr(lab, name, value)


def run_scenario(scenario: Scenario, lab: Lab) -> ScenarioRun:
    """Reset `lab`, set the scenario's knobs and play its script; deterministic for a given scenario. A scenario
    that cannot run on this lab's cache raises ScenarioUnavailable, saying why, before anything is touched."""
    if lab.name != scenario.pattern:
        raise ValueError(f"scenario {scenario.slug!r} runs on {scenario.pattern}, not on {lab.name}")
    why = scenario.unavailable(lab)
    if why is not None:
        raise ScenarioUnavailable(why)
    lab.reset(restart_clock=True, rows=scenario.rows)
    apply_knobs(lab, scenario.knobs)
    first = lab.next_number
    director = Director(lab, scenario.slug)
    scenario.script(director)
    run = ScenarioRun(scenario, lab, director.finish_script(), first)
    figures = run.figures
    for scene in run.scenes:          # the captions quote the run's own figures, known now that it has run
        scene.captions = tuple((index, text_of(scenario.section, part, **figures)) for index, part in scene.captions)
    return run


def quoted(text: str | None) -> str:
    return shorten(text)
