"""The Compare page through Streamlit's AppTest, started from app.py as a learner's browser does.

The first visit runs the default workload (2,000 requests per pattern); `st.cache_data` keeps it for the
whole test process, so only the first test pays for it. The others submit small workloads through the form.
"""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from strategies.compare_summary import say
from strategies.compare_workload import Workload

TITLES = ["Cache-aside", "Read-through", "Write-through", "Write-behind"]


def submit(at: AppTest, **knobs) -> AppTest:
    """Set the form's widgets by their key suffix (requests=300, fault="cache-crash"…) and run."""
    for name, value in knobs.items():
        widget = next(w for kind in ("number_input", "slider", "radio", "selectbox", "toggle")
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
    assert [s.value for s in at.subheader] == [say("summary-heading"), say("table-heading"), say("charts-heading")]
    frame = numbers(at)
    assert list(frame["Pattern"]) == TITLES
    assert {"Hit ratio (%)", "DB writes", "Read p95 (ms)", "Write p50 (ms)", "Stale reads",
            "Max writes at risk", "Lost writes"} <= set(frame.columns)
    assert len(at.get("vega_lite_chart")) == 4
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
