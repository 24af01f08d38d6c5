"""The guided scenarios of every pattern: the catalogue, with the knobs each scenario sets and the figures its
texts claim.

Each script says only what happens and in which order (`reading`, `writing`); the captions and the "what you
saw" paragraph live in `assets/scenarios.md` (one `## slug` section per scenario). Every number those texts
quote is a `{field}` computed from the run, and `claims` states the value each field has in this run, so a
test can check every claim against the run: if the code changes what a scenario shows, a test says which
sentence to re-read. `CATALOGUE` is the catalogue; `runs_on(name)` a page's picker.

To add a scenario: write its script and its figures (the fields its texts quote, computed from the run), add
a `## slug` section with a title, an intro, its captions and a summary to assets/scenarios.md, and a
`_scenario(...)` line below with the claims — run the scenario once, read each text against its steps,
and write down the figures the texts rely on.

A slug may run on several pages (the expiry scenarios run on cache-aside and read-through): the catalogue holds
one scenario per (pattern, slug), and `find(pattern, slug)` is the one a page runs.
"""

from __future__ import annotations

from typing import Any

from ..narration import shorten
from ..scenario import Scenario
from . import eviction, expiry, near, reading, writing
from .common import HOT_KEY, NEW, OLD, READERS, loader_name

# Every knob a scenario may touch, at the value a fresh lab has: a scenario starts from these, so what the
# learner had set before never changes what a scenario shows. A part's knobs are written once, as a group, and
# each pattern lists its own knobs and the groups of the parts it composes.
EXPIRY_OFF = {"ttl_jitter": 0, "refresh_ahead": None, "xfetch_beta": None}   # features/jitter.py, early_refresh.py
NEAR_OFF = {"near_ttl": None, "near_invalidation": "ttl"}      # features/near_cache.py: one app instance
NO_MEMORY_LIMIT = {"maxmemory": None, "maxmemory_policy": "noeviction"}      # features/eviction.py: every pattern
DEFAULT_KNOBS: dict[str, dict[str, Any]] = {
    "cache-aside": {"ttl_seconds": 60, "leases": False, "negative_ttl": None, **EXPIRY_OFF, **NEAR_OFF,
                    **NO_MEMORY_LIMIT},
    "read-through": {"ttl_seconds": 60, **EXPIRY_OFF, **NEAR_OFF, **NO_MEMORY_LIMIT},
    "write-through": {"ttl_seconds": 60, "ordering": "safe", **EXPIRY_OFF, **NEAR_OFF, **NO_MEMORY_LIMIT},
    "write-behind": {"ttl_seconds": 60, "batch_size": 10, "max_delay_seconds": 5.0, "coalesce": True,
                     "queue_limit": None, **NO_MEMORY_LIMIT},
}


def _scenario(slug: str, pattern: str, script, figures, claims: dict[str, Any], *,
              rows: tuple[tuple[str, str], ...] = (), texts: str = "", chart=None, unavailable=None,
              **knobs: Any) -> Scenario:
    return Scenario(slug, pattern, {**DEFAULT_KNOBS[pattern], **knobs}, script, figures, claims, rows=rows, texts=texts,
                    chart=chart, **({"unavailable": unavailable} if unavailable else {}))


def _on_read_pages(slug: str, script, figures, claims: dict[str, Any], *, cache_aside: dict[str, Any] | None = None,
                   read_through: dict[str, Any] | None = None, read_through_texts: str = "",
                   **options: Any) -> tuple[Scenario, ...]:
    """One scenario on cache-aside and on read-through: the same script; its figures and one more, `loader` (who
    loads a miss, as the texts name it); the same texts, unless read-through tells it in a section of its own
    (`read_through_texts`); `cache_aside` and `read_through`: the claims only one page makes, or makes otherwise."""
    def with_loader(run) -> dict[str, Any]:
        return {**figures(run), "loader": loader_name(run.lab)}

    return (_scenario(slug, "cache-aside", script, with_loader,
                      {**claims, "loader": "the application", **(cache_aside or {})}, **options),
            _scenario(slug, "read-through", script, with_loader,
                      {**claims, "loader": "the cache's loader", **(read_through or {})}, texts=read_through_texts,
                      **options))


EXPIRY_CLAIMS = {"keys": 1000, "expired": 1000, "reads": 1000, "missed": 1000, "ttl_seconds": 60,
                 "longest_wait": 12}
HERD_CLAIMS = {"readers": 20, "first": "A", "last": "Z"}


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
              {"imported": 6, "evicted": 4, "pushed_by": "import:4", "cached": 4, "unread": 3, "last": "a miss",
               "hits": 1, "misses": 2, "maxmemory": 512, "maxmemory_policy": "allkeys-lru"},
              maxmemory=512, maxmemory_policy="allkeys-lru"),
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
    # ---- expiry storms and early refresh (strategies/scenarios/expiry.py), on both read pages ----
    *_on_read_pages("expiry-spike", expiry.expiry_spike, expiry.expiry_spike_figures,
                    {**EXPIRY_CLAIMS, "first_expiry": 60, "expiry_moments": 1, "peak": 1000, "peak_second": 60,
                     "spike_seconds": 1}, rows=expiry.CATALOGUE_ROWS, chart=expiry.reads_per_second),
    *_on_read_pages("ttl-jitter", expiry.expiry_spike, expiry.expiry_spike_figures,
                    {**EXPIRY_CLAIMS, "ttl_jitter": 10, "first_group": 78, "shortest": 54, "longest": 66,
                     "first_expiry": 54, "last_expiry": 66, "expiry_moments": 13, "peak": 93, "peak_second": 63,
                     "spike_seconds": 13},
                    rows=expiry.CATALOGUE_ROWS, chart=expiry.reads_per_second, ttl_jitter=10),
    *_on_read_pages("refresh-ahead", expiry.refresh_ahead, expiry.refresh_ahead_figures,
                    {"refresh_ahead": 0.5, "ttl_seconds": 60, "reads": 5, "window": 30, "outside_left": 40,
                     "inside_left": 20, "inside": 2,
                     "scheduled": 1, "refreshes": 1, "refresh_db": 1, "background": 3, "inside_wait": 1,
                     "old_expiry": 60, "after_at": 65, "after_hit": "a hit", "after_db": 0, "missed": 1},
                    refresh_ahead=0.5),
    *_on_read_pages("xfetch-early-recompute", expiry.xfetch_early_recompute, expiry.xfetch_early_recompute_figures,
                    {**HERD_CLAIMS, "xfetch_beta": 1.0, "delta": 10, "before": 30, "gap": 2, "after": 5,
                     "recomputes": 3, "selects": 3, "missed": 0, "first_recompute": 15, "first_chance": "22%",
                     "longest_wait": 12, "served": 20}, xfetch_beta=1.0),
    *_on_read_pages("stampede-compare", expiry.stampede_compare, expiry.stampede_compare_figures,
                    {**HERD_CLAIMS, "none_selects": 5, "none_missed": 5, "none_longest_wait": 12, "xfetch_selects": 3,
                     "xfetch_missed": 0, "xfetch_recomputes": 3, "xfetch_longest_wait": 12},
                    cache_aside={"leases_selects": 1, "leases_waited": 4, "leases_longest_wait": 23},
                    read_through={"refresh_selects": 0, "refresh_background": 1, "refresh_missed": 0,
                                  "refresh_longest_wait": 1},
                    read_through_texts="read-through/stampede-compare"),
    # ---- two app instances with near caches (features/near_cache.py; scripts: near.py), on both read pages ----
    *_on_read_pages("near-cache-stale", near.near_cache_stale, near.near_figures,
                    {"near_ttl": 10, "b_first": OLD_Q, "a_after": NEW_Q, "b_last": NEW_Q, "stale": 1, "stale_for": 10},
                    near_ttl=near.NEAR_TTL),
    *_on_read_pages("near-cache-pubsub", near.near_cache_pubsub, near.near_figures,
                    {"receivers": 2, "dropped": 1, "b_first": NEW_Q, "b_near": "a miss", "stale": 0},
                    near_ttl=near.NEAR_TTL, near_invalidation="pubsub"),
    *_on_read_pages("pubsub-missed-invalidation", near.pubsub_missed_invalidation, near.near_figures,
                    {"near_ttl": 10, "receivers": 1, "messages": 0, "b_first": OLD_Q, "b_last": NEW_Q, "stale": 1,
                     "stale_for": 10}, near_ttl=near.NEAR_TTL, near_invalidation="pubsub"),
    # A real Redis only (fakeredis has no CLIENT TRACKING): the page says so on fakeredis.
    *_on_read_pages("near-cache-tracking", near.near_cache_tracking, near.near_figures,
                    {"told": 2, "published": 0, "b_first": NEW_Q, "stale": 0, "forgotten": 1},
                    near_ttl=near.NEAR_TTL, near_invalidation="tracking", unavailable=near.tracking_unavailable),
    # ---- a cache that is full (features/eviction.py; scripts and why these pages: eviction.py) ----
    *_on_read_pages("lru-scan-pollution", eviction.scan, eviction.scan_figures,
                    {"hot": 3, "scanned": 6, "fits": 4, "before": "100 %", "during": "0 %", "after": "0 %",
                     "hot_evicted": 3, "scan_evicted": 2, "maxmemory": 512, "maxmemory_policy": "allkeys-lru"},
                    rows=eviction.SCANNED, ttl_seconds=600, maxmemory=512, maxmemory_policy="allkeys-lru"),
    *_on_read_pages("lfu-keeps-hot-keys", eviction.scan, eviction.scan_figures,
                    {"hot": 3, "scanned": 6, "fits": 4, "before": "100 %", "during": "0 %", "after": "100 %",
                     "hot_evicted": 0, "scan_evicted": 5, "maxmemory": 512, "maxmemory_policy": "allkeys-lfu"},
                    rows=eviction.SCANNED, ttl_seconds=600, maxmemory=512, maxmemory_policy="allkeys-lfu"),
    *_on_read_pages("noeviction-oom", eviction.noeviction_read, eviction.noeviction_read_figures,
                    {"full_at": 240, "cached": 2, "refused": 2, "third_selects": 2, "served": "'Grace Hopper'",
                     "last": "a hit", "maxmemory": 256, "maxmemory_policy": "noeviction"},
                    read_through_texts="read-through/noeviction-oom", maxmemory=256),
    _scenario("noeviction-oom-write-through", "write-through", eviction.noeviction_write,
              eviction.noeviction_write_figures,
              {"acknowledged": "not acknowledged (it failed)", "stored": shorten(eviction.LONGER),
               "cached": "'Alan Turing'", "served": "'Alan Turing'", "stale": 1, "refused": 1, "maxmemory": 256,
               "maxmemory_policy": "noeviction"}, maxmemory=256),
    _scenario("write-behind-volatile-oom", "write-behind", eviction.volatile_oom, eviction.volatile_oom_figures,
              {"queued": 3, "first_evicted": "'user:2'", "refused": 1, "refused_key": "'product:7'", "peak": 368,
               "later_evicted": "'user:3' and 'user:1'", "accepted": "accepted", "written": 1, "lost": 0,
               "maxmemory": 320, "maxmemory_policy": "volatile-lru", "max_delay_seconds": 30},
              maxmemory=320, maxmemory_policy="volatile-lru", max_delay_seconds=30.0),
    _scenario("write-behind-evicted-read-your-writes", "write-behind", eviction.evicted_read_your_writes,
              eviction.evicted_read_your_writes_figures,
              {"evicted": "'user:1'", "queued_then": "still queued", "hit": "a miss", "served": NEW_Q,
               "db_then": OLD_Q, "stored": NEW_Q, "lost": 0, "maxmemory": 360, "maxmemory_policy": "allkeys-lru",
               "max_delay_seconds": 30}, maxmemory=360, maxmemory_policy="allkeys-lru", max_delay_seconds=30.0),
)
ON_PAGE: dict[tuple[str, str], Scenario] = {(scenario.pattern, scenario.slug): scenario for scenario in CATALOGUE}
# slug -> the scenario of the first page it runs on: a slug's title and texts, wherever it runs (tests, exports).
SCENARIOS: dict[str, Scenario] = {}
for _entry in CATALOGUE:
    SCENARIOS.setdefault(_entry.slug, _entry)


def find(pattern: str, slug: str) -> Scenario | None:
    """The scenario `slug` as it runs on `pattern`'s page, or None if it does not run there."""
    return ON_PAGE.get((pattern, slug))


def runs_on(pattern: str) -> list[Scenario]:
    """Every scenario that runs on `pattern`'s page, in the catalogue's order: the page's picker."""
    return [scenario for scenario in CATALOGUE if scenario.pattern == pattern]


def pages_of(slug: str) -> list[str]:
    """The patterns whose page runs `slug` (none: no such scenario)."""
    return [scenario.pattern for scenario in CATALOGUE if scenario.slug == slug]


__all__ = ["CATALOGUE", "DEFAULT_KNOBS", "HOT_KEY", "NEW", "OLD", "ON_PAGE", "READERS", "SCENARIOS", "find",
           "pages_of", "runs_on"]
