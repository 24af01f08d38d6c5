"""A Chromium spot-check of the load bench: N learners in real browsers on one app server, at once.

Run as `python -m bench.class_browser [--learners 5] [--clicks 10] [--think 2:4] [--json]`.

`bench/load.py` measures the server through the agent API (no browser); this checks that its figures match
what a browser sees. Each learner is a thread with its own Chromium (Playwright's sync API is one per
thread), its own page and so its own Streamlit session, on /cache_aside. It thinks 2–4 s (a person reading
the diagram), sets the Key to the other seeded key and clicks Read; the latency is the in-page time from
the click to the SVG showing `GET <key>` (the same measurement as bench/browser.py). Chromium's own CPU
counts here: on a 2-core machine N browsers compete with the server, which is why the load bench exists.
Every wait is bounded.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.browser import APP_PAGES, KEYS, ROOT, BrowserBenchError, _click, _exceptions, _open, _settle
from bench.load import parse_think, percentile
from tests.browser_support import CHROMIUM, CHROMIUM_ARGS, ServerError, StreamlitServer

PATTERN = "cache-aside"


class Learner(threading.Thread):
    def __init__(self, index: int, url: str, clicks: int, think: tuple[float, float], results: dict) -> None:
        super().__init__(name=f"browser-learner-{index}", daemon=True)
        self.url, self.clicks, self.think, self.results = url, clicks, think, results
        self.rng = random.Random(index)

    def run(self) -> None:
        from playwright.sync_api import sync_playwright

        latencies: list[float] = []
        server_side: list[float] = []      # click -> the message carrying its DOT (the server's rerun, and the wire)
        failures: list[str] = []
        opened = None
        try:
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, timeout=60_000)
                try:
                    time.sleep(self.rng.uniform(0, self.think[1]))           # learners arrive spread out
                    started = time.perf_counter()
                    page = _open(browser, self.url + APP_PAGES[PATTERN])
                    opened = 1000 * (time.perf_counter() - started)
                    key_input = page.locator(f".st-key-{PATTERN}-key input")
                    for number in range(self.clicks):
                        time.sleep(self.rng.uniform(*self.think))
                        key = KEYS[number % 2]
                        key_input.fill(key)
                        key_input.press("Enter")
                        _settle(page)
                        try:
                            result = _click(page, f".st-key-{PATTERN}-read button", f"GET {key}")
                            latencies.append(result["latency"])
                            if result.get("dotMsg") is not None:
                                server_side.append(result["dotMsg"])
                        except BrowserBenchError as err:
                            failures.append(str(err)[:200])
                    shown = _exceptions(page)
                    if shown:
                        failures.append(f"exception on the page: {shown}")
                finally:
                    browser.close()
        except Exception as err:      # noqa: BLE001 — a learner's failure is a figure, not a crash
            failures.append(f"{type(err).__name__}: {str(err)[:200]}")
        self.results[self.name] = {"latencies": latencies, "failures": failures, "open_ms": opened,
                                   "server_side": server_side}


def run(learners: int, clicks: int, think: tuple[float, float]) -> dict[str, Any]:
    workdir = Path(tempfile.mkdtemp(prefix="bench-class-browser-"))
    server = StreamlitServer(ROOT / "app.py", ROOT, workdir)
    results: dict[str, dict] = {}
    try:
        server.start()
        server.wait_until_answering()
        crowd = [Learner(i, server.url, clicks, think, results) for i in range(learners)]
        for learner in crowd:
            learner.start()
        deadline = time.monotonic() + 60 + clicks * (think[1] + 20)
        for learner in crowd:
            learner.join(max(0.0, deadline - time.monotonic()))
    finally:
        server.stop()
    latencies = [ms for found in results.values() for ms in found["latencies"]]
    opens = [found["open_ms"] for found in results.values() if found["open_ms"] is not None]
    failures = [why for found in results.values() for why in found["failures"]]
    server_side = [ms for found in results.values() for ms in found["server_side"]]
    return {"learners": learners, "clicks": clicks * learners, "answered": len(latencies), "failed": len(failures),
            "p50_ms": percentile(latencies, 50), "p95_ms": percentile(latencies, 95),
            "open_p50_ms": percentile(opens, 50), "dot_msg_p50_ms": percentile(server_side, 50),
            "dot_msg_p95_ms": percentile(server_side, 95), "failures": failures[:10]}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.class_browser", description=__doc__.splitlines()[0])
    parser.add_argument("--learners", type=int, default=5)
    parser.add_argument("--clicks", type=int, default=10)
    parser.add_argument("--think", type=parse_think, default=(2.0, 4.0), help="seconds between clicks, LOW:HIGH")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    if not CHROMIUM.exists():
        print(f"{CHROMIUM} not found (apt-get install -y chromium)", file=sys.stderr)
        return 2
    try:
        found = run(args.learners, args.clicks, args.think)
    except ServerError as err:
        print(f"class browser bench failed: {err}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(found))
    else:
        print(f"Chromium, {found['learners']} learners at once on /cache_aside, {args.clicks} Read clicks each, "
              f"{args.think[0]:g}–{args.think[1]:g} s think: {found['answered']} of {found['clicks']} answered, "
              f"{found['failed']} failed; click→diagram p50 {found['p50_ms']:.0f} ms, p95 {found['p95_ms']:.0f} ms; "
              f"page open p50 {found['open_p50_ms']:.0f} ms\n  of which click→the message carrying the diagram "
              f"(the server's rerun and the wire): p50 {found['dot_msg_p50_ms']:.0f} ms, "
              f"p95 {found['dot_msg_p95_ms']:.0f} ms; the rest is the browsers' own rendering")
        for why in found["failures"]:
            print("  failed:", why)
    return 0 if not found["failed"] else 1


if __name__ == "__main__":
    sys.exit(main())
