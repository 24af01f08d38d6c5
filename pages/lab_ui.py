"""The widgets every pattern page shares: one place, so pages stay thin.

A page calls `pattern_page("cache-aside")`. Reads and writes go straight to the simulation core;
this module only keeps the playback position in `st.session_state` and renders.
"""

from __future__ import annotations

import inspect
import textwrap
import time
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import streamlit as st
from streamlit.runtime.pages_manager import PagesManager

from strategies import PATTERNS, CacheUnavailable, InvalidInput, Lab, Trace, WriteBehind, WriteThrough
from strategies.base import Snapshot, shorten
from strategies.database import SEED_ROWS
from strategies.diagram import build_diagram
from strategies.session import LearnerSession

ASSETS = Path(__file__).resolve().parent.parent / "assets"
PAGE_FILES = {"cache-aside": "cache_aside", "read-through": "read_through", "write-through": "write_through",
              "write-behind": "write_behind"}
SECTIONS = ("How it works", "When to use", "How it is implemented", "Cons", "Try this in the lab")
SPEEDS = {"0.5×": 3.0, "1×": 1.5, "2×": 0.75, "4×": 0.4}   # seconds per step
# Which line of a pattern's source performs a step, by the step's action.
CODE_OF_ACTION = {"GET": ("cache_get(",), "SET": ("cache_set(",), "DEL": ("cache_delete(",),
                  "SELECT": ("db_select(",), "UPSERT": ("db_upsert(", '"UPSERT"'),
                  "WRITE": ('action="WRITE"',), "XADD": ('"XADD"',), "XRANGE": ('"XRANGE"',), "XDEL": ('"XDEL"',),
                  "XLEN": ('"XLEN"',)}

CSS = """
<style>
.stGraphVizChart svg { width: 100%; height: auto; max-height: 50vh; }
.stGraphVizChart .active path { stroke-dasharray: 10 6; animation: cpl-flow 0.7s linear infinite; }
.stGraphVizChart .active text { font-weight: 700; }
@keyframes cpl-flow { to { stroke-dashoffset: -32; } }
@media (prefers-reduced-motion: reduce) { .stGraphVizChart .active path { animation-duration: 4s; } }
</style>
"""


def route() -> None:
    """The app's navigation (app.py calls only this): Home, then one page per pattern, each at
    Streamlit's default URL path, the stem of its file."""
    st.set_page_config(page_title="Cache Patterns Lab", layout="wide")
    navigation = st.navigation([
        st.Page("pages/home.py", title="Home", icon=":material/home:", default=True),
        st.Page("pages/cache_aside.py", title="Cache-aside"),
        st.Page("pages/read_through.py", title="Read-through"),
        st.Page("pages/write_through.py", title="Write-through"),
        st.Page("pages/write_behind.py", title="Write-behind"),
    ])
    sidebar()
    navigation.run()


def ensure_routed() -> None:
    """Make a page Streamlit ran on its own go through the app's navigation.

    Until st.navigation has been called once in a server process, Streamlit (1.67) runs a
    deep-linked file of pages/ by itself, in its legacy pages-folder mode: no app.py, so no wide
    layout, no sidebar, and the folder's file names as navigation (AppTest does the same on every
    run). Calling the app's navigation here leaves that mode and runs this very page, routed, in
    the same run — so a click that caused the run is not lost — and then stops the unrouted one.
    """
    if PagesManager.uses_pages_directory:
        route()
        st.stop()


# ---- the learner's lab ------------------------------------------------------------------------------
def learner() -> LearnerSession:
    """This browser session's own cache and databases, made on its first page view."""
    if "learner" not in st.session_state:
        try:
            st.session_state.learner = LearnerSession()
        except CacheUnavailable as err:
            st.error(f"{err}\n\nUnset REDIS_URL to use the embedded fakeredis, or start that server.")
            st.stop()
    return st.session_state.learner


def sidebar() -> None:
    with st.sidebar:
        st.caption(f"Cache: {learner().backend}. Database: SQLite, one file per pattern, yours alone.")
        if st.button("Reset my lab", help="Restore the seeded data and empty the cache, for your session only."):
            learner().reset()
            for name in list(st.session_state):   # faults off again, playback forgotten; preferences stay
                if str(name).startswith("playback:") or str(name).endswith((":down", ":slow")):
                    del st.session_state[name]
            st.toast("Your lab is back to its seeded state.")


@st.cache_data
def sections(pattern: str) -> dict[str, str]:
    """The pattern's Markdown from assets/, split on its level-2 headings."""
    text = (ASSETS / f"{PAGE_FILES[pattern]}.md").read_text(encoding="utf-8")
    found: dict[str, str] = {}
    for chunk in text.split("\n## ")[1:]:
        heading, _, body = chunk.partition("\n")
        found[heading.strip()] = body.strip()
    return found


def inject_css() -> None:
    st.html(CSS)


# ---- playback -----------------------------------------------------------------------------------
@dataclass
class Playback:
    """Which request is on the diagram and which of its steps is current (1-based)."""

    trace_index: int
    step: int = 1
    playing: bool = True
    last_move: float = 0.0


def playback(pattern: str) -> Playback | None:
    return st.session_state.get(f"playback:{pattern}")


def start_playback(pattern: str, lab: Lab) -> None:
    st.session_state[f"playback:{pattern}"] = Playback(len(lab.log) - 1, 1, True, time.monotonic())


def shown_trace(lab: Lab, pb: Playback | None) -> Trace | None:
    if pb is None or not (0 <= pb.trace_index < len(lab.log)):
        return None
    return lab.log[pb.trace_index]


def _step_by(pattern: str, lab: Lab, delta: int) -> None:
    """Step back or forward by hand: playback pauses where the learner put it."""
    pb, trace = playback(pattern), shown_trace(lab, playback(pattern))
    if pb and trace:
        pb.step = min(max(1, pb.step + delta), len(trace.steps))
        pb.playing, pb.last_move = False, time.monotonic()


def _play_or_pause(pattern: str, lab: Lab) -> None:
    pb, trace = playback(pattern), shown_trace(lab, playback(pattern))
    if pb and trace:
        if not pb.playing and pb.step >= len(trace.steps):
            pb.step = 0   # play a finished request again from the start
        pb.playing, pb.last_move = not pb.playing, 0.0


# ---- the page ---------------------------------------------------------------------------------
def pattern_page(pattern: str) -> None:
    inject_css()
    session = learner()
    lab = session.lab(pattern)
    session.catch_up_clock(lab)
    text = sections(pattern)

    st.title(lab.title)
    st.markdown(text.get("In one line", ""))
    inputs, explanation = st.columns([2, 3], gap="large")
    with inputs:
        _request_inputs(pattern, lab)
    with explanation:
        _explanation(lab, text)
    _lab_panel(pattern, lab)


@st.fragment
def _lab_panel(pattern: str, lab: Lab) -> None:
    """Requests, the diagram and the live state. A fragment: a Read or a Write reruns only this part,
    not the explanation above it, so the diagram answers a click sooner."""
    _request_buttons(pattern, lab)
    _diagram_panel(pattern, lab)
    if isinstance(lab, WriteBehind):
        _flusher_clock(pattern, lab)
    _request_log(pattern, lab)


def _pick_seeded_key(pattern: str) -> None:
    picked = st.session_state.get(f"{pattern}:pick")
    if picked:
        st.session_state[f"{pattern}:key"] = picked
        st.session_state[f"{pattern}:pick"] = None


def _request_inputs(pattern: str, lab: Lab) -> None:
    st.session_state.setdefault(f"{pattern}:key", "user:1")
    key_col, value_col = st.columns(2)
    key_col.text_input("Key", key=f"{pattern}:key")
    value_col.text_input("Value", key=f"{pattern}:value", placeholder="e.g. Ada")
    st.pills("Seeded keys", [k for k, _ in SEED_ROWS[:4]], key=f"{pattern}:pick",
             on_change=_pick_seeded_key, args=(pattern,), help="Rows the database starts with. Click to use one.",
             width="stretch")
    with st.popover("Settings and faults", icon=":material/tune:"):
        _settings(pattern, lab)


def _request_buttons(pattern: str, lab: Lab) -> None:
    buttons = st.container(horizontal=True)
    read = buttons.button("Read", type="primary", key=f"{pattern}:read", icon=":material/download:")
    write = buttons.button("Write", key=f"{pattern}:write", icon=":material/upload:")
    flush = isinstance(lab, WriteBehind) and buttons.button("Flush now", key=f"{pattern}:flush",
                                                             icon=":material/cleaning_services:")
    key, value = st.session_state[f"{pattern}:key"], st.session_state.get(f"{pattern}:value", "")
    try:
        if read:
            lab.read(key)
        elif write and not value:
            st.error("Nothing was sent: type a Value to write (the box shows only an example).")
            return
        elif write:
            lab.write(key, value)
        elif flush:
            lab.flush()
        else:
            return
    except InvalidInput as err:
        st.error(f"Nothing was sent: {err}")
        return
    start_playback(pattern, lab)


def _settings(pattern: str, lab: Lab) -> None:
    ttl = st.number_input("TTL (seconds)", min_value=0, max_value=86_400, value=60, step=10, key=f"{pattern}:ttl",
                          help="How long a value the cache stores lives. 0: no expiry.")
    lab.ttl_seconds = int(ttl) or None
    if isinstance(lab, WriteThrough):
        lab.ordering = st.radio(
            "Write ordering", ["safe", "naive"], key=f"{pattern}:ordering", horizontal=True,
            help="safe: database first, cache only after the commit. naive: cache first, then database — "
                 "take the database down to see the two disagree.")
    if isinstance(lab, WriteBehind):
        lab.batch_size = int(st.number_input("Batch size", 1, 1000, 10, key=f"{pattern}:batch"))
        lab.max_delay_seconds = float(st.number_input("Max delay (s)", 0.5, 600.0, 5.0, step=0.5,
                                                      key=f"{pattern}:delay"))
        lab.coalesce = st.toggle("Coalesce writes", value=True, key=f"{pattern}:coalesce",
                                 help="Several queued writes to one key become one database write.")
    st.divider()
    lab.db.down = st.toggle("Database down", key=f"{pattern}:down",
                            help="Every database call fails until you switch this off.")
    lab.db.slowdown = {"normal": 1.0, "5× slower": 5.0, "20× slower": 20.0}[
        st.select_slider("Database speed", ["normal", "5× slower", "20× slower"], key=f"{pattern}:slow",
                         help="Multiplies the simulated cost of every database call (the ms in the request log); "
                              "playback speed is set beside the diagram.")]
    if st.button("Crash the cache", key=f"{pattern}:crash",
                 help="The cache restarts empty: cached values and queued writes vanish."):
        lab.crash_cache()
        start_playback(pattern, lab)


def _diagram_panel(pattern: str, lab: Lab) -> None:
    speed = st.session_state.setdefault(f"{pattern}:speed", "1×")
    pb = playback(pattern)
    ticking = pb is not None and pb.playing

    @st.fragment(run_every=SPEEDS[speed] if ticking else None)
    def panel() -> None:
        pb = playback(pattern)
        trace = shown_trace(lab, pb)
        if pb and trace and pb.playing and time.monotonic() - pb.last_move >= SPEEDS[speed] * 0.9:
            if pb.step < len(trace.steps):
                pb.step += 1
                pb.last_move = time.monotonic()
            else:
                pb.playing = False
        # The timer and its period are fixed when the fragment is declared: when playback started,
        # stopped or changed speed, a full rerun declares it again.
        if (pb is not None and pb.playing) != ticking or st.session_state[f"{pattern}:speed"] != speed:
            st.rerun()
        if trace and pb:
            _playback_controls(pattern, lab, pb, trace)
        st.graphviz_chart(build_diagram(lab.topology, trace, pb.step if pb else None), width="stretch")
        _narration(lab, trace, pb)
        _state_tables(lab, trace, pb)

    panel()


def _playback_controls(pattern: str, lab: Lab, pb: Playback, trace: Trace) -> None:
    # Callbacks run before the fragment renders, so every button shows the state its click produced.
    cols = st.container(horizontal=True, vertical_alignment="center")
    cols.button("Step back", key=f"{pattern}:back", disabled=pb.step <= 1, icon=":material/skip_previous:",
                on_click=_step_by, args=(pattern, lab, -1))
    label, icon = ("Pause", ":material/pause:") if pb.playing else ("Play", ":material/play_arrow:")
    cols.button(label, key=f"{pattern}:play", icon=icon, on_click=_play_or_pause, args=(pattern, lab))
    cols.button("Step forward", key=f"{pattern}:forward", disabled=pb.step >= len(trace.steps),
                icon=":material/skip_next:", icon_position="right", on_click=_step_by, args=(pattern, lab, +1))
    cols.markdown(f"**step {max(pb.step, 1)} of {len(trace.steps)}**", width="content")
    cols.segmented_control("Speed", list(SPEEDS), key=f"{pattern}:speed", label_visibility="collapsed",
                           required=True)


def _narration(lab: Lab, trace: Trace | None, pb: Playback | None) -> None:
    with st.container(border=True):
        if trace is None or pb is None:
            st.markdown("**The textbook figure.** Send a **Read** or a **Write** to watch a real request "
                        "travel these arrows, one numbered step at a time.")
            return
        step = trace.steps[max(pb.step, 1) - 1]
        where = " · background" if step.background else ""
        st.markdown(f"**Step {step.number}: {step.source} → {step.target}**{where} · "
                    f"{step.cost_ms:g} ms simulated")
        st.text(step.explanation)   # may quote the learner's key or value: never parsed as Markdown
        if len(trace.states) == len(trace.steps) and trace.key is not None:
            st.text(_after(trace.states[step.number - 1], trace.key, lab.has_queue))
        where = code_line(lab.name, trace, step)
        if where:
            st.caption(f"The code behind this step, {where[0]} (the Code tab shows the whole function):")
            st.code(where[1], language="python")
        if pb.step >= len(trace.steps):
            st.text(_summary(trace))


def _after(snapshot: Snapshot, key: str, queued: bool) -> str:
    entry, row = snapshot.cached(key), snapshot.stored(key)
    cached = "nothing" if entry is None else shorten(entry.value)
    stored = "no row" if row is None else f"{shorten(row.value)} (version {row.version})"
    waiting = f"; {len(snapshot.queue)} write(s) queued" if queued else ""
    return f"After this step, for {shorten(key)}: the cache has {cached}; the database has {stored}{waiting}."


def _summary(trace: Trace) -> str:
    if trace.operation == "crash":
        return "Every later read starts with a miss until the cache fills again."
    if not trace.ok:
        return f"The request failed: {trace.error}."
    parts = [f"Done in {trace.latency_ms:g} ms (simulated)"]
    if trace.operation == "read":
        parts.append(f"{trace.outcome}: returned {trace.value!r}" if trace.value is not None else "no such key")
        if trace.stale:
            parts.append("STALE: the database holds a newer value")
    return "; ".join(parts) + "."


# ---- explanation and code -------------------------------------------------------------------------
def _explanation(lab: Lab, text: dict[str, str]) -> None:
    tabs = st.tabs(["How it works", "When to use", "Implementation", "Cons", "Try this", "Code"])
    for tab, heading in zip(tabs, SECTIONS, strict=False):
        tab.container(height=290, border=False).markdown(text.get(heading, ""))
    with tabs[-1].container(height=290, border=False):
        st.caption("The pattern's real code, from strategies/. The line behind each step is shown under the "
                   "diagram as the request plays.")
        for function in pattern_code(lab.name):
            st.code(function.source, language="python", line_numbers=True, wrap_lines=True)


@dataclass(frozen=True)
class CodeFunction:
    qualified_name: str      # e.g. "strategies.cache_aside.CacheAside._read"
    first_line: int          # in its file
    source: str


@st.cache_data
def pattern_code(pattern: str) -> list[CodeFunction]:
    """The source of the pattern's read and write (and write-behind's flush), as inspect finds it."""
    cls = PATTERNS[pattern]
    names = ["_read", "_write"] + (["_flush_batch"] if issubclass(cls, WriteBehind) else [])
    found = []
    for name in names:
        owner = next(c for c in cls.__mro__ if name in c.__dict__)
        lines, first = inspect.getsourcelines(owner.__dict__[name])
        found.append(CodeFunction(f"{owner.__module__}.{owner.__name__}.{name}", first, "".join(lines)))
    return found


def _needles(trace: Trace, step) -> tuple[str, ...]:
    """Text that marks the line performing `step` in the pattern's code, most specific first."""
    if step.action != "REPLY":
        return CODE_OF_ACTION.get(step.action, (step.action,))
    # An answer: the reply written in the pattern itself, else the call it answers (a helper replies).
    asked = trace.steps[step.number - 2] if step.number > 1 else step
    return (f'command="{step.command}"', f'self.reply(t, "{step.source}", "{step.target}"',
            *CODE_OF_ACTION.get(asked.action, ()))


def code_line(pattern: str, trace: Trace, step) -> tuple[str, str] | None:
    """Where the pattern's code performs `step`: ("file, line N", the statement), or None if no line
    says so. A statement spread over lines is shown from its first line to the one that names the step."""
    operation = trace.operation
    # Look first where this request's own steps are: its read, its write, or the flusher's batch.
    own = "_flush_batch" if step.background or operation == "flush" else f"_{operation}"
    functions = sorted(pattern_code(pattern), key=lambda f: not f.qualified_name.endswith(own))
    for needle in _needles(trace, step):
        for function, index, lines in _lines_with(functions, needle):
            start = index
            while start > 0 and lines[start - 1].rstrip().endswith(("(", ",")):
                start -= 1   # back to the first line of a statement spread over several
            module = function.qualified_name.rsplit(".", 2)[0].replace(".", "/") + ".py"
            statement = textwrap.dedent("\n".join(lines[start:index + 1]))
            return f"{module}, line {function.first_line + start}", statement
    return None


def _lines_with(functions: list[CodeFunction], needle: str):
    for function in functions:
        lines = function.source.splitlines()
        for index, line in enumerate(lines):
            if needle in line:
                yield function, index, lines


# ---- live state -----------------------------------------------------------------------------------
def _state_tables(lab: Lab, trace: Trace | None, pb: Playback | None) -> None:
    """The cache and the database side by side (and write-behind's queue): as they were right after the
    step on the diagram while a request plays, live otherwise."""
    replaying = trace is not None and pb is not None and pb.step < len(trace.steps) == len(trace.states)
    snapshot = trace.states[max(pb.step, 1) - 1] if replaying else lab.snapshot()
    committed = {r.key: r.value for r in snapshot.rows}
    cached = {e.key: e for e in snapshot.cache}
    if replaying:
        st.caption(f"The tables show the cache and the database right after step {max(pb.step, 1)} of "
                   f"{len(trace.steps)}; at the last step they are live again.")
    cache_col, db_col = st.columns(2, gap="large")
    with cache_col:
        st.subheader("Cache")
        frame = pd.DataFrame(
            [{"Key": e.key, "Value": e.value, "TTL (s)": "no expiry" if e.ttl_seconds is None else str(e.ttl_seconds),
              "State": _cache_state(e, committed)} for e in snapshot.cache],
            columns=["Key", "Value", "TTL (s)", "State"])
        _table(frame, "The cache is empty. A read that misses will fill it.")
    with db_col:
        st.subheader("Database")
        frame = pd.DataFrame(
            [{"Key": r.key, "Value": r.value, "Version": r.version, "Updated at": r.updated_at,
              "In cache": _db_state(r.key, r.value, cached)} for r in snapshot.rows],
            columns=["Key", "Value", "Version", "Updated at", "In cache"])
        _table(frame, "The database has no rows.")
    if lab.has_queue:
        st.subheader("Write-behind queue")
        if snapshot.queue:
            frame = pd.DataFrame([{"#": i, "Key": e["key"], "Value": e["value"], "Stream id": e["id"]}
                                  for i, e in enumerate(snapshot.queue, start=1)])
            st.dataframe(frame, hide_index=True, width="stretch")
        else:
            st.caption("The queue is empty.")


def _cache_state(entry, committed: dict[str, str]) -> str:
    if entry.pending:
        return "pending flush"
    if committed.get(entry.key) != entry.value:
        return "⚠ stale: differs from DB"
    return "✓ same as DB"


def _db_state(key: str, value: str, cached) -> str:
    entry = cached.get(key)
    if entry is None:
        return "not cached"
    if entry.pending:
        return "newer value queued"
    return "✓ cached, same" if entry.value == value else "⚠ cache differs"


def _highlight(row: pd.Series) -> list[str]:
    flag = " ".join(str(v) for v in row.values)
    color = "#ffe3e3" if "⚠" in flag else "#fff4d6" if "pending" in flag or "queued" in flag else ""
    return [f"background-color: {color}" if color else ""] * len(row)


def _table(frame: pd.DataFrame, empty: str) -> None:
    if frame.empty:
        st.caption(empty)
        return
    st.dataframe(frame.style.apply(_highlight, axis=1), hide_index=True, width="stretch")


def _flusher_clock(pattern: str, lab: WriteBehind) -> None:
    """Write-behind's background: once a second, time moves on and the flusher runs if a batch is due."""
    session = learner()

    @st.fragment(run_every=1.0)
    def clock() -> None:
        session.catch_up_clock(lab)
        if lab.tick() is not None:
            pb, shown = playback(pattern), shown_trace(lab, playback(pattern))
            watching = pb is not None and shown is not None and (pb.playing or pb.step < len(shown.steps))
            if not watching:   # never take the diagram from a request the learner is still watching
                start_playback(pattern, lab)
                st.rerun()
            st.toast(f"The flusher ran in the background (request #{len(lab.log)} under Requests).")
        queued = lab.queue_entries()
        if queued:
            waited = lab.clock.now() - float(queued[0]["at"])
            st.caption(f"Flusher: {len(queued)} of {lab.batch_size} writes for a full batch; the oldest has "
                       f"waited {waited:.1f} s of {lab.max_delay_seconds:g} s max delay.")
        elif lab.counters.lost_writes:
            st.caption(f"Flusher: nothing queued. {lab.counters.lost_writes} acknowledged write(s) were lost "
                       "in a cache crash and never reached the database.")
        else:
            st.caption("Flusher: nothing queued; every acknowledged write has reached the database.")

    clock()


def _replay_chosen(pattern: str) -> None:
    number = st.session_state.get(f"{pattern}:replay")
    if number:
        st.session_state[f"playback:{pattern}"] = Playback(number - 1, 1, True, time.monotonic())
        st.session_state[f"{pattern}:replay"] = None


def _request_log(pattern: str, lab: Lab) -> None:
    st.subheader("Requests")
    c = lab.counters
    metrics = [("Hits", c.hits), ("Misses", c.misses),
               ("Hit ratio", "–" if c.hit_ratio is None else f"{c.hit_ratio:.0%}"),
               ("DB reads", c.db_reads), ("DB writes", c.db_writes), ("Stale reads", c.stale_reads)]
    if isinstance(lab, WriteBehind):
        metrics += [("Pending writes", len(lab.queue_entries())), ("Lost writes", c.lost_writes)]
    for col, (label, value) in zip(st.columns(len(metrics)), metrics, strict=True):
        col.metric(label, value)
    if not lab.log:
        st.caption("No requests yet.")
        return
    frame = pd.DataFrame([{"#": i, "Request": t.operation, "Key": t.key or "", "Outcome": t.outcome,
                           "DB calls": t.db_calls, "Latency (ms)": round(t.latency_ms, 1),
                           "Note": t.error or ("stale read" if t.stale else "")}
                          for i, t in reversed(list(enumerate(lab.log, start=1)))])
    st.dataframe(frame, hide_index=True, width="stretch")
    st.selectbox("Play an earlier request again", list(frame["#"]), index=None, key=f"{pattern}:replay",
                 placeholder="Choose a request by its #", on_change=_replay_chosen, args=(pattern,),
                 format_func=lambda n: f"#{n} {lab.log[n - 1].operation} {lab.log[n - 1].key or ''}".rstrip())


@st.cache_data
def home_intro() -> tuple[str, str]:
    """The welcome paragraph and the how-to steps from assets/home.md."""
    text = (ASSETS / "home.md").read_text(encoding="utf-8")
    body = text.split("\n", 1)[1] if text.startswith("# ") else text
    intro, _, how_to = body.partition("## How to use this lab")
    return intro.strip(), how_to.strip()
