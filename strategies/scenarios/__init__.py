"""The guided scenarios of every pattern: the catalogue, with the knobs each scenario sets and the figures its
texts claim.

Each script says only what happens and in which order (`reading`, `writing`); the captions and the "what you
saw" paragraph live in `assets/scenarios.md` (one `## slug` section per scenario). Every number those texts
quote is a `{field}` computed from the run, and `claims` states the value each field has in this run, so a
test can check every claim against the run: if the code changes what a scenario shows, a test says which
sentence to re-read. `SCENARIOS[slug]` is the catalogue; `for_pattern(name)` a page's picker.

To add a scenario: write its script and its figures (the fields its texts quote, computed from the run), add
a `## slug` section with a title, an intro, its captions and a summary to assets/scenarios.md, and a
`_scenario(...)` line below with the claims — run the scenario once, read each text against its steps,
and write down the figures the texts rely on.
"""

from __future__ import annotations

from typing import Any

from ..scenario import Scenario
from . import near, reading, writing
from .common import HOT_KEY, NEW, OLD, READERS

# Every knob a scenario may touch, at the value a fresh lab has: a scenario starts from these, so what the
# learner had set before never changes what a scenario shows.
NEAR_OFF = {"near_ttl": None, "near_invalidation": "ttl"}      # one app instance, no near cache
DEFAULT_KNOBS: dict[str, dict[str, Any]] = {
    "cache-aside": {"ttl_seconds": 60, "leases": False, "negative_ttl": None, **NEAR_OFF},
    "read-through": {"ttl_seconds": 60, **NEAR_OFF},
    "write-through": {"ttl_seconds": 60, "ordering": "safe", **NEAR_OFF},
    "write-behind": {"ttl_seconds": 60, "batch_size": 10, "max_delay_seconds": 5.0, "coalesce": True,
                     "queue_limit": None},
}


def _scenario(slug: str, pattern: str, script, figures, claims: dict[str, Any], *, unavailable=None,
              **knobs: Any) -> Scenario:
    return Scenario(slug, pattern, {**DEFAULT_KNOBS[pattern], **knobs}, script, figures, claims,
                    **({"unavailable": unavailable} if unavailable else {}))


OLD_Q, NEW_Q = repr(OLD), repr(NEW)
CATALOGUE: tuple[Scenario, ...] = (
    _scenario("cold-then-warm", "cache-aside", reading.cold_then_warm, reading.cold_then_warm_figures,
              {"cold_ms": 12, "warm_ms": 1, "cold_db": 1, "warm_db": 0, "times": 12}),
    _scenario("invalidate-on-write", "cache-aside", reading.invalidate_on_write, reading.invalidate_on_write_figures,
              {"first": OLD_Q, "last": NEW_Q, "stale": 0, "db_reads": 2, "extra": 1}),
    _scenario("stale-set-race", "cache-aside", reading.stale_set_race, reading.stale_set_race_figures,
              {"cached": OLD_Q, "stored": NEW_Q, "agree": "disagree", "stale": 1, "refused": 0}),
    _scenario("stale-set-race-leases", "cache-aside", reading.stale_set_race, reading.stale_set_race_figures,
              {"cached": NEW_Q, "stored": NEW_Q, "agree": "agree", "stale": 0, "refused": 1}, leases=True),
    _scenario("stampede", "cache-aside", reading.stampede, reading.stampede_figures,
              {"readers": 5, "missed": 5, "selects": 5, "fills": 5, "served": 5}),
    _scenario("stampede-leases", "cache-aside", reading.stampede, reading.stampede_figures,
              {"readers": 5, "missed": 5, "selects": 1, "holder": "A", "waiting": 4, "waits": 4, "herd_hits": 4,
               "served": 5}, leases=True),
    _scenario("cache-down-fallback", "cache-aside", reading.cache_down_fallback, reading.cache_down_fallback_figures,
              {"degraded": 2, "stale": 1, "final": NEW_Q, "around_ms": 11, "ttl_seconds": 60}),
    _scenario("negative-caching", "cache-aside", reading.negative_caching, reading.negative_caching_figures,
              {"reads": 4, "selects": 2, "marker_hits": 2, "last": repr(reading.CREATED), "negative_ttl": 30},
              negative_ttl=30),
    _scenario("negative-caching-race", "cache-aside", reading.negative_caching_race,
              reading.negative_caching_race_figures,
              {"hidden": '"not found"', "found": repr(reading.CREATED), "stored": repr(reading.CREATED),
               "refused": 0, "negative_ttl": 30}, negative_ttl=30),
    _scenario("negative-caching-race-leases", "cache-aside", reading.negative_caching_race,
              reading.negative_caching_race_figures,
              {"hidden": repr(reading.CREATED), "found": repr(reading.CREATED), "refused": 1, "negative_ttl": 30},
              negative_ttl=30, leases=True),
    _scenario("loader-on-miss", "read-through", reading.loader_on_miss, reading.loader_on_miss_figures,
              {"loads": 1, "reads": 2, "app_db": 0}),
    _scenario("ttl-expiry-reload", "read-through", reading.ttl_expiry_reload, reading.ttl_expiry_reload_figures,
              {"reads": 3, "loads": 2, "expired": 1, "ttl_seconds": 30, "first_wait": 20, "second_wait": 10.5,
               "left": 10}, ttl_seconds=30),
    _scenario("write-latency", "write-through", writing.write_latency, writing.write_latency_figures,
              {"wt_write": 22, "wt_read": 1, "wt_hit": "a hit", "ca_write": 21, "ca_read": 12, "ca_hit": "a miss",
               "extra": 1}),
    _scenario("db-down-naive", "write-through", writing.db_down, writing.db_down_figures,
              {"acknowledged": "not acknowledged (it failed)", "cached": NEW_Q, "stored": OLD_Q, "agree": "disagree",
               "served": NEW_Q, "stale": 1}, ordering="naive"),
    _scenario("db-down-safe", "write-through", writing.db_down, writing.db_down_figures,
              {"acknowledged": "not acknowledged (it failed)", "cached": OLD_Q, "stored": OLD_Q, "agree": "agree",
               "served": OLD_Q, "stale": 0}),
    _scenario("write-through-two-writers", "write-through", writing.two_writers, writing.two_writers_figures,
              {"cached": NEW_Q, "stored": repr(writing.SECOND), "agree": "disagree", "served": NEW_Q, "stale": 1,
               "acknowledged": 2}),
    _scenario("cache-fails-mid-write", "write-through", writing.cache_fails_mid_write,
              writing.cache_fails_mid_write_figures,
              {"acknowledged": "not acknowledged (it failed)", "stored": NEW_Q, "served": OLD_Q, "final": NEW_Q,
               "stale": 1, "ttl_seconds": 60}),
    _scenario("cache-pollution", "write-through", writing.cache_pollution, writing.cache_pollution_figures,
              {"imported": 6, "cached": 7, "unread": 6, "unread_bytes": 78, "hits": 1, "misses": 1,
               "ttl_seconds": 60}),
    _scenario("coalescing", "write-behind", writing.coalescing, writing.coalescing_figures,
              {"writes": 7, "hot_writes": 5, "drafts": 4, "coalesced": 4, "db_writes": 3, "batches": 1,
               "batch_size": 3, "stored": "'draft 5'"}, batch_size=3),
    _scenario("reporting-query", "write-behind", writing.reporting_query, writing.reporting_query_figures,
              {"first": OLD_Q, "app": NEW_Q, "last": NEW_Q, "lag": 5, "stale_reports": 1,
               "max_delay_seconds": 5}),
    _scenario("db-outage-retry", "write-behind", writing.db_outage_retry, writing.db_outage_retry_figures,
              {"acknowledged": 3, "failures": 3, "peak": 3, "landed": 3, "lost": 0, "batch_size": 2,
               "retry_rows": 2, "later_rows": 1, "retry_batches": 2}, batch_size=2),
    _scenario("cache-crash-loss", "write-behind", writing.cache_crash_loss, writing.cache_crash_loss_figures,
              {"queued": 3, "crash_lost": 3, "lost": 3, "keys": "'user:1', 'user:2' and 'user:3'", "stored": OLD_Q,
               "max_delay_seconds": 30}, max_delay_seconds=30.0),
    _scenario("queue-full", "write-behind", writing.queue_full, writing.queue_full_figures,
              {"queue_limit": 3, "filling": 3, "filling_keys": 3, "refused": 1, "accepted": 5, "lost": 0},
              queue_limit=3, max_delay_seconds=30.0),
    # ---- two app instances with near caches (features/near_cache.py; scripts: near.py) ----
    _scenario("near-cache-stale", "cache-aside", near.near_cache_stale, near.near_figures,
              {"near_ttl": 10, "b_first": OLD_Q, "a_after": NEW_Q, "b_last": NEW_Q, "stale": 1, "stale_for": 10},
              near_ttl=near.NEAR_TTL),
    _scenario("near-cache-pubsub", "cache-aside", near.near_cache_pubsub, near.near_figures,
              {"receivers": 2, "dropped": 1, "b_first": NEW_Q, "b_near": "a miss", "stale": 0},
              near_ttl=near.NEAR_TTL, near_invalidation="pubsub"),
    _scenario("pubsub-missed-invalidation", "cache-aside", near.pubsub_missed_invalidation, near.near_figures,
              {"near_ttl": 10, "receivers": 1, "messages": 0, "b_first": OLD_Q, "b_last": NEW_Q, "stale": 1,
               "stale_for": 10}, near_ttl=near.NEAR_TTL, near_invalidation="pubsub"),
    # A real Redis only (fakeredis has no CLIENT TRACKING): the page says so on fakeredis.
    _scenario("near-cache-tracking", "cache-aside", near.near_cache_tracking, near.near_figures,
              {"told": 2, "published": 0, "b_first": NEW_Q, "stale": 0, "forgotten": 1},
              near_ttl=near.NEAR_TTL, near_invalidation="tracking", unavailable=near.tracking_unavailable),
)
SCENARIOS: dict[str, Scenario] = {scenario.slug: scenario for scenario in CATALOGUE}


def for_pattern(pattern: str) -> list[Scenario]:
    return [scenario for scenario in CATALOGUE if scenario.pattern == pattern]


__all__ = ["CATALOGUE", "DEFAULT_KNOBS", "HOT_KEY", "NEW", "OLD", "READERS", "SCENARIOS", "for_pattern"]
