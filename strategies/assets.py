"""The learners' text lives in assets/ as Markdown, one `## id` section per sentence or passage."""

from __future__ import annotations

import string
from collections.abc import Mapping
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


class _Agreeing(string.Formatter):
    """str.format, plus "{n:one|many}": the words that agree with the number n — `one` when n is 1, `many`
    otherwise (English says "0 writes were"). n may be written with thousands separators ("1,250")."""

    def format_field(self, value: object, spec: str) -> str:
        one, bar, many = spec.partition("|")
        if not bar:
            return super().format_field(value, spec)
        return one if int(str(value).replace(",", "")) == 1 else many


_AGREEING = _Agreeing()


def fill(template: str, fields: Mapping[str, object]) -> str:
    """A text's {fields} filled in, each "{n:one|many}" agreeing with its number."""
    return _AGREEING.vformat(template, (), fields)
