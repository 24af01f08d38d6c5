"""The cache-aside page: what it shows beyond Read and Write, its lab declares (strategies/cache_aside.py)."""

from lab_ui import ensure_routed, pattern_page

ensure_routed()

pattern_page("cache-aside")
