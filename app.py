"""Cache Patterns Lab: the entry point only routes to the pages."""

import streamlit as st

st.set_page_config(page_title="Cache Patterns Lab", layout="wide")
st.navigation([st.Page("pages/home.py", title="Home", default=True)]).run()
