"""What one pattern page remembers between runs: one typed `PageState` per page, and the keys of its widgets.

A page's own memory (its settings, what the diagram shows, two clients, its share link's recording, predict
mode…) lives in one object, `st.session_state["pages"][<pattern>]`, so a rerun on another thread and a
widget that is not drawn this run (the More menu is closed) lose nothing. Widgets must keep their values
under keys of their own: `PageState.key` builds every one of them, and nothing else does, as
"<pattern>:<name>" — the keys the agent API documents (`<pattern>:key`, `<pattern>:read`,
`<pattern>:forward`, `<pattern>:scenario-choice`…), so a script drives the page by them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import streamlit as st

if TYPE_CHECKING:
    from strategies import Request
    from strategies.knobs import Knob
    from strategies.quiz import Question
    from strategies.share import Action

    from .playback import Playback

PAGES = "pages"


@dataclass
class Recording:
    """The learner's free-form requests on a page, as a share link carries them (`links`)."""

    base: str | None = None                        # the scenario the requests start from, if any
    actions: list[Action] = field(default_factory=list)
    settings: dict[str, object] = field(default_factory=dict)   # as last recorded
    mark: float = 0.0                              # the lab's clock after the last recorded action
    overflow: bool = False                         # too many requests for a link
    two_clients: bool = False                      # holds two-client requests, which links do not carry

    @property
    def shareable(self) -> bool:
        return not self.overflow and not self.two_clients


@dataclass
class PageState:
    """One pattern page's memory. Its knobs' values are page values (`strategies.knobs.Knob`), applied to
    the lab on every run; a knob not in `settings` has its default."""

    pattern: str
    settings: dict[str, object] = field(default_factory=dict)    # knob name -> page value
    own_settings: dict[str, object] | None = None   # the learner's own, kept aside while a scenario is loaded
    playback: Playback | None = None                # what the diagram shows, and at which step
    speed: str | None = None                        # the playback speed's name ("1×")
    two_clients: bool = False
    client: str = "A"                               # who sends the next Read or Write in two-client mode
    in_flight: dict[str, Request] = field(default_factory=dict)   # client -> its request still in flight
    live_scene: list[int] = field(default_factory=list)           # the requests of the two-client diagram
    recording: Recording | None = None              # what its share link carries
    url_written: tuple | None = None                # what the URL said when this page last wrote it
    predict: bool = False                           # "Predict each step" is on
    question: tuple[tuple[int, int], Question] | None = None      # (which frame it is about, the question)
    feedback: tuple[str, str] | None = None         # (kind, text) of the verdict on the last answer
    section: str | None = None                      # the explanation's section last chosen

    def key(self, name: str) -> str:
        """The key of this page's widget `name` ("cache-aside:read"): the one place such keys are built."""
        return f"{self.pattern}:{name}"

    def box(self, name: str) -> str:
        """The key of this page's container `name` ("cache-aside-controls"; the page's CSS finds it by it)."""
        return f"{self.pattern}-{name}"

    def value(self, knob: Knob) -> object:
        return self.settings.get(knob.name, knob.default)

    def remember(self, knob: Knob, value: object) -> None:
        """Set a knob from outside its widget (a scenario, a link): the widget starts from it when next drawn."""
        self.settings[knob.name] = value
        st.session_state.pop(self.key(f"{knob.name}:widget"), None)

    def forget_requests(self) -> None:
        """The lab under this page was reset: its requests in flight, diagram, and link are gone."""
        self.in_flight.clear()
        self.live_scene.clear()
        self.playback = None
        self.recording = None


def page_state(pattern: str) -> PageState:
    """This session's state of the page of `pattern`, made on first use."""
    found = st.session_state.setdefault(PAGES, {})
    if pattern not in found:
        found[pattern] = PageState(pattern)
    return found[pattern]


def visited() -> list[PageState]:
    """The states of every page this session has opened."""
    return list(st.session_state.get(PAGES, {}).values())
