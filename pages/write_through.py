import streamlit as st

from lab_ui import ensure_routed, pattern_page
from lab_ui.controls import Setting
from strategies import WriteThrough

ensure_routed()


def ordering(lab: WriteThrough, chosen: object) -> None:
    lab.ordering = "naive" if chosen == "naive" else "safe"


pattern_page("write-through", settings=(
    Setting("ordering", "Write ordering", st.radio, "safe", ordering,
            dict(options=["safe", "naive"], horizontal=True), "ordering-help", knob="ordering"),
))
