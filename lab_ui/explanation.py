"""The pattern's Q&A (from assets/) and its real code (from strategies/, as `inspect` finds it)."""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from functools import cache

import streamlit as st

from strategies import PATTERNS

from .text import say, sections

TABS = (("How it works", "How it works"), ("When to use", "When to use"), ("Implementation", "How it is implemented"),
        ("Cons", "Cons"), ("Try this", "Try this in the lab"))
CODE_FUNCTIONS = ("_read", "_load", "_write", "_flush_batch")


@dataclass(frozen=True)
class CodeFunction:
    qualified_name: str      # e.g. "strategies.cache_aside.CacheAside._read"
    source: str


@cache
def pattern_code(pattern: str) -> tuple[CodeFunction, ...]:
    """The source of the pattern's read, its loader, its write (and write-behind's flush)."""
    cls = PATTERNS[pattern]
    found = []
    for name in CODE_FUNCTIONS:
        owner = next((c for c in cls.__mro__ if name in c.__dict__), None)
        if owner is None or owner.__module__ == "strategies.base":
            continue
        found.append(CodeFunction(f"{owner.__module__}.{owner.__name__}.{name}",
                                  inspect.getsource(owner.__dict__[name])))
    return tuple(found)


def explanation(pattern: str) -> None:
    """The Q&A tabs and the Code tab. Only the open tab is drawn: long Markdown and highlighted code cost
    the browser time on every message of every click, even below the fold."""
    text = sections(pattern)
    tabs = st.tabs([label for label, _ in TABS] + ["Code"], key=f"{pattern}:explain", on_change="rerun")
    for tab, (_, heading) in zip(tabs, TABS, strict=False):
        if tab.open:
            tab.markdown(text.get(heading, ""))
    if tabs[-1].open:
        with tabs[-1]:
            st.caption(say("code-tab"))
            for function in pattern_code(pattern):
                st.code(function.source, language="python", line_numbers=True, wrap_lines=True)
