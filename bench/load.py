"""Load bench: N simulated learners drive one app server through Streamlit's agent API, no browser.

Run as `python -m bench.load [--learners 1,10,30,60] [--clicks 10] [--think 2:4] [--waves 1] [--json]`.

For each N a fresh app server starts on a loopback port (the tests' StreamlitServer, as bench.browser uses:
embedded fakeredis, a private data folder), one warm-up learner loads the page, then N learners run at
once, each on a thread of this process with its own agent session: open /cache_aside (`{"page":
"cache_aside"}`), then CLICKS times: think (uniform in THINK seconds), set the Key (one of the seeded rows,
and a Value for a write) and press Read or Write (alternating, from a random start) in one request. A
click counts as failed when the request is refused or times out, the app answers with status "error",
or the answer does not carry that click's request: the newest row of the Requests table must be this
click's number, kind and key, and the diagram's DOT must show its first cache call (`GET key` for a
read, `DEL key` for a cache-aside write).

Reported per N: p50/p95/max latency of the clicks (request sent until the settled answer; opening the
page is reported apart), failed clicks, the server's RSS (idle after warm-up, peak during the run), RSS
per learner = (peak - idle) / N, server CPU seconds per click, and, after the learners stop, how much
RSS and how many session folders remain once Streamlit has ended their sessions (`agentSessionTTL`,
set short here) and the app's reaper has released their labs (`LAB_REAP_INTERVAL`).

`--waves 2` sends the N learners twice, one crowd after the other, to the same server: the after-release
RSS of each wave shows whether what the first crowd freed is reused. `--no-reaper` turns the app's
reaper off (the behaviour before it existed): the folders and labs of ended sessions then stay.

Bounded: at most MAX_LEARNERS learners, MAX_CLICKS clicks each, every request has a timeout, each phase
a deadline (--phase-timeout); traffic goes only to 127.0.0.1.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from bench.agent_client import AgentClient, AgentError, Snapshot
from tests.browser_support import ROOT, ServerError, StreamlitServer

LEVELS = (1, 10, 30, 60)
MAX_LEARNERS = 100            # Streamlit's server.agentMaxSessions is 100 by default
CLICKS = 10
MAX_CLICKS = 200
THINK = (2.0, 4.0)
PAGE = "cache_aside"
PATTERN = "cache-aside"
KEYS = ("user:1", "user:2", "user:3", "product:42")
REQUEST_TIMEOUT_S = 60.0
PHASE_TIMEOUT_S = 600.0
AGENT_SESSION_TTL_S = 20       # the bench server ends an idle agent session after this long …
REAP_INTERVAL_S = 2            # … and the app's reaper looks for ended sessions this often
RELEASE_WAIT_S = 90.0          # how long to wait for every lab to be released after a phase


def rss_kb(pid: int) -> int:
    """Resident set size of a process, from /proc (Linux)."""
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def percentile(values: Sequence[float], q: float) -> float | None:
    """Nearest-rank percentile (q in 0..100); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(q / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


@dataclass
class Phase:
    learners: int
    clicks_sent: int = 0
    failed: int = 0
    failures: list[str] = field(default_factory=list)       # the first few, for the report
    latencies_ms: list[float] = field(default_factory=list)
    open_ms: list[float] = field(default_factory=list)
    rss_idle_kb: int = 0
    rss_peak_kb: int = 0
    rss_after_release_kb: list[int] = field(default_factory=list)     # one per wave
    folders_left: int | None = None
    release_s: float | None = None
    cpu_s: float = 0.0
    wall_s: float = 0.0

    def summary(self) -> dict:
        lat = self.latencies_ms
        return {
            "learners": self.learners, "clicks": self.clicks_sent, "failed": self.failed,
            "p50_ms": _round(percentile(lat, 50)), "p95_ms": _round(percentile(lat, 95)),
            "max_ms": _round(max(lat) if lat else None),
            "open_p50_ms": _round(percentile(self.open_ms, 50)),
            "rss_idle_mb": round(self.rss_idle_kb / 1024, 1), "rss_peak_mb": round(self.rss_peak_kb / 1024, 1),
            "rss_per_learner_mb": round((self.rss_peak_kb - self.rss_idle_kb) / 1024 / self.learners, 2),
            "cpu_ms_per_click": _round(1000 * self.cpu_s / self.clicks_sent if self.clicks_sent else None),
            "rss_after_release_mb": [round(kb / 1024, 1) for kb in self.rss_after_release_kb],
            "folders_left": self.folders_left, "release_s": _round(self.release_s),
            "wall_s": round(self.wall_s, 1), "failures": self.failures[:5],
        }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def check_answer(snap: Snapshot, number: int, kind: str, key: str) -> str | None:
    """Why this answer does not show click `number` (a `kind` request for `key`), or None if it does."""
    if snap.status != "ready":
        return f"status {snap.status}"
    # The diagram's heading names the request it draws ("#12: read user:1", Markdown-escaped); the request log
    # is not drawn while its expander is closed, as a learner's is.
    shown = [re.sub(r"\\(.)", r"\1", body) for body in snap.texts("caption")]
    expected = f"#{number}: {kind} {key}"
    if expected not in shown:
        return f"the diagram does not name {expected!r} (captions: {[c for c in shown if c.startswith('#')][:2]})"
    first_call = f"GET {key}" if kind == "read" else f"DEL {key}"
    if not any(first_call in dot for dot in snap.dots()):
        return f"the diagram does not show {first_call!r}"
    return None


class Learner(threading.Thread):
    def __init__(self, index: int, client: AgentClient, phase: Phase, lock: threading.Lock, clicks: int,
                 think: tuple[float, float], deadline: float, seed: int) -> None:
        super().__init__(name=f"learner-{index}", daemon=True)
        self.client, self.phase, self.lock = client, phase, lock
        self.clicks, self.think, self.deadline = clicks, think, deadline
        self.rng = random.Random(seed)

    def fail(self, why: str) -> None:
        with self.lock:
            self.phase.failed += 1
            if len(self.phase.failures) < 20:
                self.phase.failures.append(f"{self.name}: {why}")

    def pause(self, seconds: float) -> bool:
        """Think, unless that would pass the phase's deadline."""
        if time.monotonic() + seconds > self.deadline:
            return False
        time.sleep(seconds)
        return True

    def run(self) -> None:
        if not self.pause(self.rng.uniform(0, self.think[1])):       # learners arrive spread out
            return
        started = time.perf_counter()
        try:
            snap = self.client.open(PAGE)
        except AgentError as err:
            self.fail(f"open: {err}")
            return
        with self.lock:
            self.phase.open_ms.append(1000 * (time.perf_counter() - started))
        if snap.status != "ready" or f"{PATTERN}:read" not in snap.action_keys():
            self.fail(f"open: status {snap.status}, no Read button")
            return
        session = snap.session_id
        kinds = ("read", "write") if self.rng.random() < 0.5 else ("write", "read")
        for number in range(1, self.clicks + 1):
            if not self.pause(self.rng.uniform(*self.think)):
                return
            kind, key = kinds[number % 2], self.rng.choice(KEYS)
            state = {f"{PATTERN}:key": key}
            if kind == "write":
                state[f"{PATTERN}:value"] = f"{self.name} #{number}"
            with self.lock:
                self.phase.clicks_sent += 1
            started = time.perf_counter()
            try:
                snap = self.client.click(session, f"{PATTERN}:{kind}", state)
            except AgentError as err:
                self.fail(f"click {number}: {err}")
                if err.code in {"unknown_session", "network"}:
                    return
                continue
            elapsed = 1000 * (time.perf_counter() - started)
            why = check_answer(snap, number, kind, key)
            if why is not None:
                self.fail(f"click {number}: {why}")
                continue
            with self.lock:
                self.phase.latencies_ms.append(elapsed)


def session_folders(data_dir: Path) -> int:
    sessions = data_dir / "sessions"
    return sum(1 for p in sessions.iterdir() if p.is_dir()) if sessions.is_dir() else 0


def run_phase(learners: int, clicks: int, think: tuple[float, float], phase_timeout: float,
              wait_release: bool, seed: int, waves: int = 1, reaper: bool = True) -> Phase:
    phase = Phase(learners)
    workdir = Path(tempfile.mkdtemp(prefix="bench-load-"))
    env = {"STREAMLIT_SERVER_AGENT_SESSION_TTL": str(AGENT_SESSION_TTL_S),
           "STREAMLIT_SERVER_AGENT_MAX_SESSIONS": str(MAX_LEARNERS * waves + 10),
           "LAB_REAP_INTERVAL": str(REAP_INTERVAL_S if reaper else 10**9)}
    server = StreamlitServer(ROOT / "app.py", ROOT, workdir, env)
    stop_sampling = threading.Event()
    try:
        server.start()
        server.wait_until_answering()
        pid = server.process.pid
        client = AgentClient(server.url, timeout=REQUEST_TIMEOUT_S)
        if client.openapi().get("info", {}).get("x-streamlit-agent-api") != "available":
            raise ServerError("the server does not offer the agent API (server.enableAgentApi)")
        warm = client.open(PAGE)                        # first run: imports, script compile, graphviz
        client.click(warm.session_id, f"{PATTERN}:read", {f"{PATTERN}:key": "user:1"})
        time.sleep(1.0)
        phase.rss_idle_kb = phase.rss_peak_kb = rss_kb(pid)

        def sample() -> None:
            while not stop_sampling.wait(0.25):
                try:
                    phase.rss_peak_kb = max(phase.rss_peak_kb, rss_kb(pid))
                except OSError:
                    return

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        lock = threading.Lock()
        for wave in range(waves):
            started, cpu_at_start = time.monotonic(), cpu_seconds(pid)
            deadline = started + phase_timeout
            crowd = [Learner(i, client, phase, lock, clicks, think, deadline, seed * 100_000 + wave * 1000 + i)
                     for i in range(learners)]
            for learner in crowd:
                learner.start()
            for learner in crowd:
                learner.join(max(0.0, deadline - time.monotonic()) + REQUEST_TIMEOUT_S)
            stragglers = [learner.name for learner in crowd if learner.is_alive()]
            if stragglers:
                phase.failures.append(f"wave {wave + 1}: still running at the deadline: {', '.join(stragglers[:5])}")
            phase.wall_s += time.monotonic() - started
            phase.cpu_s += cpu_seconds(pid) - cpu_at_start
            if wait_release:
                # Streamlit ends each agent session AGENT_SESSION_TTL_S after its last request; the app's
                # reaper then releases its lab (the warm-up learner's too).
                release_started = time.monotonic()
                release_deadline = release_started + AGENT_SESSION_TTL_S + (RELEASE_WAIT_S if reaper else 10)
                while session_folders(workdir / "data") > 0 and time.monotonic() < release_deadline:
                    time.sleep(0.5)
                phase.release_s = time.monotonic() - release_started
                phase.folders_left = session_folders(workdir / "data")
                time.sleep(1.0)
                phase.rss_after_release_kb.append(rss_kb(pid))
        stop_sampling.set()
        sampler.join(2)
        phase.rss_peak_kb = max(phase.rss_peak_kb, rss_kb(pid))
    finally:
        stop_sampling.set()
        server.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    return phase


def lines(phases: list[Phase], clicks: int, think: tuple[float, float]) -> list[str]:
    out = [f"agent-API load on /{PAGE}: {clicks} clicks per learner, think {think[0]:g}-{think[1]:g} s, "
           "one fresh server per row (embedded fakeredis)",
           f"{'N':>3} {'clicks':>6} {'failed':>6} {'p50 ms':>7} {'p95 ms':>7} {'max ms':>7} {'open ms':>7} "
           f"{'CPU ms/click':>12} {'RSS idle':>8} {'RSS peak':>8} {'MB/learner':>10} {'after release':>13} "
           f"{'folders left':>12} {'released in':>11}"]
    for phase in phases:
        s = phase.summary()
        after = "/".join(f"{mb:g}" for mb in s["rss_after_release_mb"]) + " MB" if s["rss_after_release_mb"] else "-"
        out.append(f"{s['learners']:>3} {s['clicks']:>6} {s['failed']:>6} {_fmt(s['p50_ms']):>7} "
                   f"{_fmt(s['p95_ms']):>7} {_fmt(s['max_ms']):>7} {_fmt(s['open_p50_ms']):>7} "
                   f"{_fmt(s['cpu_ms_per_click']):>12} {s['rss_idle_mb']:>6} MB {s['rss_peak_mb']:>6} MB "
                   f"{s['rss_per_learner_mb']:>10} {after:>13} {_fmt(s['folders_left']):>12} "
                   f"{_fmt(s['release_s']) + ' s':>11}")
    for phase in phases:
        for failure in phase.failures[:5]:
            out.append(f"  N={phase.learners}: {failure}")
    return out


def _fmt(value) -> str:
    return "-" if value is None else f"{value:g}"


def parse_think(text: str) -> tuple[float, float]:
    low, _, high = text.partition(":")
    think = (float(low), float(high or low))
    if not 0 <= think[0] <= think[1] <= 60:
        raise argparse.ArgumentTypeError("--think takes LOW:HIGH seconds, 0 <= LOW <= HIGH <= 60")
    return think


def parse_levels(text: str) -> list[int]:
    levels = [int(part) for part in text.split(",") if part.strip()]
    if not levels or any(not 1 <= n <= MAX_LEARNERS for n in levels):
        raise argparse.ArgumentTypeError(f"--learners takes a comma list of 1..{MAX_LEARNERS}")
    return levels


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.load", description=__doc__.splitlines()[0])
    parser.add_argument("--learners", type=parse_levels, default=list(LEVELS),
                        help="learner counts to run, one fresh server each (default 1,10,30,60)")
    parser.add_argument("--clicks", type=int, default=CLICKS, help=f"clicks per learner (default {CLICKS})")
    parser.add_argument("--think", type=parse_think, default=THINK,
                        help="think time between clicks, LOW:HIGH seconds (default 2:4)")
    parser.add_argument("--phase-timeout", type=float, default=PHASE_TIMEOUT_S,
                        help=f"deadline of one N's run, seconds (default {PHASE_TIMEOUT_S:g})")
    parser.add_argument("--no-release", action="store_true",
                        help="do not wait for the sessions to be released after each N")
    parser.add_argument("--waves", type=int, default=1, choices=range(1, 6), metavar="1..5",
                        help="run the N learners this many times on the same server, one after the other, to see "
                             "whether released memory is reused (the after-release RSS is shown per wave)")
    parser.add_argument("--no-reaper", action="store_true",
                        help="turn the app's reaper off (LAB_REAP_INTERVAL very long): the old behaviour")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    if not 1 <= args.clicks <= MAX_CLICKS:
        parser.error(f"--clicks takes 1..{MAX_CLICKS}")
    phases = []
    try:
        for n in args.learners:
            phases.append(run_phase(n, args.clicks, args.think, args.phase_timeout, not args.no_release, args.seed,
                                    args.waves, not args.no_reaper))
            print(lines(phases[-1:], args.clicks, args.think)[2], file=sys.stderr, flush=True)
    except (ServerError, AgentError, OSError) as err:
        print(f"load bench failed: {err}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps([p.summary() for p in phases], indent=2))
    else:
        print("\n".join(lines(phases, args.clicks, args.think)))
    return 0 if all(p.failed == 0 for p in phases) else 1


if __name__ == "__main__":
    sys.exit(main())
