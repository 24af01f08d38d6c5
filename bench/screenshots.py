"""Screenshots of every page as a class sees it: 1280×720, normal and presenter mode, saved as PNGs.

Run as `python -m bench.screenshots [--out DIR] [--size 1280x720 ...]` from the project root (Debian's
chromium). One app server (embedded fakeredis, manual clock); for each pattern page: the page on first load,
right after a click of Read, at a busy scenario step, and the same request and step in presenter mode; plus
the home page. Each shot is taken once the page has settled and the active arrow has drawn itself. Prints
where the PNGs are: open them and look.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from bench.legibility import BUSY, PAGES, open_view
from tests.browser_support import CHROMIUM, StreamlitServer, launch_chromium, settle

ROOT = Path(__file__).resolve().parent.parent


def shoot(page, out: Path, name: str) -> Path:
    page.wait_for_timeout(800)               # the active arrow has drawn itself
    path = out / f"{name}.png"
    page.screenshot(path=str(path))
    print(path)
    return path


def run(out: Path, sizes: list[tuple[int, int]]) -> None:
    from playwright.sync_api import sync_playwright

    if not CHROMIUM.exists():
        raise SystemExit(f"{CHROMIUM} not found (apt-get install -y chromium)")
    out.mkdir(parents=True, exist_ok=True)
    server = StreamlitServer(ROOT / "app.py", ROOT, Path(tempfile.mkdtemp(prefix="bench-shots-")),
                             {"LAB_CLOCK": "manual"}).start()
    try:
        server.wait_until_answering()
        with sync_playwright() as playwright:
            browser = launch_chromium(playwright)
            for width, height in sizes:
                size, tag = (width, height), f"{width}x{height}"
                page = open_view(browser, server.url, "/", size)
                shoot(page, out, f"home-{tag}")
                page.context.close()
                for path in PAGES.values():
                    stem = path.strip("/")
                    page = open_view(browser, server.url, path, size)
                    shoot(page, out, f"{stem}-{tag}-first-load")
                    page.locator("[class*=-read] button").first.click()
                    page.wait_for_selector(".stGraphVizChart g.edge.active")
                    settle(page, timeout=40)
                    shoot(page, out, f"{stem}-{tag}-after-read")
                    page.context.close()
                    page = open_view(browser, server.url, path + "?do=r~user:1&step=3&present=1", size)
                    shoot(page, out, f"{stem}-{tag}-presenter-read")
                    page.context.close()
                    for number, busy in enumerate(link for link in BUSY if link.startswith(path + "?")):
                        for mode, suffix in (("normal", ""), ("presenter", "&present=1")):
                            page = open_view(browser, server.url, busy + suffix, size)
                            shoot(page, out, f"{stem}-{tag}-{mode}-scenario{number + 1}")
                            page.context.close()
            browser.close()
    finally:
        server.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.screenshots", description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="test-artifacts/screenshots", help="folder for the PNGs")
    parser.add_argument("--size", action="append", help="WxH (repeatable; default 1280x720)")
    args = parser.parse_args(argv)
    sizes = [tuple(int(n) for n in text.split("x")) for text in args.size or ["1280x720"]]
    run(Path(args.out), sizes)
    return 0


if __name__ == "__main__":
    sys.exit(main())
