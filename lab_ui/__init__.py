"""The pages' shared widgets, split by concern; the simulation itself lives in `strategies/`.

    routing      the app's navigation, page setup and CSS
    learner      this session's lab, and the guard every callback runs behind
    playback     which request and step the diagram shows
    controls     requests, settings and faults, time, playback buttons
    panel        the diagram, narration and tables, as one timed fragment
    tables       the learner's tables as DataFrames
    narration    the sentence, the state and the code line of a step
    requests     counters and the request log
    explanation  the pattern's Q&A and its real code
    page         one pattern's page, assembled
    compare      the Compare page: its knobs form, the cached run, the table, charts and summary

A pattern page (`pages/<pattern>.py`) adds only its own controls and calls `pattern_page`.
"""

from .page import pattern_page
from .routing import ensure_routed, route

__all__ = ["ensure_routed", "pattern_page", "route"]
