"""Guided scenarios: a scripted sequence of real requests, time jumps and faults, recorded as scenes.

A scenario resets a lab to a known state (seeded database, empty cache, clock at 0), sets the pattern's
knobs, then runs its script through a `Director`. The director only decides *what* happens and in which
order — which client takes the next step, when time jumps, when a component fails — and every outcome is
what the pattern's own code did against the real cache and database. The same scenario therefore always
records the same steps.

What the learner steps through is a list of `Scene`s: the steps that belong on one diagram (two clients'
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
    advance_time(s)      the clock and every TTL move; expiries and due flushes are recorded
    faults(cache_down=, db_down=)      a fault on or off (restored when the script ends)
    crash()              the cache restarts empty
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import cache, cached_property
from pathlib import Path
from typing import Any

from .lab import Lab
from .narration import shorten
from .request import Request
from .trace import Step, Trace
from .validation import InvalidInput

SCENARIO_FILE = Path(__file__).resolve().parent.parent / "assets" / "scenarios.md"


# ---- what the learner steps through -----------------------------------------------------------------
@dataclass
class Scene:
    """Steps shown on one diagram, in the order performed; `numbers` are their requests, oldest first.

    `captions` are (index of the first step they apply to, text) — while a scenario's script runs, (index,
    the caption's id), until `run_scenario` fills in its figures; `owner` maps a step's lab-wide `seq` to the
    number of the request that made it."""

    steps: Sequence[Step]
    numbers: tuple[int, ...]
    captions: tuple[tuple[int, str], ...] = ()
    owner: dict[int, int] = field(default_factory=dict)

    @classmethod
    def of(cls, trace: Trace) -> Scene:
        """One request: its own (possibly still growing) list of steps."""
        return cls(trace.steps, (trace.number,), (), {})

    @classmethod
    def of_traces(cls, traces: Iterable[Trace], captions: tuple[tuple[int, str], ...] = ()) -> Scene:
        """Several requests' steps merged in the order they were performed (interleaved clients)."""
        traces = list(traces)
        owner = {step.seq: trace.number for trace in traces for step in trace.steps}
        steps = sorted((step for trace in traces for step in trace.steps), key=lambda step: step.seq)
        return cls(steps, tuple(trace.number for trace in traces), captions, owner)

    def number_of(self, step: Step) -> int:
        """The request that made `step`."""
        return self.owner.get(step.seq, self.numbers[0] if self.numbers else 0)

    def caption_at(self, index: int) -> str | None:
        """The caption in force at step `index` (0-based): the last one that started at or before it."""
        found = None
        for start, text in self.captions:
            if start > index:
                break
            found = text
        return found

    @property
    def clients(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(step.client for step in self.steps))


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
    return template.format_map({name: _field(value) for name, value in fields.items()})


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

    # -- time and faults
    def advance_time(self, seconds: float) -> list[Trace]:
        return self.lab.advance_time(seconds)

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
    """A guided scenario: its pattern, the knobs it sets (lab attributes), its script, its figures and claims.

    `figures(run)` computes, from what the run did, every field its texts quote (captions and the "what you
    saw" paragraph); `claims` states what the texts say those figures are (every field they quote is claimed),
    and a test checks each claim against the run."""

    slug: str
    pattern: str
    knobs: dict[str, Any]
    script: Callable[[Director], None]
    figures: Callable[[ScenarioRun], dict[str, Any]]
    claims: dict[str, Any]
    # Why it cannot run on a lab's cache (a real server's feature fakeredis lacks), or None: it can.
    unavailable: Callable[[Lab], str | None] = lambda lab: None

    @property
    def title(self) -> str:
        return text_of(self.slug, "title")

    @property
    def intro(self) -> str:
        return text_of(self.slug, "intro", **self.knobs)


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
        return text_of(self.scenario.slug, "summary", **self.figures)


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
    lab.reset(restart_clock=True)
    apply_knobs(lab, scenario.knobs)
    first = lab.next_number
    director = Director(lab, scenario.slug)
    scenario.script(director)
    run = ScenarioRun(scenario, lab, director.finish_script(), first)
    figures = run.figures
    for scene in run.scenes:          # the captions quote the run's own figures, known now that it has run
        scene.captions = tuple((index, text_of(scenario.slug, part, **figures)) for index, part in scene.captions)
    return run


def quoted(text: str | None) -> str:
    return shorten(text)
