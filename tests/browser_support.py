"""Helpers for the browser tests: a real Streamlit server in a subprocess, Debian's Chromium, and waits.

Nothing here downloads anything: Chromium is the one apt installs at /usr/bin/chromium. Without it the
browser tests are skipped locally, but fail under CI=true (in CI a missing browser is a broken setup).
Every wait is bounded; none of them sleeps for a fixed long time.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest

# One way to run the app and Chromium, shared with the browser bench.
from strategies.bench_browser import CHROMIUM, CHROMIUM_ARGS, BrowserBenchError, StreamlitServer

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "test-artifacts"   # screenshots; git-ignored
VIEWPORT = {"width": 1400, "height": 1000}
SERVER_START_TIMEOUT = 60.0

T = TypeVar("T")


def running_in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"true", "1", "yes"}


def skip_or_fail(reason: str) -> None:
    """Skip locally; under CI=true a missing prerequisite is a failure, never a silent skip."""
    if running_in_ci():
        pytest.fail(f"CI=true but {reason}", pytrace=False)
    pytest.skip(reason)


# ---- the server ----------------------------------------------------------------------------------------
def start_server(data_dir: Path) -> StreamlitServer:
    """A started app server (fakeredis, a private data folder), or a test failure quoting its log."""
    data_dir.mkdir(parents=True, exist_ok=True)
    server = StreamlitServer(ROOT / "app.py", ROOT, data_dir).start()
    try:
        server.wait_until_answering(SERVER_START_TIMEOUT)
    except BrowserBenchError as err:
        server.stop()
        pytest.fail(str(err), pytrace=False)
    return server


# ---- the browser ---------------------------------------------------------------------------------------
def require_browser() -> None:
    """Skip (locally) or fail (CI) unless Playwright and Debian's Chromium are both there."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        skip_or_fail("the playwright Python package is not installed (pip install -r requirements-dev.txt)")
    if not (CHROMIUM.is_file() and os.access(CHROMIUM, os.X_OK)):
        skip_or_fail(f"{CHROMIUM} is missing: install Debian's chromium (apt-get install -y chromium); "
                     "the browser tests never download a browser")


def launch_chromium(playwright):
    """Debian's Chromium, headless; never a browser Playwright would have to download."""
    return playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)


def new_page(browser, *, timeout_ms: int = 15_000):
    """A page in a context of its own, so a fresh Streamlit session; every action waits at most timeout_ms."""
    context = browser.new_context(viewport=VIEWPORT)
    context.set_default_timeout(timeout_ms)
    context.set_default_navigation_timeout(30_000)
    return context.new_page()


# ---- waiting for Streamlit -----------------------------------------------------------------------------
SETTLED_JS = """() => {
    const app = document.querySelector('[data-testid=stApp]');
    if (!app) return false;
    const state = app.getAttribute('data-test-script-state');
    return state === 'notRunning'
        && !document.querySelector('[data-testid=stStatusWidget]')
        && !document.querySelector('[data-stale=true]');
}"""


def settle(page, *, timeout: float = 20.0, quiet: float = 0.3) -> None:
    """Wait until the script is not running, no status widget ("Running…") shows and no element is stale,
    continuously for `quiet` seconds (a click's rerun starts a moment after the click). Bounded by timeout."""
    page.wait_for_selector("[data-testid=stApp]", timeout=timeout * 1000)
    deadline = time.monotonic() + timeout
    quiet_since = None
    while True:
        now = time.monotonic()
        if page.evaluate(SETTLED_JS):
            quiet_since = quiet_since or now
            if now - quiet_since >= quiet:
                return
        else:
            quiet_since = None
        if now > deadline:
            raise AssertionError(f"the page did not settle within {timeout:g} s (script state: "
                                 f"{page.evaluate(_SCRIPT_STATE_JS)})")
        page.wait_for_timeout(100)


_SCRIPT_STATE_JS = "() => document.querySelector('[data-testid=stApp]')?.getAttribute('data-test-script-state')"


def poll(probe: Callable[[], T], accept: Callable[[T], Any], *, timeout: float = 15.0, interval: float = 0.2,
         what: str = "condition") -> T:
    """Call probe() until accept(result) is truthy; return that result, or fail quoting the last one seen."""
    deadline = time.monotonic() + timeout
    while True:
        seen = probe()
        if accept(seen):
            return seen
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}; last seen: {seen!r}")
        time.sleep(interval)


def goto(page, server: StreamlitServer, path: str) -> None:
    page.goto(server.url + path, wait_until="domcontentloaded")
    page.wait_for_selector("[data-testid=stApp]")
    settle(page)


def save_screenshot(page, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path))
    return path
