"""A scenario's chart beside its caption: one figure of the run over simulated time (the database reads of each
simulated second during an expiry spike), with the second of the step on screen marked.

The chart and the caption under it are drawn from the run's own `Series` (its title and axis labels are
assets/scenarios.md's), so every number on them is the run's.
"""

from __future__ import annotations

import streamlit as st

from strategies import Step
from strategies.series import Series, second_of

from .text import say

BARS, NOW = "#4c6f94", "#c2410c"          # the bars; the second on screen (both 4.5:1 on white)
HEIGHT = {False: 230, True: 250}          # pixels, title and axes included, by presenting
FONT = {False: 13, True: 17}              # axis labels and titles, by presenting: legible from the back at 1280×720


def reads_in(series: Series, second: int) -> int:
    return next((value for at, value in series.points if at == second), 0)


def chart_spec(series: Series, now: int | None, *, presenting: bool = False) -> dict:
    """A Vega-Lite spec: bars of `series`, each spanning its simulated second, the bar of second `now` (the step
    on screen) in another colour and a dashed rule through it; the title and axis titles are the series' own.
    (A plain spec: Altair validates every chart it builds against the schema, which cost more than the rest of
    a step on a long scene.)"""
    values = [{"second": at, "end": at + 1, "value": value, "now": at == now} for at, value in series.points]
    first, last = (series.points[0][0], series.points[-1][0] + 1) if series.points else (0, 1)
    size = FONT[presenting]
    x = {"field": "second", "type": "quantitative", "title": series.x_label,
         "scale": {"domain": [first, last], "nice": False}, "axis": {"format": "d", "tickMinStep": 1}}
    # Each second is a bin [s, s + 1): a histogram's bars, rising from zero.
    bars = {"mark": {"type": "bar", "binSpacing": 1},
            "encoding": {"x": {**x, "bin": {"binned": True, "step": 1}}, "x2": {"field": "end"},
                         "y": {"field": "value", "type": "quantitative", "title": series.y_label,
                               "axis": {"format": "d", "tickMinStep": 1}},
                         "color": {"condition": {"test": "datum.now", "value": NOW}, "value": BARS},
                         "tooltip": [{"field": "second", "type": "quantitative", "title": series.x_label},
                                     {"field": "value", "type": "quantitative", "title": series.y_label}]}}
    layers = [bars]
    if now is not None:
        layers.append({"mark": {"type": "rule", "color": NOW, "strokeWidth": 2, "strokeDash": [4, 3]},
                       "transform": [{"filter": "datum.now"}, {"calculate": "datum.second + 0.5", "as": "middle"}],
                       "encoding": {"x": {**x, "field": "middle"}}})
    return {"data": {"values": values}, "layer": layers, "height": HEIGHT[presenting],
            "title": {"text": series.title, "fontSize": size + 1, "anchor": "start"},
            "config": {"axis": {"labelFontSize": size, "titleFontSize": size, "labelColor": "#31333f",
                                "titleColor": "#31333f"}, "view": {"strokeWidth": 0}}}


def scenario_chart(series: Series, step: Step | None, *, presenting: bool = False) -> None:
    """The run's chart, the second of `step` marked, and a caption of its numbers: that second's and the peak."""
    now = second_of(step) if step is not None else None
    with st.container(key="scenario-chart"):     # presenting, its caption is set larger (routing.PRESENTER_CSS)
        second, peak = series.peak
        said = say("chart-now", second=now, value=reads_in(series, now), label=series.y_label,
                   peak_second=second, peak=peak) if now is not None else None
        st.vega_lite_chart(chart_spec(series, now, presenting=presenting), width="stretch",
                           alt=f"{series.title}. {said or ''}".strip())
        if said is not None:
            st.caption(said)
