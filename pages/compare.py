"""The Compare page: one seeded workload through all four patterns (lab_ui/compare.py, strategies/compare.py)."""

from lab_ui import ensure_routed
from lab_ui.compare import compare_page

ensure_routed()

compare_page()
