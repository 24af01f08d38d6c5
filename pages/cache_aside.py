import streamlit as st

from lab_ui import ensure_routed, pattern_page
from lab_ui.controls import Setting
from strategies import CacheAside

ensure_routed()


def leases(lab: CacheAside, on: object) -> None:
    lab.leases = bool(on)


def negative_ttl(lab: CacheAside, seconds: object) -> None:
    lab.negative_ttl = int(seconds) or None


pattern_page("cache-aside", settings=(
    Setting("leases", "Leases (memcache)", st.toggle, False, leases, help="leases-help", knob="leases"),
    Setting("negative-ttl", "Negative TTL (s)", st.number_input, 0, negative_ttl,
            dict(min_value=0, max_value=3600, step=5), "negative-ttl-help", knob="negative_ttl"),
))
