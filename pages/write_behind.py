"""The write-behind page: what it shows beyond Read and Write, its lab declares (strategies/write_behind.py)."""

from lab_ui import ensure_routed, pattern_page

ensure_routed()

pattern_page("write-behind")
