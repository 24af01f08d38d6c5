"""The Scenario picker, and loading a scenario (also from a link: `links.py`).

A slug may run on several pages (the expiry and near-cache scenarios run on cache-aside and read-through): a
page looks a scenario up by its own pattern and the slug (`strategies.scenarios.find`), and its picker lists
what runs on it. Loading a scenario resets this page's lab, runs the scenario's script against it (real
requests, as always), and puts the knobs it used into the page's own settings, so the More menu shows them and
the requests a learner sends afterwards behave the same way. Its link starts afresh from it. A scenario this
lab's cache cannot run (it needs a real server's feature) is marked in the picker; loading it says why and
changes nothing.
"""

from __future__ import annotations

import streamlit as st

from strategies import Lab
from strategies.narration import shorten
from strategies.scenario import Scenario, run_scenario
from strategies.scenarios import SCENARIOS, find, pages_of, runs_on

from . import links, playback
from .learner import flash, learner, safely
from .state import PageState
from .text import page_file, say

FREE = ""


def why_not(pattern: str, slug: str, lab: Lab) -> str | None:
    """Why `slug` cannot be loaded on `pattern`'s page, in a sentence (None: it can): no such scenario, it runs
    on another page (which), or this lab's cache cannot run it (why)."""
    scenario = find(pattern, slug)
    if scenario is not None:
        why = scenario.unavailable(lab)
        return None if why is None else say("scenario-unavailable", title=scenario.title, why=why)
    elsewhere = pages_of(slug)
    if elsewhere:
        return say("scenario-other-page", title=SCENARIOS[slug].title,
                   page=" or ".join(f"/{page_file(pattern)}" for pattern in elsewhere))
    return say("scenario-unknown", slug=shorten(slug))


@safely
def load(page: PageState, slug: str, step: int | None = None) -> None:
    session = learner()
    lab = session.lab(page.pattern)
    refused = why_not(page.pattern, slug, lab)
    if refused is not None:
        flash(say("scenario-not-loaded", reason=refused), "warning")
        st.session_state[page.key("scenario-choice")] = shown(page)     # the picker says what is on screen
        return
    scenario = find(page.pattern, slug)
    page.in_flight.clear()
    page.live_scene.clear()
    run = run_scenario(scenario, lab)
    session.follow_wall_clock(lab, catch_up=False)     # the scenario's clock starts now, not at the last click
    remember_knobs(page, lab, scenario.knobs)
    pb = playback.Playback(run.scenes, 1, playing=False, scenario=slug, summary=run.what_you_saw, chart=run.chart)
    if step is not None:
        pb.frame = min(max(step, 1), pb.total)
        if pb.frame != step:
            flash(say("scenario-step-clamped", asked=step, total=pb.total, shown=pb.frame), "info")
    playback.show(page, pb)
    links.start(page, slug)
    st.session_state[page.key("scenario-choice")] = slug
    if not st.session_state.get("present"):      # on a slide the toast would cover the scenario's caption
        st.toast(say("scenario-loaded"))


def remember_knobs(page: PageState, lab: Lab, knobs: dict) -> None:
    """The scenario's knobs become the page's settings; its faults are off (the script restored them). The
    learner's own settings are kept aside (from before the first scenario), for free play to give back."""
    settings = [knob for knob in lab.page_knobs() if not knob.fault]
    if page.own_settings is None:
        page.own_settings = {knob.name: page.value(knob) for knob in settings}
    for knob in settings:
        if knob.attribute in knobs:
            page.remember(knob, knob.page_value(knobs[knob.attribute]))
    for knob in lab.page_knobs():
        if knob.fault:
            page.remember(knob, knob.default)


def picked(page: PageState) -> None:
    slug = st.session_state.get(page.key("scenario-choice")) or FREE
    if slug == FREE:
        free_play(page)
        return
    load(page, slug)


@safely
def free_play(page: PageState) -> None:
    """Leave the scenario: this page's lab starts afresh with the learner's own settings back, and so does
    its link."""
    session = learner()
    lab = session.lab(page.pattern)
    own, page.own_settings = page.own_settings, None
    for knob in lab.page_knobs():
        if own is not None and not knob.fault and knob.name in own:
            page.remember(knob, own[knob.name])
    page.forget_requests()
    lab.reset(restart_clock=True)
    session.follow_wall_clock(lab, catch_up=False)
    links.start(page, None)
    st.toast(say("free-play"))


def shown(page: PageState) -> str:
    """The picker's value for what the diagram shows: the scenario loaded, or free play."""
    pb = playback.playback(page)
    return pb.scenario if pb is not None and pb.scenario is not None else FREE


def title_in_picker(scenario: Scenario, lab: Lab) -> str:
    """A scenario's title as the picker lists it: marked when this lab's cache cannot run it."""
    return scenario.title if scenario.unavailable(lab) is None else say("scenario-needs-server", title=scenario.title)


def picker(page: PageState, *, labelled: bool = True) -> None:
    """The Scenario picker: the scenarios that run on this page; presenting, without its visible label (a slide's
    row is one line high). It stretches over the room the row leaves, between bounds the page's CSS sets
    (`routing.CSS`): a full row cuts its title short rather than wrap More onto a line of its own."""
    lab = learner().lab(page.pattern)
    titles = {scenario.slug: title_in_picker(scenario, lab) for scenario in runs_on(page.pattern)}
    options = [FREE, *titles]
    key = page.key("scenario-choice")
    if st.session_state.get(key) not in options:
        st.session_state[key] = FREE
    st.selectbox("Scenario", options, key=key, on_change=picked, args=(page,),
                 format_func=lambda slug: titles[slug] if slug else say("scenario-free"),
                 help=say("scenario-help"), width="stretch", label_visibility="visible" if labelled else "collapsed")
