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


def test_the_sentence_under_the_diagram_says_the_ttl_the_cache_table_shows():
    """"After this step … (N s left)" and the Cache table's TTL column are one screen: both round as the table
    does (a key with 49.3 s left is 50 in both, not 49 in one), and a key still cached with milliseconds left is
    never said to have "0 s left"."""
    from core_support import new_lab

    from lab_ui.narration import after
    from strategies.views import ttl_text

    lab = new_lab("cache-aside")
    lab.read("user:1")
    for seconds in (10.7, 49.2):               # 60 s TTL: about 49.3 s left, then about 0.1 s
        lab.advance_time(seconds)
        state = lab.live()
        left = state.ttl("user:1")
        sentence = after(state, "user:1", [])
        table = next(row for row in lab.views()[0].rows(state, changed=frozenset()).rows if row[0] == "user:1")
        assert table[2] == ttl_text(left)
        said = f"({ttl_text(left)} s left)" if left >= 1 else "(under 1 s left)"
        assert said in sentence, (left, sentence)
        assert "(0 s left)" not in sentence
