import streamlit as st

from lab_ui import ensure_routed, pattern_page
from lab_ui.controls import ExtraButton, Setting
from lab_ui.text import say
from strategies import LabState, WriteBehind

ensure_routed()


def batch_size(lab: WriteBehind, size: object) -> None:
    lab.batch_size = int(size)


def max_delay(lab: WriteBehind, seconds: object) -> None:
    lab.max_delay_seconds = float(seconds)


def coalesce(lab: WriteBehind, on: object) -> None:
    if not lab.live().queue:          # the queue's shape depends on it: it changes only while empty
        lab.coalesce = bool(on)


def queue_limit(lab: WriteBehind, limit: object) -> None:
    lab.queue_limit = int(limit) or None


QUEUE_SETTINGS = (
    Setting("batch", "Batch size", st.number_input, 10, batch_size, dict(min_value=1, max_value=1000), "batch-help",
            knob="batch_size"),
    Setting("delay", "Max delay (s)", st.number_input, 5.0, max_delay, dict(min_value=0.5, max_value=600.0, step=0.5),
            "delay-help", knob="max_delay_seconds"),
    Setting("coalesce", "Coalesce writes", st.toggle, True, coalesce, help="coalesce-help",
            disabled=lambda lab: bool(lab.live().queue), knob="coalesce"),
    Setting("limit", "Queue limit", st.number_input, 0, queue_limit, dict(min_value=0, max_value=10_000),
            "queue-limit-help", knob="queue_limit"),
)


def flusher_status(lab: WriteBehind, state: LabState, live: bool) -> str:
    """What the flusher is doing, from the tables on screen (`state`); a retry's timing only when they are live."""
    queue, now = state.queue, state.now
    if not queue:
        return say("flusher-idle")
    if live and lab.retry_at > now:
        due = lab.next_flush_at()
        return say("flusher-retry", queued=len(queue), wait="∞" if due is None else f"{due - now:.1f}")
    oldest = min(queue.values(), key=lambda item: item.at)
    return say("flusher-status", queued=len(queue), batch=lab.batch_size,
               unit="one per key: writes coalesce" if lab.coalesce else "one per write",
               waited=f"{now - oldest.at:.1f}", delay=f"{lab.max_delay_seconds:g}")


pattern_page("write-behind", settings=QUEUE_SETTINGS, status=flusher_status,
             extras=(ExtraButton("Flush now", ":material/cleaning_services:", "f", say("flush-help")),))
