"""In front of a class, in Debian's Chromium: a share link opened in a fresh browser shows the very SVG that
clicking reached; presenter mode keeps the diagram and a large narration on a projector's screen; the
keyboard and a clicker's keys step the diagram; and axe-core (Deque's rule engine) finds no serious or
critical accessibility violation on any page, idle, mid-request, presenting or quizzing.

Run: .venv/bin/python -m pytest tests/test_browser_classroom.py -q
"""

from __future__ import annotations

from pathlib import Path

import pytest
from browser_support import goto, poll, save_screenshot, settle
from test_browser import (
    PAGES,
    button,
    diagram,
    no_exception,
    send,
    step_counter,
    wait_one_active_edge,
)

pytestmark = pytest.mark.browser

SVG_JS = "() => document.querySelector('.stGraphVizChart svg')?.outerHTML ?? ''"
NARRATION_JS = """() => {
    const box = document.querySelector('.st-key-narration');
    if (!box) return null;
    const line = [...box.querySelectorAll('p, .stText')].find(el => el.textContent.trim().length > 20);
    const r = box.getBoundingClientRect(), l = line.getBoundingClientRect();
    return {top: r.top, lineBottom: l.bottom, size: parseFloat(getComputedStyle(line).fontSize),
            text: line.textContent};
}"""
ON_SCREEN_JS = """() => {
    const drawn = document.querySelector('.stGraphVizChart svg');
    if (!drawn || !document.querySelector('.st-key-narration')) return null;
    const svg = drawn.getBoundingClientRect();
    return {svgTop: svg.top, svgBottom: svg.bottom, svgWidth: svg.width, height: window.innerHeight,
            scrolled: window.scrollY, header: !!document.querySelector('header[data-testid=stHeader]')?.offsetParent,
            log: [...document.querySelectorAll('h3')].some(h => h.textContent.trim() === 'Requests')};
}"""


def axe_script() -> str:
    import axe_playwright_python  # ships Deque's axe.min.js; we run it ourselves in the page

    return (Path(axe_playwright_python.__file__).parent / "axe.min.js").read_text(encoding="utf-8")


def serious_violations(page) -> list[str]:
    settle(page)
    page.add_script_tag(content=axe_script())
    found = page.evaluate("""async () => (await axe.run(document, {resultTypes: ['violations']})).violations
        .filter(v => v.impact === 'serious' || v.impact === 'critical')
        .map(v => v.id + ': ' + v.nodes.slice(0, 3).map(n => n.target.join(' ').slice(-60) + ' — '
                                                      + (n.failureSummary || '').slice(0, 160)).join(' | '))""")
    return found


def test_a_share_link_in_a_fresh_browser_shows_the_same_svg(chromium, lab_server, open_page):
    page = open_page("share-link-origin")
    goto(page, lab_server, "/write_through")
    send(page, "write", "user:1", "Grace <b>&</b>")
    send(page, "read", "user:2")
    total = poll(lambda: step_counter(page), lambda counter: counter[0] == counter[1], timeout=30,
                 what="the read to play to its end")[1]
    button(page, "Step back").click()
    poll(lambda: step_counter(page), lambda counter: counter[0] == total - 1, what="one step back")
    poll(lambda: page.url, lambda url: f"step={total - 1}" in url, what="the URL to follow the step")
    settle(page)
    shown, counter = page.evaluate(SVG_JS), step_counter(page)
    link = page.url
    assert "do=" in link and counter == (total - 1, total)

    fresh = open_page("share-link-opened")
    fresh.goto(link, wait_until="domcontentloaded")
    poll(lambda: fresh.evaluate(SVG_JS), lambda svg: svg == shown, timeout=20, what="the very same SVG")
    assert step_counter(fresh) == counter
    no_exception(fresh)


@pytest.mark.parametrize("width, height", [(1920, 1080), (1280, 720)])
def test_presenter_mode_fills_a_projector_screen(chromium, lab_server, width, height):
    context = chromium.new_context(viewport={"width": width, "height": height})
    context.set_default_timeout(15_000)
    page = context.new_page()
    try:
        goto(page, lab_server, "/cache_aside?scenario=stale-set-race&step=5&present=1")
        poll(lambda: step_counter(page), lambda counter: counter == (5, 10), what="step 5 of 10")
        settle(page)
        seen = poll(lambda: page.evaluate(ON_SCREEN_JS), bool, what="the diagram and its narration")
        assert not seen["header"] and not seen["log"] and seen["scrolled"] == 0, seen
        assert 0 <= seen["svgTop"] and seen["svgBottom"] <= seen["height"], seen
        assert seen["svgWidth"] >= 0.6 * width, seen
        said = page.evaluate(NARRATION_JS)
        assert said["size"] >= 24 and said["lineBottom"] <= height, said
        save_screenshot(page, f"presenter-{width}x{height}")
    finally:
        context.close()


def test_the_keyboard_and_a_clicker_step_the_diagram(chromium, lab_server, open_page):
    page = open_page("keyboard")
    goto(page, lab_server, "/cache_aside?scenario=stale-set-race&step=3&present=1")
    poll(lambda: step_counter(page), lambda counter: counter == (3, 10), what="step 3")
    settle(page)
    page.wait_for_timeout(1000)                                   # the shortcut listeners are attached
    for key, expected in (("ArrowRight", 4), ("ArrowRight", 5), ("PageDown", 6), ("PageUp", 5), ("ArrowLeft", 4),
                          ("Home", 1)):
        page.keyboard.press(key)
        poll(lambda: step_counter(page)[0], lambda step, expected=expected: step == expected,
             what=f"step {expected} after {key}")
        poll(lambda: page.url, lambda url, expected=expected: f"step={expected}" in url, what="the URL's step")
    before = diagram(page)["active"]
    page.keyboard.press("Space")                                  # play: the diagram moves by itself
    poll(lambda: step_counter(page)[0], lambda step: step >= 3, timeout=20, what="playback to move")
    assert diagram(page)["active"] != before
    no_exception(page)


def test_no_serious_accessibility_violation_on_any_page(chromium, lab_server, open_page):
    page = open_page("axe")
    found = {}
    goto(page, lab_server, "/")
    found["home"] = serious_violations(page)
    for pattern, (path, _) in PAGES.items():
        goto(page, lab_server, path)
        found[f"{pattern} idle"] = serious_violations(page)
        send(page, "read", "user:1")
        wait_one_active_edge(page)
        found[f"{pattern} mid-request"] = serious_violations(page)
    for tab in ("Settings and faults", "View", "Share and export"):     # the More menu, each of its tabs
        if not page.get_by_role("tab", name=tab).is_visible():
            button(page, "More").click()
        page.get_by_role("tab", name=tab).click()
        settle(page)
        found[f"More: {tab}"] = serious_violations(page)
    page.keyboard.press("Escape")
    goto(page, lab_server, "/write_behind?scenario=coalescing&step=3&present=1")
    found["presenting"] = serious_violations(page)
    page.get_by_text("Predict each step").click()
    poll(lambda: page.get_by_text("Answer and show the step").count(), bool, what="the question")
    found["predicting"] = serious_violations(page)
    assert not any(found.values()), {where: seen for where, seen in found.items() if seen}


def test_reduced_motion_stops_the_flowing_arrow(chromium, lab_server):
    context = chromium.new_context(viewport={"width": 1440, "height": 900}, reduced_motion="reduce")
    page = context.new_page()
    try:
        goto(page, lab_server, "/cache_aside")
        send(page, "read", "user:1")
        active = wait_one_active_edge(page)["active"][0]
        assert active["animation"] == "none", active
    finally:
        context.close()


def test_export_downloads_the_scenario_as_slides_and_a_gif(chromium, lab_server, open_page, tmp_path):
    page = open_page("export")
    goto(page, lab_server, "/write_behind?scenario=coalescing")
    poll(lambda: step_counter(page), lambda counter: counter[0] == 1, what="the scenario")
    button(page, "More").click()
    page.get_by_role("tab", name="Share and export").click()
    with page.expect_download(timeout=60_000) as slides:
        button(page, "Slides (HTML)").click()
    html = Path(slides.value.path()).read_text(encoding="utf-8")
    assert slides.value.suggested_filename == "coalescing.html"
    assert "<svg" in html and "http://" not in html.replace("http://www.w3.org", "")     # self-contained
    with page.expect_download(timeout=120_000) as gif:
        button(page, "Animated GIF").click()
    data = Path(gif.value.path()).read_bytes()
    assert gif.value.suggested_filename == "coalescing.gif" and data[:6] in (b"GIF87a", b"GIF89a")
    no_exception(page)
