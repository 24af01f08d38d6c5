"""What the lab says under the diagram: the step, what it left in the cache and the database, the exact
line of the pattern's code that performed it, and, at the end, how the request went.

Learners' keys and values reach the page only as plain text (`st.text`) or escaped Markdown.
"""

from __future__ import annotations

import ast
import linecache
import re
import textwrap
from functools import cache
from pathlib import Path

import streamlit as st

from strategies import Lab, LabState, Step, Trace
from strategies.narration import shorten
from strategies.trace import CodeRef
from strategies.views import shown_value, ttl_left

from .text import actor, say

ROOT = Path(__file__).resolve().parent.parent
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>$~:])")


def plain(text: str) -> str:
    """Text that Markdown shows literally (every ASCII punctuation a directive could start with, escaped)."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", text)


def narration(lab: Lab, step: Step | None, trace: Trace | None, state: LabState | None, *,
              named: bool = False, label: str | None = None, folded: list[str] | None = None,
              unlisted: int = 0, presenting: bool = False) -> None:
    """The step's sentence and what it left; `named`: several clients share the diagram, so say whose;
    `folded`: the earlier steps the diagram had no room for, listed under the sentence (`unlisted`: how many
    more, before those, are only counted). `presenting`: the sentence alone (and, at the end, the summary),
    large enough for a room; the tables say what it left."""
    with st.container(border=True, key="narration"):
        if step is None:
            st.markdown(say("figure-intro"))
            return
        who = f"{actor(step.client)} · " if named or step.client != "A" else ""
        where = " · background" if step.background else ""
        outcome = " · ✗ failed" if step.failed else ""
        number = label or str(step.number)      # the arrow's own number, as the diagram prints it
        st.markdown(f"**{who}Step {number}: {step.source} → {step.target}**{where}{outcome} · "
                    f"{step.cost_ms:g} ms simulated")
        st.text(step.explanation)     # may quote the learner's key or value: never parsed as Markdown
        key = step.key if step.key is not None else trace.key if trace is not None else None
        if state is not None and key is not None and not presenting:
            st.text(after(state, key, lab.state_clauses(state)))
        if folded and not presenting:
            with st.expander(say("folded-steps", count=f"{len(folded) + unlisted:,}"),
                             icon=":material/format_list_numbered:"):
                if unlisted:
                    st.caption(say("folded-unlisted", listed=len(folded), count=f"{unlisted:,}"))
                st.text("\n".join(folded))       # they may quote the learner's key: never parsed as Markdown
        located = None if presenting else code_line(step.code)
        if located is not None:
            st.caption(say("code-caption", where=located[0]))
            st.code(located[1], language="python", wrap_lines=True)   # a long line wraps: no scroll box
        if trace is not None and trace.steps and trace.steps[-1] is step and trace.finished:
            summary(trace, state)


def after(state: LabState, key: str, clauses: list[str]) -> str:
    item, row = state.cache.get(key), state.db.get(key)
    if item is None:
        cached = "nothing"
    else:
        ttl = state.ttl(key)
        cached = shorten(shown_value(item.value)) + (f" ({ttl_left(ttl)} left)" if ttl is not None else " (no expiry)")
    stored = "no row" if row is None else f"{shorten(row.value)} (version {row.version})"
    more = "".join(f"; {clause}" for clause in clauses)         # what the lab's parts add (a queue's length)
    return f"After this step, for {shorten(key)}: the cache has {cached}; the database has {stored}{more}."


def summary(trace: Trace, state: LabState | None) -> None:
    """How the request ended, in one line, and any warning it carried."""
    if trace.operation in ("crash", "expiry", "resync"):
        lost = f" {len(trace.lost)} acknowledged write(s) were lost." if trace.lost else ""
        st.text(say(f"summary-{trace.operation}") + lost)
        return
    if not trace.ok:
        st.text(say("summary-failed", error=trace.error))
        return
    parts = [f"Done in {trace.latency_ms:g} ms (simulated)"]
    if trace.operation == "read":
        parts.append(f"{trace.outcome}: returned {shorten(trace.value)}" if trace.value is not None else "no such key")
        if trace.stale and state is not None and trace.key is not None:
            parts.append(stale_side(state, trace))
    st.text("; ".join(parts) + ".")
    if trace.warning:
        st.warning(plain(trace.warning), icon=":material/warning:")


def stale_side(state: LabState, trace: Trace) -> str:
    """Which side is ahead when a read returned something other than the newest acknowledged value."""
    item = state.cache.get(trace.key)
    if item is not None and item.value == trace.value and item.version is None:
        return say("stale-cache-ahead")
    return say("stale-db-ahead")


# ---- the exact code line ---------------------------------------------------------------------------
def code_line(ref: CodeRef | None) -> tuple[str, str] | None:
    """("strategies/x.py, line N", the whole statement that line starts), or None."""
    if ref is None:
        return None
    span = _statement_at(ref.filename, ref.line)
    lines = [linecache.getline(ref.filename, n).rstrip("\n") for n in range(span[0], span[1] + 1)]
    try:
        shown = Path(ref.filename).resolve().relative_to(ROOT)
    except ValueError:
        shown = Path(ref.filename).name
    return f"{shown}, line {ref.line}", textwrap.dedent("\n".join(lines))


@cache
def _statement_at(filename: str, line: int) -> tuple[int, int]:
    """The first and last line of the innermost statement that starts at `line` (or contains it)."""
    for start, end in _statements(filename):
        if start <= line <= end and start == line:
            return start, end
    containing = [(s, e) for s, e in _statements(filename) if s <= line <= e]
    return min(containing, key=lambda span: span[1] - span[0]) if containing else (line, line)


@cache
def _statements(filename: str) -> tuple[tuple[int, int], ...]:
    source = "".join(linecache.getlines(filename))
    spans = [(node.lineno, node.end_lineno or node.lineno) for node in ast.walk(ast.parse(source))
             if isinstance(node, ast.stmt) and not isinstance(node, (ast.FunctionDef, ast.ClassDef, ast.If,
                                                                     ast.For, ast.While, ast.With, ast.Try))]
    return tuple(sorted(spans))
