"""Near caches: two app instances, each keeping what it read in its own memory for a short TTL, in front of Redis,
and (optionally) telling each other of writes over a Redis Pub/Sub channel.

read on App n:   App n → App n LOOKUP ─ a copy whose near TTL has not run out → served from memory (1 step)
                                      └ none → the pattern's own read, then App n → App n KEEP (the value, for
                                        near_ttl seconds)                                     (2 steps more)
write on App n:  the pattern's own write, then App n → App n DROP (its own copy, if it holds one); with
                 `near_invalidation = "pubsub"`: App n → Channel PUBLISH, and for each instance listening,
                 Channel → App m MESSAGE (App m drops its copy; the writer skips its own message)
tracking:        with `near_invalidation = "tracking"` (a real Redis only, features/tracking.py) an instance keeps
                 a copy after App n → Cache TRACK (GET through its tracking connection), and Redis itself sends
                 Channel → App m MESSAGE for every tracked key modified since, whoever modified it: the app
                 publishes nothing and drops nothing on its own
time:            App n → App n EXPIRE (a copy whose near TTL ran out), the instance's own step ("N")
faults:          disconnect(app): App m's subscriber connection is lost, so whatever is published meanwhile never
                 reaches it (Pub/Sub keeps no messages); reconnect(app): it subscribes again (both "N"'s steps)

Client A, C and E (and the reporting job) are served by App 1, B and D by App 2: which instance serves a request is
its client's, so a scenario (or a link that carries clients) replays it. Each near cache is a dict in its instance's
memory with the lab's simulated clock for its TTLs — the in-process cache being taught; the lab's tables (`near1`,
`near2`) record every change to it. The channel is real (features/channel.py): PUBLISH and SUBSCRIBE through
redis-py, on fakeredis, a real Redis and (sharded) a Redis Cluster.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from typing import TYPE_CHECKING

from ..diagram_model import Actor, FigureArrow, Topology
from ..knobs import Knob
from ..narration import explain_warning
from ..part import PageText, Part
from ..request import FAILED, Request, Steps
from ..state import CacheItem, Change, LabState
from ..trace import Trace
from ..views import TableView, near_rows
from .channel import Listener, publish, verb
from .tracking import Tracker, unavailable

if TYPE_CHECKING:
    from ..lab import Lab

INSTANCES = ("App 1", "App 2")
TABLES = {"App 1": "near1", "App 2": "near2"}        # each instance's near cache, as LabState keeps it
CHANNEL = "Channel"
INVALIDATIONS = ("ttl", "pubsub", "tracking")
SECOND_INSTANCE_CLIENTS = frozenset({"B", "D"})
# Who performs an instance's own events (a copy's near TTL running out, its connection lost or back): the instance,
# not the client it serves, as the cache server's own events are "S"'s.
INSTANCE_ITSELF = "N"
WAITS = 8                   # reads of a subscriber's socket, each up to WAIT_SECONDS, before a message counts as late
WAIT_SECONDS = 0.25


def instance_of(client: str) -> str:
    return "App 2" if client in SECOND_INSTANCE_CLIENTS else "App 1"


class NearCaches(Part):
    """The near caches of one lab's two app instances; its knobs are the lab's: `near_ttl` (seconds an instance
    keeps a copy; None or 0: one app instance and no near cache, the pattern as it is) and `near_invalidation`
    ("ttl": nothing but its TTL ends a copy; "pubsub": every write publishes an invalidation; "tracking": Redis
    tells each instance when a key it cached changes)."""

    heading = "part-near"
    knobs = (
        Knob("near-ttl", "Near cache TTL (s)", "number", 0, "near_ttl", low=0, high=600, step=5, help="near-ttl-help",
             zero_is_none=True),
        Knob("near-invalidation", "Near caches hear of a write by", "choice", "ttl", "near_invalidation",
             choices=INVALIDATIONS, help="near-invalidation-help"),
    )

    def __init__(self, lab: Lab) -> None:
        super().__init__(lab)
        self.channel = f"{lab.namespace}near:invalidations"
        self.memory: dict[str, dict[str, CacheItem]] = {app: {} for app in INSTANCES}
        self.listeners: dict[str, Listener] = {}
        self.trackers: dict[str, Tracker] = {}
        self.tracked: dict[str, dict[str, CacheItem | None]] = {app: {} for app in INSTANCES}   # as the cache had it
        self.disconnected: set[str] = set()
        self.waits = WAITS
        self.reset()

    @property
    def on(self) -> bool:
        return bool(self.lab.near_ttl)

    def reset(self) -> None:
        for memory in self.memory.values():
            memory.clear()
        self.hang_up()
        self.stop_tracking()
        self.disconnected.clear()
        self.messages = 0          # messages published (numbered per lab, so a scenario replays identically)
        self.near_hits = 0
        self.received = 0

    # ---- which instance, and around the pattern's read and write ------------------------------------------
    def app_of(self, client: str) -> str | None:
        return instance_of(client) if self.on else None

    def around(self, operation: str, body: Callable[..., Steps]) -> Callable[..., Steps]:
        if not self.on:
            return body
        if operation == "read":
            return lambda t, key: self.read(t, key, body)
        if operation == "write":
            return lambda t, key, value: self.write(t, key, value, body)
        return body

    def read(self, t: Request, key: str, pattern_read: Callable[..., Steps]) -> Steps:
        """The instance's own near cache first; on a miss the pattern's read, and the value kept for near_ttl s."""
        self.listen()
        yield from self.told(t)
        app, now = t.app, self.lab.clock.now()
        copy = self.memory[app].get(key)
        if copy is not None and copy.expires_at > now:
            t.trace.hit = True
            self.near_hits += 1
            newest = self.lab.latest_value(key)
            note = ("near-hit", {"app": app, "left": round(copy.expires_at - now, 1)}) if copy.value == newest else \
                ("near-hit-stale", {"app": app, "left": round(copy.expires_at - now, 1), "new": newest})
            yield t.step(app, app, "LOOKUP", key=key, value=copy.value, outcome="hit", command=f"near GET {key}: hit",
                         note=note)
            return copy.value
        gone = self._forget(app, key, "expired") if copy is not None else ()
        yield t.step(app, app, "LOOKUP", key=key, outcome="miss", command=f"near GET {key}: miss", changes=gone,
                     note=("near-miss-expired" if gone else "near-miss", {"app": app}))
        value = yield from pattern_read(t, key)
        kept_value = (yield from self.track(t, key)) if app in self.trackers and value is not None else value
        if kept_value is not None:
            ttl = self.lab.near_ttl
            kept = CacheItem(kept_value, self.lab.clock.now() + ttl, None)
            change = Change(TABLES[app], key, getattr(self.lab.state, TABLES[app]).get(key), kept)
            self.memory[app][key] = kept
            yield t.step(app, app, "KEEP", key=key, value=kept_value, command=f"keep {key} {ttl} s",
                         changes=(change,), note=("near-keep", {"app": app, "ttl": ttl}))
        return value

    def write(self, t: Request, key: str, value: str, pattern_write: Callable[..., Steps]) -> Steps:
        """The pattern's write; then the writer drops its own copy and, with Pub/Sub, tells the other instance."""
        self.listen()
        yield from self.told(t)
        yield from pattern_write(t, key, value)
        if not t.trace.ok:                      # refused: nothing changed that a copy could be older than
            return
        app = t.app
        if app in self.trackers:                # Redis tells every instance that cached the key, the writer too
            yield from self.told(t)
            return
        if key in self.memory[app]:
            yield t.step(app, app, "DROP", key=key, command=f"drop own copy of {key}",
                         changes=self._forget(app, key, "dropped"), note=("near-drop-own", {"app": app}))
        if self.lab.near_invalidation == "pubsub":
            yield from self.publish(t, key)

    # ---- the channel ----------------------------------------------------------------------------------------
    def publish(self, t: Request, key: str) -> Steps:
        """PUBLISH the key on the lab's channel; each instance still subscribed receives it, and the other
        instance drops its copy. Nothing is kept for an instance that is not listening."""
        lab = self.lab
        self.messages += 1
        number, app = self.messages, t.app
        listening = app in self.listeners
        sent = yield from lab.cache_call(
            t, "App", CHANNEL, "PUBLISH", lambda: publish(lab.cache, self.channel, number, app, key),
            command=f"{verb(lab.cache)} invalidate {key}", key=key, tolerate=True,
            note=lambda receivers: (("near-publish" if listening else "near-publish-unheard",
                                     {"app": app, "receivers": receivers, "others": receivers - listening}), "ok"))
        if sent is FAILED:       # committed, but no instance hears of it: their copies live until their TTL
            t.trace.degraded = True
            t.trace.warning = explain_warning("near-publish-failed")
            return
        for listener_app in INSTANCES:
            listener = self.listeners.get(listener_app)
            if listener is None:
                continue                        # not listening: the message is gone for it
            arrived = listener.heard(number, self.waits)
            if listener_app == app:
                continue                        # its own message: it dropped its copy already
            if not arrived:
                yield t.step(CHANNEL, listener_app, "MESSAGE", key=key, command=f"invalidate {key}: not yet",
                             outcome="error", background=True, note=("near-message-late", {"app": listener_app}))
                continue
            self.received += 1
            held = key in self.memory[listener_app]
            yield t.step(CHANNEL, listener_app, "MESSAGE", key=key, command=f"invalidate {key}", background=True,
                         changes=self._forget(listener_app, key, "invalidated") if held else (),
                         note=("near-message-drop" if held else "near-message-nothing", {"app": listener_app}))

    def listen(self) -> None:
        """With Pub/Sub on, every instance that is not cut off is subscribed (as an instance does when it starts);
        with it off, nobody is; the same for tracking connections, where the server can track."""
        mode, lab = self.lab.near_invalidation, self.lab
        if mode != "pubsub":
            self.hang_up()
        if mode != "tracking":
            self.stop_tracking()
        if mode == "ttl" or (mode == "tracking" and unavailable(lab.cache)):
            return
        for app in INSTANCES:
            if app in self.disconnected or lab.cache_down:
                continue
            if mode == "pubsub" and app not in self.listeners:
                listener = lab.quietly(lambda: Listener(lab.cache, self.channel, waits=self.waits,
                                                        wait_seconds=WAIT_SECONDS))
                if listener is not None:
                    self.listeners[app] = listener
            if mode == "tracking" and app not in self.trackers:
                tracker = lab.quietly(lambda: Tracker(lab.cache, lab.namespace, waits=self.waits,
                                                      wait_seconds=WAIT_SECONDS))
                if tracker is not None:
                    self.trackers[app] = tracker

    def hang_up(self) -> None:
        for listener in self.listeners.values():
            self.lab.quietly(listener.close)
        self.listeners.clear()

    # ---- tracking: Redis tells an instance which of its keys changed ---------------------------------------
    def track(self, t: Request, key: str) -> Steps:
        """Read `key` through the instance's tracking connection, so the server remembers that it holds it; what
        it answers is the copy kept (None: nothing to keep)."""
        lab, app = self.lab, t.app
        tracker = self.trackers[app]
        # A hit or a miss like any GET: a tracked read of a cached key is an access (LRU, LFU) as any other.
        found = yield from lab.cache_call(t, "App", "Cache", "TRACK", lambda: tracker.read(lab.redis_key(key)),
                                          command=f"GET {key} (tracked)", key=key, tolerate=True,
                                          note=lambda value: (("near-track", {"app": app}),
                                                              "miss" if value is None else "hit"))
        if found is FAILED or found is None:
            return None
        self.tracked[app][key] = lab.state.cache.get(key)
        return found

    def told(self, t: Request) -> Steps:
        """The invalidations Redis has sent each tracking instance — waiting for those due (a tracked key whose
        entry in the cache changed since it was read), then whatever else has arrived: each drops that copy."""
        lab, prefix = self.lab, self.lab.redis_key("")
        for app, tracker in self.trackers.items():
            tracked = self.tracked[app]
            due = {lab.redis_key(key) for key, seen in tracked.items() if lab.state.cache.get(key) != seen}
            names = lab.quietly(lambda tracker=tracker, due=due: tracker.invalidated(due)) or []
            keys = [name[len(prefix):] for name in names if name and name.startswith(prefix)]
            keys += list(tracked) if None in names else []          # "everything": the server was flushed
            for key in dict.fromkeys(keys):
                tracked.pop(key, None)
                self.received += 1
                held = key in self.memory[app]
                yield t.step(CHANNEL, app, "MESSAGE", key=key, command=f"invalidate {key} (from Redis)",
                             background=True, changes=self._forget(app, key, "invalidated") if held else (),
                             note=("near-tracked-drop" if held else "near-tracked-nothing", {"app": app}))

    def release(self) -> None:
        self.hang_up()
        self.stop_tracking()

    def stop_tracking(self) -> None:
        for tracker in self.trackers.values():
            tracker.close()
        self.trackers.clear()
        for tracked in self.tracked.values():
            tracked.clear()

    # ---- faults: an instance cut off from the channel ----------------------------------------------------
    def disconnect(self, app: str) -> Trace:
        """Fault: `app`'s subscriber connection is lost (really closed); what is published meanwhile never
        reaches it."""
        listener = self.listeners.pop(app, None)
        if listener is not None:
            self.lab.quietly(listener.close)
        self.disconnected.add(app)
        tracker = self.trackers.pop(app, None)
        if tracker is None:
            return self._event(app, "DISCONNECT", "subscriber connection lost", "error", "near-disconnected")
        # Tracking stops with the connection: what changes now goes untold, so the instance forgets every copy
        # (as redis-py's own client-side cache does when its connection drops).
        tracker.close()
        self.tracked[app].clear()
        dropped = tuple(change for key in list(self.memory[app]) for change in self._forget(app, key, "flushed"))
        return self._event(app, "DISCONNECT", "connection lost: forget every copy", "error",
                           "near-disconnected-tracking", changes=dropped)

    def reconnect(self, app: str) -> Trace:
        """`app` subscribes again: from now on it hears of writes; what was published meanwhile is gone."""
        self.disconnected.discard(app)
        self.listen()
        listening = app in self.listeners or app in self.trackers
        told = "near-reconnected-tracking" if app in self.trackers else "near-reconnected"
        return self._event(app, "SUBSCRIBE", "SUBSCRIBE again" if listening else "SUBSCRIBE failed",
                           "ok" if listening else "error", told if listening else "near-reconnect-failed")

    def _event(self, app: str, action: str, command: str, outcome: str, note: str,
               changes: tuple[Change, ...] = ()) -> Trace:
        lab = self.lab
        t = Request(lab, lab.new_trace(action.lower(), client=INSTANCE_ITSELF))
        t.step(app, CHANNEL, action, command=command, outcome=outcome, changes=changes,
               note=(note, {"app": app, "count": len(changes)}))
        return lab.finished(t.trace)

    def _forget(self, app: str, key: str, why: str) -> tuple[Change, ...]:
        """The change that removes `app`'s copy of `key` (and the copy itself, from its memory)."""
        if self.memory[app].pop(key, None) is None:
            return ()
        return (Change(TABLES[app], key, getattr(self.lab.state, TABLES[app]).get(key), None, why),)

    # ---- time: copies run out on the lab's clock ------------------------------------------------------------
    def due_at(self) -> float | None:
        moments = [item.expires_at for memory in self.memory.values() for item in memory.values()]
        return min(moments) if moments else None

    def tick(self) -> Trace | None:
        lab = self.lab
        now = lab.clock.now()
        due = [(app, key) for app, memory in self.memory.items() for key, item in memory.items()
               if item.expires_at <= now]
        if not due:
            return None
        t = Request(lab, lab.new_trace("near-expiry", due[0][1] if len(due) == 1 else None, client=INSTANCE_ITSELF))
        for app, key in due:
            t.step(app, app, "EXPIRE", key=key, command=f"near copy of {key} ran out",
                   changes=self._forget(app, key, "expired"), note=("near-expired", {"app": app}))
        return lab.finished(t.trace)

    # ---- the figure and the tables -------------------------------------------------------------------------
    def redraw(self, topology: Topology) -> Topology:
        return two_instances(topology) if self.on else topology

    def read_real(self, real: LabState) -> None:
        for app, memory in self.memory.items():
            getattr(real, TABLES[app]).update(memory)

    def views(self) -> tuple[TableView, ...]:
        return tuple(TableView(f"Near cache of {app}", TABLES[app], near_rows(TABLES[app]),
                               empty=lambda state, app=app: explain_warning("near-empty", app=app),
                               shown=lambda state, table=TABLES[app]: self.on or bool(getattr(state, table)))
                     for app in INSTANCES)

    def status(self, state: LabState, live: bool) -> PageText | None:
        """Tracking chosen where the server has none (fakeredis): said, since no instance then hears of a write."""
        if self.on and self.lab.near_invalidation == "tracking" and (why := unavailable(self.lab.cache)) is not None:
            return PageText("near-tracking-unavailable", {"why": why})
        return None

    def moves_with_time(self) -> bool:
        return any(self.memory.values())        # each copy's near TTL counts down, until it runs out

    def metrics(self, state: LabState) -> list[tuple[str, object]]:
        if not self.on:
            return []
        found: list[tuple[str, object]] = [("Near hits", self.near_hits)]
        if self.lab.near_invalidation == "pubsub":
            found.append(("Invalidations heard", self.received))
        return found


def compose(lab: Lab, near_ttl: int | None, near_invalidation: str) -> NearCaches:
    """Give `lab` its near-cache knobs and the part that runs its two app instances (off while near_ttl is None)."""
    if near_invalidation not in INVALIDATIONS:     # a bad mode fails here, not at the first write
        raise ValueError(f"near_invalidation must be one of {INVALIDATIONS}, not {near_invalidation!r}")
    lab.near_ttl, lab.near_invalidation = near_ttl, near_invalidation
    return NearCaches(lab)


@lru_cache(maxsize=16)
def two_instances(topology: Topology) -> Topology:
    """The pattern's figure with its one App as two instances side by side, the cache between them, the pattern's
    other actors below the cache, and the Pub/Sub channel at the bottom: every lane of the App is drawn from both
    instances, each has its own loop (its near cache) and a lane to the channel."""
    others = [actor for actor in topology.actors if actor.name not in ("App", "Cache")]
    actors = (Actor("App 1", "App 1\n+ near cache"), topology.actor("Cache"), Actor("App 2", "App 2\n+ near cache"),
              *others, Actor(CHANNEL, "Pub/Sub channel\n(in Redis)", "cds"))
    lanes: list[tuple[str, str]] = []
    for source, target in topology.lanes:
        for app in INSTANCES:
            lane = (app if source == "App" else source, app if target == "App" else target)
            if lane not in lanes:
                lanes.append(lane)
    lanes += [lane for app in INSTANCES for lane in ((app, app), (app, CHANNEL)) if lane not in lanes]
    return Topology(
        actors=actors,
        figure=(FigureArrow("App 1", "App 1", "1. its own near cache"), FigureArrow("App 1", "Cache", "2. on a miss"),
                FigureArrow("App 1", CHANNEL, "3. a write: publish"), FigureArrow(CHANNEL, "App 2", "4. drop a copy")),
        rows=(("App 1", "Cache", "App 2"), *(("", actor.name, "") for actor in others), ("", CHANNEL, "")),
        lanes=tuple(lanes),
    )
