"""Legibility: what the diagram looks like at classroom sizes, measured in Chromium (issue 20's table).

Run as `python -m bench.legibility [--json] [--size 1280x720 ...]` from the project root (Debian's chromium).
One app server; for each viewport (1280×720 and 1920×1080), each mode (normal, presenter) and each view (every
pattern page after a Read, and busy scenario steps) a fresh browser session opens the page and measures:

* label px: the smallest arrow label as the learner sees it, computed font size × the SVG's scale on screen
  (`getScreenCTM`), and the smallest box name; the goals are 12 / 14 px (1280×720, normal / presenter) and
  14 / 18 px (1920×1080);
* top: the diagram's top edge (its SVG's) in the viewport on first load, and right after a click of Read (normal mode);
  the goal is the upper half of a 1280×720 screen;
* overlaps: pairs of the diagram's texts whose boxes (as drawn) meet, or that stand on one line closer than a
  quarter of their font size;
* scroll: whether the Cache or Database table scrolls sideways (goal: none at 1440×900, measured there too, also
  with a greyed row of an evicted key);
* fits (presenter): the whole diagram and the narration inside the viewport, without scrolling.

"After a Read" in presenter mode is the share link of one read (`?do=r~user:1&present=1`): presenter mode has
no Read button. Nothing here is a test: it prints figures against the goals.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from tests.browser_support import CHROMIUM, ServerError, StreamlitServer, launch_chromium, settle

ROOT = Path(__file__).resolve().parent.parent
PAGES = {"cache-aside": "/cache_aside", "read-through": "/read_through", "write-through": "/write_through",
         "write-behind": "/write_behind"}
BUSY = ("/cache_aside?scenario=stampede&step=20", "/read_through?scenario=ttl-expiry-reload&step=10",
        "/write_through?scenario=cache-pollution&step=15", "/write_behind?scenario=reporting-query&step=10",
        "/write_behind?scenario=cache-crash-loss&step=16")
# Tables measured at 1440×900 beyond each page after a Read: busy scenario steps, and a full cache's first eviction
# (the Cache table with a greyed row: "✗ evicted at …").
TABLE_VIEWS = (*BUSY[3:], "/cache_aside?scenario=lru-scan-pollution&step=37")
GOALS = {(1280, 720, "normal"): 12.0, (1280, 720, "presenter"): 14.0, (1920, 1080, "normal"): 14.0,
         (1920, 1080, "presenter"): 18.0}
SIZES = ((1280, 720), (1920, 1080))
TABLE_SIZE = (1440, 900)

MEASURE_JS = """() => {
    const svg = document.querySelector('.stGraphVizChart svg');
    if (!svg) return null;
    const px = t => parseFloat(getComputedStyle(t).fontSize) * t.getScreenCTM().a;
    const labels = [...svg.querySelectorAll('g.edge text')].map(px);
    const names = [...svg.querySelectorAll('g.node text')].map(px);
    const drawing = svg.getBoundingClientRect();
    // A text's box: its advance width, and from its ascent to its descent (not the line box, taller than the
    // letters); the lines of one box's name are one label, not two.
    const boxes = [...svg.querySelectorAll('text')].map(t => {
        const b = t.getBoundingClientRect(), size = px(t), base = b.top + (b.height - size * 0.2) * 0.5 + size * 0.4;
        return {text: t.textContent, x0: b.left, x1: b.right, y0: base - size * 0.75, y1: base + size * 0.22, size,
                owner: t.closest('g.node, g.edge')};
    });
    const overlaps = [];
    for (let i = 0; i < boxes.length; i++) for (let j = i + 1; j < boxes.length; j++) {
        const a = boxes[i], b = boxes[j];
        if (a.owner === b.owner) continue;
        const meet = a.x0 < b.x1 && b.x0 < a.x1 && a.y0 < b.y1 && b.y0 < a.y1;
        const oneLine = Math.abs((a.y0 + a.y1) / 2 - (b.y0 + b.y1) / 2) < Math.min(a.y1 - a.y0, b.y1 - b.y0) / 2;
        const apart = Math.max(b.x0 - a.x1, a.x0 - b.x1);
        if (meet || (oneLine && apart < Math.min(a.size, b.size) / 4)) overlaps.push([a.text, b.text]);
    }
    const narration = document.querySelector('.st-key-narration');
    const scroll = [...document.querySelectorAll('[data-testid=stDataFrame]')].map(frame => {
        const scroller = frame.querySelector('.dvn-scroller');
        return scroller ? scroller.scrollWidth - scroller.clientWidth : 0;
    });
    return {label: labels.length ? Math.min(...labels) : null, name: Math.min(...names), top: drawing.top,
            bottom: drawing.bottom, narrationBottom: narration ? narration.getBoundingClientRect().bottom : null,
            overlaps, scroll: Math.max(0, ...scroll), height: innerHeight,
            pageHeight: document.scrollingElement.scrollHeight,
            arrows: svg.querySelectorAll('g.edge').length};
}"""


def open_view(browser: Any, base: str, path: str, size: tuple[int, int]) -> Any:
    context = browser.new_context(viewport={"width": size[0], "height": size[1]})
    context.set_default_timeout(30_000)
    page = context.new_page()
    page.goto(base + path, wait_until="domcontentloaded")
    page.wait_for_selector(".stGraphVizChart svg")
    settle(page, timeout=40)
    return page


def measure(page: Any) -> dict[str, Any]:
    page.wait_for_timeout(800)           # the active arrow has drawn itself
    return page.evaluate(MEASURE_JS)


def read_view(browser: Any, base: str, path: str, size: tuple[int, int]) -> dict[str, Any]:
    """A pattern page on first load, then right after a click of Read."""
    page = open_view(browser, base, path, size)
    try:
        first = measure(page)
        page.locator("[class*=-read] button").first.click()
        page.wait_for_function("() => [...document.querySelectorAll('.stGraphVizChart g.edge.active text')]"
                               ".some(t => t.textContent.includes('GET user:1'))")
        settle(page, timeout=40)
        after = measure(page)
        after["first_top"] = first["top"]
        return after
    finally:
        page.context.close()


def link_view(browser: Any, base: str, path: str, size: tuple[int, int]) -> dict[str, Any]:
    page = open_view(browser, base, path, size)
    try:
        page.wait_for_selector(".stGraphVizChart g.edge.active")
        return measure(page)
    finally:
        page.context.close()


def run(sizes=SIZES) -> list[dict[str, Any]]:
    from playwright.sync_api import sync_playwright

    if not CHROMIUM.exists():
        raise SystemExit(f"{CHROMIUM} not found (apt-get install -y chromium)")
    workdir = Path(tempfile.mkdtemp(prefix="bench-legibility-"))
    server = StreamlitServer(ROOT / "app.py", ROOT, workdir, {"LAB_CLOCK": "manual"}).start()
    rows: list[dict[str, Any]] = []
    try:
        server.wait_until_answering()
        with sync_playwright() as playwright:
            browser = launch_chromium(playwright)
            for size in sizes:
                for mode in ("normal", "presenter"):
                    for path in PAGES.values():
                        if mode == "normal":
                            found = read_view(browser, server.url, path, size)
                        else:
                            found = link_view(browser, server.url, path + "?do=r~user:1&present=1", size)
                        rows.append({"size": size, "mode": mode, "view": f"{path} after a Read", **found})
                    for path in BUSY:
                        shown = path + ("&present=1" if mode == "presenter" else "")
                        rows.append({"size": size, "mode": mode, "view": path,
                                     **link_view(browser, server.url, shown, size)})
            for path in list(PAGES.values()) + list(TABLE_VIEWS):
                rows.append({"size": TABLE_SIZE, "mode": "normal", "view": path + " (tables)",
                             **link_view(browser, server.url, path if "?" in path else path + "?do=r~user:1",
                                         TABLE_SIZE)})
            browser.close()
    finally:
        server.stop()
    return rows


def verdicts(row: dict[str, Any]) -> dict[str, bool]:
    goal = GOALS.get((*row["size"], row["mode"]))
    found: dict[str, bool] = {"label": goal is None or (row["label"] or 0) >= goal, "overlaps": not row["overlaps"]}
    if tuple(row["size"]) == TABLE_SIZE:
        found["scroll"] = row["scroll"] <= 0
    if row["mode"] == "presenter":
        found["fits"] = row["bottom"] <= row["height"] and (row["narrationBottom"] or 0) <= row["height"]
    elif tuple(row["size"]) == (1280, 720):
        found["top"] = row["top"] < row["height"] / 2 and row.get("first_top", 0) < row["height"] / 2
    return found


def table(rows: list[dict[str, Any]]) -> list[str]:
    lines = ["| viewport | mode | view | label px (goal) | box name px | diagram top (first load) | bottom "
             "| narration bottom | overlaps | table scrolls | verdict |",
             "|---|---|---|---:|---:|---:|---:|---:|---:|---|---|"]
    for row in rows:
        goal = GOALS.get((*row["size"], row["mode"]))
        ok = verdicts(row)
        verdict = "ok" if all(ok.values()) else "MISSES: " + ", ".join(name for name, met in ok.items() if not met)
        first = f" ({row['first_top']:.0f})" if "first_top" in row else ""
        lines.append(
            f"| {row['size'][0]}×{row['size'][1]} | {row['mode']} | `{row['view']}` | "
            f"{row['label']:.1f}{f' (≥{goal:g})' if goal else ''} | {row['name']:.1f} | {row['top']:.0f}{first} | "
            f"{row['bottom']:.0f} | {row['narrationBottom'] or 0:.0f} | {len(row['overlaps'])} | "
            f"{'yes' if row['scroll'] > 0 else 'no'} | {verdict} |")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.legibility", description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--size", action="append", help="WxH (repeatable; default 1280x720 and 1920x1080)")
    args = parser.parse_args(argv)
    sizes = tuple(tuple(int(n) for n in text.split("x")) for text in args.size) if args.size else SIZES
    started = time.monotonic()
    try:
        rows = run(sizes)
    except ServerError as err:
        print(f"legibility bench failed: {err}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        print("\n".join(table(rows)))
        missed = sum(not all(verdicts(row).values()) for row in rows)
        print(f"\n{len(rows) - missed} of {len(rows)} views meet every goal ({time.monotonic() - started:.0f} s).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
