"""A long scenario in a real browser (Debian's Chromium): a link opens read-through's TTL jitter scenario, Next
scene (its button, then its key) jumps through a scene of thousands of steps to the spike, the chart of database
reads per simulated second is drawn beside the caption (axe-core finds nothing serious there), and stepping moves
the second it marks."""

from __future__ import annotations

import re

import pytest
from browser_support import goto, poll, settle
from core_support import new_lab
from playwright.sync_api import expect
from test_browser import button, no_exception, step_counter
from test_browser_classroom import serious_violations

from lab_ui.text import say
from strategies.scenario import run_scenario
from strategies.scenarios import find
from strategies.series import second_of

pytestmark = pytest.mark.browser


def chart_caption(page) -> str:
    found = page.locator("[data-testid=stCaptionContainer]").filter(has_text="The step on screen is in second")
    expect(found).to_have_count(1)
    return found.inner_text()


def test_ttl_jitter_jumps_to_the_spike_shows_its_chart_and_steps(chromium, lab_server, open_page):
    run = run_scenario(find("read-through", "ttl-jitter"), new_lab("read-through"))
    series, total = run.chart, len(run.steps)
    spike = len(run.scenes[0].steps) + len(run.scenes[1].steps) + 1           # where the spike's scene begins
    page = open_page("scenes-ttl-jitter")
    goto(page, lab_server, "/read_through?scenario=ttl-jitter")
    assert step_counter(page) == (1, total)
    for _ in range(2):                                   # the warm-up, the first expiries, then the spike
        button(page, "Next scene").click()
        settle(page)
    poll(lambda: step_counter(page), lambda counter: counter == (spike, total), what=f"step {spike}")
    chart = page.locator("[data-testid=stVegaLiteChart]")
    expect(chart).to_have_count(1)
    expect(chart.locator("canvas, svg").first).to_be_visible()
    box = chart.bounding_box()
    assert box is not None and box["width"] >= 300 and box["height"] >= 150, box
    second = second_of(run.steps[spike - 1])
    value, (peak_second, peak) = dict(series.points)[second], series.peak
    assert chart_caption(page) == say("chart-now", second=second, value=value, label=series.y_label,
                                      peak_second=peak_second, peak=peak)
    assert not serious_violations(page)
    page.wait_for_timeout(800)                           # the shortcut listeners are attached
    page.keyboard.press("Shift+ArrowRight")              # Next scene's key: the spike's next caption
    poll(lambda: step_counter(page)[0], lambda step: step > spike, what="Shift+→ to jump")
    jumped = step_counter(page)[0]
    button(page, "Step forward").click()
    poll(lambda: step_counter(page), lambda counter: counter == (jumped + 1, total), what="one step on")
    moved = second_of(run.steps[jumped])
    poll(lambda: chart_caption(page), lambda text: re.search(rf"in second {moved}\b", text), what="the mark")
    no_exception(page)
