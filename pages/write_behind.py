import streamlit as st

from lab_ui import ensure_routed, pattern_page
from lab_ui.controls import ExtraButton
from lab_ui.text import say
from strategies import WriteBehind

ensure_routed()


def queue_settings(lab: WriteBehind) -> None:
    lab.batch_size = int(st.number_input("Batch size", 1, 1000, 10, key="write-behind:batch", help=say("batch-help")))
    lab.max_delay_seconds = float(st.number_input("Max delay (s)", 0.5, 600.0, 5.0, step=0.5, key="write-behind:delay",
                                                  help=say("delay-help")))
    lab.coalesce = st.toggle("Coalesce writes", value=True, key="write-behind:coalesce", help=say("coalesce-help"),
                             disabled=bool(lab.live().queue))
    lab.queue_limit = int(st.number_input("Queue limit", 0, 10_000, 0, key="write-behind:limit",
                                          help=say("queue-limit-help"))) or None


def flusher_status(lab: WriteBehind) -> str:
    queue, now = lab.live().queue, lab.clock.now()
    if queue:
        due = lab.next_flush_at()
        if lab.retry_at > now:
            return say("flusher-retry", queued=len(queue), wait="∞" if due is None else f"{due - now:.1f}")
        oldest = next(iter(queue.values()))
        return say("flusher-status", queued=len(queue), batch=lab.batch_size,
                   unit="one per key: writes coalesce" if lab.coalesce else "one per write",
                   waited=f"{now - oldest.at:.1f}", delay=f"{lab.max_delay_seconds:g}")
    if lab.counters.lost_writes:
        return say("flusher-idle-lost", lost=lab.counters.lost_writes)
    return say("flusher-idle")


pattern_page("write-behind", settings=queue_settings, status=flusher_status,
             extras=(ExtraButton("Flush now", ":material/cleaning_services:", WriteBehind.flush, say("flush-help")),))
