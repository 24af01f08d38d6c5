"""The learner's tables as DataFrames, and the bars of how full the lab is: rows come from `strategies.views`
(pure, tested without Streamlit), bars from `Lab.gauges`.

Each table goes to `st.dataframe` as a pyarrow Table, not a pandas DataFrame: Streamlit sends Arrow either
way, and building it straight from the rows costs a fraction of pandas' conversion on every click.

A pandas Styler only for a table with greyed rows (entries that are gone, kept a while: the keys lately
evicted): it costs several times the table itself, so the tables without such rows never pay for it. A colour
alone would not tell a colour-blind learner anything either: each row says its state in words (✓, ⚠,
"queued", "✗ evicted at …"), the grey (a Styler's colours, which Streamlit's grid draws) only repeats it, and
a "This step" column points at what the step on screen changed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import streamlit as st

from strategies.views import Gauge, TableRows

from .narration import plain
from .text import say

if TYPE_CHECKING:
    from pandas.io.formats.style import Styler  # only for its name: importing it loads jinja2

# Every column's width, so that a table's columns all fit its side of the page without a horizontal scrollbar
# at 1440 px (about 540 px there; a long value or state is cut with "…" in its cell and shown whole on hover).
NARROW = {name: st.column_config.Column(width=width) for name, width in
          (("This step", 74), ("Version", 60), ("At (s)", 50), ("TTL (s)", 58), ("#", 30), ("Key", 96),
           ("Value", 130), ("In cache", 112), ("State", 150), ("Stream id", 90), ("Holder", 130),
           ("Expires in (s)", 110))}
# A row's height at the theme's font size (17 px: 37 px rows); a table as high as its rows (the header one of
# them, 3 px of borders), up to about seven and a half: the half row says there is more below.
ROW_PX = 37
MAX_HEIGHT = 282
# A greyed row: grey text on a lighter grey (5.4:1, WCAG AA); its State says in words what the grey shows.
GREYED = "color: #5c6166; background-color: #eceef1"


def frame(rows: TableRows) -> pa.Table:
    names = list(rows.columns)
    columns = [list(values) for values in zip(*rows.rows, strict=True)] if rows.rows else [[] for _ in names]
    if rows.changed:
        keys = columns[names.index(rows.key_column)]
        names.insert(0, "This step")
        columns.insert(0, ["◀ changed" if key in rows.changed else "" for key in keys])
    return pa.table({name: column_array(values) for name, values in zip(names, columns, strict=True)})


def column_array(values: list) -> pa.Array:
    """One column; a column mixing kinds (a number here, a dash there) is shown as text rather than refused."""
    try:
        return pa.array(values)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return pa.array([None if value is None else str(value) for value in values], type=pa.string())


def greyed(table: pa.Table, rows: TableRows) -> pa.Table | Styler:
    """The table as shown: its greyed rows (`TableRows.greyed`) styled apart; the Arrow table itself if none."""
    if not rows.greyed:
        return table
    data = table.to_pandas()
    gone = data.index[data[rows.key_column].isin(rows.greyed)]
    # One call for the greyed rows' cells at once (row by row, pandas' apply cost as much as the rest together).
    return data.style.apply(lambda cells: np.full(cells.shape, GREYED), axis=None, subset=(gone, slice(None)))


def show(title: str, rows: TableRows, empty: str) -> None:
    """A heading and its table, or a sentence saying why it is empty; a cut table says so."""
    st.subheader(title)
    if not rows.rows:
        st.caption(empty)
        return
    st.dataframe(greyed(frame(rows), rows), hide_index=True, width="stretch", row_height=ROW_PX,
                 height=min(ROW_PX * (len(rows.rows) + 1) + 3, MAX_HEIGHT), column_config=NARROW)
    if rows.cut:
        st.caption(say("table-cut", shown=rows.shown, total=rows.total))


def bars(gauges: list[Gauge]) -> None:
    """How full what the lab keeps is: one bar per gauge that has a limit, with the part's own words. A bar may
    pass its limit a little (Redis too goes over by what one command adds): it is drawn full, its words say
    by how much."""
    for gauge in gauges:
        if gauge.fraction is not None:
            st.progress(min(1.0, max(0.0, gauge.fraction)), text=plain(f"{gauge.label}: {gauge.text}"))
