"""The Compare page: the workload's knobs in a form, the run cached by its knobs, the numbers, the charts (hit
ratio, database calls, latency, writes at risk, database reads over simulated time, and, under a memory limit,
the hit ratio of one pattern under each eviction policy) and the "which pattern when" sentences the core
computed (`strategies.compare`, `strategies.compare_summary`; its text is assets/compare.md).

The run is `st.cache_data`'d on the knobs as a plain dict (`Workload.as_dict()`), so any learner asking for the
same comparison gets it at once; so is the run under each policy, on the knobs and the pattern. It runs on the
first visit too, with the default knobs: the page never opens empty.
"""

from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st

from strategies import PATTERNS
from strategies.compare import CompareResult, PatternResult, by_policy, run_compare
from strategies.compare_summary import policy_summary, time_caption
from strategies.compare_workload import (
    FAULTS,
    MAX_KEYS,
    MAX_REQUESTS,
    MIN_REQUESTS,
    NEAR_INVALIDATIONS,
    Workload,
)
from strategies.features.jitter import MAX_JITTER
from strategies.features.policies import POLICIES

from .routing import inject_css
from .text import compare_say as say

PREFIX = "compare:"
KNOBS = PREFIX + "knobs"                 # the knobs of the comparison on show (a dict), kept across reruns
POLICY_FOR = PREFIX + "policy-for"       # the pattern of the chart of hit ratio by policy (the form's widget)
MEMORY_LIMIT_MAX = 64 * 1_048_576        # bytes
OFF = "off"
REFRESH_AHEAD = (OFF, *(f"0.{tenth}" for tenth in range(1, 10)))      # as the pattern pages offer it
XFETCH = (OFF, "0.5", "1", "1.5", "2", "3", "4")
FAULT_LABELS = {"none": "None", "db-outage": "Database outage", "cache-crash": "Cache crash",
                "cache-down": "Cache down"}
CHART_HEIGHT = 230
BAR_PX = 30                              # a policy's bar and its room: every label shows
PROGRESS_STEP = 0.04                     # the bar moves in steps of 4 % of the whole run


@st.cache_data(show_spinner=False, max_entries=32)
def compared(knobs: dict) -> CompareResult:
    """The comparison of these knobs, with a progress bar while it runs. The bar is made in here: a cached
    function may only update elements it made itself (Streamlit replays them on a cache hit: a few dozen
    updates, at most one per PROGRESS_STEP of the run, ending with the bar gone)."""
    bar = st.progress(0.0)
    shown = [-1.0]

    def progress(done: float, text: str) -> None:
        if done >= shown[0] + PROGRESS_STEP or done >= 1.0:
            shown[0] = done
            bar.progress(min(done, 1.0), text=text)

    result = run_compare(Workload(**knobs), progress=progress)
    bar.empty()
    return result


@st.cache_data(show_spinner=False, max_entries=16)
def compared_by_policy(knobs: dict, pattern: str) -> dict[str, PatternResult]:
    """One pattern's run of these knobs under each eviction policy, with a progress bar while it runs."""
    bar = st.progress(0.0)
    result = by_policy(Workload(**knobs), pattern, progress=lambda done, text: bar.progress(min(done, 1.0), text))
    bar.empty()
    return result


def compare_page() -> None:
    inject_css()
    st.title(say("title"))
    st.markdown(say("intro"))
    submitted = knob_form()
    if submitted is not None:
        st.session_state[KNOBS] = submitted
    knobs = st.session_state.get(KNOBS) or Workload().as_dict()
    workload = Workload(**knobs)
    problems = workload.problems()
    if problems:
        st.error("\n".join([say("bad-knobs"), *[f"- {problem}" for problem in problems]]), icon=":material/block:")
        return
    show_result(compared(workload.as_dict()))
    show_policies(workload, st.session_state.get(POLICY_FOR) or next(iter(PATTERNS)))


def knob_form() -> dict | None:
    """The knobs, in a form: nothing runs until the learner submits. Returns the submitted knobs, or None."""
    default = Workload()
    with st.form(PREFIX + "form", border=True):
        st.markdown(say("form-workload"))
        first = st.columns(4)
        requests = first[0].number_input("Requests per pattern", MIN_REQUESTS, MAX_REQUESTS, default.requests,
                                         step=100, key=PREFIX + "requests", help=say("requests-help"))
        reads = first[1].slider("Reads (%)", 0, 100, round(default.read_ratio * 100), key=PREFIX + "reads",
                                help=say("read-ratio-help"))
        keys = first[2].number_input("Keys", 1, MAX_KEYS, default.keys, key=PREFIX + "keys", help=say("keys-help"))
        seed = first[3].number_input("Seed", 0, 1_000_000, default.seed, key=PREFIX + "seed")
        second = st.columns(4)
        popularity = second[0].radio("Key popularity", ["zipf", "uniform"], horizontal=True, key=PREFIX + "popularity",
                                     format_func=lambda name: "Zipf" if name == "zipf" else "Uniform",
                                     help=say("popularity-help"))
        exponent = second[1].number_input("Zipf exponent", 0.1, 5.0, default.zipf_exponent, step=0.1,
                                          key=PREFIX + "zipf", help=say("zipf-help"))
        ttl = second[2].number_input("TTL (s)", 1, 86_400, default.ttl_seconds, key=PREFIX + "ttl")
        db_ms = second[3].number_input("DB latency (ms)", 0.0, 1_000.0, default.db_latency_ms, step=1.0,
                                       key=PREFIX + "db-ms")
        third = st.columns(4)
        gap = third[0].number_input("Time between requests (ms)", 0.0, 60_000.0, default.gap_ms, step=5.0,
                                    key=PREFIX + "gap", help=say("gap-help"))
        batch = third[1].number_input("Write-behind batch size", 1, 1_000, default.batch_size, key=PREFIX + "batch")
        delay = third[2].number_input("Write-behind max delay (s)", 0.5, 600.0, default.max_delay_seconds, step=0.5,
                                      key=PREFIX + "delay")
        coalesce = third[3].toggle("Write-behind coalesces", default.coalesce, key=PREFIX + "coalesce")
        st.markdown(say("form-memory"))
        memory = st.columns(4)
        limit = memory[0].number_input("Memory limit (bytes)", 0, MEMORY_LIMIT_MAX, 0, step=1_024,
                                       key=PREFIX + "maxmemory", help=say("maxmemory-help"))
        policy = memory[1].selectbox("Eviction policy", POLICIES, key=PREFIX + "policy", help=say("policy-help"))
        memory[2].selectbox("Hit ratio by policy for", list(PATTERNS), format_func=lambda name: PATTERNS[name].title,
                            key=POLICY_FOR, help=say("policy-for-help"))
        jitter = memory[3].number_input("TTL jitter (± %)", 0, MAX_JITTER, 0, step=5, key=PREFIX + "jitter",
                                        help=say("jitter-help"))
        early = st.columns(4)
        ahead = early[0].select_slider("Refresh ahead (part of the TTL)", REFRESH_AHEAD, key=PREFIX + "refresh-ahead",
                                       help=say("refresh-ahead-help"))
        beta = early[1].select_slider("XFetch β", XFETCH, key=PREFIX + "xfetch", help=say("xfetch-help"))
        instances = early[2].radio("App instances", (1, 2), horizontal=True, key=PREFIX + "instances",
                                   help=say("instances-help"))
        near = early[3].number_input("Near cache TTL (s)", 0, 600, default.near_ttl, key=PREFIX + "near-ttl",
                                     help=say("near-ttl-help"))
        invalidation = st.radio("Near caches hear of a write by", NEAR_INVALIDATIONS, horizontal=True,
                                key=PREFIX + "near-invalidation", help=say("near-invalidation-help"))
        st.markdown(say("form-fault"))
        fourth = st.columns(4)
        fault = fourth[0].selectbox("Fault", FAULTS, format_func=FAULT_LABELS.get, key=PREFIX + "fault",
                                    help=say("fault-help"))
        fault_at = fourth[1].number_input("Starts at request", 0, MAX_REQUESTS - 1, default.fault_at,
                                          key=PREFIX + "fault-at", help=say("fault-at-help"))
        length = fourth[2].number_input("Outage length (requests)", 1, MAX_REQUESTS, default.fault_length,
                                        key=PREFIX + "fault-length", help=say("fault-length-help"))
        run = fourth[3].form_submit_button(say("run"), type="primary", icon=":material/play_arrow:",
                                           key=PREFIX + "run")
    if not run:
        return None
    return Workload(requests=int(requests), read_ratio=reads / 100, keys=int(keys), popularity=popularity,
                    zipf_exponent=float(exponent), ttl_seconds=int(ttl), batch_size=int(batch),
                    max_delay_seconds=float(delay), coalesce=bool(coalesce), db_latency_ms=float(db_ms),
                    gap_ms=float(gap), fault=fault, fault_at=int(fault_at), fault_length=int(length),
                    seed=int(seed), maxmemory=int(limit) or None, maxmemory_policy=policy, ttl_jitter=float(jitter),
                    refresh_ahead=None if ahead == OFF else float(ahead),
                    xfetch_beta=None if beta == OFF else float(beta),
                    app_instances=int(instances), near_ttl=int(near), near_invalidation=invalidation).as_dict()


def numbers(result: CompareResult) -> pd.DataFrame:
    table = pd.DataFrame(result.rows())
    table["Hit ratio"] = [None if ratio is None else round(ratio * 100, 1) for ratio in table["Hit ratio"]]
    if result.workload.maxmemory is None:           # no limit: nothing is evicted or refused
        table = table.drop(columns=["Evicted", "Refused"])
    if result.workload.fault == "none":             # no fault: no request failed in one
        table = table.drop(columns=["Failed in fault"])
    return table.rename(columns={"Hit ratio": "Hit ratio (%)"})


def show_result(result: CompareResult) -> None:
    workload = result.workload
    st.caption(say("ran", requests=f"{workload.requests:,}", seconds=f"{result.seconds:.1f}"))
    st.subheader(say("summary-heading"))
    st.markdown("\n".join(f"- {sentence.text}" for sentence in result.sentences))
    st.subheader(say("table-heading"))
    st.dataframe(numbers(result), hide_index=True, width="stretch")
    st.caption(say("table-caption") + (" " + say("table-caption-memory") if workload.maxmemory is not None else ""))
    st.subheader(say("charts-heading"))
    left, right = st.columns(2, gap="medium")
    left.altair_chart(hit_chart(result), width="stretch")
    right.altair_chart(db_chart(result), width="stretch")
    left.altair_chart(latency_chart(result), width="stretch")
    with right:
        queue_chart(result)
    st.altair_chart(db_time_chart(result), width="stretch")
    st.caption(f'{say("db-time-caption")} {time_caption(workload, result.results).text}')


def show_policies(workload: Workload, pattern: str) -> None:
    """The hit ratio of one pattern under each eviction policy, and what it says; under no limit, why there is none."""
    title = PATTERNS[pattern].title
    st.subheader(say("policy-heading", pattern=title))
    if workload.maxmemory is None:
        st.caption(say("policies-need-limit"))
        return
    found = compared_by_policy(workload.as_dict(), pattern)
    chart, said = st.columns([3, 2], gap="medium")
    chart.altair_chart(policy_chart(found), width="stretch")
    said.markdown("\n".join(f"- {sentence.text}" for sentence in policy_summary(workload, title, found)))
    said.caption(say("policy-caption"))


def _titles(result: CompareResult) -> list[str]:
    return [r.title for r in result.results]


def hit_chart(result: CompareResult) -> alt.Chart:
    data = pd.DataFrame([{"Pattern": r.title, "Hit ratio (%)": round((r.hit_ratio or 0) * 100, 1)}
                         for r in result.results])
    return alt.Chart(data, title="Hit ratio", height=CHART_HEIGHT).mark_bar().encode(
        x=alt.X("Hit ratio (%):Q", scale=alt.Scale(domain=[0, 100])),
        y=alt.Y("Pattern:N", sort=_titles(result), title=None),
        tooltip=["Pattern", "Hit ratio (%)"])


def db_chart(result: CompareResult) -> alt.Chart:
    data = pd.DataFrame([{"Pattern": r.title, "Call": call, "Count": count} for r in result.results
                         for call, count in (("reads", r.db_reads), ("writes", r.db_writes))])
    return alt.Chart(data, title="Database reads and writes (rows)", height=CHART_HEIGHT).mark_bar().encode(
        x=alt.X("Pattern:N", sort=_titles(result), title=None, axis=alt.Axis(labelAngle=0)),
        xOffset="Call:N", y=alt.Y("Count:Q", title="rows"), color=alt.Color("Call:N", title="Database"),
        tooltip=["Pattern", "Call", "Count"])


def latency_chart(result: CompareResult) -> alt.Chart:
    data = pd.DataFrame([{"Pattern": r.title, "Latency": name, "ms": value} for r in result.results
                         for name, value in (("read p50", r.read_p50), ("read p95", r.read_p95),
                                             ("write p50", r.write_p50), ("write p95", r.write_p95))
                         if value is not None])
    return alt.Chart(data, title="Simulated latency (ms)", height=CHART_HEIGHT).mark_bar().encode(
        x=alt.X("Pattern:N", sort=_titles(result), title=None, axis=alt.Axis(labelAngle=0)),
        xOffset="Latency:N", y=alt.Y("ms:Q"), color="Latency:N", tooltip=["Pattern", "Latency", "ms"])


def db_time_chart(result: CompareResult) -> alt.Chart:
    """Database reads in each simulated second, one line per pattern, as each run counted them."""
    data = pd.DataFrame([{"Pattern": r.title, "Second": second, "Database reads": count}
                         for r in result.results for second, count in r.db_reads_per_second])
    # Patterns that read alike draw the same line: each is dashed its own way, so that one on top of another
    # still shows both.
    return alt.Chart(data, title="Database reads per simulated second", height=CHART_HEIGHT).mark_line(
        interpolate="step-after", strokeWidth=2).encode(
        x=alt.X("Second:Q", title="simulated second"), y=alt.Y("Database reads:Q"),
        color=alt.Color("Pattern:N", sort=_titles(result)),
        strokeDash=alt.StrokeDash("Pattern:N", sort=_titles(result)), tooltip=["Pattern", "Second", "Database reads"])


def policy_chart(found: dict[str, PatternResult]) -> alt.LayerChart:
    """One bar per policy, the share of the pattern's reads the cache answered written at its end."""
    data = pd.DataFrame([{"Policy": policy, "Hit ratio (%)": round((r.hit_ratio or 0) * 100, 1),
                          "Database reads": r.db_reads, "Evicted": r.evictions, "Refused": r.refused}
                         for policy, r in found.items()])
    base = alt.Chart(data).encode(
        x=alt.X("Hit ratio (%):Q", scale=alt.Scale(domain=[0, 100])),
        y=alt.Y("Policy:N", sort=list(found), title=None, axis=alt.Axis(labelLimit=160, labelOverlap=False)),
        tooltip=["Policy", "Hit ratio (%)", "Database reads", "Evicted", "Refused"])
    bars = base.mark_bar() + base.mark_text(align="left", dx=4).encode(text="Hit ratio (%):Q")
    return bars.properties(height=BAR_PX * len(found))


def queue_chart(result: CompareResult) -> None:
    behind = next((r for r in result.results if r.queue_depth), None)
    if behind is None or not behind.writes:
        st.caption(say("queue-chart-empty"))
        return
    data = pd.DataFrame(behind.queue_depth, columns=["Request", "Writes at risk"])
    line = alt.Chart(data).mark_line(interpolate="step-after").encode(
        x=alt.X("Request:Q"), y=alt.Y("Writes at risk:Q"), tooltip=["Request", "Writes at risk"])
    window = result.workload.window
    layers = [line]
    if window:
        span = pd.DataFrame([{"start": window.start + 1, "end": window.stop,
                              "Fault": FAULT_LABELS[result.workload.fault]}])
        layers.insert(0, alt.Chart(span).mark_rect(opacity=0.15, color="red").encode(
            x=alt.X("start:Q", title="Request"), x2="end:Q", tooltip=["Fault"]))
    st.altair_chart(alt.layer(*layers).properties(title="Write-behind: writes at risk over time",
                                                  height=CHART_HEIGHT), width="stretch")
    st.caption(say("queue-caption"))
