"""Export for slides: what is on the diagram — a request, or the whole scenario — as a self-contained HTML
file that steps offline, or as an animated GIF with each step's narration as its caption.

Nothing is rendered until a button is pressed (the data is a callable Streamlit runs on download). A
scenario's files are the same for everybody (scenarios are deterministic) and are cached by slug, page and kind,
made from a run of their own on a private fakeredis; a scenario that needs a real server (CLIENT TRACKING) cannot
run there, so its files are made from the learner's own run, the one on screen.
"""

from __future__ import annotations

import streamlit as st

from strategies import Lab
from strategies.export import ExportError, engine_available, export_gif, export_html, frames, scenario_frames
from strategies.scenarios import find

from . import playback
from .state import PageState
from .text import say


@st.cache_data(max_entries=64, show_spinner=False)
def scenario_file(slug: str, pattern: str, kind: str) -> bytes:
    """The scenario as it runs on `pattern`'s page, from a private run (raises ExportError if it cannot run there)."""
    return made(scenario_frames(slug, pattern), find(pattern, slug).title, kind)


def scenario_export(lab: Lab, pb: playback.Playback, pattern: str, kind: str) -> bytes:
    """The scenario on screen: the cached file of a private run, or, where a private fakeredis cannot run it (it
    needs a real server), the learner's own run of it."""
    try:
        return scenario_file(pb.scenario, pattern, kind)
    except ExportError:
        if find(pattern, pb.scenario).unavailable(lab) is not None:
            raise                         # the learner's own lab cannot run it either: nothing to export
        return made(frames(lab.topology, pb.scenes), find(pattern, pb.scenario).title, kind)


def scene_file(lab: Lab, pb: playback.Playback, kind: str) -> bytes:
    title = f"{lab.title}: " + ", ".join(f"#{n}" for scene in pb.scenes for n in scene.numbers)
    return made(frames(lab.topology, pb.scenes), title, kind)


def made(shown: list, title: str, kind: str) -> bytes:
    return export_gif(shown) if kind == "gif" else export_html(shown, title).encode("utf-8")


def safe(make, *args) -> bytes:
    """The file, or (should the engine fail mid-way) a text file saying why: a download never raises."""
    try:
        return make(*args)
    except ExportError as err:
        return say("export-failed", error=err).encode("utf-8")


def export_section(page: PageState, lab: Lab) -> None:
    """Downloads of what is on the diagram (drawn in the page's More menu); nothing is made until one is pressed."""
    pb = playback.playback(page)
    if pb is None:
        st.caption(say("export-idle"))
        return
    if not engine_available():
        st.warning(say("export-no-engine"), icon=":material/warning:")
        return
    if pb.scenario is not None:
        name, what = pb.scenario, say("export-scenario", title=find(page.pattern, pb.scenario).title, steps=pb.total)
        make = lambda kind: lambda: safe(scenario_export, lab, pb, page.pattern, kind)     # noqa: E731
    else:
        numbers = [n for scene in pb.scenes for n in scene.numbers]
        name = f"{page.pattern}-request-" + "-".join(map(str, numbers))
        what = say("export-request", requests=len(numbers), numbers=", ".join(f"#{n}" for n in numbers), steps=pb.total)
        make = lambda kind: lambda: safe(scene_file, lab, pb, kind)          # noqa: E731
    st.caption(what)
    with st.container(horizontal=True):
        st.download_button("Slides (HTML)", make("html"), file_name=f"{name}.html", mime="text/html",
                           key=page.key("export-html"), icon=":material/slideshow:", on_click="ignore",
                           help=say("export-help"))
        st.download_button("Animated GIF", make("gif"), file_name=f"{name}.gif", mime="image/gif",
                           key=page.key("export-gif"), icon=":material/gif_box:", on_click="ignore")
