"""The lab: a learner's cache and database, and the request lifecycle every pattern shares.

A pattern is a subclass that tells its read and write as generators of recorded calls (`_read`, `_write`);
the features it switches on are parts (`part.Part`) in `parts`. Everything else is the engine's, one concern
per module, joined here:

    request      a request in flight and its recorder        calls        the recorded cache and database calls
    clock        simulated time, expiry, background work     faults       crashes, and what they cost
    history      the log, and the tables at any step          reconcile    comparing notes with a real Redis
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any, ClassVar

import redis

from .cache import hash_tag, is_cluster
from .calls import RecordedCalls
from .clock import Expiries, SimClock, Timekeeping
from .database import Database
from .diagram_model import Topology
from .faults import Faults
from .history import History
from .knobs import FAULTS, TTL, Knob, KnobGroup, LabAction, declare_actions
from .part import EVERY_CALL_HOOKS, PageText, Part, listeners
from .reconcile import Reconciliation
from .request import Request, Steps
from .state import LabState
from .trace import Costs, Counters, Trace
from .validation import validate_key, validate_value
from .views import CACHE_VIEW, DB_VIEW, Gauge, TableView

READS = frozenset({"read", "report"})


class Drawn:
    """A lab's `topology`. A pattern declares its own figure as `topology`; on a lab this gives that figure as
    the lab's parts redraw it (`Part.redraw`: a second app instance, a channel), so whatever draws a lab draws the
    actors its requests use. On the class it is the declared figure (`Lab.__init_subclass__` moves it here)."""

    def __get__(self, lab: Lab | None, owner: type[Lab]) -> Topology:
        figure = owner.declared_topology
        for part in lab.parts if lab is not None else ():
            figure = part.redraw(figure)
        return figure


class Lab(RecordedCalls, Timekeeping, Faults, History, Reconciliation):
    """A learner's cache + database, and the pattern that connects them (subclasses say how)."""

    name: ClassVar[str]
    title: ClassVar[str]
    topology: ClassVar[Topology]               # the pattern's figure; on a lab, as its parts redraw it (`Drawn`)
    declared_topology: ClassVar[Topology]
    # The functions of the parts the page shows beside the pattern's own story (its "Code" section).
    also_shown: ClassVar[tuple[Callable, ...]] = ()
    knobs: ClassVar[tuple[Knob, ...]] = ()          # the pattern's own settings (its parts list theirs)
    actions: ClassVar[tuple[LabAction, ...]] = ()   # the pattern's own buttons beside Read and Write

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        declare_actions(cls.actions)                                # its buttons' letters, for share links
        if isinstance(cls.__dict__.get("topology"), Topology):      # the figure this pattern declares
            cls.declared_topology = cls.__dict__["topology"]
            cls.topology = Drawn()

    @classmethod
    def story(cls) -> list[Callable]:
        """The pattern's own read, loader and write (the nearest class that tells each), then `also_shown`."""
        found = []
        for name in ("_read", "_load", "_write"):
            owner = next((c for c in cls.__mro__ if name in c.__dict__), Lab)
            if owner is not Lab:
                found.append(owner.__dict__[name])
        return found + list(cls.also_shown)

    def __init__(self, cache: redis.Redis, db: Database, *, namespace: str | None = None,
                 clock: SimClock | None = None, costs: Costs | None = None, ttl_seconds: int | None = 60,
                 client: str = "A") -> None:
        self.cache = cache
        self.db = db
        # The braces are a Redis Cluster hash tag: every key of one lab lives in one slot.
        self.namespace = namespace if namespace is not None else f"lab:{{{uuid.uuid4().hex[:12]}}}:"
        if is_cluster(cache) and hash_tag(self.namespace) is None:
            # Every key is namespace + suffix: without a tag of its own the learner's key would pick the slot,
            # and the scripts (which touch several keys at once) would fail with CROSSSLOT.
            raise ValueError(f"on a Redis Cluster a lab's namespace needs a hash tag, as in 'lab:{{id}}:': "
                             f"{self.namespace!r} has none")
        self._kv = f"{self.namespace}kv:"
        self.clock = clock or SimClock()
        self.costs = costs or Costs()
        self.ttl_seconds = ttl_seconds
        self.client = client
        self.cache_down = False      # the simulated outage: every cache call fails while set
        self.cache_error: str | None = None   # a real failure to reach the cache, until a call succeeds
        self._resync_needed = False
        self.parts = ()
        self.expiries = Expiries()
        self._start_afresh()

    def _start_afresh(self) -> None:
        """What the lab remembers of its own doing: counters, requests, history, expiries and the tables."""
        self.counters = Counters()
        self.forget_everything()
        self.expiries.clear()
        self.state = LabState(self.db.rows(), self.clock.now())

    @property
    def parts(self) -> tuple[Part, ...]:
        """The features composed into this lab (`part.Part`), in the order the engine asks them."""
        return self._parts

    @parts.setter
    def parts(self, parts: tuple[Part, ...]) -> None:
        self._parts = parts
        # hook -> the parts that answer it: the engine calls the hooks of EVERY_CALL_HOOKS on these only.
        self.listening = {hook: listeners(parts, hook) for hook in EVERY_CALL_HOOKS}

    # ---- the requests ---------------------------------------------------------------------------------
    def read(self, key: str, *, client: str | None = None) -> Trace:
        return self.start_read(key, client=client).run()

    def write(self, key: str, value: str, *, client: str | None = None) -> Trace:
        return self.start_write(key, value, client=client).run()

    def report(self, key: str, *, client: str = "R") -> Trace:
        return self.start_report(key, client=client).run()

    def start_read(self, key: str, *, client: str | None = None) -> Request:
        """Validate, then return the read as a steppable Request (nothing touched yet)."""
        key = validate_key(key)
        trace = self.new_trace("read", key, None, client)
        trace.fresh = self.state.latest(key)     # a read returning this was not stale, whatever wrote meanwhile
        return Request(self, trace, self.body("read", self._read), key)

    def start_write(self, key: str, value: str, *, client: str | None = None) -> Request:
        key, value = validate_key(key), validate_value(value)
        return Request(self, self.new_trace("write", key, value, client), self.body("write", self._write), key, value)

    def start_report(self, key: str, *, client: str = "R") -> Request:
        """A query that goes straight to the database, around the cache (a reporting job, another service):
        it sees what the database holds, which may be older than what the cache acknowledged."""
        key = validate_key(key)
        trace = self.new_trace("report", key, None, client)
        trace.fresh = self.state.latest(key)
        return Request(self, trace, self._report, key)

    def body(self, operation: str, body: Callable[..., Steps]) -> Callable[..., Steps]:
        """A request's body: the pattern's own, with what each part does around it (`Part.around`)."""
        for part in self.listening["around"]:
            body = part.around(operation, body)
        return body

    def app_of(self, client: str) -> str:
        """The app instance serving `client`'s requests: "App", unless a part runs several (`Part.app_of`)."""
        for part in self.listening["app_of"]:
            app = part.app_of(client)
            if app is not None:
                return app
        return "App"

    def _read(self, t: Request, key: str) -> Steps:
        raise NotImplementedError

    def _write(self, t: Request, key: str, value: str) -> Steps:
        raise NotImplementedError

    def _report(self, t: Request, key: str) -> Steps:
        loaded = yield from self.db_select(t, "App", key)
        return loaded.value if loaded is not None else None

    def before_call(self) -> None:
        """Before a request's next call: compare notes with a cache that failed to answer, and let keys whose
        time ran out go."""
        if self._resync_needed:
            self.resync()
        self.expire_due()

    def finish(self, trace: Trace, value: Any) -> None:
        """A request ended (`value`: what its body returned): a read keeps its value; count how it went."""
        if trace.operation in READS and trace.ok:
            trace.value = value
        trace.finished = True
        counters = self.counters
        if trace.hit is True:
            counters.hits += 1
        elif trace.hit is False:
            counters.misses += 1       # a miss counts even if the request then failed at the database
        if not trace.ok:
            counters.failed += 1
        elif trace.operation in READS and trace.value != trace.fresh and trace.value != self.state.latest(trace.key):
            # Stale: neither the newest value when the read started nor the newest now. A read that
            # overlapped a write and returned either side of it is not stale; what it left behind may be.
            trace.stale = True
            counters.stale_reads += 1
        if trace.degraded:
            counters.degraded += 1

    def finished(self, trace: Trace) -> Trace:
        """For events that are not requests (expiry, crash, resync): done as soon as recorded."""
        trace.finished = True
        return trace

    def latest_value(self, key: str) -> str | None:
        """The newest acknowledged value of `key`: the database's committed one, unless a part holds newer
        acknowledged writes elsewhere (write-behind's queue)."""
        return self.state.latest(key)

    def reset(self, *, restart_clock: bool = False, rows: tuple[tuple[str, str], ...] = ()) -> None:
        """Back to the seeded database (plus `rows`, a scenario's own), an empty cache, zero counters and an empty
        log (and, for a scenario that must replay exactly, the clock back at 0)."""
        self.quietly(self.delete_all_keys)
        if restart_clock:
            self.clock.restart()
        self.db.reset()
        if rows:
            self.db.put_many(rows, self.clock.now())
        self.cache_down = False
        for part in self.parts:
            part.reset()
        self._start_afresh()

    def release(self) -> None:
        """The lab is done (its learner left): its parts close what they hold open of their own."""
        for part in self.parts:
            part.release()

    # ---- the tables -------------------------------------------------------------------------------------
    def live(self) -> LabState:
        """The tables as they are now (the lab's own record of every change; no call to Redis or SQLite)."""
        self.state.now = self.clock.now()
        return self.state

    def cache_tables(self) -> tuple[str, ...]:
        """The LabState tables that live in the cache: its keys, and what the parts keep there."""
        return ("cache", *(table for part in self.parts for table in part.cache_tables))

    def page_knobs(self) -> tuple[Knob, ...]:
        """Every knob the page shows for this lab, in order: TTL, the pattern's own, each part's, the faults."""
        return tuple(knob for group in self.knob_groups() for knob in group.knobs)

    def knob_groups(self) -> tuple[KnobGroup, ...]:
        """The page's knobs as its settings group them: TTL and the pattern's own under the pattern's title, each
        part's under the part's heading, then the faults."""
        return (KnobGroup("settings-pattern", "", (TTL, *self.knobs)),
                *(KnobGroup(part.heading, part.note, part.knobs) for part in self.parts if part.knobs),
                KnobGroup("settings-faults", "", FAULTS))

    def page_actions(self) -> tuple[LabAction, ...]:
        """The buttons the page adds beside Read and Write: the pattern's own, then each part's."""
        return (*self.actions, *(action for part in self.parts for action in part.actions))

    def statuses(self, state: LabState, live: bool) -> list[PageText]:
        """What each part's background work is doing in `state` (sentences of assets/ui.md)."""
        return [said for part in self.parts if (said := part.status(state, live)) is not None]

    def views(self) -> tuple[TableView, ...]:
        """The tables the page shows, in order: the cache, the database, then each part's."""
        return (CACHE_VIEW, DB_VIEW, *(view for part in self.parts for view in part.views()))

    def state_clauses(self, state: LabState) -> list[str]:
        """What each part adds to "after this step, the cache has…; the database has…" (a queue's length)."""
        return [clause for part in self.parts if (clause := part.state_clause(state))]

    def gauges(self, state: LabState | None = None) -> list[Gauge]:
        """The bars the page shows (how full what a part keeps is), for `state` (default: now)."""
        state = state if state is not None else self.live()
        return [gauge for part in self.parts for gauge in part.gauges(state)]

    def metrics(self) -> list[tuple[str, object]]:
        """The lab's totals as (label, value), each part's after the common ones."""
        c = self.counters
        found: list[tuple[str, object]] = [
            ("Hits", c.hits), ("Misses", c.misses), ("Hit ratio", "–" if c.hit_ratio is None else f"{c.hit_ratio:.0%}"),
            ("DB reads", c.db_reads), ("DB writes", c.db_writes), ("Stale reads", c.stale_reads),
            ("Degraded", c.degraded), ("Failed", c.failed)]
        for part in self.parts:
            found += part.metrics(self.live())
        return found
