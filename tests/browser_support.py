"""Helpers for the browser tests: a real Streamlit server in a subprocess, Debian's Chromium, and waits.

Nothing here downloads anything: Chromium is the one apt installs at /usr/bin/chromium. Without it the
browser tests are skipped locally, but fail under CI=true (in CI a missing browser is a broken setup).
Every wait is bounded; none of them sleeps for a fixed long time.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
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
class ServerError(RuntimeError):
    """A Streamlit server did not start or answer; the message quotes its log."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class StreamlitServer:
    """`python -m streamlit run SCRIPT` in its own process group, logging to a file in `workdir`."""

    def __init__(self, script: Path, cwd: Path, workdir: Path, env: dict[str, str] | None = None) -> None:
        self.script, self.cwd, self.workdir, self.extra_env = script, cwd, workdir, env or {}
        self.port = free_port()
        self.log_path = workdir / f"streamlit-{script.stem}-{self.port}.log"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> StreamlitServer:
        env = dict(os.environ)
        env.pop("REDIS_URL", None)            # the app then gives each browser session its own fakeredis
        env["LAB_DATA_DIR"] = str(self.workdir / "data")
        env["PYTHONUNBUFFERED"] = "1"
        env["STREAMLIT_SERVER_FILE_WATCHER_TYPE"] = "none"
        env.update(self.extra_env)
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "streamlit", "run", str(self.script), "--server.headless", "true",
                 "--server.port", str(self.port), "--server.address", "127.0.0.1",
                 "--browser.gatherUsageStats", "false"],
                cwd=self.cwd, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True)
        return self

    def wait_until_answering(self, timeout: float = SERVER_START_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        while True:
            if self.process is None or self.process.poll() is not None:
                raise ServerError(f"streamlit ({self.script.name}) exited before answering:\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(f"{self.url}/_stcore/health", timeout=2) as response:
                    if response.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            if time.monotonic() > deadline:
                raise ServerError(f"streamlit ({self.script.name}) did not answer within {timeout:g} s:\n"
                                        f"{self.log_tail()}")
            time.sleep(0.1)

    def log_tail(self, chars: int = 2000) -> str:
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")[-chars:]
        except OSError:
            return "(no server log)"

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        try:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
        except ProcessLookupError:
            pass



def start_server(data_dir: Path, env: dict[str, str] | None = None) -> StreamlitServer:
    """A started app server (fakeredis unless `env` says otherwise, a private data folder), or a test
    failure quoting its log."""
    data_dir.mkdir(parents=True, exist_ok=True)
    server = StreamlitServer(ROOT / "app.py", ROOT, data_dir, env).start()
    try:
        server.wait_until_answering(SERVER_START_TIMEOUT)
    except ServerError as err:
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
