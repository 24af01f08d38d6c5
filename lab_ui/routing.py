"""The app's navigation and page setup: app.py calls `route()`, and nothing else."""

from __future__ import annotations

import streamlit as st
from streamlit.runtime.pages_manager import PagesManager

CSS = """
<style>
/* Room for the lab: the navigation sits in the header, so the page can start right under it. */
.stMainBlockContainer { padding: 3.6rem 2rem 2rem 2rem; }
.stMainBlockContainer h1 { font-size: 1.9rem; padding: 0 0 0.1rem 0; }
.stMainBlockContainer h3 { font-size: 1.15rem; padding: 0.3rem 0 0 0; }
.stGraphVizChart svg { width: 100%; height: auto; max-height: 46vh; }
.stGraphVizChart .active path { stroke-dasharray: 10 6; animation: cpl-flow 0.7s linear infinite; }
.stGraphVizChart .active text { font-weight: 700; }
@keyframes cpl-flow { to { stroke-dashoffset: -32; } }
@media (prefers-reduced-motion: reduce) { .stGraphVizChart .active path { animation: none; } }
</style>
"""


def route() -> None:
    """The app's navigation (app.py calls only this): Home, one page per pattern, then Compare, each at
    Streamlit's default URL path, the stem of its file."""
    st.set_page_config(page_title="Cache Patterns Lab", layout="wide")
    navigation = st.navigation([
        st.Page("pages/home.py", title="Home", icon=":material/home:", default=True),
        st.Page("pages/cache_aside.py", title="Cache-aside"),
        st.Page("pages/read_through.py", title="Read-through"),
        st.Page("pages/write_through.py", title="Write-through"),
        st.Page("pages/write_behind.py", title="Write-behind"),
        st.Page("pages/compare.py", title="Compare", icon=":material/compare_arrows:"),
    ], position="top")
    navigation.run()


def ensure_routed() -> None:
    """Make a page Streamlit ran on its own go through the app's navigation.

    Until st.navigation has been called once in a server process, Streamlit (1.67) runs a
    deep-linked file of pages/ by itself, in its legacy pages-folder mode: no app.py, so no wide
    layout and the folder's file names as navigation (AppTest does the same on every run). Calling
    the app's navigation here leaves that mode and runs this very page, routed, in the same run — so
    a click that caused the run is not lost — and then stops the unrouted one.
    """
    if PagesManager.uses_pages_directory:
        route()
        st.stop()


def inject_css() -> None:
    st.html(CSS)
