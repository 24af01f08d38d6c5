"""The app in a real browser: Debian's Chromium, driven by Playwright, against `streamlit run app.py`.

AppTest (tests/test_app.py) covers page logic and table contents; these tests cover what only a browser
shows: routing of a first deep link, the animated diagram, playback ticking, sessions kept apart, and
hostile input staying text. Tables are st.dataframe (canvas-drawn glide grids); their cells are read
from the accessible <table role=grid> the grid keeps inside its canvas.

Run: .venv/bin/python -m pytest tests/test_browser.py -q   (screenshots go to test-artifacts/)
"""

from __future__ import annotations

import re
import uuid

import pytest
from browser_support import (
    goto,
    launch_chromium,
    new_page,
    poll,
    require_browser,
    save_screenshot,
    settle,
    start_server,
)

try:
    from playwright.sync_api import TimeoutError as PlaywrightTimeout
    from playwright.sync_api import expect, sync_playwright
except ImportError:   # require_browser() turns this into a skip locally and a failure under CI=true
    PlaywrightTimeout = TimeoutError
    expect = sync_playwright = None

pytestmark = pytest.mark.browser

PAGES = {  # pattern: (URL path, page title)
    "cache-aside": ("/cache_aside", "Cache-aside"),
    "read-through": ("/read_through", "Read-through"),
    "write-through": ("/write_through", "Write-through"),
    "write-behind": ("/write_behind", "Write-behind"),
}
NAV_TITLES = ["Home", "Cache-aside", "Read-through", "Write-through", "Write-behind"]
LEGACY_NAV_NAMES = {"app", "lab ui", "home", "cache aside", "read through", "write through", "write behind"}
# What a read of a key just written does, and how many steps it plays.
READ_AFTER_WRITE = {"cache-aside": ("miss", 5), "read-through": ("miss", 5), "write-through": ("hit", 2),
                    "write-behind": ("hit", 2)}
STEP_TEXT = re.compile(r"^\s*step (\d+) of (\d+)\s*$")
SEEDED_USER_1 = "Ada Lovelace"

# The st.dataframe shown right after a heading (st.subheader) in document order; [] when the heading is
# followed by a caption instead ("The cache is empty."); null while the grid has not drawn its rows yet.
TABLE_JS = """(heading) => {
    const items = [...document.querySelectorAll('h1, h2, h3, [data-testid=stDataFrame]')];
    const at = items.findIndex(el => /^H[1-3]$/.test(el.tagName) && el.textContent.trim() === heading);
    if (at < 0) return null;
    const next = items[at + 1];
    if (!next || next.matches('h1, h2, h3')) return [];
    const grid = next.querySelector('table[role=grid]');
    if (!grid) return null;
    return [...grid.querySelectorAll('tbody tr')].map(
        row => [...row.querySelectorAll('td')].map(cell => cell.textContent));
}"""

DIAGRAM_JS = """() => {
    const svgs = document.querySelectorAll('.stGraphVizChart svg');
    const svg = svgs[0];
    if (!svg) return {svgs: 0, nodes: [], edges: [], active: []};
    const text = el => [...el.querySelectorAll('text')].map(t => t.textContent).join(' ');
    const title = el => el.querySelector('title')?.textContent ?? '';
    return {
        svgs: svgs.length,
        nodes: [...svg.querySelectorAll('g.node')].map(n => ({title: title(n), text: text(n)})),
        edges: [...svg.querySelectorAll('g.edge')].map(e => text(e)),
        active: [...svg.querySelectorAll('g.edge.active')].map(e => ({
            title: title(e), text: text(e),
            animation: e.querySelector('path') ? getComputedStyle(e.querySelector('path')).animationName : null,
        })),
    };
}"""


# ---- fixtures --------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def chromium():
    require_browser()
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def lab_server(tmp_path_factory):
    """One server shared by the module's tests; each test opens its own browser context (own session)."""
    require_browser()
    server = start_server(tmp_path_factory.mktemp("lab-server"))
    yield server
    server.stop()


@pytest.fixture
def open_page(chromium):
    """Pages in fresh contexts (so fresh sessions); at teardown, pass or fail, each one's screenshot goes to
    test-artifacts/<name>.png (unless name is None) and its context is closed."""
    opened = []

    def make(name: str | None):
        page = new_page(chromium)
        opened.append((page, name))
        return page

    yield make
    for page, name in opened:
        try:
            if name:
                save_screenshot(page, name)
        finally:
            page.context.close()


# ---- helpers ---------------------------------------------------------------------------------------------
def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def button(page, name: str):
    return page.get_by_role("button", name=name, exact=True)


def table(page, heading: str):
    return page.evaluate(TABLE_JS, heading)


def values(rows) -> dict[str, str]:
    """Key -> Value of a Cache or Database grid (their first two columns)."""
    return {row[0]: row[1] for row in rows if len(row) >= 2}


def wait_table(page, heading: str, accept, what: str, timeout: float = 15.0):
    return poll(lambda: table(page, heading), lambda rows: rows is not None and accept(rows), timeout=timeout,
                what=f"the {heading!r} table: {what}")


def request_row(rows, operation: str, key: str | None = None):
    """The newest row of the Requests grid (#, Request, Key, Outcome, ...) for this operation and key."""
    for row in rows:   # newest first
        if len(row) >= 4 and row[1] == operation and (key is None or row[2] == key):
            return row
    return None


def wait_request(page, operation: str, key: str | None = None, count: int = 1) -> list[str]:
    """Wait until the Requests log lists `count` requests of this operation (and key); returns the newest."""
    rows = wait_table(page, "Requests",
                      lambda rows: sum(1 for r in rows if request_row([r], operation, key)) >= count,
                      f"{count} {operation} request(s) of {key!r}")
    return request_row(rows, operation, key)


def send(page, operation: str, key: str | None = None, value: str | None = None) -> list[str]:
    """Type key/value, press Read / Write / Flush now, and wait until the Requests log shows the request."""
    before = sum(1 for r in (table(page, "Requests") or []) if request_row([r], operation.lower(), key))
    if key is not None:
        page.get_by_label("Key", exact=True).fill(key)
    if value is not None:
        page.get_by_label("Value", exact=True).fill(value)
    button(page, {"read": "Read", "write": "Write", "flush": "Flush now"}[operation]).click()
    return wait_request(page, operation, key, count=before + 1)


def diagram(page) -> dict:
    return page.evaluate(DIAGRAM_JS)


def wait_one_active_edge(page) -> dict:
    return poll(lambda: diagram(page), lambda d: d["svgs"] == 1 and len(d["active"]) == 1,
                what="one diagram with exactly one g.edge.active")


def step_counter(page) -> tuple[int, int]:
    counter = page.get_by_text(STEP_TEXT)
    expect(counter).to_have_count(1)
    match = STEP_TEXT.match(counter.inner_text())
    assert match, counter.inner_text()
    return int(match[1]), int(match[2])


def pause_past_first_step(page) -> tuple[int, int]:
    """Leave playback paused on a step N >= 2 (Step forward pauses; a finished playback is paused too)."""
    try:
        button(page, "Step forward").click(timeout=3000)
    except PlaywrightTimeout:
        pass   # disabled: playback already reached the last step
    expect(button(page, "Play")).to_be_visible(timeout=15_000)
    settle(page)
    return step_counter(page)


def step_to_end(page) -> None:
    """Click Step forward until the counter says "step M of M" (bounded)."""
    for _ in range(12):
        step, steps = step_counter(page)
        if step >= steps:
            return
        try:
            button(page, "Step forward").click(timeout=3000)
        except PlaywrightTimeout:
            continue   # it became disabled: playback got to the end on its own
        expect(page.get_by_text(STEP_TEXT)).not_to_have_text(f"step {step} of {steps}", timeout=10_000)
    raise AssertionError(f"playback did not reach its last step: {step_counter(page)}")


def narration(page) -> str:
    """The narration box's plain-text lines (st.text: the step's explanation and, at the end, the summary)."""
    return "\n".join(page.locator("[data-testid=stText]").all_inner_texts())


def set_max_delay(page, seconds: int) -> None:
    """Write-behind: raise the flusher's max delay so no timed flush happens while the test looks."""
    button(page, "Settings and faults").click()
    field = page.get_by_label("Max delay (s)")
    field.fill(str(seconds))
    field.press("Enter")
    settle(page)
    page.keyboard.press("Escape")
    expect(field).to_be_hidden()


def no_exception(page) -> None:
    expect(page.locator("[data-testid=stException]")).to_have_count(0)


# ---- 1. a first visit by deep link -----------------------------------------------------------------------
@pytest.mark.parametrize("pattern", list(PAGES))
def test_first_visit_deep_link_is_routed_through_the_app(pattern, chromium, tmp_path, open_page):
    """A fresh server's very first request is a pattern's URL: app.py's navigation must still route it
    (Streamlit 1.67 would otherwise run the file alone, in legacy pages-folder mode)."""
    path, title = PAGES[pattern]
    server = start_server(tmp_path / "server")
    page = open_page(None)
    try:
        goto(page, server, path)
        expect(page.get_by_role("heading", level=1)).to_have_text(title)
        nav = page.locator("[data-testid=stSidebarNav] [data-testid=stSidebarNavLink] "
                           "[data-testid=stMarkdownContainer]")
        expect(nav).to_have_text(NAV_TITLES, timeout=10_000)
        labels = [text.strip() for text in nav.all_inner_texts()]
        assert not LEGACY_NAV_NAMES & set(labels), f"file-name navigation shown: {labels}"
        expect(page.locator("[role=dialog]")).to_have_count(0)   # Streamlit's "Page not found"
        no_exception(page)
        # The app's own sidebar ran too, on the embedded fakeredis (REDIS_URL is not passed to the server).
        expect(page.get_by_test_id("stSidebar")).to_contain_text("fakeredis")
    finally:
        try:
            save_screenshot(page, f"first-visit-{pattern}")   # while its server still runs
        finally:
            server.stop()


# ---- 2. each pattern page --------------------------------------------------------------------------------
@pytest.mark.parametrize("pattern", list(PAGES))
def test_pattern_page_write_read_animate_and_step(pattern, chromium, lab_server, open_page):
    path, title = PAGES[pattern]
    page = open_page(f"pattern-{pattern}")
    goto(page, lab_server, path)
    expect(page.get_by_role("heading", level=1)).to_have_text(title)
    no_exception(page)

    figure = poll(lambda: diagram(page), lambda d: d["svgs"] == 1 and d["nodes"], what="the diagram's SVG")
    for actor in ("App", "Cache", "Database"):
        assert any(n["title"] == actor or actor in n["text"] for n in figure["nodes"]), (actor, figure["nodes"])

    if pattern == "write-behind":
        set_max_delay(page, 600)

    key, value = unique(f"a-{pattern}"), unique("value")   # "a-…" sorts first: its row is on screen
    assert send(page, "write", key, value)[3] == "ok"
    step_to_end(page)   # while a request plays, the tables show the state after its current step
    db_after_write = wait_table(page, "Database", lambda rows: True, "drawn")
    if pattern == "write-behind":
        # Acknowledged from the cache; the database does not have it yet, the queue does.
        wait_table(page, "Cache", lambda rows: values(rows).get(key) == value, f"{key} = {value}")
        assert key not in values(db_after_write), db_after_write
        queued = wait_table(page, "Write-behind queue", lambda rows: rows, "the queued write")
        assert [row[1:3] for row in queued] == [[key, value]], queued
        expect(page.get_by_text(re.compile(r"of 600 s max delay"))).to_be_visible()
    else:
        assert values(db_after_write).get(key) == value, db_after_write
        cache = wait_table(page, "Cache", lambda rows: True, "drawn")
        if pattern == "write-through":
            assert values(cache).get(key) == value, cache          # written through to the cache
        else:
            assert key not in values(cache), cache                 # invalidated: DEL

    outcome, read_steps = READ_AFTER_WRITE[pattern]
    assert send(page, "read", key)[3] == outcome
    shown = wait_one_active_edge(page)
    assert shown["active"][0]["animation"] not in (None, "", "none"), shown["active"]
    assert step_counter(page)[1] == read_steps

    step, steps = pause_past_first_step(page)
    assert 2 <= step <= steps == read_steps
    button(page, "Step back").click()
    expect(page.get_by_text(STEP_TEXT)).to_have_text(f"step {step - 1} of {steps}")
    button(page, "Step forward").click()
    expect(page.get_by_text(STEP_TEXT)).to_have_text(f"step {step} of {steps}")
    assert len(wait_one_active_edge(page)["active"]) == 1

    step_to_end(page)
    wait_table(page, "Cache", lambda rows: values(rows).get(key) == value, f"{key} = {value} after the read")
    if pattern == "write-behind":
        assert key not in values(wait_table(page, "Database", lambda rows: True, "drawn")), "flushed too early"

    if pattern == "write-behind":
        send(page, "flush")
        step_to_end(page)
        wait_table(page, "Database", lambda rows: values(rows).get(key) == value, f"{key} = {value} after Flush")
        wait_table(page, "Write-behind queue", lambda rows: rows == [], "an empty queue")
    no_exception(page)
    settle(page)


# ---- 3. two learners, two labs ---------------------------------------------------------------------------
def test_sessions_do_not_share_data(chromium, lab_server, open_page):
    """Learner A overwrites a seeded key; learner B, on the same server, still reads the seeded value."""
    a, b = open_page("isolation-a"), open_page("isolation-b")
    goto(a, lab_server, "/cache_aside")
    goto(b, lab_server, "/cache_aside")
    mine = unique("only-learner-a")

    send(a, "write", "user:1", mine)
    send(a, "read", "user:1")
    step_to_end(a)
    assert f"'{mine}'" in narration(a)   # the narration does quote the value a read returned

    assert send(b, "read", "user:1")[3] == "miss"   # A's read filled A's cache only
    step_to_end(b)
    told = narration(b)
    assert f"'{SEEDED_USER_1}'" in told and mine not in told, told
    assert values(wait_table(b, "Cache", lambda rows: rows, "filled"))["user:1"] == SEEDED_USER_1
    assert values(wait_table(b, "Database", lambda rows: rows, "drawn"))["user:1"] == SEEDED_USER_1
    assert mine not in b.content()
    # And A's lab still has A's value.
    assert values(wait_table(a, "Database", lambda rows: rows, "drawn"))["user:1"] == mine


# ---- 4. hostile input is only ever text -----------------------------------------------------------------
HOSTILE = [
    ('<script>window.__pwned=1</script>', "<script>window.__pwned"),
    ('"]; x -> y [label="pwned"]; z [', '"]; x -> y'),
]


def test_hostile_keys_and_values_render_as_text(chromium, lab_server, open_page):
    page = open_page("hostile-input")
    goto(page, lab_server, "/cache_aside")
    before = poll(lambda: diagram(page), lambda d: d["svgs"] == 1 and d["nodes"], what="the diagram's SVG")
    actors = sorted(n["title"] for n in before["nodes"])
    value = '<img src=x onerror="window.__pwned=1">'

    for count, (key, label_part) in enumerate(HOSTILE, start=1):
        send(page, "write", key, value)
        send(page, "read", key)
        after = poll(lambda: diagram(page),
                     lambda d, part=label_part: d["svgs"] == 1 and any(part in e for e in d["edges"]),
                     what=f"arrows labelled with the literal key {key!r}")
        assert sorted(n["title"] for n in after["nodes"]) == actors, after["nodes"]
        assert len(after["active"]) == 1, after["active"]
        rows = wait_table(page, "Requests", lambda rows, n=2 * count: len(rows) >= n, "the requests")
        assert rows[0][1:3] == ["read", key], rows[0]                    # shown verbatim in the log
        assert values(wait_table(page, "Database", lambda r: True, "drawn")).get(key) == value
        step_to_end(page)   # the last step and the summary quote both the key and the value read
        told = narration(page)
        assert key in told and value in told, told                       # as literal text
        assert page.locator('img[src="x"]').count() == 0
        assert page.evaluate("() => typeof window.__pwned") == "undefined"
        no_exception(page)
        expect(page.get_by_test_id("stAlert")).to_have_count(0)       # no "Nothing was sent" either
    with pytest.raises(PlaywrightTimeout):   # give an onerror handler a moment to fire: it must not
        page.wait_for_function("() => window.__pwned !== undefined", timeout=1000)
