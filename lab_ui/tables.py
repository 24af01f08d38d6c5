"""The learner's tables as DataFrames: rows come from `strategies.views` (pure, tested without Streamlit).

No pandas Styler: it costs several times the table itself on every rerun, and a colour alone would not
tell a colour-blind learner anything. Each row says its state in words (✓, ⚠, "queued"), and a
"This step" column points at what the step on screen changed.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from strategies.views import TableRows

from .text import say

# Numbers and marks need little room; keys and values get the rest.
NARROW = {name: st.column_config.Column(width=width) for name, width in
          (("This step", 86), ("Version", 62), ("At (s)", 52), ("TTL (s)", 58), ("#", 30), ("Key", 110))}


def frame(rows: TableRows) -> pd.DataFrame:
    found = pd.DataFrame(rows.rows, columns=list(rows.columns))
    if rows.changed:
        found.insert(0, "This step", ["◀ changed" if key in rows.changed else "" for key in found[rows.key_column]])
    return found


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
