"""The cards a learner builds a read path and a write path from, the clients that run them, the presets, and
the rules a race must keep (`Race.problems`): plain data, no calls.

A path is an ordered list of cards; each card is one turn of its client, and one turn is what another client can
never come between (one call, or one script: see `program`). The search (`explorer`) tries every order in which
the clients' turns can come; a fault, when the learner asks for one, makes one card's call fail as one more branch.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Literal

from ..assets import ASSETS, markdown_sections

Side = Literal["read", "write"]
Component = Literal["cache", "database"]
MAX_CARDS = 6                   # per path: 2 clients × 6 cards is 924 interleavings, 3 × 6 far more (see explorer)


@dataclass(frozen=True)
class Card:
    code: str                   # as links, widgets and tests name it: "GET", "SET-TTL"
    side: Side
    label: str                  # as the page shows it on the card
    calls: frozenset[str]       # the components its call reaches: a fault can only hit one of these
    background: bool = False    # a write's card that runs after the write has answered its client
    loads: bool = False         # a read's card that puts a value in hand
    stores: bool = False        # a read's card that stores the value in hand


CACHE, DATABASE = frozenset({"cache"}), frozenset({"database"})
READ_CARDS: dict[str, Card] = {card.code: card for card in (
    Card("GET", "read", "GET", CACHE),
    Card("GET-LEASE", "read", "GET with lease", CACHE),
    Card("GET-QUEUED", "read", "GET the queued write", CACHE, loads=True),
    Card("SELECT", "read", "SELECT", DATABASE, loads=True),
    Card("SET", "read", "SET", CACHE, stores=True),
    Card("SET-NX", "read", "SET NX", CACHE, stores=True),
    Card("SET-LEASE", "read", "SET with lease", CACHE, stores=True),
    Card("SET-TTL", "read", "SET with a TTL", CACHE, stores=True),
)}
WRITE_CARDS: dict[str, Card] = {card.code: card for card in (
    Card("UPDATE", "write", "UPDATE the database", DATABASE),
    Card("DEL", "write", "DEL the cache", CACHE),
    Card("SET", "write", "SET the cache", CACHE),
    Card("SET-TTL", "write", "SET the cache with a TTL", CACHE),
    Card("DEL-LEASE", "write", "DEL under a lease", CACHE),
    Card("QUEUE", "write", "SET and queue", CACHE),
    Card("FLUSH", "write", "flush the queue", CACHE | DATABASE, background=True),
    Card("DEL-LATER", "write", "delayed second DEL", CACHE, background=True),
)}
CARDS: dict[Side, dict[str, Card]] = {"read": READ_CARDS, "write": WRITE_CARDS}

# Who runs which path: each client is a letter (the diagram's colours) and a role.
CLIENTS: dict[str, tuple[Side, ...]] = {
    "rw": ("read", "write"),              # A reads, B writes
    "ww": ("write", "write"),             # A and B write
    "rrw": ("read", "read", "write"),     # A and B read, C writes
}
LETTERS = "ABC"


@dataclass(frozen=True)
class Fault:
    """The learner's fault: `component` fails at the `card`-th card (1-based) of client `client`'s path."""

    component: Component
    client: str
    card: int

    @property
    def code(self) -> str:
        """As a link says it: "db:B2" or "cache:A3"."""
        return f"{'db' if self.component == 'database' else 'cache'}:{self.client}{self.card}"

    @classmethod
    def parse(cls, code: str) -> Fault:
        """A fault from its code; ValueError if it is not one."""
        component, sep, where = code.partition(":")
        if not sep or component not in ("db", "cache") or len(where) < 2 or where[0] not in LETTERS \
                or not where[1:].isdigit():
            raise ValueError(code)
        return cls("database" if component == "db" else "cache", where[0], int(where[1:]))


@dataclass(frozen=True)
class Race:
    """What the learner asks the lab to search: a read path, a write path (card codes, in order), who runs them,
    and an optional fault."""

    read: tuple[str, ...]
    write: tuple[str, ...]
    clients: str = "rw"
    fault: Fault | None = None

    @property
    def roles(self) -> tuple[Side, ...]:
        return CLIENTS[self.clients]

    @property
    def letters(self) -> str:
        return LETTERS[:len(self.roles)]

    def path(self, client: int) -> tuple[Card, ...]:
        """The cards client number `client` runs (0-based)."""
        side = self.roles[client]
        return tuple(CARDS[side][code] for code in (self.read if side == "read" else self.write))

    @property
    def paths(self) -> tuple[tuple[Card, ...], ...]:
        return tuple(self.path(client) for client in range(len(self.roles)))

    def fault_at(self) -> tuple[int, int] | None:
        """(client number, card index), both 0-based, where the fault strikes; None without a fault."""
        if self.fault is None:
            return None
        return self.letters.index(self.fault.client), self.fault.card - 1

    def problems(self) -> list[str]:
        """What is wrong with this race, in the learner's words (empty: it can be searched)."""
        found: list[str] = []
        if self.clients not in CLIENTS:
            return [say("problem-clients", clients=self.clients)]
        for side, codes in (("read", self.read), ("write", self.write)):
            needed = side in self.roles
            found += path_problems(side, codes, needed)
        if self.fault is not None and not found:
            found += self._fault_problems()
        return found

    def _fault_problems(self) -> list[str]:
        fault = self.fault
        if fault.client not in self.letters:
            return [say("problem-fault-client", client=fault.client, letters=", ".join(self.letters))]
        path = self.path(self.letters.index(fault.client))
        if not 1 <= fault.card <= len(path):
            return [say("problem-fault-card", client=fault.client, card=fault.card, cards=len(path))]
        card = path[fault.card - 1]
        if fault.component not in card.calls:
            return [say("problem-fault-component", client=fault.client, card=fault.card, label=card.label,
                        component=fault.component)]
        return []


def path_problems(side: Side, codes: tuple[str, ...], needed: bool = True) -> list[str]:
    """Why a path of these cards cannot run (the Parsons rules), in the learner's words."""
    deck = CARDS[side]
    unknown = [code for code in codes if code not in deck]
    if unknown:
        return [say("problem-unknown", side=side, code=unknown[0])]
    if len(set(codes)) != len(codes):
        return [say("problem-twice", side=side)]
    if len(codes) > MAX_CARDS:
        return [say("problem-long", side=side, most=MAX_CARDS)]
    if not codes:
        return [say("problem-empty", side=side)] if needed else []
    cards = [deck[code] for code in codes]
    found = []
    if side == "read":
        first_load = next((i for i, card in enumerate(cards) if card.loads), len(cards))
        for i, card in enumerate(cards):
            if card.stores and i < first_load:
                found.append(say("problem-store-first", label=card.label))
        if "SET-LEASE" in codes and ("GET-LEASE" not in codes or codes.index("GET-LEASE") > codes.index("SET-LEASE")):
            found.append(say("problem-lease"))
    else:
        last_foreground = max((i for i, card in enumerate(cards) if not card.background), default=-1)
        if last_foreground < 0:
            found.append(say("problem-all-background"))
        for i, card in enumerate(cards):
            if card.background and i < last_foreground:
                found.append(say("problem-background-first", label=card.label))
        if "FLUSH" in codes and ("QUEUE" not in codes or codes.index("QUEUE") > codes.index("FLUSH")):
            found.append(say("problem-flush"))
    return found


@dataclass(frozen=True)
class Preset:
    slug: str
    title: str
    read: tuple[str, ...]
    write: tuple[str, ...]
    clients: str = "rw"          # the clients that show what this preset is about


CACHE_ASIDE_READ = ("GET", "SELECT", "SET-TTL")
PRESETS: dict[str, Preset] = {preset.slug: preset for preset in (
    Preset("cache-aside", "Cache-aside (update, then delete)", CACHE_ASIDE_READ, ("UPDATE", "DEL")),
    Preset("read-through", "Read-through", CACHE_ASIDE_READ, ("UPDATE", "DEL")),
    Preset("write-through", "Write-through", CACHE_ASIDE_READ, ("UPDATE", "SET-TTL")),
    Preset("write-behind", "Write-behind", ("GET", "GET-QUEUED", "SELECT", "SET-TTL"), ("QUEUE", "FLUSH")),
    Preset("leases", "Cache-aside with leases", ("GET-LEASE", "SELECT", "SET-LEASE"), ("UPDATE", "DEL-LEASE"),
           "rrw"),
    Preset("delete-then-update", "Mistake: delete, then update", CACHE_ASIDE_READ, ("DEL", "UPDATE")),
    Preset("update-then-set", "Mistake: update, then set", CACHE_ASIDE_READ, ("UPDATE", "SET"), "ww"),
    Preset("set-then-update", "Mistake: set, then update", CACHE_ASIDE_READ, ("SET", "UPDATE")),
    Preset("delayed-double-delete", "Delayed double delete", CACHE_ASIDE_READ, ("UPDATE", "DEL", "DEL-LATER"),
           "rrw"),
)}


TEXT_FILE = ASSETS / "find_the_race.md"


@cache
def text() -> dict[str, str]:
    """The page's and the report's sentences, from assets/find_the_race.md (read once)."""
    return markdown_sections(TEXT_FILE)


def say(name: str, **fields: object) -> str:
    """One section of assets/find_the_race.md, its {fields} filled in."""
    template = text()[name]
    return template.format(**fields) if fields else template
