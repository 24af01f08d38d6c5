"""Early refresh: a hot key is recomputed before its TTL runs out, so its expiry does not send every reader to
the database at once. Two ways, each a knob of the lab (both off by default):

refresh-ahead (`refresh_ahead`: a factor 0..1, Oracle Coherence's refresh-ahead factor). A read within the last
    factor × TTL of a key's life returns the cached value at once and hands a refresh to the background:
        App → Cache GET (+ δ, expiry), Cache → App value, App → App REFRESH (scheduled)      [the reader]
        then, by itself: App → Database SELECT, Database → App row, App → Cache SET (+ δ)     [the refresher, W]
    Only reads inside the window trigger it, once per key until the refresh has run; a key nobody reads in its
    window still expires.
probabilistic early expiration (`xfetch_beta`: β; XFetch, Vattani, Chierichetti & Lowenstein, VLDB 2015). On a
    hit, the reader recomputes at once if   now − δ·β·ln(rand) ≥ expiry,   δ being how long the last recompute
    took: unlikely while the expiry is many δ away, likelier as it nears, so one reader usually recomputes
    shortly before it while the others keep hitting (β > 1 recomputes earlier, β < 1 later):
        App → Cache GET (+ δ, expiry), Cache → App value "recompute early", then the miss path's SELECT and SET

Both need, on a hit, the value's expiry and δ: every fill stores them, with the TTL, in a small hash beside the
key (`early:<key>`, early_fill.lua), as the paper stores (value, δ, expiry), and the GET reads both in one round
trip (early_get.lua). The expiry is on the lab's simulated clock and the draws come from a seeded generator of
the lab's own, so a scenario or a share link replays the same decisions. In read-through the cache layer decides,
and its Loader recomputes (the hand-over is a Cache → Loader arrow).
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from typing import TYPE_CHECKING, NamedTuple

from ..cache import glob_escape, scan_keys
from ..faults import SCAN_COUNT
from ..knobs import Knob
from ..part import Part
from ..request import Request, Steps, helper
from ..state import NOT_FOUND_MARKER, Change, EarlyEntry, LabState
from ..trace import Trace
from ..views import TableRows, TableView
from . import script

if TYPE_CHECKING:
    from ..calls import Loaded
    from ..lab import Lab

REFRESHER = "W"          # who performs a background refresh: a worker of its own, never the reader
SEED = "xfetch"
EARLY_COLUMNS = ("Key", "δ (ms)", "TTL (s)", "Expires in (s)", "Refresh-ahead window", "XFetch chance now")


class Verdict(NamedTuple):
    """What a hit's answer decided: `kind` is "recompute" (XFetch), "keep" (XFetch drew no), "refresh" (in the
    refresh-ahead window) or "none" (no early refresh, or no δ stored beside the key)."""

    kind: str
    left_ms: float = 0.0         # how long the value had left when its answer arrived
    entry: EarlyEntry | None = None
    gap_ms: float = 0.0          # XFetch's −δ·β·ln(rand)
    chance: float = 0.0          # XFetch: the chance that a read at that moment recomputes

    @property
    def recompute(self) -> bool:
        return self.kind == "recompute"


NONE = Verdict("none")


def xfetch_chance(left_s: float, delta_ms: float, beta: float) -> float:
    """The chance that a read `left_s` seconds before expiry recomputes: P(−δβ·ln(rand) ≥ left) = e^(−left/δβ)."""
    if left_s <= 0:
        return 1.0
    scale = delta_ms / 1000 * beta
    return math.exp(-left_s / scale) if scale > 0 else 0.0


class EarlyRefresh(Part):
    """The early refresh of one cache-aside or read-through lab. `reload(t, key)` is the pattern's own SELECT and
    fill (a background refresh runs it); `hand_off` the arrow (source, target) that hands a refresh or an early
    recompute over to whoever loads (App → App in cache-aside, Cache → Loader in read-through)."""

    heading = "part-early-refresh"
    cache_tables = ("early",)
    knobs = (
        # A factor of the TTL, Coherence's; off, or a tenth to nine tenths.
        Knob("refresh-ahead", "Refresh ahead (part of the TTL)", "scale", "off", "refresh_ahead",
             choices=("off", *(f"0.{tenth}" for tenth in range(1, 10))),
             means=(None, *(tenth / 10 for tenth in range(1, 10))), help="refresh-ahead-help"),
        # XFetch's β: 1 is the paper's default; above it earlier, below it later.
        Knob("xfetch", "XFetch β (early recompute)", "scale", "off", "xfetch_beta",
             choices=("off", "0.5", "1", "1.5", "2", "3", "4"), means=(None, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0),
             help="xfetch-help"),
    )

    def __init__(self, lab: Lab, *, reload: Callable[[Request, str], Steps], hand_off: tuple[str, str]) -> None:
        super().__init__(lab)
        self.prefix = f"{lab.namespace}early:"
        self._get = script(lab.cache, "early_get")
        self._fill = script(lab.cache, "early_fill")
        self.reload = reload
        self.hand_off = hand_off
        self.reset()

    def reset(self) -> None:
        self.random = random.Random(SEED)
        self.verdicts: dict[int, Verdict] = {}    # request number -> what its last hit's answer decided
        self.scheduled: dict[str, float] = {}     # key -> when its background refresh runs
        self.recomputes = 0                       # reads that recomputed early (XFetch)
        self.refreshes = 0                        # background refreshes run (refresh-ahead)

    def redis_key(self, key: str) -> str:
        return self.prefix + key

    @property
    def on(self) -> bool:
        return bool(self.lab.refresh_ahead) or bool(self.lab.xfetch_beta)

    # ---- the read: GET the value with its δ and expiry, and decide -----------------------------------
    @helper
    def get(self, t: Request, source: str, key: str, *, tolerate: bool = False) -> Steps:
        """GET `key`; with early refresh on, its δ and expiry too, in one call, and what they decide (`verdict`)."""
        lab = self.lab
        if not self.on:
            return lab.cache_get(t, source, key, tolerate=tolerate)

        def call() -> str | None:
            value, delta, expires, ttl = self._get(keys=[lab.redis_key(key), self.redis_key(key)])
            if value is not None and delta is not None and value != NOT_FOUND_MARKER:
                entry = EarlyEntry(float(delta), float(expires), int(ttl))
                self.verdicts[t.trace.number] = self._decide(key, entry, lab.clock.now() + lab.costs.cache_ms / 1000)
            return value

        self.verdicts.pop(t.trace.number, None)
        return lab.cache_get(t, source, key, tolerate=tolerate, call=call, command=f"GET {key} + δ, expiry",
                             said="early-get")

    def _decide(self, key: str, entry: EarlyEntry, at: float) -> Verdict:
        """Refresh-ahead first (inside its window the reader need not wait at all), else XFetch's draw."""
        lab = self.lab
        left = entry.expires_at - at
        if lab.refresh_ahead and left <= lab.refresh_ahead * entry.ttl:
            return Verdict("refresh", left * 1000, entry)
        if lab.xfetch_beta:
            gap = -entry.delta_ms * lab.xfetch_beta * math.log(1.0 - self.random.random())    # ms, never < 0
            early = at + gap / 1000 >= entry.expires_at
            self.recomputes += early
            return Verdict("recompute" if early else "keep", left * 1000, entry, gap,
                           xfetch_chance(left, entry.delta_ms, lab.xfetch_beta))
        return NONE

    def verdict(self, t: Request) -> Verdict:
        """What this reader's last GET answer decided (NONE without early refresh, or without δ beside the key)."""
        return self.verdicts.pop(t.trace.number, NONE)

    def recompute_note(self, verdict: Verdict) -> tuple[str, dict]:
        return "xfetch-recompute", {"left": round(verdict.left_ms, 1), "gap": round(verdict.gap_ms, 1),
                                    "delta": verdict.entry.delta_ms, "beta": self.lab.xfetch_beta,
                                    "chance": f"{verdict.chance:.0%}"}

    def hand_over(self, t: Request, key: str, verdict: Verdict) -> Steps:
        """The arrow handing an early recompute (XFetch) to the loader, in read-through: Cache → Loader."""
        source, target = self.hand_off
        yield from self.lab.reply(t, source, target, key, None, action="RECOMPUTE", command="XFetch: recompute early",
                                  note=self.recompute_note(verdict))

    def refresh(self, t: Request, key: str, verdict: Verdict) -> Steps:
        """After a hit inside the refresh-ahead window: hand a refresh of `key` to the background, once (a refresh
        already scheduled is not scheduled again). The reader has its value already and waits for nothing."""
        if verdict.kind != "refresh":
            return
        lab = self.lab
        fields = {"left": round(verdict.left_ms / 1000, 3), "ttl": verdict.entry.ttl, "factor": lab.refresh_ahead,
                  "window": round(lab.refresh_ahead * verdict.entry.ttl, 3)}
        already = key in self.scheduled
        if not already:
            self.scheduled[key] = lab.clock.now()
        source, target = self.hand_off
        yield from lab.reply(t, source, target, key, None, action="REFRESH",
                             command="refresh on its way" if already else "refresh in the background",
                             note=("refresh-ahead-already" if already else "refresh-ahead-scheduled", fields))

    # ---- the fill: the value, and beside it δ, its expiry and TTL ------------------------------------
    @helper
    def store(self, t: Request, source: str, key: str, loaded: Loaded, *, ttl: int | None,
              tolerate: bool = False, refusable: bool = False) -> Steps:
        """Fill `key` with what the database returned, for `ttl` seconds; with early refresh on (and a TTL), store
        beside it δ (this request's own time since its SELECT) and the expiry; without, drop a hash left from when
        it was on. A memory limit sees the value stored either way (`stores`); `refusable` as for `cache_set`."""
        lab = self.lab
        keep = self.on and bool(ttl)
        if not keep and key not in lab.state.early:
            return lab.cache_set(t, source, key, loaded.value, ttl=ttl, version=loaded.version, tolerate=tolerate,
                                 refusable=refusable)
        delta = recompute_ms(t) if keep else None
        expires = lab.clock.now() + lab.costs.cache_ms / 1000 + (ttl or 0)
        args = [loaded.value, ttl or 0, "" if delta is None else repr(delta), repr(expires)]
        return lab.cache_call(
            t, source, "Cache", "SET", lambda: self._fill(keys=[lab.redis_key(key), self.redis_key(key)], args=args),
            command=(f"SET {key} … EX {ttl} + δ {delta:g} ms" if keep else f"SET {key} …{f' EX {ttl}' if ttl else ''}"
                     " (drops δ)"),
            key=key, value=loaded.value, tolerate=tolerate, stores=((key, loaded.value, ttl or None),),
            refusable=refusable,
            changes=lambda _, at: (lab.cached(key, loaded.value, ttl, loaded.version, at),
                                   *self.stored(key, delta, ttl, at)),
            note=("early-fill", {"ttl": ttl, "delta": delta, "expires": round(expires, 3)}) if keep
            else (("cache-set-ttl", {"ttl": ttl}) if ttl else ("cache-set-forever", None)))

    def stored(self, key: str, delta: float | None, ttl: int | None, at: float) -> tuple[Change, ...]:
        """The change to the early table of a fill at `at`: a new entry (δ given), or the old one dropped."""
        before = self.lab.state.early.get(key)
        after = EarlyEntry(delta, at + ttl, ttl) if delta is not None and ttl else None
        return (Change("early", key, before, after, "" if after else "dropped"),) if before != after else ()

    def fill_args(self, t: Request, key: str, ttl: int | None) -> tuple[list[str], list, float | None] | None:
        """For a fill another script makes (a lease holder's): the early hash's key and the script's extra
        arguments (δ or '' to drop it, the expiry), and δ; None when there is nothing to store or drop."""
        keep = self.on and bool(ttl)
        if not keep and key not in self.lab.state.early:
            return None
        delta = recompute_ms(t) if keep else None
        expires = self.lab.clock.now() + self.lab.costs.cache_ms / 1000 + (ttl or 0)
        return [self.redis_key(key)], ["" if delta is None else repr(delta), repr(expires)], delta

    # ---- time: background refreshes ------------------------------------------------------------------
    def due_at(self) -> float | None:
        return min(self.scheduled.values()) if self.scheduled else None

    def tick(self) -> Trace | None:
        """Run the oldest background refresh that is due: the pattern's own SELECT and fill, by the refresher."""
        lab = self.lab
        now = lab.clock.now()
        due = next((key for key, at in self.scheduled.items() if at <= now), None)
        if due is None:
            return None
        del self.scheduled[due]
        self.refreshes += 1
        request = Request(lab, lab.new_trace("refresh", due, client=REFRESHER), self.reload, due)
        request.background = True
        return request.run()

    # ---- the tables -----------------------------------------------------------------------------------
    def read_real(self, real: LabState) -> None:
        cache, lab = self.lab.cache, self.lab
        names = sorted(scan_keys(cache, glob_escape(self.prefix) + "*", namespace=lab.namespace, count=SCAN_COUNT))
        for name in names:
            found = cache.hgetall(name)
            if found:
                real.early[name[len(self.prefix):]] = EarlyEntry(float(found["delta"]), float(found["expiry"]),
                                                                 int(found["ttl"]))

    def rows(self, state: LabState, *, changed: frozenset[str] = frozenset()) -> TableRows:
        """Each cached key's δ and expiry as its fill stored them, the refresh-ahead window and the chance that a
        read now recomputes it early (XFetch): it rises as the expiry nears."""
        lab, rows = self.lab, []
        for key in sorted(live_entries(state)):
            entry, left = state.early[key], state.early[key].expires_at - state.now
            window = f"last {lab.refresh_ahead * entry.ttl:g} s" if lab.refresh_ahead else "off"
            chance = f"{xfetch_chance(left, entry.delta_ms, lab.xfetch_beta):.1%}" if lab.xfetch_beta else "off"
            rows.append((key, f"{entry.delta_ms:g}", entry.ttl, f"{max(left, 0):.1f}", window, chance))
        return TableRows(EARLY_COLUMNS, rows[:50], len(rows), changed)

    def views(self) -> tuple[TableView, ...]:
        return (TableView("Early refresh", "early", self.rows, shown=lambda state: self.on),)

    def metrics(self, state: LabState) -> list[tuple[str, object]]:
        return [("Early recomputes", self.recomputes), ("Background refreshes", self.refreshes)] if self.on else []


def compose(lab: Lab, refresh_ahead: float | None, xfetch_beta: float | None, *,
            reload: Callable[[Request, str], Steps], hand_off: tuple[str, str]) -> EarlyRefresh:
    """Give `lab` its early-refresh knobs and the part that acts on them (`reload`, `hand_off`: see EarlyRefresh)."""
    lab.refresh_ahead, lab.xfetch_beta = refresh_ahead, xfetch_beta
    return EarlyRefresh(lab, reload=reload, hand_off=hand_off)


def live_entries(state: LabState) -> list[str]:
    """The keys whose early entry belongs to the value the cache holds now (stored by the fill that stored it)."""
    return [key for key, entry in state.early.items()
            if (item := state.cache.get(key)) is not None and item.expires_at == entry.expires_at]


def recompute_ms(t: Request) -> float:
    """δ: how long this request's recompute took, on the simulated clock: its own steps from its last SELECT on
    (the query and the row's arrival; another client's steps in between are not its time)."""
    steps = t.trace.steps
    start = next((index for index in range(len(steps) - 1, -1, -1) if steps[index].action == "SELECT"), None)
    return sum(step.cost_ms for step in steps[start:]) if start is not None else 0.0
