"""The learners' text, from assets/: each pattern's sections, the page's sentences and the home page, read once.

A pattern named "x-y" has its page at pages/x_y.py (its URL path /x_y) and its texts in assets/x_y.md
(`page_file`): nothing here lists the patterns.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from strategies.assets import fill, markdown_sections

ASSETS = Path(__file__).resolve().parent.parent / "assets"


def page_file(pattern: str) -> str:
    """The stem of the pattern's page file, URL path and texts file: its name with underscores."""
    return pattern.replace("-", "_")


@cache
def sections(pattern: str) -> dict[str, str]:
    """The pattern's Markdown from assets/, split on its level-2 headings."""
    return _sections(ASSETS / f"{page_file(pattern)}.md")


@cache
def ui_text() -> dict[str, str]:
    """The page's own sentences (empty states, help texts, summaries), from assets/ui.md."""
    return _sections(ASSETS / "ui.md")


_sections = markdown_sections


def actor(client: str) -> str:
    """Who performed a step: "Client B", or what a non-client actor is ("actor-<letter>" in assets/ui.md:
    the flusher's background work, a reporting job)."""
    return ui_text().get(f"actor-{client}") or f"Client {client}"


@cache
def home_intro() -> tuple[str, str]:
    """The welcome paragraph and the how-to steps from assets/home.md."""
    text = (ASSETS / "home.md").read_text(encoding="utf-8")
    body = text.split("\n", 1)[1] if text.startswith("# ") else text
    intro, _, how_to = body.partition("## How to use this lab")
    return intro.strip(), how_to.strip()


def say(name: str, **fields: object) -> str:
    """One sentence of assets/ui.md, its {fields} filled in."""
    return fill(ui_text()[name], fields)


@cache
def compare_text() -> dict[str, str]:
    """The Compare page's sentences and the summary's templates, from assets/compare.md."""
    return _sections(ASSETS / "compare.md")


def compare_say(name: str, **fields: object) -> str:
    """One sentence of assets/compare.md, its {fields} filled in."""
    return fill(compare_text()[name], fields)
