"""The cards as real calls: a lab whose clients run a learner's path, one card per turn, against a real cache and
a real SQLite database, each call recorded as the engine's steps (so a found interleaving is drawn as any request).

A client's path runs as a program (`RaceLab.program`): card after card, one card per `advance()` of its request,
its program counter and locals in a `Hand`. Because the hand holds everything the program needs, a client can be
started at any card from any hand: the explorer restores the cache and the database to a state it has seen
(`restore`) and runs one card from there, instead of replaying the whole prefix.

    read cards   GET (a hit ends the read)       GET with lease (memcache's lease-get: on a miss, take the lease)
                 GET the queued write (HGET)     SELECT (loads the row)
                 SET / SET NX / SET with a TTL / SET with lease (lease_fill.lua): store the value in hand
    write cards  UPDATE (commits the writer's value)     DEL     SET / SET with a TTL (the writer's value)
                 DEL under a lease (DEL key lease:key)   SET and queue (MULTI: SET key, HSET queued)
                 flush the queue (HGET, UPSERT, HDEL)    delayed second DEL
A card with nothing to do (a SET with nothing in hand, a SELECT after the queued write was found, any card after
a hit or a failed call) takes its turn and calls nothing. A call that fails ends its client's request.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import NamedTuple

import fakeredis

from ..cache_aside import CacheAside
from ..clock import SimClock
from ..database import Database, Row
from ..features import script
from ..features.leases import GC_GRACE_MS, parse_lease
from ..lab import Lab
from ..request import Request, RequestFailed, Steps
from ..state import CacheItem, Change, LabState, Lease, PendingWrite
from ..trace import Costs
from .cards import Card

KEY = "user:1"
OLD = "Ada Lovelace"                  # the seeded row (database.SEED_ROWS)
WRITES = ("Ada King", "Ada Byron")    # what the first and the second writer write
TTL = 60                              # seconds, as the lab's cache-aside
LEASE_SECONDS = 2.0
LEASE_PX = round(LEASE_SECONDS * 1000) + GC_GRACE_MS    # Redis forgets an abandoned lease by itself (wall clock)
FREE = Costs(cache_ms=0.0, db_read_ms=0.0, db_write_ms=0.0)   # the explorer's: its clock never moves


@dataclass(slots=True)
class Hand:
    """One client between two turns: its program counter and locals (set by its cards), and what the race
    noted about it (set by `schedule.note_turn`)."""

    pc: int = 0                     # the card it runs next
    ended: bool = False             # returned early (a hit) or failed: its remaining turns do nothing
    failed: bool = False
    faulted: bool = False           # its call failed because the learner asked for that fault
    value: str | None = None        # a read: what it holds (and returns)
    version: int | None = None      # ...and the database version it was read as (None: never committed)
    loaded: bool = False
    token: str | None = None        # the lease it holds
    committed: int | None = None    # a write: the version its UPDATE committed
    started_after: int = -1         # a read: how many writes had answered when it started (-1: not yet)
    acked: bool = False             # a write: it has answered its client
    awaited: frozenset[int] = frozenset()   # a write: the reads under way when it answered
    stale: bool = False             # a read: it returned a value an answered write had replaced

    def frozen(self) -> tuple:
        return tuple(getattr(self, name) for name in HAND_FIELDS)

    @classmethod
    def thaw(cls, frozen: tuple) -> Hand:
        return cls(*frozen)


HAND_FIELDS = tuple(field.name for field in fields(Hand))


class World(NamedTuple):
    """What the cache and the database hold of the race's key: all a card's outcome depends on, besides its hand."""

    cache: CacheItem | None
    lease: Lease | None
    queued: str | None
    row: tuple[str, int]            # the database's (value, version)


class RaceDatabase(Database):
    """The lab's SQLite database, which the explorer can also put back to a row it has seen."""

    def restore_row(self, key: str, value: str, version: int) -> None:
        with self._lock:
            self._conn.execute("UPDATE kv SET value = ?, version = ? WHERE key = ?", (value, version, key))


class RaceLab(Lab):
    """The clients' paths against one cache and one database (drawn on cache-aside's figure: App, Cache, Database)."""

    name = "find-the-race"
    title = "Find the race"
    topology = CacheAside.topology

    def __init__(self, cache=None, db: Database | None = None, *, namespace: str | None = None,
                 costs: Costs | None = None) -> None:
        cache = cache if cache is not None else fakeredis.FakeRedis(server=fakeredis.FakeServer(),
                                                                   decode_responses=True)
        super().__init__(cache, db if db is not None else RaceDatabase(":memory:"), namespace=namespace,
                         clock=SimClock(), costs=costs, ttl_seconds=TTL)
        self.lease_key = f"{self.namespace}lease:{KEY}"
        self.queue_key = f"{self.namespace}queued"
        self._acquire = script(cache, "lease_acquire")
        self._fill = script(cache, "lease_fill")
        self._others = [row for row in self.db.rows() if row.key != KEY]

    # ---- a client's program: one card per turn --------------------------------------------------------
    def program(self, t: Request, path: tuple[Card, ...], hand: Hand, value: str | None) -> Steps:
        """`path` from card `hand.pc` on, one card per advance; `value` is what a writer writes."""
        while hand.pc < len(path):
            card = path[hand.pc]
            if not self.has_work(card, hand):
                hand.pc += 1
                yield None                      # a turn that calls nothing
                continue
            yield from self._turn(t, hand, getattr(self, BODIES[card.side, card.code])(t, hand, value))

    @staticmethod
    def has_work(card: Card, hand: Hand) -> bool:
        """Whether `card` calls anything, run from `hand`."""
        if hand.ended:
            return False
        if card.side == "read":
            if card.code == "SELECT":
                return not hand.loaded
            if card.code == "SET-LEASE":
                return hand.loaded and hand.token is not None
            if card.stores:
                return hand.loaded
        return True

    @staticmethod
    def _turn(t: Request, hand: Hand, body: Steps) -> Steps:
        """Run one card's calls within one advance (no other client comes between them); yield its last step.
        The hand is updated before the step is handed out, so it is current when `advance()` returns."""
        last = None
        while True:
            try:
                last = next(body)
            except StopIteration:
                break
            except RequestFailed:
                hand.failed = hand.ended = True
                hand.pc += 1
                raise
        hand.pc += 1
        yield last

    # ---- read cards -----------------------------------------------------------------------------------
    def _get(self, t: Request, hand: Hand, _: object) -> Steps:
        found = yield from self.cache_get(t, "App", KEY)
        t.trace.hit = found is not None
        if found is None:
            yield from self.reply(t, "Cache", "App", KEY, None, command="(nil) miss", outcome="miss",
                                  note=("race-miss", None))
            return
        hand.value, hand.version, hand.ended = found, self.state.cache[KEY].version, True
        yield from self.reply(t, "Cache", "App", KEY, found, command="hit", outcome="hit", note=("race-hit", None))

    def _get_lease(self, t: Request, hand: Hand, _: object) -> Steps:
        now_ms = round(self.clock.now() * 1000)
        ends_ms = now_ms + round(LEASE_SECONDS * 1000)
        lease = Lease(f"1:{t.client}", t.client, ends_ms / 1000)
        names, args = [self.redis_key(KEY), self.lease_key], [lease.token, now_ms, ends_ms, LEASE_PX]

        def changes(answer: list, _: float) -> tuple[Change, ...]:
            return (Change("lease", KEY, self.state.lease.get(KEY), lease),) if answer[0] == 1 else ()

        answer = yield from self.cache_call(
            t, "App", "Cache", "GET", lambda: self._acquire(keys=names, args=args), key=KEY,
            command=f"GET {KEY} (lease on a miss)", note=("race-lease-get", None), changes=changes)
        status, found = int(answer[0]), answer[1]
        t.trace.hit = status == 2
        if status == 2:
            hand.value, hand.version, hand.ended = found, self.state.cache[KEY].version, True
            yield from self.reply(t, "Cache", "App", KEY, found, command="hit", outcome="hit", note=("race-hit", None))
        elif status == 1:
            hand.token = lease.token
            yield from self.reply(t, "Cache", "App", KEY, None, command="(nil) miss, lease granted", outcome="miss",
                                  note=("race-lease-granted", {"client": t.client}))
        else:
            yield from self.reply(t, "Cache", "App", KEY, None, command="(nil) miss, lease busy", outcome="miss",
                                  note=("race-lease-busy", {"holder": parse_lease(found).client}))

    def _get_queued(self, t: Request, hand: Hand, _: object) -> Steps:
        queued = yield from self.cache_call(
            t, "App", "Cache", "HGET", lambda: self.cache.hget(self.queue_key, KEY), command=f"HGET queued {KEY}",
            key=KEY, note=lambda found: (_found("race-queued", found), "hit" if found else "miss"))
        if queued is not None:
            hand.value, hand.version, hand.loaded = queued, None, True

    def _select(self, t: Request, hand: Hand, _: object) -> Steps:
        loaded = yield from self.db_select(t, "App", KEY)
        hand.value, hand.version = (loaded.value, loaded.version) if loaded else (None, None)
        hand.loaded = True

    def _set(self, t: Request, hand: Hand, _: object) -> Steps:
        yield from self.cache_set(t, "App", KEY, hand.value, ttl=None, version=hand.version)

    def _set_ttl(self, t: Request, hand: Hand, _: object) -> Steps:
        yield from self.cache_set(t, "App", KEY, hand.value, ttl=TTL, version=hand.version)

    def _set_nx(self, t: Request, hand: Hand, _: object) -> Steps:
        value, version = hand.value, hand.version
        yield from self.cache_call(
            t, "App", "Cache", "SET", lambda: self.cache.set(self.redis_key(KEY), value, nx=True),
            command=f"SET {KEY} … NX", key=KEY, value=value,
            changes=lambda stored, at: (self.cached(KEY, value, None, version, at),) if stored else (),
            note=lambda stored: (("race-set-nx" if stored else "race-set-nx-refused", None), "ok"))

    def _set_lease(self, t: Request, hand: Hand, _: object) -> Steps:
        value, version, token = hand.value, hand.version, hand.token

        def changes(filled: int, at: float) -> tuple[Change, ...]:
            if not filled:
                return ()
            held = self.state.lease.get(KEY)
            return (self.cached(KEY, value, TTL, version, at), Change("lease", KEY, held, None, "filled"))

        def note(filled: int) -> tuple[tuple, str]:
            if not filled:
                return ("race-lease-refused", None), "ok"
            newer = self.state.db[KEY].value
            if newer == value:
                return ("lease-fill", {"ttl": TTL}), "ok"
            return ("race-lease-behind", {"found": newer, "ttl": TTL}), "ok"

        yield from self.cache_call(
            t, "App", "Cache", "SET", lambda: self._fill(keys=[self.redis_key(KEY), self.lease_key],
                                                        args=[token, value, TTL]),
            command=f"SET {KEY} … EX {TTL} if lease {token} (script)", key=KEY, value=value, changes=changes,
            note=note)

    # ---- write cards ----------------------------------------------------------------------------------
    def _update(self, t: Request, hand: Hand, value: str) -> Steps:
        hand.committed = yield from self.db_upsert(t, "App", KEY, value)

    def _delete(self, t: Request, hand: Hand, _: object, *, later: bool = False, lease: bool = False) -> Steps:
        found = self.state.cache.get(KEY)
        names = [self.redis_key(KEY)] + ([self.lease_key] if lease else [])
        name = "race-del-later" if later else "race-del-lease" if lease else "race-del"

        def changes(*_: object) -> tuple[Change, ...]:
            held = self.state.lease.get(KEY) if lease else None
            return ((Change("cache", KEY, found, None, "deleted"),) if found else ()) + \
                ((Change("lease", KEY, held, None, "voided"),) if held else ())

        yield from self.cache_call(
            t, "App", "Cache", "DEL", lambda: self.cache.delete(*names), background=later,
            command=f"DEL {KEY}" + (f" lease:{KEY}" if lease else ""), key=KEY, changes=changes,
            note=(f"{name}-removed", {"found": found.value}) if found else (f"{name}-empty", None))

    def _delete_lease(self, t: Request, hand: Hand, value: str) -> Steps:
        return self._delete(t, hand, value, lease=True)

    def _delete_later(self, t: Request, hand: Hand, value: str) -> Steps:
        return self._delete(t, hand, value, later=True)

    def _write_set(self, t: Request, hand: Hand, value: str) -> Steps:
        yield from self.cache_set(t, "App", KEY, value, ttl=None, version=hand.committed)

    def _write_set_ttl(self, t: Request, hand: Hand, value: str) -> Steps:
        yield from self.cache_set(t, "App", KEY, value, ttl=TTL, version=hand.committed)

    def _queue(self, t: Request, hand: Hand, value: str) -> Steps:
        def both() -> list:
            pipe = self.cache.pipeline(transaction=True)
            pipe.set(self.redis_key(KEY), value)
            pipe.hset(self.queue_key, KEY, value)
            return pipe.execute()

        yield from self.cache_call(
            t, "App", "Cache", "SET", both, command=f"MULTI SET {KEY} …, HSET queued {KEY} … EXEC", key=KEY,
            value=value, note=("race-queue", None),
            changes=lambda _, at: (self.cached(KEY, value, None, None, at),
                                   Change("pending", KEY, self.state.pending.get(KEY), PendingWrite(value, t.client))))

    def _flush(self, t: Request, hand: Hand, _: object) -> Steps:
        queued = yield from self.cache_call(
            t, "App", "Cache", "HGET", lambda: self.cache.hget(self.queue_key, KEY), command=f"HGET queued {KEY}",
            key=KEY, background=True,
            note=lambda found: (_found("race-flush", found), "ok"))
        if queued is None:
            return
        hand.committed = yield from self.db_upsert(t, "App", KEY, queued)
        yield from self.cache_call(
            t, "App", "Cache", "HDEL", lambda: self.cache.hdel(self.queue_key, KEY), command=f"HDEL queued {KEY}",
            key=KEY, background=True, note=("race-flush-dequeued", None),
            changes=lambda *_: (Change("pending", KEY, self.state.pending.get(KEY), None),))

    # ---- what the explorer reads and puts back ------------------------------------------------------------
    def world(self) -> World:
        """The race's key as the lab's tables hold it now (they follow every recorded call)."""
        state = self.state
        pending = state.pending.get(KEY)
        row = state.db[KEY]
        return World(state.cache.get(KEY), state.lease.get(KEY), pending.value if pending else None,
                     (row.value, row.version))

    def restore(self, world: World) -> None:
        """Put the cache, the database and the tables back to `world`, with an empty log (the explorer's lab
        only: its clock stands still, so a TTL or a lease's end is as long as when it was set)."""
        self.forget_everything()
        self.expiries.clear()
        pipe = self.cache.pipeline(transaction=False)
        pipe.delete(self.redis_key(KEY), self.lease_key, self.queue_key)
        item = world.cache
        if item is not None:
            ttl = None if item.expires_at is None else round(item.expires_at - self.clock.now())
            pipe.set(self.redis_key(KEY), item.value, ex=ttl)
        if world.lease is not None:
            pipe.set(self.lease_key, f"{world.lease.token}|{round(world.lease.expires_at * 1000)}",
                     px=LEASE_PX)
        if world.queued is not None:
            pipe.hset(self.queue_key, KEY, world.queued)
        pipe.execute()
        value, version = world.row
        self.db.restore_row(KEY, value, version)
        state = LabState([*self._others, Row(KEY, value, version, 0.0)], self.clock.now())
        if item is not None:
            state.cache[KEY] = item
        if world.lease is not None:
            state.lease[KEY] = world.lease
        if world.queued is not None:
            state.pending[KEY] = PendingWrite(world.queued, "")
        self.state = state


BODIES: dict[tuple[str, str], str] = {
    ("read", "GET"): "_get", ("read", "GET-LEASE"): "_get_lease", ("read", "GET-QUEUED"): "_get_queued",
    ("read", "SELECT"): "_select", ("read", "SET"): "_set", ("read", "SET-NX"): "_set_nx",
    ("read", "SET-LEASE"): "_set_lease", ("read", "SET-TTL"): "_set_ttl",
    ("write", "UPDATE"): "_update", ("write", "DEL"): "_delete", ("write", "SET"): "_write_set",
    ("write", "SET-TTL"): "_write_set_ttl", ("write", "DEL-LEASE"): "_delete_lease", ("write", "QUEUE"): "_queue",
    ("write", "FLUSH"): "_flush", ("write", "DEL-LATER"): "_delete_later",
}


def _found(name: str, found: str | None) -> tuple[str, dict | None]:
    """`<name>-found` with what was found, or `<name>-none`."""
    return (f"{name}-found", {"found": found}) if found is not None else (f"{name}-none", None)
