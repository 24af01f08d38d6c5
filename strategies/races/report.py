"""What the page says of a search and of the interleaving it steps through: every sentence chosen from the search's
output (a count that is zero says nothing) and filled in from it, the text itself in assets/find_the_race.md.

A number a sentence quotes is a `Count`, so the sentence agrees with it: "{count} {count:ends|end} with…" says
"1 ends with…" and "3 end with…"."""

from __future__ import annotations

from ..narration import shorten
from .cards import CARDS, Fault, Race, say
from .explorer import PROTECTIONS, Report, weakened
from .program import KEY, OLD, TTL, WRITES
from .schedule import Replay, writer_values


class Count(int):
    """A number a sentence quotes. "{n}" writes it with thousands separators; "{n:one|many}" writes the word that
    agrees with it: `one` when it is 1, `many` otherwise (English says "0 interleavings break")."""

    def __format__(self, spec: str) -> str:
        one, bar, many = spec.partition("|")
        if bar:
            return one if self == 1 else many
        return format(int(self), spec or ",")


def number(count: int) -> Count:
    return Count(count)


def intro() -> str:
    return say("intro", key=KEY, old=shorten(OLD), first=shorten(WRITES[0]), second=shorten(WRITES[1]))


def clients_label(code: str) -> str:
    return say(f"clients-{code}")


def card_help(side: str) -> list[tuple[str, str]]:
    """(label, what it does) for every card of one side."""
    return [(card.label, say(f"card-{side}-{code}")) for code, card in CARDS[side].items()]


def faults(race: Race) -> list[Fault]:
    """Every fault that can strike these paths: each component, at each card of each client that calls it."""
    found = []
    for client, path in zip(race.letters, race.paths, strict=True):
        for index, card in enumerate(path, start=1):
            found += [Fault(component, client, index) for component in ("database", "cache") if component in card.calls]
    return found


def fault_label(race: Race, fault: Fault | None) -> str:
    if fault is None:
        return say("fault-none")
    label = race.path(race.letters.index(fault.client))[fault.card - 1].label
    return say("fault-option", component=fault.component, client=fault.client, card=fault.card, label=label)


def race_words(race: Race, preset: str | None = None) -> str:
    """The searched race in one line: "Read: GET → SELECT → SET with a TTL · Write: UPDATE the database → DEL the
    cache · A reads, B writes · No fault" (a path no client runs left out; `preset`, the title of the preset these
    paths are, first)."""
    parts = [say("searched-preset", preset=preset)] if preset else []
    for side in ("read", "write"):
        if side in race.roles:
            codes = race.read if side == "read" else race.write
            parts.append(say(f"searched-{side}", path=" → ".join(CARDS[side][code].label for code in codes)))
    return " · ".join([*parts, clients_label(race.clients), fault_label(race, race.fault)])


def summary(report: Report) -> list[str]:
    """The report under the headline, one paragraph or bullet per line (bullets start with "- "): what was explored,
    how the bad interleavings end and where the fault struck, or, if none breaks, what that rests on."""
    lines = [say("explored", interleavings=number(report.interleavings), states=number(report.states),
                 cards=number(report.cards_run))]
    if report.race.fault is not None:
        lines.append(say("explored-fault" if report.faulted else "explored-fault-none",
                         faulted=number(report.faulted)))
    if not report.bad:
        return lines + rests_on(report)
    for name, count in (("stale-ttl", report.stale_ttl), ("stale-forever", report.stale_forever),
                        ("lost", report.lost), ("stale-reads", report.stale_reads)):
        if count:
            lines.append("- " + say(name, count=number(count), ttl=TTL))
    if report.race.fault is not None and report.faulted:
        lines.append(fault_bad(report))
    idle = len(report.shortest) - report.shortest_calls
    lines.append(say("shortest-idle" if idle else "shortest", calls=number(report.shortest_calls),
                     idle=number(idle)))
    return lines


def fault_bad(report: Report) -> str:
    """How many of the interleavings in which the fault struck break: all, none, or some."""
    bad, faulted = number(report.faulted_bad), number(report.faulted)
    name = "fault-bad-all" if bad == faulted else "fault-bad-none" if not bad else "fault-bad"
    return say(name, bad=bad, faulted=faulted)


def headline(report: Report) -> str:
    """Whether any interleaving breaks, and how many: the report's first word, and the slide's."""
    interleavings = number(report.interleavings)
    if not report.bad:
        return say("safe", interleavings=interleavings)
    if report.bad == report.interleavings:
        return say("broken-all", interleavings=interleavings)
    return say("broken", bad=number(report.bad), interleavings=interleavings)


def rests_on(report: Report) -> list[str]:
    """What a safe race rests on: each protecting card whose weakening broke it, and why; else that none did (or
    that none could be taken away and leave paths that run)."""
    race = report.race
    if not report.rests_on:
        present = any((side, code) in PROTECTIONS for side in set(race.roles)
                      for code in (race.read if side == "read" else race.write))
        if not present:
            return [say("rests-on-none-present")]
        return [say("rests-on-nothing" if any(True for _ in weakened(race)) else "rests-on-untried")]
    lines = [say("rests-on-lead")]
    for weak in report.rests_on:
        card = CARDS[weak.side][weak.card].label
        fields = dict(card=card, bad=number(weak.bad), total=number(weak.total))
        if weak.instead is None:
            line = say("rests-on-removed", **fields)
        else:
            line = say("rests-on-replaced", instead=CARDS[weak.side][weak.instead].label, **fields)
        lines.append(f"- {line} {say(f'why-{weak.card}')}")
    return lines


def turn_lines(replay: Replay, race: Race) -> list[str]:
    """The interleaving, one line per turn: who ran which card, and whether it called nothing or failed."""
    lines, cards_done = [], [0] * len(race.roles)
    for (client, _), step in replay.turns:
        card = race.path(client)[cards_done[client]]
        cards_done[client] += 1
        name = "turn-idle" if step is None else "turn-failed" if step.failed else "turn"
        lines.append(say(name, client=race.letters[client], label=card.label))
    return lines


def verdict_lines(replay: Replay, race: Race) -> list[str]:
    """How the interleaving on screen ended, from its lab's tables and its verdict."""
    world, verdict = replay.lab.world(), replay.verdict
    stored = world.row[0]
    if world.cache is not None:
        lines = [say("end-cached", cached=shorten(world.cache.value), stored=shorten(stored))]
    else:
        lines = [say("end-empty", stored=shorten(stored))]
    if verdict.stale_cache:
        lines.append(say("end-stale-forever" if verdict.forever else "end-stale-ttl"))
        if world.queued is not None:
            lines.append(say("end-queued", queued=shorten(world.queued)))
    if verdict.lost_write:
        lines.append(say("end-lost", seen=shorten(world.cache.value if world.cache is not None else stored)))
    values = writer_values(race)
    for client, hand in enumerate(replay.hands):
        if hand.stale and values[client] is None:
            lines.append(say("end-stale-read", client=race.letters[client], value=shorten(hand.value)))
    return lines
