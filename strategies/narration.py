"""The one-line explanation of every step, written from `assets/narration.md` when somebody reads it.

A step records only a narration id and the few fields its sentence needs; the sentence is formatted
on demand, so recording stays cheap and the learners' text lives in Markdown, not in Python. Keys and
values are the learner's own text: they are quoted and cut to a readable length, never interpreted.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from .assets import fill

if TYPE_CHECKING:
    from .trace import Step

NARRATION_FILE = Path(__file__).resolve().parent.parent / "assets" / "narration.md"
LEARNER_TEXT = frozenset({"key", "value", "old", "new", "found"})   # quoted with shorten()
LIST_LIMIT = 5


def shorten(text: str | None, limit: int = 40) -> str:
    """Text fit for a one-line explanation: repr-quoted and cut with an ellipsis."""
    if text is None:
        return "nothing"
    return repr(text if len(text) <= limit else text[: limit - 1] + "…")


def quote_list(items: tuple | list) -> str:
    """'a', 'b' and 'c' — at most LIST_LIMIT of them, then how many more."""
    shown = [shorten(item) if isinstance(item, str) else str(item) for item in items[:LIST_LIMIT]]
    if len(items) > LIST_LIMIT:
        return ", ".join(shown) + f" and {len(items) - LIST_LIMIT} more"
    return shown[0] if len(shown) == 1 else ", ".join(shown[:-1]) + " and " + shown[-1] if shown else "none"


def plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


@cache
def templates() -> dict[str, str]:
    """Narration id -> sentence template, from the '## id' sections of assets/narration.md."""
    text = NARRATION_FILE.read_text(encoding="utf-8")
    found: dict[str, str] = {}
    for chunk in text.split("\n## ")[1:]:
        name, _, body = chunk.partition("\n")
        lines = [line.strip() for line in body.splitlines() if not line.startswith("# ")]
        found[name.strip()] = " ".join(line for line in lines if line)
    return found


def _field(name: str, value: object) -> str:
    if isinstance(value, (tuple, list)):
        return quote_list(value)
    if isinstance(value, float):
        return f"{value:g}"
    if name in LEARNER_TEXT and (value is None or isinstance(value, str)):
        return shorten(value)
    return str(value)


def explain(step: Step) -> str:
    name, extra = step.note
    fields = {"source": step.source, "target": step.target, "key": shorten(step.key),
              "value": shorten(step.value), "command": step.command}
    if extra:
        fields.update((field, _field(field, value)) for field, value in extra.items())
    return fill(templates()[name], fields)


def explain_warning(name: str, **fields: object) -> str:
    """A sentence from assets/narration.md that is not about one step (a request's warning)."""
    return fill(templates()[name], {field: _field(field, value) for field, value in fields.items()})
