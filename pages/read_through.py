"""The read-through page: what it shows beyond Read and Write, its lab declares (strategies/read_through.py)."""

from lab_ui import ensure_routed, pattern_page

ensure_routed()

pattern_page("read-through")
