from lab_ui import ensure_routed, pattern_page

ensure_routed()

pattern_page("write-through")
