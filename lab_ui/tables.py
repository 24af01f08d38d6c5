"""The learner's tables as DataFrames: rows come from `strategies.views` (pure, tested without Streamlit).

Each table goes to `st.dataframe` as a pyarrow Table, not a pandas DataFrame: Streamlit sends Arrow either
way, and building it straight from the rows costs a fraction of pandas' conversion on every click.

No pandas Styler: it costs several times the table itself on every rerun, and a colour alone would not
tell a colour-blind learner anything. Each row says its state in words (✓, ⚠, "queued"), and a
"This step" column points at what the step on screen changed.
"""

from __future__ import annotations

import pyarrow as pa
import streamlit as st

from strategies.views import TableRows

from .text import say

# Every column's width, so that a table's columns all fit its side of the page without a horizontal scrollbar
# at 1440 px (about 540 px there; a long value or state is cut with "…" in its cell and shown whole on hover).
NARROW = {name: st.column_config.Column(width=width) for name, width in
          (("This step", 74), ("Version", 60), ("At (s)", 50), ("TTL (s)", 58), ("#", 30), ("Key", 96),
           ("Value", 130), ("In cache", 112), ("State", 150), ("Stream id", 90), ("Holder", 130),
           ("Expires in (s)", 110))}


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


def show(title: str, rows: TableRows, empty: str) -> None:
    """A heading and its table, or a sentence saying why it is empty; a cut table says so."""
    st.subheader(title)
    if not rows.rows:
        st.caption(empty)
        return
    st.dataframe(frame(rows), hide_index=True, width="stretch", height=min(38 + 35 * len(rows.rows), 282),
                 column_config=NARROW)
    if rows.cut:
        st.caption(say("table-cut", shown=rows.shown, total=rows.total))
