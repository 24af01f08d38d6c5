"""A step's server time on a long scene: the expiry spike's last scene (about 5,000 steps) against a short one.

Run as `python -m bench.long_scene [--clicks 10] [--rounds 3] [--profile] [--json]` from the project root. The
page runs under Streamlit's AppTest on the embedded fakeredis and a manual clock; each Step forward click runs the
page's whole script (the callback, the panel, the diagram, the narration, the tables, any chart), and the bench
times that script in its own thread (`lab_ui.pattern_page`, wrapped), not AppTest's polling around it. In turns it
times `--clicks` clicks of:

* long: `/read_through?scenario=expiry-spike` (`--page cache-aside` for the other read page), opened `--clicks`
  steps before the end of its spike scene (a scene of 5,000 steps);
* short: `/cache_aside?scenario=stale-set-race`, a scene of 10 steps (the baseline);

and prints the median milliseconds per click of each and the ratio long/short, per round and their median.
`--profile` prints where the long clicks spent their time. The machine is shared: read the ratio, which compares
clicks made side by side, rather than the milliseconds. Nothing here is a test.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import statistics
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHORT = ("cache-aside", "stale-set-race")
LONG = "expiry-spike"


class PageTimer:
    """Wraps `lab_ui.pattern_page` (each page file calls it afresh on every run), timing (or profiling) each call."""

    def __init__(self) -> None:
        self.took: list[float] = []
        self.profile: cProfile.Profile | None = None

    def install(self) -> None:
        import lab_ui

        original = lab_ui.pattern_page

        def timed(pattern: str) -> None:
            started = time.perf_counter()
            if self.profile is not None:
                self.profile.runcall(original, pattern)
            else:
                original(pattern)
            self.took.append((time.perf_counter() - started) * 1000)

        lab_ui.pattern_page = timed


def open_page(pattern: str, slug: str, step: int):
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120).run()
    at.query_params["scenario"] = slug
    at.query_params["step"] = str(step)
    at.switch_page(f"pages/{pattern.replace('-', '_')}.py").run()
    assert not at.exception, at.exception
    return at


def scenario_steps(pattern: str, slug: str) -> int:
    from strategies.scenario import run_scenario
    from strategies.scenarios import find
    from strategies.session import LearnerSession

    session = LearnerSession(data_dir=Path(tempfile.mkdtemp()))
    try:
        return sum(len(scene.steps) for scene in run_scenario(find(pattern, slug), session.lab(pattern)).scenes)
    finally:
        session.close()


def time_clicks(timer: PageTimer, pattern: str, slug: str, clicks: int) -> float:
    """The median milliseconds of the page's script on one Step forward click, `clicks` steps before the end."""
    at = open_page(pattern, slug, max(1, scenario_steps(pattern, slug) - clicks - 1))
    key = f"{pattern}:forward"
    timer.took.clear()
    for _ in range(clicks):
        next(button for button in at.button if button.key == key).click().run()
        assert not at.exception, at.exception
    assert len(timer.took) == clicks, timer.took
    return statistics.median(timer.took)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clicks", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--page", default="read-through", choices=("cache-aside", "read-through"))
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    os.environ.setdefault("LAB_CLOCK", "manual")
    os.environ.setdefault("LAB_DATA_DIR", tempfile.mkdtemp(prefix="bench-long-scene-"))
    os.environ.pop("REDIS_URL", None)
    timer = PageTimer()
    timer.install()
    rounds = []
    for number in range(1, args.rounds + 1):
        found = {"long": time_clicks(timer, args.page, LONG, args.clicks),
                 "short": time_clicks(timer, *SHORT, args.clicks)}
        found["ratio"] = found["long"] / found["short"]
        rounds.append(found)
        if not args.json:
            print(f"round {number}: long {found['long']:.0f} ms, short {found['short']:.0f} ms, "
                  f"ratio {found['ratio']:.2f}")
    summary = {name: statistics.median(found[name] for found in rounds) for name in ("long", "short", "ratio")}
    if args.json:
        print(json.dumps({"rounds": rounds, "median": summary}, indent=2))
    else:
        print(f"median: long {summary['long']:.0f} ms per click, short {summary['short']:.0f} ms per click, "
              f"ratio {summary['ratio']:.2f}")
    if args.profile:
        timer.profile = cProfile.Profile()
        time_clicks(timer, args.page, LONG, args.clicks)
        out = io.StringIO()
        pstats.Stats(timer.profile, stream=out).sort_stats("cumulative").print_stats(35)
        print(out.getvalue())


if __name__ == "__main__":
    main()
