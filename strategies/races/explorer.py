"""Every interleaving of the clients' paths, as a model checker explores them: by deduplicating states.

A state is what the rest of an interleaving depends on: what the cache and the database hold of the key (the
`World`), each client's hand (program counter and locals), which writes have answered and in which order, and
the values the database has committed. From a state each client that may take a turn leads to a successor;
the learner's fault, where it can strike, is one more successor (the same turn, its call failing). A successor
is computed by really running that one card — the cache and the database are restored to the state's world and
the card's calls are made (`RaceLab.restore`, `RaceLab.program`) — and a card run from the same world and hand is
run once (`moves`). States already seen are not explored again, so the search visits the states (hundreds to
thousands), not the interleavings (34,650 for 3 clients × 4 cards): the interleavings are counted by path
counting over the graph of states, which has no cycles (every turn moves one program counter on). No
reduction of commuting steps is made: every interleaving is counted, and each one's verdict is exact.

The shortest bad interleaving is the one with the fewest cards that made a call, then the fewest switches between
clients (the easiest to follow), then the first in client order; it replays on a fresh lab (`schedule.replay`)
to the very same verdict.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace

from ..request import Request
from .cards import CARDS, Fault, Race, path_problems
from .program import FREE, KEY, Hand, RaceDatabase, RaceLab, World
from .schedule import Turn, Verdict, committed, fault_turn, finished, note_turn, runnable, verdict, writer_values

State = tuple          # (World, tuple of frozen hands, answered writes in order, committed values in order)
Progress = Callable[[int, int], None]     # (interleavings counted so far, how many there are at most)

# The vector counted for every state: interleavings from it to the end, and how many of them end so.
TOTAL, BAD, STALE_TTL, STALE_FOREVER, LOST, STALE_READ, FAULTED, FAULTED_BAD = range(8)
PROGRESS_EVERY = 200   # new states between two progress reports


@dataclass(frozen=True)
class Weakened:
    """What a safe race rests on: with `card` of the `side` path replaced by `instead` (None: taken away), `bad`
    of `total` interleavings break."""

    side: str
    card: str
    instead: str | None
    bad: int
    total: int


@dataclass(frozen=True)
class Report:
    race: Race
    interleavings: int
    bad: int
    stale_ttl: int              # end with the cache holding a value the database does not, until its TTL
    stale_forever: int          # ... with no TTL: until something deletes it
    lost: int                   # lose a write
    stale_reads: int            # a read returns a value an answered write had replaced
    faulted: int                # the learner's fault struck
    faulted_bad: int
    shortest: tuple[Turn, ...] | None
    shortest_calls: int
    states: int
    cards_run: int              # cards really run (from restored states) to explore them all
    rests_on: tuple[Weakened, ...] = ()

    @property
    def stale_cache(self) -> int:
        return self.stale_ttl + self.stale_forever


def upper_bound(race: Race) -> int:
    """The number of orders of the clients' turns (times two with a fault): what the count can at most reach."""
    lengths = [len(path) for path in race.paths]
    orders = math.factorial(sum(lengths)) // math.prod(math.factorial(n) for n in lengths)
    return orders * (2 if race.fault else 1)


class Explorer:
    def __init__(self, race: Race, *, cache=None, namespace: str | None = None,
                 progress: Progress | None = None) -> None:
        problems = race.problems()
        if problems:
            raise ValueError(problems[0])
        self.race, self.paths, self.values = race, race.paths, writer_values(race)
        self.lab = RaceLab(cache, RaceDatabase(":memory:"), namespace=namespace, costs=FREE)
        self.start: State = (self.lab.world(), tuple(Hand().frozen() for _ in self.paths), (), ())
        self._holding: World | None = self.start[0]       # what the lab's cache and database hold now
        self.counts: dict[State, tuple[int, ...]] = {}
        self.children: dict[State, list[tuple[Turn, State, bool]]] = {}
        self.moves: dict[tuple, tuple[World, tuple]] = {}
        self.progress, self.bound, self.covered = progress, upper_bound(race), 0

    # ---- one turn ------------------------------------------------------------------------------------
    def successors(self, state: State) -> list[tuple[Turn, State, bool]]:
        """(turn, next state, whether the turn made a call) for every turn that may come next."""
        found = self.children.get(state)
        if found is not None:
            return found
        world, frozen, acks, commits = state
        race, paths = self.race, self.paths
        found = []
        for client in range(len(paths)):
            hands = [Hand.thaw(hand) for hand in frozen]
            if not runnable(race, paths, hands, client):
                continue
            for fails in ((False, True) if fault_turn(race, paths, hands, client) else (False,)):
                hands = [Hand.thaw(hand) for hand in frozen]
                hand = hands[client]
                was_finished = finished(hand, paths[client])
                real = RaceLab.has_work(paths[client][hand.pc], hand)
                if real:
                    after, hands[client] = self.move(world, client, frozen[client], fails)
                else:
                    after = world
                    hand.pc += 1
                answered = list(acks)
                note_turn(race, paths, hands, answered, client, was_finished)
                found.append(((client, fails), (after, tuple(hand.frozen() for hand in hands), tuple(answered),
                                                committed(commits, world.row, after.row)), real))
        self.children[state] = found
        return found

    def move(self, world: World, client: int, frozen: tuple, fails: bool) -> tuple[World, Hand]:
        """Run `client`'s next card from `world` and hand `frozen` — for real, on the lab, unless it already ran."""
        key = (world, client, frozen, fails)
        known = self.moves.get(key)
        if known is None:
            lab, race = self.lab, self.race
            if self._holding != world:
                lab.restore(world)
            hand = Hand.thaw(frozen)
            trace = lab.new_trace(race.roles[client], KEY, self.values[client], race.letters[client])
            request = Request(lab, trace, lab.program, self.paths[client], hand, self.values[client])
            lab.db.down = fails and race.fault.component == "database"
            lab.cache_down = fails and race.fault.component == "cache"
            try:
                request.advance()
            finally:
                lab.db.down = lab.cache_down = False
            if hand.failed and not fails:       # only the learner's fault may fail a call: anything else is a bug
                raise RuntimeError(f"card {hand.pc} of client {race.letters[client]} failed: {trace.error}")
            hand.faulted |= fails
            self._holding = lab.world()
            known = self.moves[key] = (self._holding, hand.frozen())
        return known[0], Hand.thaw(known[1])

    # ---- counting -------------------------------------------------------------------------------------
    def count(self, state: State) -> tuple[int, ...]:
        """How many interleavings lead from `state` to the end, and how many of them end broken (and how)."""
        found = self.counts.get(state)
        if found is not None:
            return found
        children = self.successors(state)
        if not children:
            found = self._at_the_end(state)
        else:
            total = [0] * 8
            for _, child, _ in children:
                seen = child in self.counts
                counted = self.count(child)
                if seen or not self.children[child]:
                    self.covered += counted[TOTAL]        # a leaf of the tree of prefixes: all its paths done
                for n in range(8):
                    total[n] += counted[n]
            found = tuple(total)
        self.counts[state] = found
        if self.progress is not None and len(self.counts) % PROGRESS_EVERY == 0:
            self.progress(self.covered, self.bound)
        return found

    def _at_the_end(self, state: State) -> tuple[int, ...]:
        world, frozen, acks, commits = state
        hands = [Hand.thaw(hand) for hand in frozen]
        if any(hand.pc < len(path) for hand, path in zip(hands, self.paths, strict=True)):
            # Cannot happen: only a delayed DEL waits, and only for reads, which never wait.
            raise RuntimeError("no client can take a turn, yet not all have finished")
        found = verdict(self.race, world, hands, acks, commits)
        bad = int(found.bad)
        return (1, bad, int(found.stale_cache and not found.forever), int(found.forever), int(found.lost_write),
                int(found.stale_read), int(found.faulted), bad * found.faulted)

    # ---- the shortest bad interleaving --------------------------------------------------------------------
    def shortest(self) -> tuple[int, tuple[Turn, ...]] | None:
        """(cards that made a call, its turns) of the shortest bad interleaving; None if none is bad."""
        memo: dict[tuple[State, int | None], tuple[int, int, tuple[Turn, ...]]] = {}

        def best(state: State, last: int | None) -> tuple[int, int, tuple[Turn, ...]]:
            key = (state, last)
            if key in memo:
                return memo[key]
            children = [child for child in self.children[state] if self.counts[child[1]][BAD]]
            found = (0, 0, ())
            if children:
                found = min(_longer(turn, real, last, best(child, turn[0] if real else last))
                            for turn, child, real in children)
            memo[key] = found
            return found

        if not self.counts[self.start][BAD]:
            return None
        calls, _, turns = best(self.start, None)
        return calls, turns

    def bad_schedules(self) -> Iterator[tuple[Turn, ...]]:
        """Every bad interleaving's turns (for small races: there may be many)."""
        def walk(state: State, prefix: tuple[Turn, ...]) -> Iterator[tuple[Turn, ...]]:
            children = self.children[state]
            if not children:
                yield prefix
            for turn, child, _ in children:
                if self.counts[child][BAD]:
                    yield from walk(child, prefix + (turn,))

        if self.counts[self.start][BAD]:
            yield from walk(self.start, ())

    def verdict_of(self, schedule: tuple[Turn, ...]) -> Verdict:
        """How `schedule` ends, read off the explored graph (a KeyError if the race does not allow it)."""
        state = self.start
        for turn in schedule:
            found = [child for taken, child, _ in self.successors(state) if taken == turn]
            if not found:
                raise KeyError(f"turn {turn} is not one the race allows here")
            state = found[0]
        if self.successors(state):
            raise KeyError("the schedule stops before every client has taken all its turns")
        world, frozen, acks, commits = state
        return verdict(self.race, world, [Hand.thaw(hand) for hand in frozen], acks, commits)

    def close(self) -> None:
        """Delete the explorer's own keys and close its database (a private fakeredis goes with the explorer)."""
        self.lab.quietly(self.lab.delete_all_keys)
        self.lab.db.close()

    def run(self) -> Report:
        counted = self.count(self.start)
        if self.progress is not None:
            self.progress(counted[TOTAL], counted[TOTAL])
        shortest = self.shortest()
        return Report(self.race, counted[TOTAL], counted[BAD], counted[STALE_TTL], counted[STALE_FOREVER],
                      counted[LOST], counted[STALE_READ], counted[FAULTED], counted[FAULTED_BAD],
                      shortest[1] if shortest else None, shortest[0] if shortest else 0, len(self.counts),
                      len(self.moves))


def _longer(turn: Turn, real: bool, last: int | None, rest: tuple[int, int, tuple[Turn, ...]]):
    calls, switches, turns = rest
    switched = real and last is not None and turn[0] != last
    return calls + real, switches + switched, (turn, *turns)


# ---- what a safe race rests on ----------------------------------------------------------------------------------
# The cards that protect the cache, and what each is without its protection (None: taken away).
PROTECTIONS = {("read", "SET-LEASE"): "SET-TTL", ("read", "SET-NX"): "SET", ("write", "DEL-LEASE"): "DEL",
               ("write", "DEL"): None, ("write", "DEL-LATER"): None}


def weakened(race: Race) -> Iterator[tuple[str, str, str | None, Race]]:
    """(side, card, its weaker card or None, the race with that one card weakened) for every protecting card of a
    path some client runs, where the weaker race is still one that can run."""
    for side in dict.fromkeys(race.roles):
        codes = race.read if side == "read" else race.write
        for index, code in enumerate(codes):
            if (side, code) not in PROTECTIONS:
                continue
            instead = PROTECTIONS[side, code]
            new = codes[:index] + ((instead,) if instead else ()) + codes[index + 1:]
            if path_problems(side, new):
                continue
            fault = _moved_fault(race, side, index, instead is None)
            changed = replace(race, **{side: new}, fault=fault)
            if not changed.problems():
                yield side, code, instead, changed


def _moved_fault(race: Race, side: str, index: int, removed: bool) -> Fault | None:
    """The race's fault, on the same card once a card at `index` of the `side` path is weakened (None if it was
    that card, or the weaker card no longer calls what fails)."""
    fault = race.fault
    if fault is None or race.roles[race.letters.index(fault.client)] != side:
        return fault
    if fault.card - 1 == index:
        return None if removed else fault
    return replace(fault, card=fault.card - 1) if removed and fault.card - 1 > index else fault


def explore(race: Race, *, progress: Progress | None = None, cache=None, namespace: str | None = None,
            rests_on: bool = True) -> Report:
    """Search every interleaving of `race`. If none breaks, also say what that rests on: each protecting card
    (`PROTECTIONS`) whose weakening (its lease or NX taken away, the DEL removed) would let some interleaving break."""
    report = _searched(race, cache, namespace, progress)
    if report.bad or not rests_on:
        return report
    found = []
    for side, code, instead, changed in weakened(race):
        other = _searched(changed, cache, namespace, None)
        if other.bad:
            found.append(Weakened(side, code, instead, other.bad, other.interleavings))
    return replace(report, rests_on=tuple(found))


def _searched(race: Race, cache, namespace: str | None, progress: Progress | None) -> Report:
    explorer = Explorer(race, cache=cache, namespace=namespace, progress=progress)
    try:
        return explorer.run()
    finally:
        explorer.close()


def card_label(side: str, code: str) -> str:
    return CARDS[side][code].label
