"""Home: the four patterns side by side, each with its figure, its one line and a link to its page."""

import streamlit as st

from lab_ui import ensure_routed
from lab_ui.routing import inject_css
from lab_ui.text import home_intro, page_file, sections
from strategies import PATTERNS
from strategies.diagram import build_diagram

ensure_routed()
inject_css()
st.html("<style>.stGraphVizChart svg { height: 230px; }</style>")   # four cards, four figures of one height
intro, how_to = home_intro()
st.title("Cache Patterns Lab")
st.markdown(intro)

for row in (list(PATTERNS)[:2], list(PATTERNS)[2:]):
    for column, name in zip(st.columns(2, gap="medium"), row, strict=True):
        lab, text = PATTERNS[name], sections(name)
        with column.container(border=True):
            st.subheader(lab.title)
            st.graphviz_chart(build_diagram(lab.topology), width="stretch",
                              alt=f"The textbook figure of {lab.title}.")
            st.markdown(text["In one line"])
            st.markdown("**When to use:** " + text["When to use"].splitlines()[0].lstrip("- "))
            st.page_link(f"pages/{page_file(name)}.py", label=f"Open {lab.title} →")

st.markdown("## How to use this lab\n" + how_to)
