"""What a pattern or a part declares for the page, as data: its knobs (settings and faults) and its actions.

The page draws every knob of a lab the same way (`Lab.page_knobs()`: TTL, the pattern's own, each part's,
then the faults), a share link carries each by name (`s~<name>~<value>`, read back by `Knob.decode`), a
scenario sets it by the lab attribute it names, and "Reset my lab" turns the faults off. An action is a
request button beside Read and Write ("Flush now"), carried by a link as its letter (`do=<kind>`).

A part declares its own in its class, and the page shows them with no page edit (features/eviction.py,
features/flusher.py):

    class Eviction(Part):
        knobs = (Knob("maxmemory", "Memory limit (bytes)", "number", 0, "maxmemory", low=0, high=1_048_576,
                      step=64, help="maxmemory-help", zero_is_none=True),
                 Knob("maxmemory-policy", "Eviction policy", "choice", "noeviction", "maxmemory_policy",
                      choices=POLICIES, help="maxmemory-policy-help"))

    class Flusher(Part):
        actions = (LabAction("f", "Flush now", ":material/cleaning_services:", "flush-help", lambda lab: lab.flush()),)

(a help id is a `## <id>` section of assets/ui.md; a pattern lists its own knobs the same way, in its class).
The page groups them by who declares them (`Lab.knob_groups`): the pattern's own under its title, each part's
under the part's `heading`, the faults last.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, NamedTuple

if TYPE_CHECKING:
    from .trace import Trace

# How the page draws a knob: a switch, a number field, one of a few choices side by side, a slider over
# ordered choices.
KnobKind = Literal["toggle", "number", "choice", "scale"]


@dataclass(frozen=True)
class Knob:
    """One setting or fault of a lab. Its page value (what the widget shows: a bool, a number, a choice) is
    turned into the lab's (`lab_value`) when it is applied, and back (`page_value`) when a scenario set it."""

    name: str                        # its name in share links and on the page ("negative-ttl")
    label: str                       # the widget's label ("Negative TTL (s)")
    kind: KnobKind
    default: object                  # the page value of a fresh page: bool, int or float (the number's type), choice
    attribute: str                   # the lab attribute it sets: "negative_ttl", or a path ("db.down")
    low: float | None = None         # a number's bounds and step
    high: float | None = None
    step: float | None = None
    choices: tuple[str, ...] = ()    # a choice's or scale's options, in order
    means: tuple[Any, ...] = ()      # the lab value of each choice, if not the choice itself
    help: str = ""                   # the id of its help text in assets/ui.md
    fault: bool = False              # "Reset my lab" turns it off; a scenario starts with it off
    zero_is_none: bool = False       # a number whose 0 means "off" / "no limit": None on the lab
    locked: Callable[[Any], bool] | None = None   # while it holds for the lab, the knob shows but does not apply

    def lab_value(self, value: object) -> object:
        """The lab's value for this page value."""
        if self.kind == "toggle":
            return bool(value)
        if self.kind == "number":
            number = float(value) if isinstance(self.default, float) else int(value)
            return None if self.zero_is_none and not number else number
        if value not in self.choices:
            value = self.default
        return self.means[self.choices.index(value)] if self.means else value

    def page_value(self, value: object) -> object:
        """The page value that gives the lab `value` (a scenario's knob, shown on the page)."""
        if value is None and self.zero_is_none:
            return 0
        if self.means and value in self.means:
            return self.choices[self.means.index(value)]
        return value

    def is_locked(self, lab: Any) -> bool:
        return self.locked is not None and self.locked(lab)

    def apply(self, lab: Any, value: object) -> None:
        """Set the lab's attribute from a page value (unless the knob is locked for now)."""
        if self.is_locked(lab):
            return
        *path, last = self.attribute.split(".")
        owner = lab
        for name in path:
            owner = getattr(owner, name)
        setattr(owner, last, self.lab_value(value))

    def encode(self, value: object) -> str:
        """A page value as a share link writes it."""
        if isinstance(value, bool):
            return "1" if value else "0"
        return f"{value:g}" if isinstance(value, float) else str(value)

    def decode(self, text: str) -> object:
        """A page value from a share link, typed like the default and within the bounds; ValueError if it
        cannot be one."""
        if isinstance(self.default, bool):
            if text not in {"0", "1"}:
                raise ValueError(text)
            return text == "1"
        if isinstance(self.default, int):
            value: object = int(text)
        elif isinstance(self.default, float):
            value = float(text)
            if not math.isfinite(value):
                raise ValueError(text)
        else:
            value = text
        if self.choices and value not in self.choices:
            raise ValueError(text)
        if (self.low is not None and value < self.low) or (self.high is not None and value > self.high):
            raise ValueError(text)
        return value


class KnobGroup(NamedTuple):
    """Knobs drawn together under one heading: the pattern's own, one part's, or the faults."""

    heading: str                     # the id of its heading in assets/ui.md ("{title}": the pattern's title)
    note: str                        # the id of a sentence said under the heading; "": none
    knobs: tuple[Knob, ...]


@dataclass(frozen=True)
class LabAction:
    """A request button a pattern or part adds beside Read and Write, and its letter in share links."""

    kind: str                        # its letter in a link (`do=<kind>`): one no other action and no request uses
    label: str                       # the button's words
    icon: str                        # a Material icon, ":material/<name>:"
    help: str                        # the id of its help text in assets/ui.md
    perform: Callable[[Any], Trace]  # what it does to the lab; the trace it made


# Every action any pattern or part declares, by its letter: a share link may name any of them (the page
# then checks that its own lab has it). Filled as the classes that declare them are defined.
ACTIONS: dict[str, LabAction] = {}
REQUEST_KINDS = frozenset("rwxts")     # the requests every lab takes (strategies.share)


def declare_actions(actions: Iterable[LabAction]) -> None:
    """Make these actions' letters known to share links; a letter may name one action only. (The same action
    declared again, by a module imported afresh, replaces itself.)"""
    for action in actions:
        known = ACTIONS.get(action.kind)
        if action.kind in REQUEST_KINDS or (known is not None and known.label != action.label):
            raise ValueError(f"the action letter {action.kind!r} of {action.label!r} is taken")
        ACTIONS[action.kind] = action


# ---- the knobs every lab has --------------------------------------------------------------------------
TTL = Knob("ttl", "TTL (seconds)", "number", 60, "ttl_seconds", low=0, high=86_400, step=10, help="ttl-help",
           zero_is_none=True)
FAULTS = (
    Knob("cache-down", "Cache down", "toggle", False, "cache_down", help="cache-down-help", fault=True),
    Knob("down", "Database down", "toggle", False, "db.down", help="db-down-help", fault=True),
    Knob("slow", "Database speed", "scale", "normal", "db.slowdown", choices=("normal", "5× slower", "20× slower"),
         means=(1.0, 5.0, 20.0), help="db-speed-help", fault=True),
)
