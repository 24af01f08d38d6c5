"""The Compare page through Streamlit's AppTest, started from app.py as a learner's browser does.

The first visit runs the default workload (2,000 requests per pattern); `st.cache_data` keeps it for the
whole test process, so only the first test pays for it. The others submit small workloads through the form.
"""

from __future__ import annotations

import pyarrow as pa
from streamlit.testing.v1 import AppTest

from strategies.compare import by_policy, run_compare
from strategies.compare_summary import policy_summary, say
from strategies.compare_workload import Workload
from strategies.features.policies import POLICIES

TITLES = ["Cache-aside", "Read-through", "Write-through", "Write-behind"]


def submit(at: AppTest, **knobs) -> AppTest:
    """Set the form's widgets by their key suffix (requests=300, fault="cache-crash"…) and run."""
    for name, value in knobs.items():
        widget = next(w for kind in ("number_input", "slider", "select_slider", "radio", "selectbox", "toggle")
                      for w in getattr(at, kind) if w.key == f"compare:{name.replace('_', '-')}")
        widget.set_value(value)
    at.button(key="compare:run").click().run()
    assert not at.exception, at.exception
    return at


def summary(at: AppTest) -> str:
    return next(m.value for m in at.markdown if m.value.startswith("- "))


def numbers(at: AppTest):
    [frame] = [f.value for f in at.dataframe]
    return frame


def test_the_page_opens_with_a_comparison_of_the_default_workload(app):
    at = app("compare", timeout=60)
    assert at.title[0].value == say("title")
    assert [s.value for s in at.subheader] == [say("summary-heading"), say("table-heading"), say("charts-heading"),
                                               say("policy-heading", pattern="Cache-aside")]
    frame = numbers(at)
    assert list(frame["Pattern"]) == TITLES
    assert {"Hit ratio (%)", "DB writes", "Read p95 (ms)", "Write p50 (ms)", "Stale reads",
            "Max writes at risk", "Lost writes"} <= set(frame.columns)
    assert not {"Evicted", "Refused", "Failed in fault"} & set(frame.columns), "no limit, no fault"
    assert len(at.get("vega_lite_chart")) == 5                  # four side by side, database reads over time
    assert say("policies-need-limit") in [c.value for c in at.caption], "no limit: no policy chart, and why"
    assert f"{Workload().requests:,} requests per pattern" in " ".join(c.value for c in at.caption)
    assert "fewer database writes than write-through" in summary(at)


def test_a_small_workload_shows_its_numbers_and_a_summary_that_states_them(app):
    at = submit(app("compare", timeout=60), requests=300, keys=40, seed=5)
    assert "300 requests per pattern" in " ".join(c.value for c in at.caption)
    frame = numbers(at).set_index("Pattern")
    assert frame.loc["Write-through", "DB writes"] == frame.loc["Cache-aside", "DB writes"]   # every write
    assert frame.loc["Write-behind", "DB writes"] < frame.loc["Write-through", "DB writes"]
    told = summary(at)
    assert f"({frame.loc['Write-behind', 'DB writes']:,} rows against {frame.loc['Write-through', 'DB writes']:,})" \
        in told
    assert not at.error


def test_a_crash_is_summarised_with_the_writes_it_lost(app):
    at = submit(app("compare", timeout=60), requests=400, batch=50, delay=600.0, fault="cache-crash", fault_at=300)
    frame = numbers(at).set_index("Pattern")
    lost = frame.loc["Write-behind", "Lost writes"]
    assert lost > 0 and frame.drop("Write-behind")["Lost writes"].sum() == 0
    assert f"lost **{lost} acknowledged writes** of Write-behind" in summary(at)


def test_an_outage_window_past_the_end_is_refused_with_a_message(app):
    at = submit(app("compare", timeout=60), requests=300, fault="db-outage", fault_at=250, fault_length=100)
    [error] = at.error
    assert say("bad-knobs") in error.value
    assert say("bad-fault-window", at=250, left=50) in error.value
    assert not at.dataframe and not at.get("vega_lite_chart")
    at = submit(at, fault_length=50)                    # fixed: it runs
    assert not at.error and list(numbers(at)["Pattern"]) == TITLES
    assert "During the database outage (50 requests from request 251)" in summary(at)


def test_a_fault_start_past_the_end_is_refused_with_a_message(app):
    at = submit(app("compare", timeout=60), requests=300, fault="cache-crash", fault_at=300)
    assert say("bad-fault-at", last="299") in at.error[0].value


def chart_data(at: AppTest, title: str):
    """The data of the chart whose Vega-Lite spec has this title (or, with no title, mentions it)."""
    for chart in at.get("vega_lite_chart"):
        if title in chart.proto.spec:
            [dataset] = chart.proto.datasets
            return pa.ipc.open_stream(dataset.data.data).read_all().to_pandas()
    raise AssertionError(f"no chart {title!r} on the page")


def test_memory_expiry_and_instance_knobs_reach_the_run_and_its_figures(app):
    knobs = {"requests": 300, "keys": 60, "ttl": 5, "maxmemory": 3_000, "policy": "allkeys-lru", "jitter": 20,
             "refresh_ahead": "0.5", "instances": 2, "near_ttl": 15, "near_invalidation": "pubsub",
             "policy_for": "read-through"}
    at = submit(app("compare", timeout=60), **knobs)
    assert not at.error
    workload = Workload(requests=300, keys=60, ttl_seconds=5, maxmemory=3_000, maxmemory_policy="allkeys-lru",
                        ttl_jitter=20, refresh_ahead=0.5, app_instances=2, near_ttl=15, near_invalidation="pubsub")
    core = run_compare(workload).by_pattern()
    frame = numbers(at).set_index("Pattern")
    for result in core.values():
        assert frame.loc[result.title, "Evicted"] == result.evictions > 0
        assert frame.loc[result.title, "DB reads"] == result.db_reads
    told = summary(at)
    assert "Each cache had 3,000 bytes (allkeys-lru); keys evicted to make room: " in told
    assert "only Cache-aside, Read-through and Write-through have them, so Write-behind ran without them" in told
    # Database reads over time: every second of each run, adding up to its database reads.
    over_time = chart_data(at, "Database reads per simulated second")
    for title, reads in over_time.groupby("Pattern")["Database reads"]:
        assert reads.sum() == frame.loc[title, "DB reads"]
    # The hit ratio of the chosen pattern under each policy, and the sentence chosen from those numbers.
    found = by_policy(workload, "read-through")
    bars = chart_data(at, '"Policy"').set_index("Policy")
    assert list(bars.index) == list(POLICIES)
    assert {policy: bars.loc[policy, "Hit ratio (%)"] for policy in POLICIES} == \
        {policy: round(r.hit_ratio * 100, 1) for policy, r in found.items()}
    [said] = policy_summary(workload, "Read-through", found)
    assert any(said.text in block.value for block in at.markdown)
    assert [s.value for s in at.subheader][-1] == say("policy-heading", pattern="Read-through")


def test_a_bad_instance_knob_is_refused_with_a_message(app):
    at = submit(app("compare", timeout=60), requests=300, instances=2, near_ttl=0)
    [error] = at.error
    assert say("bad-knobs") in error.value and say("bad-near", ways="ttl or pubsub") in error.value
    assert not at.dataframe and not at.get("vega_lite_chart")
    at = submit(at, near_ttl=5)                         # fixed: it runs
    assert not at.error and list(numbers(at)["Pattern"]) == TITLES
