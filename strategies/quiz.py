"""Predict the next step: a question about the step a learner is about to see, made from the real trace.

`question_for(pattern, step, trace, db_value_after)` asks one of three things, by what the step is:

  * the cache answers a GET                -> "hit or miss?" (or does the call fail?)
  * an app instance looks in its near cache -> "a copy of its own, or ask the shared cache?"
  * the last step of a write              -> "will the database hold the new value when it is acknowledged?"
  * a read inside the refresh-ahead window -> "what does the cache do about it?" (refresh, or one is on its way)
  * a warm-up stores its keys             -> "when will they expire?" (together, or each at its own moment)
  * anything else                          -> "which arrow comes next?"

The right answer is what the lab really did. The wrong choices are never made up: "which arrow" draws
them from the arrows this pattern really draws (`pattern_arrows`, recorded once from a short run of the
pattern's own code) and from the scene on screen, so every choice is a plausible arrow of the figure.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from functools import cache

import fakeredis

from .database import Database
from .trace import Step, Trace

MAX_CHOICES = 4
WARM_UP_NOTES = ("warm-up-set", "warm-up-set-jitter", "warm-up-set-forever")


@dataclass(frozen=True)
class Question:
    kind: str                     # "hit", "db", "refresh", "expiry" or "arrow"
    prompt: str
    choices: tuple[str, ...]
    answer: int                   # index of the right choice
    why: str                      # said after the answer: the step's own explanation

    def is_right(self, chosen: str | None) -> bool:
        return chosen == self.choices[self.answer]


def arrow_text(source: str, target: str, action: str) -> str:
    return f"{source} → {target}: {action}"


@cache
def pattern_arrows(pattern: str) -> tuple[tuple[str, str, str], ...]:
    """Every (source, target, action) the pattern's code draws in a short, typical run (misses, hits, a
    write, a read of a missing key, a flush), on a private fakeredis and an in-memory SQLite."""
    from . import PATTERNS  # the package imports this module's neighbours: import it when asked

    db = Database(":memory:")
    lab = PATTERNS[pattern](cache=fakeredis.FakeRedis(server=fakeredis.FakeServer(), decode_responses=True), db=db)
    traces = [lab.read("user:1"), lab.read("user:1"), lab.write("user:1", "new"), lab.read("user:1"),
              lab.read("no-such-key")]
    if hasattr(lab, "flush"):
        traces.append(lab.flush())
    db.close()
    return tuple(sorted({(s.source, s.target, s.action) for t in traces for s in t.steps}))


def question_for(pattern: str, step: Step, trace: Trace | None, db_value_after: str | None = None,
                 scene: list[Step] | None = None) -> Question:
    """The question to ask before `step` is shown; `db_value_after` is the database's value of the step's
    key right after it (for the write question); `scene` the steps drawn with it (more distractors)."""
    if step.source == "Cache" and step.action == "REPLY" and step.outcome in ("hit", "miss") \
            or (step.target == "Cache" and step.action == "GET" and step.failed):
        return _hit_or_miss(step)
    if step.action == "LOOKUP" and step.source == step.target:
        return _near_copy(step)
    if trace is not None and trace.operation == "write" and trace.steps and trace.steps[-1] is step \
            and trace.value is not None:
        return _database_holds(step, trace, db_value_after)
    if step.action == "REFRESH":
        return _refresh_ahead(step)
    if step.note[0] in WARM_UP_NOTES:
        return _warm_up(step)
    return _which_arrow(pattern, step, scene or [])


def _hit_or_miss(step: Step) -> Question:
    key = step.key or "the key"
    choices = (f"Hit: the cache holds {key}", f"Miss: the cache does not hold {key}",
               "The call fails: the cache does not answer")
    answer = 2 if step.failed else 0 if step.outcome == "hit" else 1
    return Question("hit", f"The app asks the cache for {key}. What does the cache answer?", choices, answer,
                    step.explanation)


def _near_copy(step: Step) -> Question:
    """An app instance looks in its own near cache (features/near_cache.py): does it hold a copy?"""
    app, key = step.source, step.key or "the key"
    choices = (f"A copy: {app} serves {key} from its own memory", f"No copy: {app} asks the shared cache")
    return Question("near", f"{app} looks for {key} in its own near cache. What does it find?", choices,
                    0 if step.outcome == "hit" else 1, step.explanation)


def _database_holds(step: Step, trace: Trace, db_value_after: str | None) -> Question:
    holds = db_value_after == trace.value
    choices = ("Yes: the database holds it when the write is acknowledged",
               "No: the database does not hold it yet (or at all)")
    return Question("db", f"The write of {trace.value!r} to {trace.key} is about to finish. "
                          "Will the database hold the new value when it is acknowledged?",
                    choices, 0 if holds else 1, step.explanation)


def _refresh_ahead(step: Step) -> Question:
    fields = step.note[1]
    key = step.key or "the key"
    choices = ("It hands a refresh to the background; this reader already has its value",
               "Nothing more: a refresh of it is already on its way",
               "It makes this reader wait while the value is reloaded")
    return Question("refresh", f"This read found {key} with {fields['left']:g} s of its {fields['ttl']} s left, inside "
                               f"the refresh-ahead window (the last {fields['window']:g} s). What happens now?",
                    choices, 0 if step.note[0] == "refresh-ahead-scheduled" else 1, step.explanation)


def _warm_up(step: Step) -> Question:
    choices = ("All in the same moment, one TTL from now", "Each at its own moment, within the TTL's jitter",
               "Never: a warm-up sets no TTL")
    return Question("expiry", f"A warm-up job is about to store {step.note[1]['rows']} keys in one pipeline, with the "
                              "TTL this page's settings give a fill. When will they expire?",
                    choices, 2 if step.note[1]["shortest"] is None else 0 if step.note[0] == "warm-up-set" else 1,
                    step.explanation)


def _which_arrow(pattern: str, step: Step, scene: list[Step]) -> Question:
    right = arrow_text(step.source, step.target, step.action)
    pool = {arrow_text(*arrow) for arrow in pattern_arrows(pattern)}
    pool |= {arrow_text(s.source, s.target, s.action) for s in scene}
    pool.discard(right)
    # Prefer arrows that start or end where the right one does: they are the ones a learner may confuse.
    near = sorted(a for a in pool if a.startswith(f"{step.source} →") or f"→ {step.target}:" in a)
    far = sorted(pool - set(near))
    rng = random.Random(step.seq * 7919 + step.number)
    wrong = rng.sample(near, min(len(near), MAX_CHOICES - 1))
    if len(wrong) < MAX_CHOICES - 1 and far:
        wrong += rng.sample(far, min(len(far), MAX_CHOICES - 1 - len(wrong)))
    choices = [right, *wrong]
    rng.shuffle(choices)
    return Question("arrow", "Which arrow comes next?", tuple(choices), choices.index(right), step.explanation)
