"""The app's navigation and page setup: app.py calls `route()`, and nothing else."""

from __future__ import annotations

import streamlit as st
from streamlit.runtime.pages_manager import PagesManager

from strategies import PATTERNS
from strategies.diagram import FONT_SIZES

from .text import page_file


def _chart_css() -> str:
    """The diagram's text at the sizes its DOT says. Streamlit's stylesheet gives every text of a graphviz chart
    one small size (0.6 rem), which overrides the SVG's own font-size; the layout reserved room for the DOT's
    sizes, so they are put back, one rule per size the diagrams use."""
    return "\n".join(f'.stGraphVizChart svg text[font-size="{size:.2f}"] {{ font-size: {size:g}px; }}'
                      for size in FONT_SIZES)


CSS = """
<style>
/* Room for the lab: the navigation sits in the header, so the page can start right under it. */
.stMainBlockContainer { padding: 3.6rem 2rem 2rem 2rem; }
.stMainBlockContainer h1 { font-size: 1.9rem; padding: 0; }
.stMainBlockContainer h3 { font-size: 1.15rem; padding: 0.3rem 0 0 0; }
.stGraphVizChart svg { display: block; margin: 0 auto; width: 100%; height: auto; max-height: calc(100vh - 370px); }
""" + _chart_css() + """
/* The step on screen draws itself from sender to receiver (its length is set by DRAW_JS), then its head. */
.stGraphVizChart g.edge.active path { stroke-dasharray: var(--cpl-length) var(--cpl-length);
  stroke-dashoffset: var(--cpl-length); animation: cpl-draw var(--cpl-draw, 0.5s) ease-out forwards; }
.stGraphVizChart g.edge.active polygon { animation: cpl-head var(--cpl-draw, 0.5s) step-end forwards; }
.stGraphVizChart g.edge.active text { font-weight: 700; }
@keyframes cpl-draw { to { stroke-dashoffset: 0; } }
@keyframes cpl-head { from { opacity: 0; } to { opacity: 1; } }
[class*="-clicker"] { display: none; }
/* The scenario picker takes the room the row leaves, so that the row stays one line at 1280 px with every control
   a page draws (a lab's own buttons, a scenario's scene jumps): its title is cut short only when the row is full,
   never below 10rem (then the row wraps), and it grows no wider than a long title needs. */
[class*="-controls"] [class*="-scenario-choice"] { flex: 1 1 10rem; min-width: 10rem; max-width: 26rem; }
/* A scenario's scene jumps show their icon only: their keys (Shift+← / Shift+→) are in their help. */
[class*="-controls"] [class*="-scene-"] kbd { display: none; }
/* The settings' group headings: small, so that the knobs, not their groups, take the menu's room. */
[class*="-knob-groups"] h3 { font-size: 1.05rem; font-weight: 600; padding: 0.4rem 0 0 0; }
/* One row of controls: the step buttons show their icon and their key; their words stay for screen readers. */
[class*="-controls"] :is([class*="-back "], [class*="-play "], [class*="-forward "])
  [data-testid="stMarkdownContainer"] {
  position: absolute; width: 1px; height: 1px; overflow: hidden; clip-path: inset(50%); white-space: nowrap; }
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
@media (prefers-reduced-motion: reduce) {
  .stGraphVizChart g.edge.active path, .stGraphVizChart g.edge.active polygon {
    animation: none; stroke-dasharray: none; stroke-dashoffset: 0; opacity: 1; } }
</style>
"""


# The pages after the patterns' own, in order: (file stem, title, icon).
OTHER_PAGES = (
    ("compare", "Compare", ":material/compare_arrows:"),
    ("find_the_race", "Find the race", ":material/bug_report:"),
)


def route() -> None:
    """The app's navigation (app.py calls only this): Home, one page per pattern (`strategies.PATTERNS`, in
    order), then the pages that are no pattern's (`OTHER_PAGES`), each at Streamlit's default URL path, the stem
    of its file."""
    st.set_page_config(page_title="Cache Patterns Lab", layout="wide")
    navigation = st.navigation([
        st.Page("pages/home.py", title="Home", icon=":material/home:", default=True),
        *(st.Page(f"pages/{page_file(name)}.py", title=lab.title) for name, lab in PATTERNS.items()),
        *(st.Page(f"pages/{stem}.py", title=title, icon=icon) for stem, title, icon in OTHER_PAGES),
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
.stMainBlockContainer { padding: 0.6rem 1.5rem 0.6rem 1.5rem; }
.stMainBlockContainer h1 { font-size: 1.5rem; }
/* A slide: the row of controls, the step line, the diagram and the narration fit the screen (1280×720 and
   1920×1080), the diagram taking what the words leave; the scenario's caption stands beside it. */
.stGraphVizChart svg { max-height: calc(100vh - 290px); }
.st-key-narration { gap: 0.4rem; }
.st-key-narration p, .st-key-narration .stText, .st-key-narration .stMarkdown { font-size: 24px !important;
  line-height: 1.35; }
/* The code line and its caption (which points at the hidden Code section) are for reading, not projecting. */
.st-key-narration .stCode, .st-key-narration [data-testid="stCaptionContainer"] { display: none; }
.stAlert p, .stProgress p { font-size: 20px; }
.st-key-scenario-chart [data-testid="stCaptionContainer"] p { font-size: 18px; }
</style>
"""


# One constant script, run once per page. Streamlit draws a toast as role="alertdialog" without a name, so
# screen readers announce an unnamed dialog (axe-core: aria-dialog-name, serious): a toast is a polite notice,
# so say so. A menu that scrolls is made reachable from the keyboard. And the step on screen draws itself
# along its path: CSS animates its dash offset from the path's length, which only the browser knows, to 0, so
# each new active path is given its length (as a CSS variable) as soon as d3-graphviz inserts it, before it
# is first painted.
PAGE_JS = """
<script>
if (!window.cplObserver) {
  const polite = () => document.querySelectorAll('.stToast[role=dialog], .stToast[role=alertdialog]').forEach(toast => {
    toast.setAttribute('role', 'status'); toast.setAttribute('aria-live', 'polite');
    toast.removeAttribute('aria-modal');
  });
  const fresh = '.stGraphVizChart g.edge.active path:not([data-cpl])';
  const measure = () => document.querySelectorAll(fresh).forEach(path => {
    path.style.setProperty('--cpl-length', String(Math.ceil(path.getTotalLength()) + 1));
    path.setAttribute('data-cpl', '1');
  });
  // A menu taller than the screen scrolls: keyboard users must be able to reach it (axe: scrollable-region-focusable).
  const reachable = () => document.querySelectorAll('[data-testid=stPopoverBody]:not([tabindex])')
    .forEach(body => body.setAttribute('tabindex', '0'));
  window.cplObserver = new MutationObserver(() => { polite(); measure(); reachable(); });
  window.cplObserver.observe(document.body, {childList: true, subtree: true, attributes: true,
                                             attributeFilter: ['role']});
  polite(); measure(); reachable();
}
</script>
"""


def inject_css() -> None:
    st.html(CSS)
    st.html(PAGE_JS, unsafe_allow_javascript=True)


def inject_motion(seconds_per_step: float) -> None:
    """How long the step on screen takes to draw itself: a third of a step at the playback speed."""
    st.html(f"<style>:root {{ --cpl-draw: {seconds_per_step / 3:.2f}s; }}</style>")


def inject_presenter_css() -> None:
    st.html(PRESENTER_CSS)
