"""The app in a real browser: Debian's Chromium, driven by Playwright, against `streamlit run app.py`.

AppTest (tests/test_app.py) covers page logic and table contents; these tests cover what only a browser
shows: routing of a first deep link, the animated diagram, playback ticking, sessions kept apart, and
hostile input staying text. Tables are st.dataframe (canvas-drawn glide grids); their cells are read
from the accessible <table role=grid> the grid keeps inside its canvas.

Run: .venv/bin/python -m pytest tests/test_browser.py -q   (screenshots go to test-artifacts/)
"""

from __future__ import annotations

import re
import shutil
import subprocess
import uuid

import pytest
import redis
from browser_support import (
    free_port,
    goto,
    poll,
    save_screenshot,
    settle,
    skip_or_fail,
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
NAV_TITLES = ["Home", "Cache-aside", "Read-through", "Write-through", "Write-behind", "Compare", "Find the race"]
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
    if (!grid) { next.scrollIntoView({block: 'nearest'}); return null; }   // a grid off screen may not draw
    const headers = [...grid.querySelectorAll('thead th')].map(cell => cell.textContent.trim());
    return [...grid.querySelectorAll('tbody tr')].map(row => {
        const cells = [...row.querySelectorAll('td')].map(cell => cell.textContent);
        // Cells by column name; the "This step" marker column, when present, is dropped so that the
        // positions of the other columns are the same whether or not the step changed anything.
        return headers.length === cells.length && headers[0] === 'This step' ? cells.slice(1) : cells;
    });
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


# ---- fixtures: chromium, lab_server and open_page live in conftest.py (the classroom tests share them) ----


# ---- helpers ---------------------------------------------------------------------------------------------
def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def button(page, name: str):
    """The button labelled `name`; a button with a keyboard shortcut is named after its label and its key
    ("Step back Shortcut ←"), so the name may go on with the shortcut, and only with it."""
    return page.get_by_role("button", name=re.compile(rf"^{re.escape(name)}( Shortcut \S+)?$"))


OPEN_LOG_JS = """() => {
    const closed = [...document.querySelectorAll('[data-testid=stExpander] details:not([open]) summary')]
        .find(el => el.textContent.includes('Request log'));
    if (closed) closed.click();
    return !!closed;
}"""


def table(page, heading: str):
    """The grid under a heading; the request log is drawn only while its expander is open, so it is opened."""
    if heading == "Requests" and page.evaluate(OPEN_LOG_JS):
        return None                      # the log opens with the next run: the caller polls
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
    logged = wait_table(page, "Requests", lambda rows: True, "the log before the request")
    before = sum(1 for r in logged if request_row([r], operation.lower(), key))
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


def open_more(page) -> None:
    """Open the More menu (its first tab, Settings and faults, shows first)."""
    button(page, "More").click()
    expect(page.get_by_role("tab", name="Settings and faults")).to_be_visible()


def set_setting(page, label: str, value: float) -> None:
    """Open More → Settings and faults, type a number into one of its fields, commit it and close the menu."""
    open_more(page)
    field = page.get_by_role("spinbutton", name=label)
    field.fill(str(value))
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
        nav = page.locator("[data-testid=stTopNavLink] [data-testid=stMarkdownContainer]")
        expect(nav).to_have_text(NAV_TITLES, timeout=10_000)
        labels = [text.strip() for text in nav.all_inner_texts()]
        assert not LEGACY_NAV_NAMES & set(labels), f"file-name navigation shown: {labels}"
        expect(page.locator("[role=dialog]")).to_have_count(0)   # Streamlit's "Page not found"
        no_exception(page)
        # The app's own page ran too, on the embedded fakeredis (REDIS_URL is not passed to the server).
        open_more(page)
        expect(page.get_by_text(re.compile("embedded fakeredis"))).to_be_visible()
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
        set_setting(page, "Max delay (s)", 600)   # no timed flush while the test looks

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
        # The step counter and the tables arrive in one rerun, but the grid may draw a moment later: wait for it.
        db_after_write = wait_table(page, "Database", lambda rows: values(rows).get(key) == value,
                                    f"{key} = {value} after the write")
        assert values(db_after_write).get(key) == value, db_after_write
        cache = wait_table(page, "Cache", lambda rows: key in values(rows) if pattern == "write-through" else True,
                           "drawn")
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
    ('<script>window.__pwned=1</script>', "<script>window"),
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


# ---- 5. the layout: what a learner sees after a click, without scrolling ---------------------------------
ON_SCREEN_JS = """(texts) => {
    const visible = el => { const r = el.getBoundingClientRect();
                            return r.height > 0 && r.top >= 0 && r.bottom <= window.innerHeight; };
    const svg = document.querySelector('.stGraphVizChart svg');
    const buttons = [...document.querySelectorAll('button')];
    const found = {diagram: !!svg && visible(svg), scrolled: window.scrollY};
    for (const label of ['Step forward', 'Step back']) {
        const b = buttons.find(el => el.querySelector('p')?.textContent.trim() === label);   // not its icon or key
        found[label] = !!b && visible(b);
    }
    const narration = [...document.querySelectorAll('[data-testid=stMarkdownContainer] strong')]
        .find(el => /^(Client \\w+ · )?Step \\d+:/.test(el.textContent));
    found.narration = !!narration && visible(narration);
    for (const heading of texts) {
        const h = [...document.querySelectorAll('h3')].find(el => el.textContent.trim() === heading);
        const grid = h && h.parentElement.closest('[data-testid=stVerticalBlock]')
            ?.querySelector('[data-testid=stDataFrame]');
        found[heading] = !!h && visible(h) && !!grid && grid.getBoundingClientRect().top < window.innerHeight - 60;
    }
    return found;
}"""


@pytest.mark.parametrize("width, height, tables", [(1440, 900, False), (1920, 1080, True)])
def test_after_a_click_the_diagram_controls_and_narration_are_on_screen(chromium, lab_server, width, height,
                                                                           tables):
    context = chromium.new_context(viewport={"width": width, "height": height})
    context.set_default_timeout(15_000)
    page = context.new_page()
    try:
        for pattern, (path, _) in PAGES.items():
            goto(page, lab_server, path)
            send(page, "read", "user:1")
            wait_one_active_edge(page)
            # Reading the request log scrolled to it (the window, or Streamlit's own scrolling main section).
            page.evaluate("() => { window.scrollTo(0, 0); document.querySelectorAll('main, section, div')"
                          ".forEach(el => { if (el.scrollTop) el.scrollTop = 0; }); }")
            seen = page.evaluate(ON_SCREEN_JS, ["Cache", "Database"] if tables else [])
            assert seen.pop("scrolled") == 0, (pattern, width)
            assert all(seen.values()), (pattern, width, seen)
        save_screenshot(page, f"layout-{width}x{height}")
    finally:
        context.close()


# ---- 6. one scale per pattern: a flush is drawn as large as a read ----------------------------------------
SCALE_JS = """() => {
    const svg = document.querySelector('.stGraphVizChart svg');
    const label = [...svg.querySelectorAll('g.edge text')][0];
    const box = title => [...svg.querySelectorAll('g.node')].find(n => n.querySelector('title')?.textContent === title)
        ?.getBoundingClientRect();
    const origin = svg.getBoundingClientRect();
    const at = title => { const b = box(title); return b && [Math.round(b.x - origin.x), Math.round(b.y - origin.y)]; };
    return {label: label.getBoundingClientRect().height, cache: at('Cache'), app: at('App'), db: at('Database')};
}"""


def test_one_scale_per_pattern_a_flush_is_drawn_as_large_as_a_read(chromium, lab_server, open_page):
    page = open_page("one-scale")
    goto(page, lab_server, "/write_behind")
    set_setting(page, "Batch size", 2)
    send(page, "read", "user:1")
    wait_one_active_edge(page)
    read = page.evaluate(SCALE_JS)
    send(page, "write", "user:1", "one")
    send(page, "write", "user:2", "two")        # a full batch: the write's trace carries the flush, 7 arrows
    assert step_counter(page)[1] == 7
    flush = page.evaluate(SCALE_JS)
    assert 0.9 <= flush["label"] / read["label"] <= 1.1, (read, flush)
    for actor in ("cache", "app", "db"):
        assert abs(flush[actor][0] - read[actor][0]) <= 0.05 * 1400 and abs(flush[actor][1] - read[actor][1]) <= 40, \
            (actor, read, flush)


# ---- 7. time runs: a TTL counts down and the key disappears without a click ------------------------------
def test_a_ttl_counts_down_live_and_the_key_expires_without_a_click(chromium, lab_server, open_page):
    page = open_page("ttl-countdown")
    goto(page, lab_server, "/cache_aside")
    set_setting(page, "TTL (seconds)", 8)
    send(page, "read", "user:3")
    step_to_end(page)
    first = wait_table(page, "Cache", lambda rows: rows and rows[0][0] == "user:3", "user:3 cached")
    seen = {first[0][2]}
    # Nobody clicks from here on: the panel's one-second timer moves the lab's clock with the wall clock.
    gone = poll(lambda: table(page, "Cache"), lambda rows: (rows is not None and rows and seen.add(rows[0][2]))
                or rows == [], timeout=20, interval=0.3, what="user:3 to expire on its own")
    assert gone == []
    assert len(seen) >= 2, f"the TTL column never counted down: {seen}"
    expect(page.get_by_text("The cache is empty.", exact=False)).to_be_visible()
    no_exception(page)


# ---- 8. nothing a learner does shows a traceback ---------------------------------------------------------
def test_a_hammered_page_never_shows_an_exception(chromium, lab_server, open_page):
    """Rapid key changes, Enter, Read and Write while a request plays, speed and step changes."""
    page = open_page("hammer")
    goto(page, lab_server, "/write_behind")
    key, value = page.get_by_label("Key", exact=True), page.get_by_label("Value", exact=True)
    speeds = ["4×", "0.5×", "2×", "1×"]
    for round_number in range(40):
        key.fill(f"k{round_number % 7}")
        if round_number % 3 == 0:
            key.press("Enter")
        value.fill(f"v{round_number}")
        button(page, "Write" if round_number % 2 else "Read").click(no_wait_after=True)
        if round_number % 4 == 0:                     # the speed lives in More → View
            button(page, "More").click(no_wait_after=True)
            page.get_by_role("tab", name="View").click(no_wait_after=True)
            page.get_by_role("radio", name=speeds[round_number // 4 % 4], exact=True).click(no_wait_after=True)
            page.keyboard.press("Escape")
        if round_number % 5 == 0:
            button(page, "Step back").click(no_wait_after=True)
        if round_number % 9 == 0:
            button(page, "Flush now").click(no_wait_after=True)
        assert page.locator("[data-testid=stException]").count() == 0, f"round {round_number}"
    settle(page, timeout=30)
    no_exception(page)
    newest = int(wait_table(page, "Requests", bool, "a logged request")[0][0])
    row = send(page, "read", "k1")                    # and the page still works
    assert row[1] == "read" and int(row[0]) > newest, (newest, row)


def test_ten_learners_clicking_at_once_never_see_an_exception(chromium, lab_server):
    contexts = [chromium.new_context(viewport={"width": 1280, "height": 800}) for _ in range(10)]
    try:
        pages, crashes = [], []
        for number, context in enumerate(contexts):
            context.set_default_timeout(30_000)
            page = context.new_page()
            # A frontend crash blanks the page without any exception element: catch it where it happens.
            page.on("pageerror", lambda error, number=number: crashes.append((number, str(error))))
            page.goto(lab_server.url + "/cache_aside", wait_until="domcontentloaded")
            pages.append(page)
        for page in pages:
            page.wait_for_selector(".stGraphVizChart svg", timeout=60_000)
        for round_number in range(5):          # every learner clicks, nobody waits for an answer
            for number, page in enumerate(pages):
                field = page.get_by_label("Value", exact=True)
                field.fill(f"learner {number} round {round_number}")
                field.press("Enter")                   # commit the value, as a learner's click would
                # A DOM click: Playwright's own waits for a stable element starve when ten pages redraw
                # on two cores, and a learner's click does not wait for anything either.
                button(page, "Write" if round_number % 2 else "Read").dispatch_event("click")
        for number, page in enumerate(pages):
            # No settle(): ten panels ticking each second keep two cores busy, and a page is rarely quiet.
            assert not crashes, crashes
            no_exception(page)
            rows = wait_table(page, "Requests", lambda rows: len(rows) >= 1, "requests", timeout=60)
            assert all(len(row) > 3 and row[3] in ("hit", "miss", "ok") for row in rows), (number, rows)
        mine = values(wait_table(pages[3], "Database", lambda rows: rows, "drawn"))["user:1"]
        assert mine.startswith("learner 3 "), mine     # each learner's writes stay in that learner's lab
    finally:
        for context in contexts:
            context.close()


# ---- 9. a real Redis that stops mid-class, and comes back ------------------------------------------------
# ---- guided scenarios -------------------------------------------------------------------------------------
EDGE_COLORS_JS = """() => [...document.querySelectorAll('.stGraphVizChart svg g.edge:not(.lane)')]
    .map(e => ({text: [...e.querySelectorAll('text')].map(t => t.textContent).join(' '),
                stroke: e.querySelector('path')?.getAttribute('stroke') ?? ''}))
    .filter(e => e.text)"""


def test_the_stale_set_race_by_url_shows_two_clients_and_the_stale_row(chromium, lab_server, open_page):
    page = open_page("scenario-stale-set-race")
    goto(page, lab_server, "/cache_aside?scenario=stale-set-race&step=8")
    expect(page.get_by_text("Client A finally stores what it read earlier")).to_be_visible(timeout=15_000)
    assert step_counter(page) == (8, 10)
    # Eight steps so far, on two lanes of three slots: the step on screen, the one before and the latest ones are
    # drawn; the first look-up and the first SELECT are listed under the narration instead.
    edges = poll(lambda: page.evaluate(EDGE_COLORS_JS), lambda found: len(found) == 6, what="the race's 6 arrows")
    assert {edge["text"].split(".")[0] for edge in edges} == {"A2", "A4", "A5", "B1", "B2", "B3"}, edges
    page.get_by_text("The whole scene: 2 earlier steps have").click()
    expect(page.get_by_text(re.compile(r"A1\. GET user:1 \(App → Cache\)"))).to_be_visible()
    done_a = {e["stroke"].lower() for e in edges if e["text"].startswith("A") and not e["text"].startswith("A5")}
    done_b = {e["stroke"].lower() for e in edges if e["text"].startswith("B")}
    assert {edge["text"][:1] for edge in edges} == {"A", "B"}, edges
    assert len(done_a) == 1 and len(done_b) == 1 and done_a != done_b, "each client's arrows in a colour of its own"
    assert "clients A B" in " ".join(node["text"] for node in diagram(page)["nodes"])
    rows = wait_table(page, "Cache", lambda rows: any(row[0] == "user:1" for row in rows), "user:1 cached")
    row = next(row for row in rows if row[0] == "user:1")
    assert row[1] == SEEDED_USER_1 and "stale" in row[-1], row
    for frame in (9, 10):            # one step at a time: a click waits for the step before it to be drawn
        button(page, "Step forward").click()
        poll(lambda: step_counter(page), lambda seen, frame=frame: seen == (frame, 10), what=f"step {frame}")
    expect(page.get_by_text("What you saw:")).to_be_visible(timeout=15_000)
    no_exception(page)


@pytest.fixture
def private_redis(tmp_path):
    """A redis-server of this test's own on a free loopback port, which the test may stop and restart."""
    binary = shutil.which("redis-server")
    if binary is None:
        skip_or_fail("redis-server is not installed (apt-get install -y redis-server)")
    port = free_port()

    def start():
        process = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                                    "--appendonly", "no"], stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
                                   cwd=tmp_path)
        probe = redis.Redis(port=port, socket_connect_timeout=0.5)
        poll(lambda: _pings(probe), bool, timeout=10, what="redis-server to answer PING")
        return process

    server = {"process": start(), "start": start, "url": f"redis://127.0.0.1:{port}/0"}
    yield server
    server["process"].kill()
    server["process"].wait(timeout=10)


def _pings(client) -> bool:
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False


def test_a_real_redis_that_stops_shows_a_message_and_recovers_without_a_reload(chromium, tmp_path, private_redis,
                                                                              open_page):
    server = start_server(tmp_path / "server", env={"REDIS_URL": private_redis["url"]})
    try:
        page = open_page("redis-outage")
        goto(page, server, "/cache_aside")
        assert send(page, "read", "user:1")[3] == "miss"
        step_to_end(page)

        private_redis["process"].kill()                      # the server dies mid-class
        private_redis["process"].wait(timeout=10)
        assert send(page, "read", "user:2")[3] == "degraded"  # cache-aside reads around the dead cache
        expect(page.get_by_text(re.compile("is not answering"))).to_be_visible()
        send(page, "write", "user:2", "written while the cache was gone")
        step_to_end(page)
        expect(page.get_by_test_id("stAlertContentWarning").get_by_text(re.compile("did not answer the DEL"))) \
            .to_be_visible()                                 # told, not hidden
        no_exception(page)

        private_redis["process"] = private_redis["start"]()  # back, empty (no persistence)
        row = send(page, "read", "user:2")
        assert row[3] == "miss", row                         # works again, without a reload
        step_to_end(page)
        expect(page.get_by_text(re.compile("is not answering"))).to_have_count(0)
        assert values(wait_table(page, "Cache", lambda rows: rows, "refilled"))["user:2"] == \
            "written while the cache was gone"
        no_exception(page)
    finally:
        server.stop()
