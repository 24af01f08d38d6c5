"""The learners' text lives in assets/ as Markdown, one `## id` section per sentence or passage."""

from __future__ import annotations

from pathlib import Path

ASSETS = Path(__file__).resolve().parent.parent / "assets"


def markdown_sections(path: Path) -> dict[str, str]:
    """Section id -> its body (stripped), from the `## id` headings of a Markdown file."""
    text = path.read_text(encoding="utf-8")
    found: dict[str, str] = {}
    for chunk in text.split("\n## ")[1:]:
        heading, _, body = chunk.partition("\n")
        found[heading.strip()] = body.strip()
    return found
