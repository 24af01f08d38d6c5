"""Cache Patterns Lab: the entry point only routes to the pages."""

import streamlit as st

from pages.lab_ui import sidebar

st.set_page_config(page_title="Cache Patterns Lab", layout="wide")
navigation = st.navigation([
    st.Page("pages/home.py", title="Home", icon=":material/home:", default=True),
    st.Page("pages/cache_aside.py", title="Cache-aside"),
    st.Page("pages/read_through.py", title="Read-through"),
    st.Page("pages/write_through.py", title="Write-through"),
    st.Page("pages/write_behind.py", title="Write-behind"),
])
sidebar()
navigation.run()
