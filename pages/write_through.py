import streamlit as st

from lab_ui import ensure_routed, pattern_page
from lab_ui.text import say
from strategies import WriteThrough

ensure_routed()


def ordering(lab: WriteThrough) -> None:
    lab.ordering = st.radio("Write ordering", ["safe", "naive"], key="write-through:ordering", horizontal=True,
                            help=say("ordering-help"))


pattern_page("write-through", settings=ordering)
