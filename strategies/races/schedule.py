"""What the race notes between turns (a read that starts or ends, a write that answers), which turns may come
next, how an interleaving ended (its `Verdict`), and an interleaving replayed on a fresh lab.

An interleaving is a schedule: the order of the clients' turns, each client taking as many turns as its path has
cards; a turn marked `fails` is the one whose call the learner's fault makes fail. The same bookkeeping serves the
explorer (which runs one card at a time from restored states) and `replay` (a fresh lab, one request per client,
run turn by turn): so a replayed interleaving ends exactly as the explorer counted it.

What counts as broken, at the end of an interleaving:
    stale cache   the cache holds a value the database does not (until its TTL, or forever without one)
    lost write    a write answered its client, yet a read now returns an older value (the cache's if it holds
                  one, else the database's): older by the order the database committed them, or, for a value it
                  never committed, by the order the writes answered
    stale read    a read returned a value that a write had replaced and answered before the read started
A delayed second DEL runs only once every read that was under way when its write answered has finished: the
delay the advice picks, longer than a read takes.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import NamedTuple

from ..request import Request
from ..trace import Step
from .cards import Card, Race
from .program import FREE, KEY, OLD, WRITES, Hand, RaceDatabase, RaceLab, World

Turn = tuple[int, bool]          # (client number, whether the learner's fault makes its call fail)


def finished(hand: Hand, path: tuple[Card, ...]) -> bool:
    return hand.ended or hand.pc >= len(path)


def answered(hand: Hand, path: tuple[Card, ...]) -> bool:
    """A write has answered its client once every card before its background ones has run, none failing."""
    first_background = next((i for i, card in enumerate(path) if card.background), len(path))
    return not hand.failed and hand.pc >= first_background


def writer_values(race: Race) -> tuple[str | None, ...]:
    """What each client writes: the first writer WRITES[0], the second WRITES[1]; readers None."""
    writers = iter(WRITES)
    return tuple(next(writers) if role == "write" else None for role in race.roles)


def runnable(race: Race, paths: Sequence[tuple[Card, ...]], hands: Sequence[Hand], client: int) -> bool:
    """Whether `client` can take a turn now: it has one left, and a delayed DEL has waited for the reads."""
    hand, path = hands[client], paths[client]
    if hand.pc >= len(path):
        return False
    if path[hand.pc].code == "DEL-LATER" and not hand.ended:
        return all(finished(hands[other], paths[other]) for other in hand.awaited)
    return True


def fault_turn(race: Race, paths, hands: Sequence[Hand], client: int) -> bool:
    """Whether `client`'s next turn is where the learner's fault strikes (and it calls the faulty component)."""
    where = race.fault_at()
    if where is None or where != (client, hands[client].pc):
        return False
    return RaceLab.has_work(paths[client][hands[client].pc], hands[client])


def note_turn(race: Race, paths, hands: list[Hand], acks: list[int], client: int, was_finished: bool) -> None:
    """After `client`'s turn (its hand already updated): a read that started or ended, a write that answered."""
    hand, path, values = hands[client], paths[client], writer_values(race)
    if race.roles[client] == "read":
        if hand.started_after < 0:
            hand.started_after = len(acks)
        if not was_finished and finished(hand, path) and not hand.failed:
            hand.stale = is_stale(hand, acks, values)
        return
    if not hand.acked and answered(hand, path):
        hand.acked = True
        acks.append(client)
        hand.awaited = frozenset(other for other, role in enumerate(race.roles)
                                 if role == "read" and hands[other].started_after >= 0
                                 and not finished(hands[other], paths[other]))


def is_stale(hand: Hand, acks: Sequence[int], values: Sequence[str | None]) -> bool:
    """A read returned a value replaced before it started: the seeded one, or one an earlier answered write wrote,
    when another write had answered after it."""
    answered_before = hand.started_after
    if answered_before <= 0 or hand.value is None:
        return False
    replaced = {OLD} | {values[acks[n]] for n in range(answered_before - 1)}
    return hand.value in replaced


def committed(commits: tuple[str, ...], before: tuple[str, int], after: tuple[str, int]) -> tuple[str, ...]:
    """The values the database committed, in order, after a turn that took its row from `before` to `after`."""
    return commits + (after[0],) if after[1] != before[1] else commits


class Verdict(NamedTuple):
    stale_cache: bool
    forever: bool                   # the stale value has no TTL
    lost_write: bool
    stale_read: bool
    faulted: bool                   # the learner's fault struck in this interleaving

    @property
    def bad(self) -> bool:
        return self.stale_cache or self.lost_write or self.stale_read


def verdict(race: Race, world: World, hands: Sequence[Hand], acks: Sequence[int],
            commits: tuple[str, ...]) -> Verdict:
    """How an interleaving that has run to its end left things."""
    item, (stored, _) = world.cache, world.row
    stale_cache = item is not None and item.value != stored
    seen = item.value if item is not None else stored
    values = writer_values(race)

    def position(value: str) -> int | None:
        if value in commits:
            return len(commits) - 1 - commits[::-1].index(value)
        return -1 if value == OLD else None

    answered = [values[client] for client in acks]

    def newer(value: str, than: str) -> bool:
        """By the order the database committed them; between values it never committed both, by the order their
        writes answered."""
        mine, theirs = position(value), position(than)
        if mine is not None and theirs is not None:
            return mine > theirs
        return value in answered and than in answered and answered.index(value) > answered.index(than)

    def lost(place: int) -> bool:
        return seen != answered[place] and not newer(seen, answered[place])

    return Verdict(stale_cache, stale_cache and item.expires_at is None, any(lost(n) for n in range(len(acks))),
                   any(hand.stale for hand in hands), any(hand.faulted for hand in hands))


# ---- an interleaving replayed ---------------------------------------------------------------------------------
class Blocked(ValueError):
    """A schedule asked a client for a turn it cannot take (none left, or a delayed DEL still waiting), or put
    the fault where it cannot strike."""


class Run:
    """One interleaving being run on a fresh lab: one request per client, advanced turn by turn."""

    def __init__(self, race: Race, *, cache=None, namespace: str | None = None, free: bool = False) -> None:
        self.race, self.paths = race, race.paths
        self.lab = lab = RaceLab(cache, RaceDatabase(":memory:"), namespace=namespace, costs=FREE if free else None)
        values = writer_values(race)
        self.hands = [Hand() for _ in self.paths]
        self.requests = [Request(lab, lab.new_trace(race.roles[n], KEY, values[n], race.letters[n]), lab.program,
                                 self.paths[n], self.hands[n], values[n]) for n in range(len(self.paths))]
        self.acks: list[int] = []
        self.commits: tuple[str, ...] = ()
        self.turns: list[tuple[Turn, Step | None]] = []

    def can_fail(self, client: int) -> bool:
        return fault_turn(self.race, self.paths, self.hands, client)

    def turn(self, client: int, fails: bool) -> Step | None:
        """`client` takes its next turn (its call failing if `fails`); its last step, or None if it called nothing."""
        race, lab, hand = self.race, self.lab, self.hands[client]
        if not runnable(race, self.paths, self.hands, client):
            raise Blocked(f"client {race.letters[client]} cannot take a turn here")
        if fails and not self.can_fail(client):
            raise Blocked(f"the fault cannot strike at this turn of client {race.letters[client]}")
        before, was_finished, pc = lab.world().row, finished(hand, self.paths[client]), hand.pc
        lab.db.down = fails and race.fault.component == "database"
        lab.cache_down = fails and race.fault.component == "cache"
        try:
            step = self.requests[client].advance()
        finally:
            lab.db.down = lab.cache_down = False
        if hand.pc == pc:              # its request had already failed: the turn does nothing
            hand.pc += 1
        elif hand.failed and not fails and not was_finished:
            raise RuntimeError(f"card {pc + 1} of client {race.letters[client]} failed: "
                               f"{self.requests[client].trace.error}")
        hand.faulted |= fails
        self.commits = committed(self.commits, before, lab.world().row)
        note_turn(race, self.paths, self.hands, self.acks, client, was_finished)
        self.turns.append(((client, fails), step))
        return step

    def finish(self) -> Replay:
        for request in self.requests:
            request.run()
        lab = self.lab
        return Replay(lab, list(lab.history), verdict(self.race, lab.world(), self.hands, self.acks, self.commits),
                      self.hands, self.turns)


@dataclass
class Replay:
    """An interleaving run on a fresh lab: every step it recorded, in order, and how it ended."""

    lab: RaceLab
    steps: list[Step]
    verdict: Verdict
    hands: list[Hand]
    turns: list[tuple[Turn, Step | None]]        # each turn and its last step (None: it called nothing)


def replay(race: Race, schedule: Sequence[Turn], *, cache=None, namespace: str | None = None,
           free: bool = False) -> Replay:
    """Run `schedule` on a fresh lab (on `cache`, default a private fakeredis; `free`: the explorer's zero costs).
    Raises Blocked if the schedule is not one the race allows."""
    run = Run(race, cache=cache, namespace=namespace, free=free)
    for client, fails in schedule:
        run.turn(client, fails)
    if any(hand.pc < len(path) for hand, path in zip(run.hands, run.paths, strict=True)):
        raise Blocked("the schedule ends before every client has taken all its turns")
    return run.finish()


# ---- the baseline: one fresh lab per interleaving ---------------------------------------------------------
def schedules(race: Race) -> Iterator[tuple[int, ...]]:
    """Every order of the clients' turns (each client as many as its path has cards), blocked or not."""
    counts = [len(path) for path in race.paths]

    def orders(left: list[int], prefix: list[int]) -> Iterator[tuple[int, ...]]:
        if not any(left):
            yield tuple(prefix)
            return
        for client, remaining in enumerate(left):
            if remaining:
                left[client] -= 1
                prefix.append(client)
                yield from orders(left, prefix)
                prefix.pop()
                left[client] += 1

    return orders(counts, [])


def naive_verdicts(race: Race, orders: Iterable[tuple[int, ...]] | None = None) -> Iterator[Verdict]:
    """The baseline explorer: every interleaving (or those of `orders`) on its own fresh lab, from the first turn;
    with a fault, each order once as it is and once with the fault striking (when its card makes the call). An
    order a delayed DEL does not allow is no interleaving, and is skipped."""
    for order in (orders if orders is not None else schedules(race)):
        for with_fault in ((False, True) if race.fault else (False,)):
            run = Run(race, free=True)
            try:
                struck = False
                for client in order:
                    fails = with_fault and run.can_fail(client)
                    struck |= fails
                    run.turn(client, fails)
            except Blocked:
                continue
            if struck or not with_fault:
                yield run.finish().verdict
