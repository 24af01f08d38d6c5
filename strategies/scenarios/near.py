"""The scenarios of two app instances with near caches (features/near_cache.py): client A is served by App 1,
client B by App 2. Each script, and the figures it reads off its run (every field its texts in
assets/scenarios.md quote)."""

from __future__ import annotations

from typing import Any

from ..features.tracking import unavailable
from ..lab import Lab
from ..narration import shorten
from ..scenario import Director, ScenarioRun
from .common import HOT_KEY, NEW, stale_reads

NEAR_TTL = 10            # seconds: each instance keeps a copy this long
PAST_NEAR_TTL = NEAR_TTL + 0.5


def warm_both(d: Director) -> None:
    """Each instance reads user:1 once: App 1 loads it (into the shared cache too), App 2 finds it there; both keep
    a copy."""
    d.scene("warm")
    d.read(HOT_KEY, client="A")
    d.read(HOT_KEY, client="B")


def warm_then_write(d: Director) -> None:
    """Both instances keep a copy of user:1, then App 1 writes it."""
    warm_both(d)
    d.scene("write")
    d.write(HOT_KEY, NEW, client="A")


def near_cache_stale(d: Director) -> None:
    """App 1 writes; App 2 keeps serving its own copy until that copy's near TTL runs out."""
    warm_then_write(d)
    d.scene("stale")
    d.read(HOT_KEY, client="B")
    d.read(HOT_KEY, client="A")
    d.advance_time(PAST_NEAR_TTL)
    d.scene("expired")
    d.read(HOT_KEY, client="B")


def near_cache_pubsub(d: Director) -> None:
    """Every write publishes an invalidation: App 2 drops its copy as soon as App 1 has written."""
    warm_then_write(d)
    d.scene("reread")
    d.read(HOT_KEY, client="B")


def pubsub_missed_invalidation(d: Director) -> None:
    """App 2 is cut off from the channel while App 1 writes: the message is lost, and App 2 stays stale until its
    copy's near TTL runs out."""
    warm_both(d)
    d.scene("cut-off")
    d.lab.near.disconnect("App 2")
    d.write(HOT_KEY, NEW, client="A")
    d.lab.near.reconnect("App 2")
    d.scene("stale")
    d.read(HOT_KEY, client="B")
    d.advance_time(PAST_NEAR_TTL)
    d.scene("expired")
    d.read(HOT_KEY, client="B")


def near_cache_tracking(d: Director) -> None:
    """Redis itself tells each instance that a key it cached changed (CLIENT TRACKING): the app publishes nothing.
    Then App 2's connection drops, and App 2 forgets every copy rather than trust one nobody can tell it about."""
    warm_then_write(d)
    d.scene("reread")
    d.read(HOT_KEY, client="B")
    d.scene("cut-off")
    d.lab.near.disconnect("App 2")
    d.lab.near.reconnect("App 2")
    d.read(HOT_KEY, client="B")


def tracking_unavailable(lab: Lab) -> str | None:
    return unavailable(lab.cache)


def near_figures(run: ScenarioRun) -> dict[str, Any]:
    """What each near-cache scenario's texts quote: which instance read what, when, and what the channel did."""
    reads = run.of("read")
    by_b = [trace for trace in reads if trace.client == "B"]
    after_write = [trace for trace in by_b if trace.number > run.of("write")[0].number]
    publish = next((step for step in run.steps if step.action == "PUBLISH"), None)
    stale = [trace for trace in after_write if trace.stale]
    write_done = run.of("write")[0].steps[-1].at_ms / 1000
    expired = next((step for step in run.steps if step.action == "EXPIRE" and step.target == "App 2"), None)
    return {
        "near_ttl": run.lab.near_ttl,
        "near_hits": run.count(action="LOOKUP", outcome="hit"),
        "stale": stale_reads(run),
        "b_first": shorten(after_write[0].value) if after_write else "nothing",
        "b_last": shorten(after_write[-1].value) if after_write else "nothing",
        "a_after": shorten(next((trace.value for trace in reads if trace.client == "A"
                                 and trace.number > run.of("write")[0].number), None)),
        "receivers": publish.note[1]["receivers"] if publish is not None else 0,
        "dropped": run.count(action="MESSAGE", note="near-message-drop"),
        "messages": run.count(action="MESSAGE"),
        "stale_for": round(expired.at_ms / 1000 - write_done, 1) if expired is not None and stale else 0,
        "b_near": "a hit" if after_write and after_write[0].steps[0].outcome == "hit" else "a miss",
        "published": run.count(action="PUBLISH"),
        "told": run.count(note="near-tracked-drop"),
        "forgotten": sum(len(step.changes) for step in run.steps if step.action == "DISCONNECT"),
    }
