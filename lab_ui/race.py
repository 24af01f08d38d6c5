"""The Find the race page: the learner's read and write paths built from cards, the clients and a fault, the search
(`strategies.races`) behind one button with a progress bar, its report, and the shortest bad interleaving stepped
on the normal diagram; its own share link (`race_links`). The page's text is assets/find_the_race.md.

Before a search the paths fill the page; a search folds them into one row (`searched_row`, its Edit button opens them
again), so that its verdict and its shortest bad interleaving are what is on screen.

Every widget has a stable key (`race:read-path`, `race:write-path`, `race:clients`, `race:fault`, `race:preset`,
`race:find`, `race:edit`, `race:close`, `race:back`, `race:forward`), so a script can set them and press the buttons
through the agent API.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import streamlit as st

from strategies.diagram import build_diagram
from strategies.races import CARDS, CLIENTS, PRESETS, Fault, Race, RaceLab, Report, explore, replay, upper_bound
from strategies.races.cards import say
from strategies.races.report import (
    Count,
    card_help,
    clients_label,
    fault_label,
    faults,
    headline,
    intro,
    race_words,
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
EDITING = PREFIX + "editing"        # the paths are open below a search (folded away otherwise, once one is shown)
TO_TOP = PREFIX + "to-top"          # how many searches have folded the paths: each scrolls the page to its top once
CHOICE_KEYS = (PATH_KEYS["read"], PATH_KEYS["write"], CLIENTS_KEY, FAULT_KEY, PRESET_KEY)
NO_FAULT, CUSTOM = "none", "custom"
PROGRESS_STEP = 0.05
# Presenting, the verdict and the report are read from the back of a room too (the narration is already large).
PRESENTER_CSS = """<style>
.st-key-race-controls [data-testid="stMarkdownContainer"] p, .st-key-race-verdict p,
.st-key-race-report :is(p, li) { font-size: 20px; }
</style>"""


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


def find(race: Race, step: int = 1) -> bool:
    """Search `race` and show it from step `step`, the paths folded away so that the result is what is on screen;
    a failure is said in words, the screen left as it was. Whether it is shown."""
    try:
        report = searched(race.read, race.write, race.clients, race.fault.code if race.fault else None)
        st.session_state[SHOWN] = show(race, report)
    except Exception as err:       # noqa: BLE001 — a teaching page must never show a traceback
        log.exception("the search of %s failed", race)
        st.error(say("search-failed", error=type(err).__name__))
        return False
    st.session_state[STEP] = step
    st.session_state[EDITING] = False
    st.session_state[TO_TOP] = st.session_state.get(TO_TOP, 0) + 1
    return True


def open_race(race: Race, step: int) -> None:
    """A link's race: into the widgets, as the learner would have set them, then searched and shown at `step`."""
    set_choice(race)
    find(race, step)
    shown = st.session_state.get(SHOWN)
    if shown is not None and shown.race == race and step > max(len(shown.steps), 1):
        st.info(say("link-step-clamped", asked=step, total=Count(len(shown.steps))) if shown.steps
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
    """Before a search: the paths to build. After one: the paths folded into one row (Edit opens them), whether it
    breaks with the shortest bad interleaving on the diagram right under it, then the report. Presenting: the same
    as a slide, without the page's title and help."""
    inject_css()
    presenting = race_links.presenting()
    if presenting:
        inject_presenter_css()
        st.html(PRESENTER_CSS)
    race_links.from_url(open_race)
    shown = st.session_state.get(SHOWN)
    folded = shown is not None and not st.session_state.get(EDITING)
    if folded:
        keep_choice()
    with st.container(horizontal=True, vertical_alignment="center"):
        if not presenting:
            st.title(say("title"), width="stretch")
        elif folded:
            searched_row(shown)
        st.session_state[PREFIX + "present"] = presenting
        st.toggle(say("present"), key=PREFIX + "present", on_change=race_links.toggle_presenting,
                  help=say("present-help"))
    if folded and not presenting:
        with st.container(border=True, key=PREFIX + "searched"):
            searched_row(shown)
    if not folded:
        if not presenting:
            st.markdown(intro())
        build(closable=shown is not None)
    if shown is not None:
        if not folded and shown.race != chosen():
            st.caption(say("changed-since"))
        result(shown, presenting=presenting)
    if not presenting:
        with st.expander(say("cards-heading"), icon=":material/style:"):
            cards_help()
        share(shown)
    race_links.sync(st.session_state.get(SHOWN), st.session_state.get(STEP, 1))
    scroll_to_top()             # last: its empty element moves nothing


def keep_choice() -> None:
    """Set the builder's widgets' values again: in a run that does not draw them, so that Streamlit keeps them (it
    forgets a widget's value once a run has not drawn it); and in the run that draws them again, so that the
    browser shows them (a widget drawn anew shows only a value set in its own run)."""
    state = st.session_state
    for key in CHOICE_KEYS:
        if key in state:
            state[key] = state[key]


def editing(on: bool) -> None:
    """Open the paths below the search (Edit), or fold them away again (Hide the paths)."""
    st.session_state[EDITING] = on
    if on:
        keep_choice()


def scroll_to_top() -> None:
    """Once per search that folded the paths: scroll the page to its top, where the result now starts (the page
    scrolls inside Streamlit's main area; the search may have been started from far down the builder)."""
    count = st.session_state.get(TO_TOP, 0)
    if count and st.session_state.get(PREFIX + "scrolled") != count:
        st.session_state[PREFIX + "scrolled"] = count
        st.html(f"<script>/* search {int(count)} */ document.querySelector('[data-testid=stMain]')"
                "?.scrollTo({top: 0});</script>", unsafe_allow_javascript=True)


def searched_row(shown: Shown) -> None:
    """The searched race in one line, and the button that opens the paths again."""
    race = shown.race
    preset = matching_preset(race, st.session_state.get(PRESET_KEY))
    with st.container(horizontal=True, wrap=False, vertical_alignment="center", gap="small"):
        st.markdown(race_words(race, PRESETS[preset].title if preset in PRESETS else None), width="stretch")
        st.button(say("edit"), key=PREFIX + "edit", icon=":material/edit:", on_click=editing, args=(True,),
                  help=say("edit-help"))
    if race != chosen():
        st.caption(say("changed-since-folded"))


def build(*, closable: bool) -> None:
    """Preset, clients, fault; the two paths; the button (and, below a search, the one that folds them away again).
    Every choice is checked before it can be searched."""
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
    with st.container(horizontal=True, vertical_alignment="center", gap="small"):
        clicked = st.button(say("find"), key=PREFIX + "find", type="primary", icon=":material/search:",
                            disabled=bool(problems), help=say("find-help", bound=f"{upper_bound(race):,}")
                            if not problems else None)
        if closable:
            st.button(say("close"), key=PREFIX + "close", icon=":material/unfold_less:", on_click=editing,
                      args=(False,), help=say("close-help"))
    if clicked and not problems and find(race):
        st.rerun()          # drawn again, folded: the result is what is on screen


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


def result(shown: Shown, *, presenting: bool) -> None:
    """Whether it breaks and, if it does, the shortest bad interleaving right under that line; then the report."""
    if shown.steps:
        interleaving(shown, presenting=presenting)
    else:
        with st.container(key=PREFIX + "verdict"):
            st.markdown(headline(shown.report))
    with st.container(border=True, key=PREFIX + "report"):
        st.markdown("\n\n".join(join_bullets(summary(shown.report))))


def interleaving(shown: Shown, *, presenting: bool) -> None:
    """The headline and the step controls in one row, then the shortest bad interleaving on the diagram, a step at
    a time (← / → step too), with its turns beside it."""
    total = len(shown.steps)
    step = min(max(int(st.session_state.get(STEP, 1)), 1), total)
    st.session_state[STEP] = step
    with st.container(horizontal=True, vertical_alignment="center", gap="small", key=PREFIX + "controls"):
        st.markdown(f"{headline(shown.report)} {say('shortest-lead')}", width="content")
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
