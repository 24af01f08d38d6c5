"""Helpers shared by the pages' tests through Streamlit's AppTest (the `app` fixture in conftest.py opens a page).

`open_app` is the one place the app is started under AppTest: from app.py, as a learner's browser does,
with the URL's query parameters, then switched to a page. The rest read the page as a learner reads it (its
tables, step counter, diagram, messages) and act on it by the widget keys the agent API documents.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
from core_support import ALL_PATTERNS
from streamlit.testing.v1 import AppTest

from lab_ui.state import PageState
from lab_ui.text import page_file

ROOT = Path(__file__).resolve().parent.parent
ACTIVE = re.compile(r'class="?active"?[\s\]]')
TABLE_COLUMNS = {"Cache": "TTL (s)", "Database": "Version", "Requests": "Latency (ms)", "Queue": "Stream id"}
EMPTY = {"Cache": "The cache is empty.", "Queue": "The queue is empty", "Requests": "No requests yet."}


def open_app(page: str | None = None, *, timeout: float = 30, **params: str) -> AppTest:
    """The app, opened with these query parameters, then switched to `page` (a pattern's name, or "compare");
    without a page, the home page."""
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=timeout).run()
    for name, value in params.items():
        at.query_params[name] = value
    if page is not None:
        at.switch_page(f"pages/{page_file(page)}.py").run()
    assert not at.exception, at.exception
    return at


def page_state(at: AppTest, pattern: str) -> PageState:
    """What the page of `pattern` remembers (its settings, speed, question…): `lab_ui.state.PageState`."""
    return at.session_state["pages"][pattern]


def open_menu(at: AppTest, pattern: str, *, open_: bool = True) -> AppTest:
    """Open (or close) the page's More menu: it is drawn only while open, and holds the time jumps, settings
    and faults, the playback speed, the modes, the share link and the exports."""
    at.session_state[f"{pattern}:more"] = open_
    at.run()
    assert not at.exception, at.exception
    return at


def widget(at: AppTest, kind: str, key: str):
    """The widget `key` ("<pattern>:<name>") of this kind ("toggle", "segmented_control"…); one that lives in
    the More menu is found with the menu open."""
    found = [element for element in getattr(at, kind) if element.key == key]
    if not found:
        open_menu(at, key.split(":")[0])
        found = [element for element in getattr(at, kind) if element.key == key]
    assert found, f"no {kind} {key} on the page, nor in its More menu"
    return found[0]


def click(at: AppTest, key: str) -> AppTest:
    """Click the button `key` ("<pattern>:<name>"); one that lives in the More menu is clicked with it open."""
    found = [button for button in at.button if button.key == key]
    if not found:
        open_menu(at, key.split(":")[0])
        found = [button for button in at.button if button.key == key]
    assert found, f"no button {key} on the page, nor in its More menu"
    found[0].click().run()
    assert not at.exception, at.exception
    return at


def send(at: AppTest, pattern: str, button: str, key: str | None = None, value: str | None = None, *,
         to_end: bool = True) -> AppTest:
    """Click a request button; then, unless to_end is False, step the playback to its last step, where
    the tables are live (while a request plays they show the state after the current step)."""
    if key is not None:
        at.text_input(key=f"{pattern}:key").input(key)
    if value is not None:
        at.text_input(key=f"{pattern}:value").input(value)
    click(at, f"{pattern}:{button}")
    if to_end:
        step_to_end(at, pattern)
    return at


def step_to_end(at: AppTest, pattern: str) -> None:
    for _ in range(30):
        if not has_counter(at):
            return
        step, steps = step_counter(at)
        if step >= steps:
            return
        click(at, f"{pattern}:forward")
    raise AssertionError(f"playback did not reach its end: {step_counter(at)}")


def table(at: AppTest, heading: str) -> pd.DataFrame:
    """The dataframe shown under a heading, by its columns; fails if that table did not render. The request
    log is drawn only while its expander is open: it is opened first."""
    if heading == "Requests":
        open_log(at)
    for frame in at.dataframe:
        if TABLE_COLUMNS[heading] in frame.value.columns:
            return frame.value
    raise AssertionError(f"no {heading} table on the page")


def open_log(at: AppTest) -> None:
    """Open the request log's expander (whichever page this is) and run."""
    for pattern in ALL_PATTERNS:
        at.session_state[f"{pattern}:log"] = True
    at.run()
    assert not at.exception, at.exception


def is_empty(at: AppTest, heading: str) -> bool:
    """True only if the page says this table is empty (the sentence it shows instead of a table)."""
    if heading == "Requests":
        open_log(at)
    said = any(EMPTY[heading] in c.value for c in at.caption)
    drawn = any(TABLE_COLUMNS[heading] in frame.value.columns for frame in at.dataframe)
    assert said != drawn, f"{heading}: both or neither of the table and its 'empty' sentence"
    return said


def values(at: AppTest, heading: str) -> dict[str, str]:
    if heading in EMPTY and is_empty(at, heading):
        return {}
    frame = table(at, heading)
    return dict(zip(frame["Key"], frame["Value"], strict=True))


def dot(at: AppTest) -> str:
    return at.get("graphviz_chart")[0].proto.spec


def has_counter(at: AppTest) -> bool:
    return any(re.fullmatch(r"\*\*step (\d+) of (\d+)\*\*", block.value) for block in at.markdown)


def step_counter(at: AppTest) -> tuple[int, int]:
    for block in at.markdown:
        found = re.fullmatch(r"\*\*step (\d+) of (\d+)\*\*", block.value)
        if found:
            return int(found[1]), int(found[2])
    raise AssertionError("no step counter on the page")


def texts(at: AppTest) -> list[str]:
    return [t.value for t in at.text]


def settings(at: AppTest, pattern: str, **changes) -> AppTest:
    """Open More → "Settings and faults" and change its widgets by name (e.g. down=True, ttl=10)."""
    open_menu(at, pattern)                                # the menu is drawn only while open
    for suffix, value in changes.items():
        key = f"{pattern}:{suffix.replace('_', '-')}:widget"
        widget = next(w for kind in ("toggle", "number_input", "radio", "select_slider")
                      for w in getattr(at, kind) if w.key == key)
        widget.set_value(value)
    at.run()
    assert not at.exception, at.exception
    return at


def close_settings(at: AppTest, pattern: str) -> AppTest:
    return open_menu(at, pattern, open_=False)


def unescaped(text: str) -> str:
    """Text as a learner reads it: what the page escaped so that Markdown shows it literally, unescaped."""
    return re.sub(r"\\(.)", r"\1", text)


def messages(at: AppTest) -> str:
    """The page's messages as a learner reads them (Markdown escapes undone)."""
    return unescaped(" ".join(block.value for kind in ("warning", "info", "error") for block in getattr(at, kind)))


def warnings(at: AppTest) -> str:
    """The warnings as a learner reads them: a link's text is escaped so Markdown shows it literally."""
    return unescaped(" ".join(block.value for block in at.warning))
