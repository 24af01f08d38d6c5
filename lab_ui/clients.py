"""Two clients, stepped by hand: requests in flight on one lab, and the learner chooses who moves next.

In two-client mode Read and Write start a request for the chosen client and perform its first step;
"A: next step" / "B: next step" advance one client, "to the end" finishes its request. Every request
started while another is still in flight joins the same diagram, so the interleaving reads at a glance.
"""

from __future__ import annotations

import streamlit as st

from strategies import Request
from strategies.scenario import Scene

from . import playback
from .learner import flash, learner, safely
from .text import say

CLIENTS = ("A", "B")


def in_flight(pattern: str) -> dict[str, Request]:
    """Client -> its request still in flight on this page."""
    return st.session_state.setdefault(f"{pattern}:in-flight", {})


def scene_numbers(pattern: str) -> list[int]:
    return st.session_state.setdefault(f"{pattern}:live-scene", [])


def forget(pattern: str) -> None:
    """Requests in flight are abandoned (the lab was reset under them)."""
    st.session_state.pop(f"{pattern}:in-flight", None)
    st.session_state.pop(f"{pattern}:live-scene", None)


def busy(pattern: str) -> bool:
    """Some client still has a request in flight."""
    return any(not request.done for request in in_flight(pattern).values())


def enabled(pattern: str) -> bool:
    return bool(st.session_state.get(f"{pattern}:two-clients", False))


def chosen(pattern: str) -> str:
    client = st.session_state.get(f"{pattern}:client")
    return client if client in CLIENTS else "A"


def start(pattern: str, begin) -> None:
    """`begin(lab, client)` returns the Request to start for the chosen client; its first step runs now."""
    client = chosen(pattern)
    flying = in_flight(pattern)
    current = flying.get(client)
    if current is not None and not current.done:
        flash(say("client-busy", client=client, number=current.trace.number), "warning")
        return
    lab = learner().lab(pattern)
    request = begin(lab, client)
    numbers = scene_numbers(pattern)
    if not busy(pattern):
        numbers.clear()                   # nobody else is in flight: a new diagram begins
    flying[client] = request
    numbers.append(request.trace.number)
    request.advance()
    show(pattern)


@safely
def advance(pattern: str, client: str, to_end: bool = False) -> None:
    request = in_flight(pattern).get(client)
    if request is None or request.done:
        flash(say("client-nothing", client=client), "info")
        return
    if to_end:
        request.run()
    elif request.advance() is None:
        # Its last call was already on the diagram: this click only completed it, so say so (no arrow moves).
        flash(say("client-finished", client=client, number=request.trace.number, outcome=request.trace.outcome),
              "info")
    show(pattern)


def show(pattern: str) -> None:
    """The diagram follows the requests of this interleaving, at their latest step."""
    lab = learner().lab(pattern)
    flying = in_flight(pattern)
    traces = [trace for number in scene_numbers(pattern) if (trace := lab.request(number)) is not None]
    if not traces:
        return
    scene = Scene.of_traces(traces)
    if not scene.steps:
        return
    waiting = {client: request.trace.number for client, request in flying.items() if not request.done}
    for client in [client for client, request in flying.items() if request.done]:
        del flying[client]
    pb = playback.Playback([scene], len(scene.steps), playing=False, clients=waiting)
    playback.show(pattern, pb)


def client_buttons(pattern: str) -> None:
    """Per client with a request in flight: one step, or to its end."""
    for client, request in sorted(in_flight(pattern).items()):
        if request.done:
            continue
        st.button(f"{client}: next step", key=f"{pattern}:next-{client}", icon=":material/redo:", shortcut=client,
                  on_click=advance, args=(pattern, client), help=f"Request #{request.trace.number}")
        st.button(f"{client}: to the end", key=f"{pattern}:end-{client}", icon=":material/fast_forward:",
                  on_click=advance, args=(pattern, client, True))
