"""The requests a learner sends: Key and Value, Read and Write, and the buttons the lab's parts add.

Every button acts through an `on_click` callback wrapped in `safely`: callbacks run before the rerun
draws anything, so every widget shows the state its click produced, and nothing a click runs into can
reach the learner as a traceback.
"""

from __future__ import annotations

import streamlit as st

from strategies import Lab
from strategies.database import SEED_ROWS
from strategies.share import Action, perform

from . import clients, links, playback
from .learner import flash, learner, safely
from .state import PageState
from .text import say


def send(page: PageState, action: Action) -> None:
    """A free-form request: performed, recorded for share links, and played."""
    lab = learner().lab(page.pattern)
    traces = links.record(page, action, lambda: perform(lab, action))
    if traces:
        playback.play(page, traces[-1])


@safely
def send_read(page: PageState) -> None:
    key = st.session_state.get(page.key("key"), "")
    if page.two_clients:
        links.two_clients_used(page)
        clients.start(page, lambda lab, client: lab.start_read(key, client=client))
        return
    send(page, Action("r", key=key, client=clients.sender(page, learner().lab(page.pattern))))


@safely
def send_write(page: PageState) -> None:
    key, value = st.session_state.get(page.key("key"), ""), st.session_state.get(page.key("value"), "")
    if not value:
        flash(say("no-value"))
        return
    if page.two_clients:
        links.two_clients_used(page)
        clients.start(page, lambda lab, client: lab.start_write(key, value, client=client))
        return
    send(page, Action("w", key=key, value=value, client=clients.sender(page, learner().lab(page.pattern))))


@safely
def send_action(page: PageState, kind: str) -> None:
    send(page, Action(kind))


def inputs(page: PageState) -> None:
    """Key and Value, drawn into the row the page is filling."""
    st.session_state.setdefault(page.key("key"), "user:1")
    st.text_input("Key", key=page.key("key"), width=110)
    st.text_input("Value", key=page.key("value"), placeholder="e.g. Ada", width=110)


def request_buttons(page: PageState, lab: Lab) -> None:
    """Read, Write, and each button the lab's pattern and parts declare (`Lab.page_actions`)."""
    st.button("Read", type="primary", key=page.key("read"), icon=":material/download:", on_click=send_read,
              args=(page,))
    st.button("Write", key=page.key("write"), icon=":material/upload:", on_click=send_write, args=(page,))
    for action in lab.page_actions():
        st.button(action.label, key=page.key(action.label), icon=action.icon, help=say(action.help),
                  on_click=send_action, args=(page, action.kind))


def pick_seeded_key(page: PageState) -> None:
    picked = st.session_state.get(page.key("pick"))
    if picked:
        st.session_state[page.key("key")] = picked
        st.session_state[page.key("pick")] = None


def seeded_keys(page: PageState) -> None:
    """The seeded rows' keys, as pills that fill in the Key (drawn in the More menu)."""
    st.pills(say("menu-keys"), [key for key, _ in SEED_ROWS[:4]], key=page.key("pick"), on_change=pick_seeded_key,
             args=(page,), help=say("seeded-keys-help"))
