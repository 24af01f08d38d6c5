"""The learner's tables as Arrow (lab_ui.tables.frame): the columns the views give, the "This step" marker,
and a column that mixes kinds shown as text instead of refused."""

from __future__ import annotations

from lab_ui.tables import frame
from strategies.views import TableRows


def test_a_table_keeps_its_columns_and_marks_what_the_step_changed():
    rows = TableRows(("Key", "Value", "Version"), [("user:1", "Ada", 1), ("user:2", "Alan", 2)], total=2,
                     changed=frozenset({"user:2"}))
    table = frame(rows)
    assert table.column_names == ["This step", "Key", "Value", "Version"]
    assert table.to_pydict() == {"This step": ["", "◀ changed"], "Key": ["user:1", "user:2"],
                                 "Value": ["Ada", "Alan"], "Version": [1, 2]}


def test_a_column_mixing_numbers_and_text_is_shown_as_text():
    rows = TableRows(("Key", "TTL (s)"), [("a", 12.5), ("b", "—"), ("c", None)], total=3)
    assert frame(rows).to_pydict() == {"Key": ["a", "b", "c"], "TTL (s)": ["12.5", "—", None]}


def test_an_empty_table_still_has_its_columns():
    table = frame(TableRows(("Key", "Value"), [], total=0))
    assert table.column_names == ["Key", "Value"] and table.num_rows == 0
