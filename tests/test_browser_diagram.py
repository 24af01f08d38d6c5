"""The diagram at classroom sizes, in Debian's Chromium: legible, above the fold, moving, and laid out as `dot` does.

What only a browser shows: Streamlit's stylesheet (it set every chart text to 0.6 rem), the SVG's scale on
screen, where the page puts the diagram, the animation of the step on screen, and the first paint of a fresh
server. Sizes are measured as issue 20 defines them: computed font size × the SVG's scale (getScreenCTM).
`python -m bench.legibility` prints the same figures for every page and mode.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import time

import pytest
from browser_support import goto, poll, settle, skip_or_fail, start_server
from core_support import new_lab
from test_browser import PAGES, button, send, step_counter, wait_one_active_edge

from strategies.diagram import build_diagram
from strategies.scenario import run_scenario
from strategies.scenarios import SCENARIOS

pytestmark = pytest.mark.browser

BUSY = {"cache-aside": "/cache_aside?scenario=stampede&step=20",
        "read-through": "/read_through?scenario=ttl-expiry-reload&step=10",
        "write-through": "/write_through?scenario=cache-pollution&step=15",
        "write-behind": "/write_behind?scenario=cache-crash-loss&step=16"}
GOALS = {(1280, 720, False): 12, (1280, 720, True): 14, (1920, 1080, False): 14, (1920, 1080, True): 18}

SIZES_JS = """() => {
    const svg = document.querySelector('.stGraphVizChart svg');
    const px = t => parseFloat(getComputedStyle(t).fontSize) * t.getScreenCTM().a;
    const box = svg.getBoundingClientRect();
    const narration = document.querySelector('.st-key-narration')?.getBoundingClientRect();
    const texts = [...svg.querySelectorAll('text')].map(t => {
        const b = t.getBoundingClientRect(), size = px(t);
        return {text: t.textContent, size, x0: b.left, x1: b.right, mid: (b.top + b.bottom) / 2,
                owner: t.closest('g.node, g.edge').id};
    });
    return {labels: [...svg.querySelectorAll('g.edge text')].map(px),
            names: [...svg.querySelectorAll('g.node text')].map(px), top: box.top, bottom: box.bottom,
            narrationBottom: narration ? narration.bottom : null,
            height: innerHeight, texts};
}"""


def collisions(texts: list[dict]) -> list[tuple[str, str]]:
    """Texts of different boxes or arrows whose drawn boxes meet or stand on one line too close."""
    found = []
    for number, a in enumerate(texts):
        for b in texts[number + 1:]:
            if a["owner"] == b["owner"]:
                continue
            size = min(a["size"], b["size"])
            same_line = abs(a["mid"] - b["mid"]) < 0.9 * size
            if same_line and max(b["x0"] - a["x1"], a["x0"] - b["x1"]) < size / 4:
                found.append((a["text"], b["text"]))
    return found


def page_at(chromium, width: int, height: int, **options):
    context = chromium.new_context(viewport={"width": width, "height": height}, **options)
    context.set_default_timeout(20_000)
    return context.new_page()


@pytest.mark.parametrize("width, height", [(1280, 720), (1920, 1080)])
def test_after_a_read_the_diagram_is_large_above_the_fold_and_the_controls_one_row(chromium, lab_server, width,
                                                                                   height):
    page = page_at(chromium, width, height)
    try:
        for pattern, (path, _) in PAGES.items():
            goto(page, lab_server, path)
            page.wait_for_selector(".stGraphVizChart svg g.node")
            settle(page)
            first = page.evaluate(SIZES_JS)
            row = page.evaluate("""() => [...document.querySelector('[class*=-controls]').children]
                .map(child => child.getBoundingClientRect().bottom)""")
            assert max(row) - min(row) < 12, (pattern, row)          # one row: every control ends on one line
            send(page, "read", "user:1")
            wait_one_active_edge(page)
            page.evaluate("() => window.scrollTo(0, 0)")
            seen = page.evaluate(SIZES_JS)
            assert first["top"] < height / 2 and seen["top"] < height / 2, (pattern, first["top"], seen["top"])
            assert min(seen["labels"]) >= GOALS[width, height, False], (pattern, min(seen["labels"]))
            assert min(seen["names"]) >= GOALS[width, height, False], (pattern, min(seen["names"]))
            assert not collisions(seen["texts"]), (pattern, collisions(seen["texts"]))
    finally:
        page.context.close()


CONTROLS_JS = """() => {
    const row = document.querySelector('[class*=-controls]');
    const picker = row.querySelector('[class*=-scenario-choice] input[role=combobox]');
    return {bottoms: [...row.children].map(child => child.getBoundingClientRect().bottom),
            count: row.children.length, picker: picker.clientWidth, shown: picker.value};
}"""


def test_the_controls_stay_one_row_with_a_lab_action_and_a_scenario_with_scenes_at_1280x720(chromium, lab_server):
    """The fullest row a page draws: Key, Value, Read, Write, a lab's own button (write-behind's Flush now), the
    step buttons, a scenario's scene jumps, the picker and More, on one line (they align at the bottom: a wrapped
    control ends a row lower), and the picker still shows its scenario's title, cut short at most."""
    page = page_at(chromium, 1280, 720)
    try:
        for pattern, link in BUSY.items():
            goto(page, lab_server, link)
            wait_one_active_edge(page)
            settle(page)
            seen = page.evaluate(CONTROLS_JS)
            if pattern == "write-behind":         # Flush now and both scene jumps are drawn
                assert seen["count"] == 12, (pattern, seen)
                assert button(page, "Flush now").is_visible() and button(page, "Next scene").count() == 1
            assert max(seen["bottoms"]) - min(seen["bottoms"]) < 4, (pattern, seen["bottoms"])
            assert seen["picker"] >= 140 and seen["shown"], (pattern, seen)       # room for ~20 letters of it
    finally:
        page.context.close()


@pytest.mark.parametrize("width, height", [(1280, 720), (1920, 1080)])
def test_presenter_mode_is_a_slide_at_a_busy_step(chromium, lab_server, width, height):
    page = page_at(chromium, width, height)
    try:
        for pattern, link in BUSY.items():
            goto(page, lab_server, link + "&present=1")
            wait_one_active_edge(page)
            settle(page)
            seen = page.evaluate(SIZES_JS)
            assert min(seen["labels"]) >= GOALS[width, height, True], (pattern, min(seen["labels"]))
            assert 0 <= seen["top"] and seen["bottom"] <= height, (pattern, seen["top"], seen["bottom"])
            assert seen["narrationBottom"] <= height, (pattern, seen["narrationBottom"])
            assert not collisions(seen["texts"]), (pattern, collisions(seen["texts"]))
    finally:
        page.context.close()


def test_the_tables_show_every_column_without_a_sideways_scrollbar_at_1440x900(chromium, lab_server):
    page = page_at(chromium, 1440, 900)
    try:
        for pattern, link in BUSY.items():
            goto(page, lab_server, link)
            wait_one_active_edge(page)
            overflow = poll(lambda: page.evaluate("""() => [...document.querySelectorAll('[data-testid=stDataFrame]')]
                .map(frame => frame.querySelector('.dvn-scroller'))
                .map(s => s ? s.scrollWidth - s.clientWidth : null)"""), lambda found: found and None not in found,
                what="the tables' grids")
            assert max(overflow) <= 0, (pattern, overflow)
    finally:
        page.context.close()


ACTIVE_JS = """() => {
    const edge = document.querySelector('.stGraphVizChart g.edge.active');
    const path = edge.querySelector('path');
    const [draw] = path.getAnimations();
    const start = path.getPointAtLength(0), end = path.getPointAtLength(path.getTotalLength());
    const toScreen = p => { const m = path.getScreenCTM(); return [p.x * m.a + m.e, p.y * m.d + m.f]; };
    const boxOf = name => [...document.querySelectorAll('.stGraphVizChart g.node')]
        .find(n => n.querySelector('title').textContent === name)?.getBoundingClientRect();
    return {title: edge.querySelector('title').textContent, length: path.getTotalLength(),
            duration: draw ? draw.effect.getComputedTiming().duration : null,
            from: draw ? parseFloat(draw.effect.getKeyframes()[0]?.strokeDashoffset ?? getComputedStyle(path)
                .getPropertyValue('--cpl-length')) : null,
            dasharray: getComputedStyle(path).strokeDasharray, start: toScreen(start), end: toScreen(end),
            boxes: Object.fromEntries(['App', 'Cache', 'Database', 'Queue', 'Flusher', 'Loader']
                .map(name => [name, boxOf(name)]).filter(([, b]) => b)
                .map(([name, b]) => [name, [b.left, b.top, b.right, b.bottom]]))};
}"""


def near(point, box, slack: float = 14.0) -> bool:
    x, y = point
    return box[0] - slack <= x <= box[2] + slack and box[1] - slack <= y <= box[3] + slack


def test_the_step_on_screen_draws_itself_from_sender_to_receiver_in_step_with_the_speed(chromium, lab_server):
    page = page_at(chromium, 1440, 900)
    try:
        goto(page, lab_server, "/cache_aside?scenario=cold-then-warm&step=1")
        wait_one_active_edge(page)
        for speed, seconds in (("1×", 0.5), ("4×", 0.13), ("0.5×", 1.0)):
            button(page, "More").click()
            page.get_by_role("tab", name="View").click()
            page.get_by_role("radio", name=speed, exact=True).click()
            settle(page)
            page.keyboard.press("Escape")
            before = step_counter(page)[0]
            button(page, "Step forward" if before < 5 else "Step back").click()
            poll(lambda before=before: step_counter(page)[0], lambda now, before=before: now != before,
                 what="the next step")
            wait_one_active_edge(page)
            seen = page.evaluate(ACTIVE_JS)
            # A draw animation of a third of a step, over the whole path, from its start (the sender) on.
            assert seen["duration"] == pytest.approx(seconds * 1000, abs=15), (speed, seen)
            assert seen["dasharray"] != "none" and seen["length"] > 20, seen
            sender, receiver = re.sub(r":\w+", "", seen["title"]).split("->")
            assert near(seen["start"], seen["boxes"][sender]) and near(seen["end"], seen["boxes"][receiver]), seen
    finally:
        page.context.close()


def test_under_reduced_motion_the_step_appears_without_moving(chromium, lab_server):
    page = page_at(chromium, 1440, 900, reduced_motion="reduce")
    try:
        goto(page, lab_server, "/write_behind?scenario=coalescing&step=2")
        wait_one_active_edge(page)
        seen = page.evaluate(ACTIVE_JS)
        assert seen["duration"] is None and seen["dasharray"] == "none", seen
    finally:
        page.context.close()


def test_the_browser_lays_the_diagram_out_exactly_as_dot_does(chromium, lab_server):
    """Positions are pinned in the DOT: d3-graphviz and Graphviz's own `dot` (which the layout tests use) put
    every box and every label at the same place."""
    dot = shutil.which("dot")
    if dot is None:
        skip_or_fail("Graphviz's dot is not installed (apt-get install -y graphviz)")
    page = page_at(chromium, 1440, 900)
    try:
        goto(page, lab_server, "/write_behind?scenario=reporting-query&step=10")
        wait_one_active_edge(page)
        found = page.evaluate(SHAPES_JS)
    finally:
        page.context.close()
    scenario = SCENARIOS["reporting-query"]
    lab = new_lab(scenario.pattern)
    scenes = run_scenario(scenario, lab).scenes            # deterministic: the very steps the page drew
    source = build_diagram(lab.topology, scenes[2].steps, 10 - len(scenes[0].steps) - len(scenes[1].steps)).source
    lab.db.close()
    svg = subprocess.run([dot, "-Tsvg"], input=source, capture_output=True, text=True, check=True).stdout
    expected = shapes_of(svg)
    assert [title for title, _ in found] == [title for title, _ in expected]
    for (title, numbers), (_, wanted) in zip(found, expected, strict=True):
        assert len(numbers) == len(wanted) and all(abs(a - b) <= 0.6 for a, b in zip(numbers, wanted, strict=True)), \
            (title, numbers, wanted)


# Every node's and edge's outline and label anchor x, by title: the numbers of its polygons' points and paths'
# d, and of its texts' x. Left out, as Graphviz versions draw them a little apart from the same positions: a
# text's baseline (y) and an arrowhead (newer versions pull it back by the line's width, about 2 pt).
SHAPES_JS = """() => [...document.querySelectorAll('.stGraphVizChart g.node, .stGraphVizChart g.edge')].map(g => [
    g.querySelector('title').textContent,
    [...g.querySelectorAll(g.classList.contains('edge') ? 'path, text' : 'polygon, path, ellipse, text')]
        .flatMap(el => el.tagName === 'text'
        ? [+el.getAttribute('x')]
        : (el.getAttribute('points') || el.getAttribute('d') || '').match(/-?\\d+(?:\\.\\d+)?/g).map(Number))])"""


def shapes_of(svg: str) -> list[tuple[str, list[float]]]:
    found = []
    for kind, group in re.findall(r'<g id="(?:node|edge)\d+" class="(node|edge)[^"]*">(.*?)</g>', svg, re.DOTALL):
        title = re.search(r"<title>(.*?)</title>", group).group(1).replace("&#45;", "-").replace("&gt;", ">")
        numbers: list[float] = []
        for tag, attributes in re.findall(r"<(polygon|path|ellipse|text)\b([^>]*)>", group):
            if tag == "polygon" and kind == "edge":
                continue
            if tag == "text":
                numbers.append(float(re.search(r' x="([-\d.]+)"', attributes).group(1)))
            else:
                shape = re.search(r' (?:points|d)="([^"]*)"', attributes)
                numbers += [float(n) for n in re.findall(r"-?\d+(?:\.\d+)?", shape.group(1) if shape else "")]
        found.append((title, numbers))
    return found


def test_the_first_visit_never_shows_the_pages_folder_as_navigation(chromium, tmp_path):
    """A fresh server's first visit is a shared link: from the first paint to the settled page, no sidebar
    listing the pages folder's files ("app, cache aside, compare, home…") is ever on screen."""
    server = start_server(tmp_path / "server")
    page = page_at(chromium, 1280, 720)
    try:
        page.goto(server.url + "/write_behind?scenario=coalescing&step=3", wait_until="commit")
        seen = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            seen.append(page.evaluate("""() => ({
                sidebar: !!document.querySelector('[data-testid=stSidebarNav], [data-testid=stSidebar]'),
                text: document.body ? document.body.innerText.slice(0, 400) : '',
                done: !!document.querySelector('.stGraphVizChart g.edge.active')})"""))
            if seen[-1]["done"]:
                break
            page.wait_for_timeout(50)
        assert seen and seen[-1]["done"], "the page never drew its diagram"
        assert not any(look["sidebar"] for look in seen), [look["text"] for look in seen if look["sidebar"]][:1]
        assert not any(re.search(r"\bcache aside\b|\bwrite behind\b", look["text"]) for look in seen)
    finally:
        page.context.close()
        server.stop()
