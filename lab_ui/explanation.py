"""The pattern's Q&A (from assets/) and its real code (from strategies/, as `inspect` finds it)."""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from functools import cache

import streamlit as st

from strategies import PATTERNS

from .state import PageState
from .text import say, sections

TABS = (("How it works", "How it works"), ("When to use", "When to use"), ("Implementation", "How it is implemented"),
        ("Cons", "Cons"), ("Try this", "Try this in the lab"))


@dataclass(frozen=True)
class CodeFunction:
    qualified_name: str      # e.g. "strategies.cache_aside.CacheAside._read"
    source: str


@cache
def pattern_code(pattern: str) -> tuple[CodeFunction, ...]:
    """The source of the pattern's story (its read, its loader, its write) and of the parts it shows with it."""
    return tuple(CodeFunction(f"{function.__module__}.{function.__qualname__}", inspect.getsource(function))
                 for function in PATTERNS[pattern].story())


def explanation(page: PageState) -> None:
    """The Q&A sections and the Code section, one at a time, chosen with a segmented control.

    Only the chosen section is drawn, and not as `st.tabs`: the browser re-renders every element of the
    page several times per click (when the run starts, as its messages arrive, when it ends), and the tab
    bar was among its costlier elements (15-35 ms per click in single, unpaired bench.browser runs on a busy
    machine; the whole page in the paired rounds harness went from 2.46x to 2.42x with this and the URL and
    table changes together, so the gain is real but small)."""
    text = sections(page.pattern)
    labels = [label for label, _ in TABS] + ["Code"]
    key = page.key("explain")
    if st.session_state.get(key) not in labels:
        st.session_state[key] = labels[0]
    chosen = st.segmented_control("About this pattern", labels, key=key, on_change=keep_a_section, args=(page,),
                                  label_visibility="collapsed")
    if chosen == "Code":
        st.caption(say("code-tab"))
        for function in pattern_code(page.pattern):
            st.code(function.source, language="python", line_numbers=True, wrap_lines=True)
        return
    st.markdown(text.get(dict(TABS).get(chosen, TABS[0][1]), ""))


def keep_a_section(page: PageState) -> None:
    """A segmented control can be un-selected by clicking its choice again; the explanation keeps its section."""
    key = page.key("explain")
    if st.session_state.get(key) is None:
        st.session_state[key] = page.section or TABS[0][0]
    page.section = st.session_state[key]
