from lab_ui import ensure_routed
from lab_ui.race import race_page

ensure_routed()

race_page()
