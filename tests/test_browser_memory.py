"""A cache that is full, in a real browser (Debian's Chromium, Playwright): the LRU scan scenario opened by its URL,
stepped to its first eviction, shows the memory bar with the run's numbers and the evicted key as a greyed row of
the Cache table (its grey read off the grid's canvas, which draws the row).

Run: .venv/bin/python -m pytest tests/test_browser_memory.py -q   (its screenshot goes to test-artifacts/)
"""

from __future__ import annotations

import io
import re

import pytest
from browser_support import goto, poll
from core_support import new_lab
from test_browser import button, no_exception, step_counter, wait_table

from lab_ui.tables import GREYED, ROW_PX
from strategies.features.memory import used_memory
from strategies.scenario import run_scenario
from strategies.scenarios import find

pytestmark = pytest.mark.browser

SLUG = "lru-scan-pollution"
GREY = tuple(int(GREYED.split("background-color: #")[1][i:i + 2], 16) for i in (0, 2, 4))

BAR_JS = """() => [...document.querySelectorAll('[data-testid=stProgress]')].map(bar => ({
    text: bar.innerText.trim(), now: Number(bar.querySelector('[role=progressbar]').getAttribute('aria-valuenow'))}))"""
CACHE_GRID_JS = """() => {
    const items = [...document.querySelectorAll('h1, h2, h3, [data-testid=stDataFrame]')];
    const at = items.findIndex(el => /^H[1-3]$/.test(el.tagName) && el.textContent.trim() === 'Cache');
    const grid = items[at + 1];
    grid.scrollIntoView({block: 'center'});
    grid.setAttribute('data-cpl-probe', 'cache');
    return true;
}"""


def first_eviction() -> tuple[int, str, int]:
    """The scenario's first eviction (a core run): its step, the key it evicted, and the bytes the cache held."""
    run = run_scenario(find("cache-aside", SLUG), new_lab("cache-aside"))
    number, step = next((n, s) for n, s in enumerate(run.steps, start=1) if s.action == "EVICT")
    return number, step.key, used_memory(run.lab.state_after(step).cache)


def pixel(png: bytes, x: int, y: int) -> tuple[int, int, int]:
    from PIL import Image

    return Image.open(io.BytesIO(png)).convert("RGB").getpixel((x, y))


def near(colour: tuple[int, int, int], expected: tuple[int, int, int]) -> bool:
    return all(abs(a - b) <= 4 for a, b in zip(colour, expected, strict=True))


def test_a_scan_steps_to_an_eviction_and_shows_the_bar_and_the_greyed_row(chromium, lab_server, open_page):
    step, evicted, used = first_eviction()
    limit = find("cache-aside", SLUG).knobs["maxmemory"]
    page = open_page("memory-lru-scan-eviction")
    page.set_viewport_size({"width": 1440, "height": 900})
    goto(page, lab_server, f"/cache_aside?scenario={SLUG}")
    assert step_counter(page)[0] == 1
    for _ in range(step + 5):                                        # one click a step, each drawn before the next
        at, _total = step_counter(page)
        if at >= step:
            break
        button(page, "Step forward").click()
        poll(lambda at=at: step_counter(page)[0], lambda seen, at=at: seen == at + 1, what=f"step {at + 1}")
    assert step_counter(page)[0] == step
    expect_text = f"Memory: {used:,} of {limit:,} bytes used (allkeys-lru)"
    bars = poll(lambda: page.evaluate(BAR_JS), lambda found: len(found) == 1 and found[0]["text"] == expect_text,
                what="the memory bar with the run's numbers")
    assert bars[0]["now"] == int(100 * used / limit)
    said = re.compile(r"✗ evicted at [\d.]+ s \(allkeys-lru\)")
    rows = wait_table(page, "Cache", lambda rows: any(row[0] == evicted and said.match(row[-1]) for row in rows),
                      f"{evicted} kept as an evicted row")
    keys = [row[0] for row in rows]
    assert [key for key, *_, state in rows if state.startswith("✗")] == [evicted]
    # The grid draws on a canvas: the greyed row's own background is read off its pixels, beside a kept row's.
    page.evaluate(CACHE_GRID_JS)
    page.wait_for_timeout(300)
    png = page.locator("[data-cpl-probe=cache]").screenshot()
    kept = next(index for index, key in enumerate(keys) if key != evicted)
    assert near(pixel(png, 3, row_middle(keys.index(evicted))), GREY)
    assert not near(pixel(png, 3, row_middle(kept)), GREY)
    no_exception(page)


def row_middle(index: int) -> int:
    """The height of the middle of the grid's row `index` (the header is one row high)."""
    return ROW_PX * (index + 1) + ROW_PX // 2
