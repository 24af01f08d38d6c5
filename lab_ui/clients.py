"""Two clients, stepped by hand: requests in flight on one lab, and the learner chooses who moves next.

In two-client mode Read and Write start a request for the chosen client and perform its first step;
"A: next step" / "B: next step" advance one client, "to the end" finishes its request. Every request
started while another is still in flight joins the same diagram, so the interleaving reads at a glance.

A lab may serve its clients from several app instances (`Lab.app_of`: client A's requests on one, B's on
another). Then, outside two-client mode too, the learner chooses which instance serves the next Read or Write
("Send via"): the request is sent as that instance's client, so a share link (which carries the client) replays
it there.
"""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st

from strategies import Lab, Request
from strategies.scenario import Scene

from . import playback
from .learner import flash, learner, safely
from .state import PageState
from .text import say

CLIENTS = ("A", "B")


def busy(page: PageState) -> bool:
    """Some client still has a request in flight."""
    return any(not request.done for request in page.in_flight.values())


def chosen(page: PageState) -> str:
    return page.client if page.client in CLIENTS else "A"


def instances(lab: Lab) -> dict[str, str]:
    """Client -> the app instance that serves its requests, for the clients a learner sends as."""
    return {client: lab.app_of(client) for client in CLIENTS}


def several_instances(lab: Lab) -> bool:
    return len(set(instances(lab).values())) > 1


def sender(page: PageState, lab: Lab) -> str:
    """Who sends a free-form Read or Write: client A, unless the lab has several app instances and the learner
    chose another's."""
    return chosen(page) if several_instances(lab) else "A"


def start(page: PageState, begin: Callable[[Lab, str], Request]) -> None:
    """`begin(lab, client)` returns the Request to start for the chosen client; its first step runs now."""
    client = chosen(page)
    flying = page.in_flight
    current = flying.get(client)
    if current is not None and not current.done:
        flash(say("client-busy", client=client, number=current.trace.number), "warning")
        return
    lab = learner().lab(page.pattern)
    request = begin(lab, client)
    numbers = page.live_scene
    if not busy(page):
        numbers.clear()                   # nobody else is in flight: a new diagram begins
    flying[client] = request
    numbers.append(request.trace.number)
    request.advance()
    show(page)


@safely
def advance(page: PageState, client: str, to_end: bool = False) -> None:
    request = page.in_flight.get(client)
    if request is None or request.done:
        flash(say("client-nothing", client=client), "info")
        return
    if to_end:
        request.run()
    elif request.advance() is None:
        # Its last call was already on the diagram: this click only completed it, so say so (no arrow moves).
        flash(say("client-finished", client=client, number=request.trace.number, outcome=request.trace.outcome),
              "info")
    show(page)


def show(page: PageState) -> None:
    """The diagram follows the requests of this interleaving, at their latest step."""
    lab = learner().lab(page.pattern)
    flying = page.in_flight
    traces = [trace for number in page.live_scene if (trace := lab.request(number)) is not None]
    if not traces:
        return
    scene = Scene.of_traces(traces)
    if not scene.steps:
        return
    waiting = {client: request.trace.number for client, request in flying.items() if not request.done}
    for client in [client for client, request in flying.items() if request.done]:
        del flying[client]
    pb = playback.Playback([scene], len(scene.steps), playing=False, clients=waiting)
    playback.show(page, pb)


# ---- the widgets -----------------------------------------------------------------------------------------
def keep_two_clients(page: PageState) -> None:
    page.two_clients = bool(st.session_state.get(page.key("two-clients:widget")))


def two_clients_toggle(page: PageState) -> None:
    st.session_state[page.key("two-clients:widget")] = page.two_clients
    st.toggle("Two clients", key=page.key("two-clients:widget"), on_change=keep_two_clients, args=(page,),
              help=say("two-clients-help"))


def keep_client(page: PageState, widget: str) -> None:
    picked = st.session_state.get(page.key(widget))
    if picked in CLIENTS:
        page.client = picked


def client_row(page: PageState, lab: Lab, *, sending: bool = True) -> None:
    """Two-client mode: who sends the next Read or Write, and each client's request in flight. Outside it, on a
    lab with several app instances: which instance serves the next Read or Write (unless the page shows no Read
    and Write: `sending` False, presenting)."""
    several = several_instances(lab)
    if not page.two_clients and not busy(page) and not (several and sending):
        return
    served_by = instances(lab)
    with st.container(horizontal=True, vertical_alignment="center"):
        if page.two_clients:
            st.session_state[page.key("client:widget")] = chosen(page)
            st.segmented_control("Send as", list(CLIENTS), key=page.key("client:widget"), on_change=keep_client,
                                 args=(page, "client:widget"), label_visibility="collapsed",
                                 format_func=lambda client: f"Client {client}" + (f" · {served_by[client]}"
                                                                                  if several else ""))
        elif several and sending:     # one line: its words beside it, not above it
            st.markdown("Send via", width="content", help=say("send-via-help", instances=", ".join(
                f"client {client} on {app}" for client, app in served_by.items())))
            st.session_state[page.key("via:widget")] = chosen(page)
            st.segmented_control("Send via", list(CLIENTS), key=page.key("via:widget"), on_change=keep_client,
                                 args=(page, "via:widget"), format_func=lambda client: served_by[client],
                                 label_visibility="collapsed")
        client_buttons(page)


def client_buttons(page: PageState) -> None:
    """Per client with a request in flight: one step, or to its end."""
    for client, request in sorted(page.in_flight.items()):
        if request.done:
            continue
        st.button(f"{client}: next step", key=page.key(f"next-{client}"), icon=":material/redo:", shortcut=client,
                  on_click=advance, args=(page, client), help=f"Request #{request.trace.number}")
        st.button(f"{client}: to the end", key=page.key(f"end-{client}"), icon=":material/fast_forward:",
                  on_click=advance, args=(page, client, True))
