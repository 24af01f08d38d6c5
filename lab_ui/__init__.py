"""The pages' shared widgets, split by concern; the simulation itself lives in `strategies/`.

    routing      the app's navigation (one page per pattern), page setup and CSS
    learner      this session's lab, and the guard every callback runs behind
    state        what a page remembers between runs (one PageState per page), and its widgets' keys
    page         one pattern's page, assembled
    sending      Key, Value, Read, Write and the buttons the lab declares
    settings     settings and faults: every knob the lab declares, Crash, Reset
    timetravel   +10 s, +1 min, Next expiry
    stepping     the playback buttons, speed and a presenter's clicker
    playback     which request and step the diagram shows
    clients      two clients stepped by hand
    scenarios    the Scenario picker, loading a scenario
    links        share links end to end: the recording, the URL, opening a link
    quiz         predict each step
    panel        the diagram, narration and tables, as one timed fragment
    charts       a scenario's chart of its run (database reads per simulated second)
    tables       the learner's tables as DataFrames
    narration    the sentence, the state and the code line of a step
    requests     counters and the request log
    explanation  the pattern's Q&A and its real code
    menu         the More menu
    exporting    slides and GIFs of what is on the diagram
    text         the learners' text from assets/
    compare      the Compare page: its knobs form, the cached run, the table, charts and summary

A pattern page (`pages/<pattern>.py`) is one call, `pattern_page("<pattern>")`: the shared code names no
pattern and no feature; what a page shows beyond Read and Write is what its lab declares.
"""

from .page import pattern_page
from .routing import ensure_routed, route

__all__ = ["ensure_routed", "pattern_page", "route"]
