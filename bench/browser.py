"""Browser benchmark: click-to-diagram latency in Chromium, the app's pattern pages against a bare Streamlit page.

Run as `python -m bench.browser [--json]` (needs Debian's chromium; the servers come from the tests' helper).

What is timed: from clicking `Read` until the diagram's SVG shows the request that click sent. Two Streamlit
servers run as subprocesses (this module never imports streamlit), each page in its own Chromium page:

* app:  the Cache Patterns Lab (app.py) at /cache_aside (and /write_behind), with a private data folder and
  the embedded fakeredis. Before each click, outside the timing, the Key input is set to the other of two
  seeded keys (user:1 / user:2) and committed with Enter; the click then counts once the SVG contains
  "GET <that key>", which the previous click's diagram (and every later fragment re-render of it) cannot.
* bare: a script written to a temp folder at run time: one st.button("Read") that bumps a counter in
  st.session_state and one st.graphviz_chart of a two-node graphviz.Digraph whose edge label carries the
  counter ("1. GET user:1 #7"); the click counts once the SVG contains that click's counter.

Both pages are measured the same way, in the page: a MutationObserver on the document is installed, then
`performance.now()` is taken and the button's DOM click() dispatched in the same task; the latency ends in the
first observer callback whose `.stGraphVizChart svg` text contains the expected string (DOM updated; the next
animation frame is recorded too). A wrapper around window.WebSocket timestamps every message from the server,
which splits the latency into: click -> first server message (the rerun started), click -> the message that
carries this click's DOT source, DOT message -> SVG in the DOM (the browser's graphviz layout and React render),
and click -> the rerun's last message (the script finished).

Between clicks each page is left to settle (script state "notRunning" and no server message for a moment);
a few warm-up clicks are discarded. Clicks are never interleaved between pages (one page's background timers
must not slow another's clicks), but the pages take turns in ROUNDS rounds (bare, then each app page, again),
so a machine that is busy for a while slows both sides of a ratio alike. Each round gives a ratio
= app median / bare median of that round; the figure of merit is the median of the rounds' ratios, goal
<= 1.5 (the per-round ratios are printed too, so a noisy run shows as one). Every wait is bounded.
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.browser_support import CHROMIUM, CHROMIUM_ARGS, ServerError, StreamlitServer

ROOT = Path(__file__).resolve().parent.parent
VIEWPORT = {"width": 1400, "height": 1000}
CLICKS = 12                           # timed clicks per page per round
ROUNDS = 3
WARMUP = 3
GOAL_RATIO = 1.5
APP_PAGES = {"cache-aside": "/cache_aside", "write-behind": "/write_behind"}
KEYS = ("user:2", "user:1")           # alternated, so each click's key differs from the one before
SERVER_START_TIMEOUT_S = 60.0
PAGE_LOAD_TIMEOUT_MS = 30_000
CLICK_TIMEOUT_MS = 15_000             # one click until its SVG, plus the rerun's end
SETTLE_TIMEOUT_MS = 10_000
QUIET_MS = 150                        # "settled": no server message for this long, script not running
PAUSE_MS = 100                        # between a settled page and the next click

# The baseline page, written to a temporary file and served by its own Streamlit: this module itself never
# imports Streamlit (the core stays free of UI code).
BARE_SCRIPT = '''\
import graphviz, streamlit as st

st.session_state.setdefault("reads", 0)
if st.button("Read"):
    st.session_state.reads += 1
graph = graphviz.Digraph("bare")
graph.edge("App", "Cache", label=f"1. GET user:1 #{st.session_state.reads}")
st.graphviz_chart(graph)
'''

# Installed before any page script runs: timestamps every message the Streamlit server sends.
WS_RECORDER = """
(() => {
  const Native = window.WebSocket;
  const log = window.__benchWs = [];
  const decoder = new TextDecoder();
  class Recorded extends Native {
    constructor(...args) {
      super(...args);
      this.addEventListener('message', (event) => {
        const t = performance.now();
        const data = event.data;
        let dot = null;
        if (data instanceof ArrayBuffer && data.byteLength < 1000000) {
          const text = decoder.decode(data);
          if (text.includes('digraph')) dot = text;
        }
        log.push({t, dot});
      });
    }
  }
  window.WebSocket = Recorded;
})();
"""

# Resolves with the timings of one click; rejects on a stale diagram, a missing button or a timeout.
MEASURE_JS = """
async ([buttonSelector, expected, timeoutMs, quietMs]) => {
  const app = document.querySelector('[data-testid=stApp]');
  const button = document.querySelector(buttonSelector);
  if (!button) throw new Error('no button ' + buttonSelector);
  const shows = () => {
    const svg = document.querySelector('.stGraphVizChart svg');
    return !!svg && (svg.textContent || '').includes(expected);
  };
  if (shows()) throw new Error('stale: the diagram already shows ' + expected + ' before the click');
  const ws = window.__benchWs;
  const mark = ws.length;
  return await new Promise((resolve, reject) => {
    let t0 = 0, svgAt = null, frameAt = null, sawRunning = false, runEndAt = null;
    const observer = new MutationObserver(() => {
      const state = app.getAttribute('data-test-script-state');
      if (state === 'running') sawRunning = true;
      else if (sawRunning && runEndAt === null) runEndAt = performance.now();
      if (svgAt === null && shows()) {
        svgAt = performance.now();
        requestAnimationFrame(() => { frameAt = performance.now(); });
      }
    });
    const finish = (error) => {
      observer.disconnect();
      clearTimeout(timer);
      clearInterval(poll);
      if (error) { reject(error); return; }
      const after = ws.slice(mark).filter((m) => m.t >= t0);
      const dotMsg = after.find((m) => m.dot !== null && m.dot.includes(expected));
      resolve({
        latency: svgAt - t0,
        frame: frameAt === null ? null : frameAt - t0,
        firstMsg: after.length ? after[0].t - t0 : null,
        dotMsg: dotMsg ? dotMsg.t - t0 : null,
        render: dotMsg ? svgAt - dotMsg.t : null,
        lastMsg: after.length ? after[after.length - 1].t - t0 : null,
        runEnd: runEndAt === null ? null : runEndAt - t0,
        messages: after.length,
      });
    };
    const timer = setTimeout(() => finish(new Error(
      'no SVG showing ' + expected + ' within ' + timeoutMs + ' ms (svg seen: ' + (svgAt !== null) + ')')),
      timeoutMs);
    // Done once the SVG shows the click, a frame has passed, and the rerun is over (settled).
    const poll = setInterval(() => {
      const now = performance.now();
      const lastT = ws.length ? ws[ws.length - 1].t : 0;
      if (svgAt !== null && frameAt !== null && app.getAttribute('data-test-script-state') !== 'running'
          && now - lastT >= quietMs) finish(null);
    }, 25);
    observer.observe(document.body, {childList: true, subtree: true, characterData: true, attributes: true,
                                     attributeFilter: ['data-test-script-state']});
    t0 = performance.now();
    button.click();
  });
}
"""

# Resolves once the script is not running and the server has been quiet for quietMs (after at least one
# message past `mark`, when a rerun is expected); rejects after timeoutMs.
SETTLE_JS = """
async ([mark, timeoutMs, quietMs]) => {
  const app = document.querySelector('[data-testid=stApp]');
  const ws = window.__benchWs;
  const start = performance.now();
  return await new Promise((resolve, reject) => {
    const poll = setInterval(() => {
      const now = performance.now();
      const lastT = ws.length ? ws[ws.length - 1].t : 0;
      if (ws.length > mark && app.getAttribute('data-test-script-state') !== 'running' && now - lastT >= quietMs) {
        clearInterval(poll);
        resolve(now - start);
      } else if (now - start > timeoutMs) {
        clearInterval(poll);
        reject(new Error('the page did not settle within ' + timeoutMs + ' ms'));
      }
    }, 20);
  });
}
"""


class BrowserBenchError(RuntimeError):
    """The browser benchmark could not run or a click never showed its request."""


# ---- the figures -------------------------------------------------------------------------------------


def _median(values: Sequence[float]) -> float | None:
    return statistics.median(values) if values else None


def _p90(values: Sequence[float]) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(0.9 * len(ordered)) - 1)]   # nearest rank


@dataclass
class PageFigures:
    """One page's clicks: each a dict of the timings MEASURE_JS returns, in ms from the click."""

    name: str
    path: str
    clicks: list[dict[str, Any]] = field(default_factory=list)
    warmup: list[float] = field(default_factory=list)

    def series(self, name: str) -> list[float]:
        return [click[name] for click in self.clicks if click.get(name) is not None]

    @property
    def median_ms(self) -> float:
        return _median(self.series("latency")) or math.nan

    @property
    def p90_ms(self) -> float:
        return _p90(self.series("latency")) or math.nan

    def breakdown(self) -> dict[str, float | None]:
        """Medians of the split: when the rerun began answering, when this click's DOT arrived, the browser's
        DOT-to-SVG time, and when the rerun's last message came."""
        return {name: _median(self.series(name)) for name in ("firstMsg", "dotMsg", "render", "lastMsg", "frame")}

    def line(self) -> str:
        split = self.breakdown()

        def ms(value: float | None) -> str:
            return "   –" if value is None else f"{value:4.0f}"

        return (f"{self.name:<13} median {self.median_ms:6.1f} ms   p90 {self.p90_ms:6.1f} ms   "
                f"[click→1st msg {ms(split['firstMsg'])}, →DOT msg {ms(split['dotMsg'])}, "
                f"DOT→SVG {ms(split['render'])}, →last msg {ms(split['lastMsg'])} ms]")

    def as_json(self) -> dict[str, Any]:
        split = self.breakdown()
        return {"path": self.path, "clicks": len(self.clicks), "median_ms": round(self.median_ms, 1),
                "p90_ms": round(self.p90_ms, 1), "min_ms": round(min(self.series("latency")), 1),
                "max_ms": round(max(self.series("latency")), 1),
                "breakdown_median_ms": {k: None if v is None else round(v, 1) for k, v in split.items()},
                "latencies_ms": [round(v, 1) for v in self.series("latency")]}


@dataclass
class BrowserFigures:
    """Every round's figures: round[0] is the bare page, the others the app pages, in APP_PAGES order."""

    rounds: list[list[PageFigures]]
    seconds: float

    def pooled(self, index: int) -> PageFigures:
        """One page's clicks over all rounds."""
        first = self.rounds[0][index]
        pooled = PageFigures(first.name, first.path)
        for one in self.rounds:
            pooled.clicks += one[index].clicks
            pooled.warmup += one[index].warmup
        return pooled

    def round_ratios(self, index: int) -> list[float]:
        return [one[index].median_ms / one[0].median_ms for one in self.rounds]

    def page_ratio(self, index: int) -> float:
        return statistics.median(self.round_ratios(index))

    @property
    def ratio(self) -> float:
        """The headline: the first app page (cache-aside) against the bare page, median over the rounds."""
        return self.page_ratio(1)

    def lines(self) -> list[str]:
        pages = [self.pooled(i) for i in range(len(self.rounds[0]))]
        out = [f"browser: click Read → diagram SVG shows the request, Chromium, {len(self.rounds)} rounds of "
               f"{len(self.rounds[0][0].clicks)} clicks per page after {len(self.rounds[0][0].warmup)} warm-up "
               f"({self.seconds:.0f} s); medians over all rounds:"]
        out += [f"  {page.line()}" for page in pages]
        for index, page in enumerate(pages[1:], start=1):
            goal = "" if index != 1 else f"   (goal <= {GOAL_RATIO:g}: " + (
                "met)" if self.ratio <= GOAL_RATIO else "NOT met)")
            rounds = ", ".join(f"{r:.2f}" for r in self.round_ratios(index))
            out.append(f"  ratio {page.name}/bare {self.page_ratio(index):.2f} (median of rounds: {rounds}){goal}")
        return out

    def as_json(self) -> dict[str, Any]:
        pages = [self.pooled(i) for i in range(len(self.rounds[0]))]
        found: dict[str, Any] = {"rounds": len(self.rounds), "clicks_per_round": len(self.rounds[0][0].clicks),
                                 "warmup": len(self.rounds[0][0].warmup), "ratio": round(self.ratio, 3),
                                 "goal_ratio": GOAL_RATIO, "seconds": round(self.seconds, 1),
                                 "bare": pages[0].as_json()}
        for index, page in enumerate(pages[1:], start=1):
            found[page.name] = page.as_json() | {
                "ratio": round(self.page_ratio(index), 3),
                "round_ratios": [round(r, 3) for r in self.round_ratios(index)]}
        return found


# ---- the servers --------------------------------------------------------------------------------------


# ---- one page's clicks -------------------------------------------------------------------------------


def _open(browser: Any, url: str) -> Any:
    page = browser.new_page(viewport=VIEWPORT)
    page.set_default_timeout(PAGE_LOAD_TIMEOUT_MS)
    page.add_init_script(WS_RECORDER)
    page.goto(url, timeout=PAGE_LOAD_TIMEOUT_MS)
    page.wait_for_selector(".stGraphVizChart svg", timeout=PAGE_LOAD_TIMEOUT_MS)
    _settle(page)
    return page


def _settle(page: Any, mark: int = -1) -> None:
    """Wait (bounded) until the page is settled; with `mark`, until a rerun after message number `mark` is over."""
    page.evaluate(SETTLE_JS, [mark, SETTLE_TIMEOUT_MS, QUIET_MS])
    page.wait_for_timeout(PAUSE_MS)


def _click(page: Any, button: str, expected: str) -> dict[str, Any]:
    try:
        return page.evaluate(MEASURE_JS, [button, expected, CLICK_TIMEOUT_MS, QUIET_MS])
    except Exception as err:   # playwright's Error: say which click, and keep the message
        raise BrowserBenchError(f"{page.url}: {err}") from None


def _exceptions(page: Any) -> str | None:
    found = page.locator("[data-testid=stException]")
    return (found.first.text_content() or "")[:300] if found.count() else None


def measure_bare(browser: Any, url: str, clicks: int, warmup: int) -> PageFigures:
    figures = PageFigures("bare", "/")
    page = _open(browser, url)
    try:
        for number in range(1, warmup + clicks + 1):
            result = _click(page, "[data-testid=stButton] button", f"GET user:1 #{number}")
            if number <= warmup:
                figures.warmup.append(result["latency"])
            else:
                figures.clicks.append(result)
            _settle(page)
    finally:
        page.close()
    return figures


def measure_app(browser: Any, base: str, pattern: str, clicks: int, warmup: int) -> PageFigures:
    figures = PageFigures(pattern, APP_PAGES[pattern])
    page = _open(browser, base + APP_PAGES[pattern])
    key_input = page.locator(f".st-key-{pattern}-key input")
    button = f".st-key-{pattern}-read button"
    try:
        for number in range(warmup + clicks):
            key = KEYS[number % 2]
            if key_input.input_value() != key:   # set and commit the key outside the timing
                mark = page.evaluate("window.__benchWs.length")
                key_input.fill(key)
                key_input.press("Enter")
                _settle(page, mark)
            result = _click(page, button, f"GET {key}")
            if number < warmup:
                figures.warmup.append(result["latency"])
            else:
                figures.clicks.append(result)
            _settle(page)
        shown = _exceptions(page)
        if shown:
            raise BrowserBenchError(f"{pattern}: the page shows an exception: {shown}")
    finally:
        page.close()
    return figures


# ---- the run ---------------------------------------------------------------------------------------


def run(clicks: int = CLICKS, warmup: int = WARMUP, patterns: Sequence[str] = tuple(APP_PAGES),
        rounds: int = ROUNDS) -> BrowserFigures:
    """Start both servers, measure the bare page then each app page, `rounds` times, in one Chromium."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as err:
        raise BrowserBenchError(f"playwright is not installed in this environment: {err}") from None
    if not CHROMIUM.exists():
        raise BrowserBenchError(f"{CHROMIUM} not found (apt-get install -y chromium); the browser bench uses "
                                "Debian's Chromium, never a downloaded one")
    started = time.monotonic()
    workdir = Path(tempfile.mkdtemp(prefix="bench-browser-"))
    bare_script = workdir / "bare_page.py"
    bare_script.write_text(BARE_SCRIPT, encoding="utf-8")
    servers = [StreamlitServer(bare_script, workdir, workdir), StreamlitServer(ROOT / "app.py", ROOT, workdir)]
    try:
        for server in servers:
            server.start()
        for server in servers:
            server.wait_until_answering()
        bare_server, app_server = servers
        found: list[list[PageFigures]] = []
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, timeout=60_000)
            try:
                for _ in range(rounds):
                    # Each page is opened afresh per round (a new session): the idle server of the other
                    # page only answers health checks meanwhile.
                    found.append([measure_bare(browser, bare_server.url, clicks, warmup)]
                                 + [measure_app(browser, app_server.url, pattern, clicks, warmup)
                                    for pattern in patterns])
            finally:
                browser.close()
    except Exception as err:   # playwright's errors too: add what the app's server said
        raise BrowserBenchError(f"{err}\n--- app server log (tail) ---\n{servers[1].log_tail()}") from None
    finally:
        for server in servers:
            server.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    return BrowserFigures(found, time.monotonic() - started)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.browser", description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print the figures as one JSON object")
    parser.add_argument("--clicks", type=int, default=CLICKS,
                        help=f"timed clicks per page per round (default {CLICKS})")
    parser.add_argument("--rounds", type=int, default=ROUNDS, help=f"rounds of all pages (default {ROUNDS})")
    args = parser.parse_args(argv)
    try:
        figures = run(clicks=args.clicks, rounds=args.rounds)
    except (BrowserBenchError, ServerError) as err:
        print(f"browser bench failed: {err}", file=sys.stderr)
        return 2
    print(json.dumps(figures.as_json(), indent=2) if args.json else "\n".join(figures.lines()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
