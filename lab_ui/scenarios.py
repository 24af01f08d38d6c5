"""The Scenario picker, and `?scenario=<slug>&step=<n>` links that open a page with a scenario loaded.

Loading a scenario resets this page's lab, runs the scenario's script against it (real requests, as
always), and puts the settings it used into the page's own settings, so the popover shows them and the
requests a learner sends afterwards behave the same way.
"""

from __future__ import annotations

import streamlit as st

from strategies.narration import shorten
from strategies.scenario import run_scenario
from strategies.scenarios import SCENARIOS, for_pattern

from . import clients, playback
from .controls import FAULTS, TTL, Setting
from .learner import flash, learner, safely
from .text import say

FREE = ""


def choice_key(pattern: str) -> str:
    return f"{pattern}:scenario-choice"


@safely
def load(pattern: str, slug: str, settings: tuple[Setting, ...], step: int | None = None) -> None:
    scenario = SCENARIOS.get(slug)
    if scenario is None or scenario.pattern != pattern:
        flash(say("scenario-unknown", slug=shorten(slug)), "warning")
        return
    session = learner()
    lab = session.lab(pattern)
    clients.forget(pattern)
    run = run_scenario(scenario, lab)
    session.follow_wall_clock(lab, catch_up=False)     # the scenario's clock starts now, not at the last click
    remember_knobs(pattern, settings, scenario.knobs)
    pb = playback.Playback(run.scenes, 1, playing=False, scenario=slug, summary=run.what_you_saw)
    if step is not None:
        pb.frame = min(max(step, 1), pb.total)
        if pb.frame != step:
            flash(say("scenario-step-clamped", asked=step, total=pb.total, shown=pb.frame), "info")
    playback.show(pattern, pb)
    st.session_state[choice_key(pattern)] = slug
    st.query_params["scenario"] = slug
    st.toast(say("scenario-loaded"))


def remember_knobs(pattern: str, settings: tuple[Setting, ...], knobs: dict) -> None:
    """The scenario's knobs become the page's settings; its faults are off (the script restored them)."""
    for setting in (TTL, *settings):
        if setting.knob in knobs:
            value = knobs[setting.knob]
            setting.remember(pattern, 0 if value is None else value)
    for setting in FAULTS:
        setting.remember(pattern, setting.default)


def picked(pattern: str, settings: tuple[Setting, ...]) -> None:
    slug = st.session_state.get(choice_key(pattern)) or FREE
    st.query_params.pop("step", None)
    if slug == FREE:
        st.query_params.pop("scenario", None)
        st.session_state.pop(url_key(pattern), None)
        pb = playback.playback(pattern)
        if pb is not None and pb.scenario is not None:
            st.session_state.pop(playback.key(pattern), None)
        return
    st.session_state[url_key(pattern)] = f"{slug}|"
    load(pattern, slug, settings)


def url_key(pattern: str) -> str:
    return f"{pattern}:scenario-url"


def from_url(pattern: str, settings: tuple[Setting, ...]) -> None:
    """Load the scenario a link names, once per link (a rerun of the same URL does not reload it)."""
    slug = st.query_params.get("scenario")
    if not slug:
        return
    step_text = st.query_params.get("step")
    marker = f"{slug}|{step_text or ''}"
    if st.session_state.get(url_key(pattern)) == marker:
        return
    st.session_state[url_key(pattern)] = marker
    step = None
    if step_text:
        try:
            step = int(step_text)
        except ValueError:
            flash(say("scenario-step-clamped", asked=shorten(step_text), total="a number of", shown=1), "info")
            step = 1
    load(pattern, slug, settings, step)


def picker(pattern: str, settings: tuple[Setting, ...]) -> None:
    options = [FREE] + [scenario.slug for scenario in for_pattern(pattern)]
    if st.session_state.get(choice_key(pattern)) not in options:
        st.session_state[choice_key(pattern)] = FREE
    st.selectbox("Scenario", options, key=choice_key(pattern), on_change=picked, args=(pattern, settings),
                 format_func=lambda slug: SCENARIOS[slug].title if slug else say("scenario-free"),
                 help=say("scenario-help"), width=250)
