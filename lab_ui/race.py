"""The Find the race page: the learner's read and write paths built from cards, the clients and a fault, the search
(`strategies.races`) behind one button with a progress bar, its report, and the shortest bad interleaving stepped
on the normal diagram; its own share link (`race_links`). The page's text is assets/find_the_race.md.

Every widget has a stable key (`race:read-path`, `race:write-path`, `race:clients`, `race:fault`, `race:preset`,
`race:find`, `race:back`, `race:forward`), so a script can set them and press the button through the agent API.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import streamlit as st

from strategies.diagram import build_diagram
from strategies.races import CARDS, CLIENTS, PRESETS, Fault, Race, RaceLab, Report, explore, replay, upper_bound
from strategies.races.cards import say
from strategies.races.report import (
    card_help,
    clients_label,
    fault_label,
    faults,
    headline,
    intro,
    summary,
    turn_lines,
    verdict_lines,
)
from strategies.trace import Step

from . import race_links
from .routing import inject_css, inject_presenter_css

log = logging.getLogger(__name__)
PREFIX = "race:"
PATH_KEYS = {"read": PREFIX + "read-path", "write": PREFIX + "write-path"}
CLIENTS_KEY, FAULT_KEY, PRESET_KEY = PREFIX + "clients", PREFIX + "fault", PREFIX + "preset"
SHOWN, STEP = PREFIX + "shown", PREFIX + "step"
NO_FAULT, CUSTOM = "none", "custom"
PROGRESS_STEP = 0.05


@dataclass
class Shown:
    """The search on screen: the race it searched, its report, and its shortest bad interleaving replayed."""

    race: Race
    report: Report
    steps: list[Step]
    turns: list[str]                 # one line per turn, in order
    turn_of_step: list[int]          # for each step, the turn that made it
    ending: list[str]


# ---- the learner's choice, as the widgets hold it ----------------------------------------------------------------
def chosen() -> Race:
    """The race the widgets describe (possibly one with problems)."""
    state = st.session_state
    code = state.get(FAULT_KEY, NO_FAULT)
    return Race(tuple(state.get(PATH_KEYS["read"], ())), tuple(state.get(PATH_KEYS["write"], ())),
                state.get(CLIENTS_KEY, "rw"), None if code in (None, NO_FAULT) else Fault.parse(code))


def set_choice(race: Race) -> None:
    """Put `race` into the widgets (before they are drawn)."""
    state = st.session_state
    state[PATH_KEYS["read"]], state[PATH_KEYS["write"]] = list(race.read), list(race.write)
    state[CLIENTS_KEY] = race.clients
    state[FAULT_KEY] = race.fault.code if race.fault else NO_FAULT


def apply_preset() -> None:
    preset = PRESETS.get(st.session_state.get(PRESET_KEY))
    if preset is not None:
        set_choice(Race(preset.read, preset.write, preset.clients))


def matching_preset(race: Race, current: str | None) -> str:
    """The preset whose paths these are ("custom" if none): the picker says what the paths are, whoever set them.
    The one picked stays picked while its paths are on screen (read-through's cards are cache-aside's)."""
    def matches(slug: str) -> bool:
        preset = PRESETS[slug]
        return (preset.read, preset.write) == (race.read, race.write)

    if current in PRESETS and matches(current):
        return current
    return next((slug for slug in PRESETS if matches(slug)), CUSTOM)


def move(side: str, index: int, by: int) -> None:
    path = list(st.session_state.get(PATH_KEYS[side], ()))
    other = index + by
    if 0 <= index < len(path) and 0 <= other < len(path):
        path[index], path[other] = path[other], path[index]
        st.session_state[PATH_KEYS[side]] = path


# ---- the search and its interleaving -------------------------------------------------------------------------------
@st.cache_data(show_spinner=False, max_entries=64)
def searched(read: tuple[str, ...], write: tuple[str, ...], clients: str, fault: str | None) -> Report:
    """The search of one race, with a progress bar while it runs (made in here: a cached function may only update
    elements it made itself); any learner asking for the same race gets it at once."""
    race = Race(read, write, clients, Fault.parse(fault) if fault else None)
    bar = st.progress(0.0)
    shown = [-1.0]

    def progress(done: int, bound: int) -> None:
        fraction = min(done / max(bound, 1), 1.0)
        if fraction >= shown[0] + PROGRESS_STEP:
            shown[0] = fraction
            bar.progress(fraction, text=say("progress", done=f"{done:,}", bound=f"{bound:,}"))

    report = explore(race, progress=progress)
    bar.empty()
    return report


def find(race: Race, step: int = 1) -> None:
    """Search `race` and show it from step `step`; a failure is said in words, the screen left as it was."""
    try:
        report = searched(race.read, race.write, race.clients, race.fault.code if race.fault else None)
        st.session_state[SHOWN] = show(race, report)
    except Exception as err:       # noqa: BLE001 — a teaching page must never show a traceback
        log.exception("the search of %s failed", race)
        st.error(say("search-failed", error=type(err).__name__))
        return
    st.session_state[STEP] = step


def open_race(race: Race, step: int) -> None:
    """A link's race: into the widgets, as the learner would have set them, then searched and shown at `step`."""
    set_choice(race)
    find(race, step)
    shown = st.session_state.get(SHOWN)
    if shown is not None and shown.race == race and step > max(len(shown.steps), 1):
        st.info(say("link-step-clamped", asked=step, total=len(shown.steps)) if shown.steps
                else say("link-step-none", asked=step), icon=":material/info:")


def show(race: Race, report: Report) -> Shown:
    """The report with its shortest bad interleaving replayed on a fresh lab (nothing to replay if none breaks)."""
    if report.shortest is None:
        return Shown(race, report, [], [], [], [])
    run = replay(race, report.shortest)
    try:
        seqs = [step.seq if step is not None else None for _, step in run.turns]
        made_by, turn = [], 0
        for step in run.steps:
            while seqs[turn] is None or seqs[turn] < step.seq:
                turn += 1
            made_by.append(turn)
        return Shown(race, report, run.steps, turn_lines(run, race), made_by, verdict_lines(run, race))
    finally:
        run.lab.db.close()


# ---- the page ----------------------------------------------------------------------------------------------------
def race_page() -> None:
    """Normal: the title, the paths, the report, then the interleaving. Presenting: a slide — whether it breaks,
    the interleaving on the diagram, then the report; the paths folded away below."""
    inject_css()
    presenting = race_links.presenting()
    if presenting:
        inject_presenter_css()
    race_links.from_url(open_race)
    with st.container(horizontal=True, vertical_alignment="center"):
        if not presenting:
            st.title(say("title"), width="stretch")
        st.session_state[PREFIX + "present"] = presenting
        st.toggle(say("present"), key=PREFIX + "present", on_change=race_links.toggle_presenting,
                  help=say("present-help"))
    if presenting:
        shown = st.session_state.get(SHOWN)
        if shown is not None:
            st.markdown(headline(shown.report))
            interleaving(shown, presenting=True)
            report_box(shown)
        with st.expander(say("builder"), expanded=shown is None):
            build()
    else:
        st.markdown(intro())
        build()
        shown = st.session_state.get(SHOWN)
        if shown is not None:
            report_box(shown)
            interleaving(shown, presenting=False)
        with st.expander(say("cards-heading"), icon=":material/style:"):
            cards_help()
        share(shown)
    race_links.sync(st.session_state.get(SHOWN), st.session_state.get(STEP, 1))


def build() -> None:
    """Preset, clients, fault; the two paths; the button. Every choice is checked before it can be searched."""
    race = chosen()
    st.session_state[PRESET_KEY] = matching_preset(race, st.session_state.get(PRESET_KEY))
    options = [NO_FAULT] + [fault.code for fault in faults(Race(race.read, race.write, race.clients))
                            if not Race(race.read, race.write, race.clients).problems()]
    if st.session_state.get(FAULT_KEY, NO_FAULT) not in options:
        st.session_state[FAULT_KEY] = NO_FAULT       # the card it named has moved or gone
    top = st.columns([2, 2, 3], gap="medium")
    top[0].selectbox(say("preset"), [CUSTOM, *PRESETS], key=PRESET_KEY, on_change=apply_preset,
                     format_func=lambda slug: say("preset-none") if slug == CUSTOM else PRESETS[slug].title)
    top[1].radio(say("clients"), list(CLIENTS), key=CLIENTS_KEY, format_func=clients_label)
    current = chosen()
    top[2].selectbox(say("fault"), options, key=FAULT_KEY,
                     format_func=lambda code: fault_label(current, None if code == NO_FAULT else Fault.parse(code)))
    left, right = st.columns(2, gap="medium")
    for column, side in ((left, "read"), (right, "write")):
        with column:
            path_builder(side)
    race = chosen()
    problems = race.problems()
    if problems:
        st.warning("\n".join(f"- {problem}" for problem in problems), icon=":material/rule:")
    clicked = st.button(say("find"), key=PREFIX + "find", type="primary", icon=":material/search:",
                        disabled=bool(problems), help=say("find-help", bound=f"{upper_bound(race):,}")
                        if not problems else None)
    if clicked and not problems:
        find(race)


def path_builder(side: str) -> None:
    """A path: the cards picked in order (a multiselect keeps the order they were picked in), then each card on its
    own line with buttons to move it up or down (keyboard: Tab to a button, Enter)."""
    deck = CARDS[side]
    st.multiselect(say(f"{side}-path"), list(deck), key=PATH_KEYS[side], format_func=lambda code: deck[code].label,
                   placeholder=say("path-placeholder"), help=say(f"{side}-path-help"))
    path = st.session_state.get(PATH_KEYS[side], [])
    for index, code in enumerate(path):
        with st.container(horizontal=True, vertical_alignment="center", gap="small",
                          key=f"{PREFIX}{side}-card-{index}"):
            st.markdown(f"{index + 1}. **{deck[code].label}**", width="stretch")
            label = deck[code].label
            st.button(say("move-up"), key=f"{PREFIX}{side}-up-{index}", disabled=index == 0, on_click=move,
                      args=(side, index, -1), help=say("move-help", label=label), icon=":material/arrow_upward:")
            st.button(say("move-down"), key=f"{PREFIX}{side}-down-{index}", disabled=index == len(path) - 1,
                      on_click=move, args=(side, index, +1), help=say("move-help", label=label),
                      icon=":material/arrow_downward:")


def report_box(shown: Shown) -> None:
    """The search on screen: what it searched, and what it found."""
    race = shown.race
    with st.container(border=True, key=PREFIX + "report"):
        st.markdown(say("searched", read=path_words(race, "read"), write=path_words(race, "write"),
                        clients=clients_label(race.clients), fault=fault_label(race, race.fault)))
        if race != chosen():
            st.caption(say("changed-since"))
        st.markdown("\n\n".join(join_bullets(summary(shown.report))))


def interleaving(shown: Shown, *, presenting: bool) -> None:
    """The shortest bad interleaving on the diagram, a step at a time (← / → step too)."""
    if not shown.steps:
        return
    total = len(shown.steps)
    step = min(max(int(st.session_state.get(STEP, 1)), 1), total)
    st.session_state[STEP] = step
    if not presenting:
        st.subheader(say("interleaving-heading"))
    with st.container(horizontal=True, vertical_alignment="center", gap="small", key=PREFIX + "controls"):
        st.button(say("back"), key=PREFIX + "back", icon=":material/skip_previous:", disabled=step <= 1,
                  shortcut="Left", on_click=step_by, args=(-1,))
        st.markdown(say("step-of", step=step, steps=total), width="content")
        st.button(say("forward"), key=PREFIX + "forward", icon=":material/skip_next:", icon_position="right",
                  disabled=step >= total, shortcut="Right", on_click=step_by, args=(+1,))
    current = shown.steps[step - 1]
    left, right = st.columns([7, 3] if presenting else [3, 2], gap="medium")
    with left:
        st.graphviz_chart(build_diagram(RaceLab.topology, shown.steps, step), width="stretch",
                          alt=current.explanation)
        with st.container(border=True, key="narration"):
            st.markdown(f"**{step_label(shown.steps, step)}**")
            st.text(current.explanation)
    with right:
        turn = shown.turn_of_step[step - 1]
        st.markdown("\n".join(f"{n}. " + (f"**{line}**" if n - 1 == turn else line)
                              for n, line in enumerate(shown.turns, start=1)))
        if step == total or not presenting:
            st.markdown(" ".join(shown.ending))


def step_by(delta: int) -> None:
    st.session_state[STEP] = int(st.session_state.get(STEP, 1)) + delta


def step_label(steps: list[Step], step: int) -> str:
    """"Client A · A2: App → Cache": the step's client and its number among that client's, as the diagram numbers it."""
    current = steps[step - 1]
    ordinal = sum(1 for earlier in steps[:step] if earlier.client == current.client)
    return say("step-label", client=current.client, ordinal=ordinal, source=current.source, target=current.target)


def path_words(race: Race, side: str) -> str:
    codes = race.read if side == "read" else race.write
    if side not in race.roles:
        return say("path-unused")
    return " → ".join(CARDS[side][code].label for code in codes)


def join_bullets(lines: list[str]) -> list[str]:
    """Paragraphs, with consecutive bullets kept together as one list."""
    joined: list[str] = []
    for line in lines:
        if line.startswith("- ") and joined and joined[-1].startswith("- "):
            joined[-1] += "\n" + line
        else:
            joined.append(line)
    return joined


def cards_help() -> None:
    st.markdown(say("meanings"))
    st.markdown(say("rules"))
    left, right = st.columns(2, gap="medium")
    for column, side in ((left, "read"), (right, "write")):
        column.markdown("\n".join(f"- **{label}**: {what}" for label, what in card_help(side)))


def share(shown: Shown | None) -> None:
    if shown is None:
        return
    with st.expander(say("share"), icon=":material/share:"):
        st.caption(say("share-how"))
        st.code(race_links.link(shown, st.session_state.get(STEP, 1)), language=None, wrap_lines=True)
