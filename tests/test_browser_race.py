"""Find the race in Debian's Chromium at 1280×720, driven from the keyboard where a learner would: pick the cards of
both paths, move a card up, press Find the race — the paths fold into one row and the shortest bad interleaving is on
the first screen — step it on the diagram (→ / ←), open the paths again with Edit and fold them back; the URL follows
the step, a presented link fits the slide, and axe-core finds no serious or critical violation on the page."""

from __future__ import annotations

import re

import pytest
from browser_support import goto, poll, settle
from test_browser import button
from test_browser_classroom import serious_violations

from strategies.races import Race, explore, replay

pytestmark = pytest.mark.browser
STEP_TEXT = re.compile(r"^step (\d+) of (\d+)$")


def pick(page, key: str, labels: list[str]) -> None:
    """Choose `labels`, in order, in the multiselect with widget key `key` (typing, then Enter, as a keyboard does)."""
    field = page.locator(f".st-key-{key} input")
    for label in labels:
        field.click()
        field.fill(label)
        page.get_by_role("option", name=label, exact=True).click()
        settle(page)
    page.keyboard.press("Escape")


def counter(page) -> tuple[int, int] | None:
    found = page.get_by_text(STEP_TEXT)
    if found.count() != 1:
        return None
    match = STEP_TEXT.match(found.inner_text().strip())
    return (int(match[1]), int(match[2])) if match else None


def diagram_top(page) -> float:
    return page.evaluate("() => document.querySelector('.stGraphVizChart svg')?.getBoundingClientRect().top ?? 1e9")


def active_label(page) -> str:
    return page.evaluate("() => document.querySelector('.stGraphVizChart g.edge.active text')?.textContent || ''")


def test_a_learner_builds_a_path_finds_the_race_and_steps_it(chromium, lab_server, open_page):
    page = open_page("find-the-race")
    page.set_viewport_size({"width": 1280, "height": 720})
    goto(page, lab_server, "/find_the_race")
    pick(page, "race-read-path", ["SELECT", "GET", "SET with a TTL"])
    pick(page, "race-write-path", ["UPDATE the database", "DEL the cache"])
    up = page.locator(".st-key-race-read-up-1 button:visible")      # GET, second: one place up, from the keyboard
    up.focus()
    page.keyboard.press("Enter")
    poll(lambda: page.locator(".st-key-race-read-card-0").inner_text(), lambda text: "GET" in text
         and "SELECT" not in text, what="GET to move first")
    settle(page)
    assert not serious_violations(page)
    page.mouse.move(640, 400)
    page.mouse.wheel(0, 400)                          # the learner has scrolled down to the button
    find = button(page, "Find the race")
    find.focus()
    page.keyboard.press("Enter")
    poll(lambda: counter(page), lambda seen: seen is not None and seen[0] == 1, timeout=30,
         what="the shortest bad interleaving at its first step")
    race = Race(("GET", "SELECT", "SET-TTL"), ("UPDATE", "DEL"), "rw")
    steps = replay(race, explore(race).shortest).steps
    assert counter(page) == (1, len(steps))
    assert "1 of the 10 interleavings breaks." in page.inner_text("body")
    # The paths folded into one row, and the page back at its top: the diagram starts in the screen's upper half.
    assert page.locator(".st-key-race-read-path").count() == 0
    assert "Read: GET → SELECT → SET with a TTL · Write: UPDATE the database → DEL the cache" in \
        page.locator(".st-key-race-searched").inner_text()
    poll(lambda: diagram_top(page), lambda top: top < 360, what="the diagram's top in the upper half of 720 px")
    assert active_label(page).startswith("A1. GET user:1")
    settle(page)
    for number in range(2, len(steps) + 1):          # the → key steps forward (Streamlit's own button shortcut)
        page.keyboard.press("ArrowRight")
        poll(lambda: counter(page), lambda seen, number=number: seen == (number, len(steps)),
             what=f"step {number}")
        settle(page)
    last = steps[-1]
    assert active_label(page).startswith(f"A{sum(step.client == 'A' for step in steps)}. {last.command}")
    assert "the cache holds 'Ada Lovelace' and the database 'Ada King'" in page.inner_text("body")
    poll(lambda: page.url, lambda url: f"step={len(steps)}" in url and "write=UPDATE%2CDEL" in url,
         what="the URL to say what is on screen")
    page.keyboard.press("ArrowLeft")
    poll(lambda: counter(page), lambda seen: seen == (len(steps) - 1, len(steps)), what="one step back")
    assert not serious_violations(page)
    settle(page)
    edit = button(page, "Edit")                       # the paths one key press away, as the learner left them
    edit.focus()
    page.keyboard.press("Enter")
    poll(lambda: page.locator(".st-key-race-read-path").inner_text() if page.locator(".st-key-race-read-path").count()
         else "", lambda text: all(card in text for card in ("GET", "SELECT", "SET with a TTL")),
         what="the read path's cards back in its picker")
    settle(page)
    hide = button(page, "Hide the paths")
    hide.focus()
    page.keyboard.press("Enter")
    poll(lambda: page.locator(".st-key-race-read-path").count(), lambda count: count == 0, what="the paths folded")
    assert counter(page) == (len(steps) - 1, len(steps))
    settle(page)
    slide = open_page("find-the-race-presenting")                 # the link, presenting: a slide in a new session
    slide.set_viewport_size({"width": 1280, "height": 720})
    slide.goto(page.url + "&present=1", wait_until="domcontentloaded")
    poll(lambda: counter(slide), lambda seen: seen == (len(steps) - 1, len(steps)), timeout=30,
         what="the presented link at the same step")
    settle(slide)
    box = slide.evaluate("() => document.querySelector('.st-key-narration').getBoundingClientRect().bottom")
    assert box <= 720, f"the diagram and its step's text end below a 1280×720 screen ({box:.0f} px)"
    assert not serious_violations(slide)
