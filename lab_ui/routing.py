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
[class*="-clicker"] { display: none; }
/* Contrast for every learner (WCAG AA, 4.5:1 on the page's background): captions and the keys on buttons. */
[data-testid="stCaptionContainer"] { opacity: 1; }
[data-testid="stCaptionContainer"], [data-testid="stCaptionContainer"] p { color: #565c61; }
kbd, button kbd, button:hover kbd, button:focus kbd, [data-has-shortcut] kbd {
  color: #3d4449 !important; opacity: 1 !important; }
/* The code's highlighting, darkened to 4.5:1 on its grey background. */
.stCode .token.keyword, .stCode .token.boolean { color: #0b6b2a; }
.stCode .token.string { color: #9a3d00; }
.stCode .token.number, .stCode .token.constant { color: #7a2f8f; }
.stCode .token.function, .stCode .token.builtin, .stCode .token.class-name { color: #1d5a91; }
.stCode .token.comment { color: #5a6066; }
.stCode .token.operator, .stCode .token.punctuation { color: #3d4449; }
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


# Presenter mode: the diagram and the narration fill a projector's screen, readable from the back of a room.
PRESENTER_CSS = """
<style>
header[data-testid="stHeader"] { display: none; }
.stMainBlockContainer { padding: 0.8rem 1.5rem 1rem 1.5rem; }
.stMainBlockContainer h1 { font-size: 1.5rem; }
.stGraphVizChart svg { max-height: 62vh; }
.st-key-narration p, .st-key-narration .stText, .st-key-narration .stMarkdown { font-size: 24px !important;
  line-height: 1.35; }
/* The code line and its caption (which points at the hidden Code section) are for reading, not projecting. */
.st-key-narration .stCode, .st-key-narration [data-testid="stCaptionContainer"] { display: none; }
.stAlert p { font-size: 20px; }
</style>
"""


# Streamlit draws a toast as role="alertdialog" without a name, so screen readers announce an unnamed dialog
# (axe-core: aria-dialog-name, serious). A toast is a polite notice: say so. A constant script, run once.
TOAST_ROLE_JS = """
<script>
if (!window.cplToastObserver) {
  const polite = () => document.querySelectorAll('.stToast[role=dialog], .stToast[role=alertdialog]').forEach(toast => {
    toast.setAttribute('role', 'status'); toast.setAttribute('aria-live', 'polite');
    toast.removeAttribute('aria-modal');
  });
  window.cplToastObserver = new MutationObserver(polite);
  window.cplToastObserver.observe(document.body, {childList: true, subtree: true, attributes: true,
                                                  attributeFilter: ['role']});
  polite();
}
</script>
"""


def inject_css() -> None:
    st.html(CSS)
    st.html(TOAST_ROLE_JS, unsafe_allow_javascript=True)


def inject_presenter_css() -> None:
    st.html(PRESENTER_CSS)
