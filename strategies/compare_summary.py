"""The Compare page's summary: "which pattern when" sentences computed from a run's numbers.

Each sentence is a section of `assets/compare.md` whose `{fields}` are filled from this run (`Sentence.fields`
holds the numbers it states), and said only when this run's numbers back it.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import TYPE_CHECKING, NamedTuple

from .assets import ASSETS, fill, markdown_sections

if TYPE_CHECKING:
    from .compare import PatternResult
    from .compare_workload import Workload

COMPARE_FILE = ASSETS / "compare.md"
CACHE_UPDATING = frozenset({"write-through", "write-behind"})   # a write leaves the new value cached (the others DEL)


class Sentence(NamedTuple):
    id: str                   # its section in assets/compare.md
    fields: dict              # the numbers (and names) it states
    text: str


@cache
def templates() -> dict[str, str]:
    """Section id -> text, from the '## id' sections of assets/compare.md."""
    return markdown_sections(COMPARE_FILE)


def say(name: str, **values: object) -> str:
    return fill(templates()[name], values)


def _sentence(name: str, **values: object) -> Sentence:
    return Sentence(name, values, say(name, **values))


def pct(ratio: float | None) -> str:
    return "–" if ratio is None else f"{ratio * 100:.0f}"


def ms(value: float | None) -> str:
    return "–" if value is None else f"{value:g}"


def times(big: float, small: float) -> str:
    """How many times `big` is `small`, as the summary prints it (1 decimal below 10, else whole)."""
    factor = big / small
    return f"{factor:.1f}" if factor < 10 else f"{factor:.0f}"


def names(results: Sequence[PatternResult]) -> str:
    return listed([r.title for r in results])


def listed(words: Sequence[str]) -> str:
    """"a", "a and b", "a, b and c"; "" for none."""
    if len(words) <= 1:
        return "".join(words)
    return ", ".join(words[:-1]) + " and " + words[-1]


def summary(workload: Workload, results: Sequence[PatternResult]) -> list[Sentence]:
    """Which pattern when, from this run's numbers; each sentence's fields are the numbers it states."""
    by = {r.pattern: r for r in results}
    said: list[Sentence] = []
    wb, wt = by.get("write-behind"), by.get("write-through")
    if wb is not None and wt is not None:
        if wt.db_writes == 0:
            said.append(_sentence("no-db-writes"))
        elif not workload.coalesce:
            said.append(_sentence("wb-plain-writes", wb=f"{wb.db_writes:,}", wt=f"{wt.db_writes:,}",
                                  risk=wb.max_queue, lost=f"{wb.lost_writes:,}"))
        elif wb.db_writes < wt.db_writes and wb.lost_writes:
            # Fewer rows, but not all of them saved work: some acknowledged writes never arrived at all.
            said.append(_sentence("wb-fewer-writes-lost", wb=f"{wb.db_writes:,}", wt=f"{wt.db_writes:,}",
                                  coalesced=f"{wb.coalesced_writes:,}", lost=f"{wb.lost_writes:,}"))
        elif wb.db_writes < wt.db_writes:
            said.append(_sentence("wb-fewer-writes", factor=times(wt.db_writes, max(wb.db_writes, 1)),
                                  wb=f"{wb.db_writes:,}", wt=f"{wt.db_writes:,}", risk=wb.max_queue,
                                  coalesced=f"{wb.coalesced_writes:,}"))
        elif wb.db_writes == wt.db_writes and not wb.coalesced_writes:
            said.append(_sentence("wb-same-writes", wb=f"{wb.db_writes:,}", wt=f"{wt.db_writes:,}",
                                  risk=wb.max_queue))
        else:
            # Not fewer rows, though writes were coalesced (or more rows than write-through): the other side of
            # the count, write-through's failed writes, wrote nothing. Say both numbers, credit neither.
            said.append(_sentence("wb-not-fewer-writes", wb=f"{wb.db_writes:,}", wt=f"{wt.db_writes:,}",
                                  coalesced=f"{wb.coalesced_writes:,}", failed=f"{wt.failed_writes:,}",
                                  risk=wb.max_queue))
    rated = [r for r in results if r.hit_ratio is not None]
    if len(rated) >= 2:
        best = max(rated, key=lambda r: r.hit_ratio)
        worst = min(rated, key=lambda r: r.hit_ratio)
        if best.hits == worst.hits:
            said.append(_sentence("hit-same", hit=pct(best.hit_ratio)))
        else:
            updates = best.pattern in CACHE_UPDATING and worst.pattern not in CACHE_UPDATING
            said.append(_sentence("hit-best-updates" if updates else "hit-best", best=best.title,
                                  best_hit=pct(best.hit_ratio), worst=worst.title, worst_hit=pct(worst.hit_ratio),
                                  best_db=f"{best.db_reads:,}", worst_db=f"{worst.db_reads:,}"))
    timed = [r for r in results if r.write_p50 is not None]
    if wb is not None and wt is not None and wb.write_p50 is not None and wt.write_p50 is not None \
            and wb.write_p50 < wt.write_p50:
        said.append(_sentence("wb-faster-writes", wb=ms(wb.write_p50), wt=ms(wt.write_p50),
                              factor=times(wt.write_p50, wb.write_p50)))
    elif len(timed) >= 2:
        fastest = min(timed, key=lambda r: r.write_p95)
        said.append(_sentence("fastest-writes", best=fastest.title, p95=ms(fastest.write_p95)))
    stale = [r for r in results if r.stale_reads]
    if stale:
        parts = ", ".join(f"{r.title} {r.stale_reads:,} ({pct(r.stale_reads / r.reads)} % of its reads)"
                          for r in sorted(stale, key=lambda r: -r.stale_reads))
        said.append(_sentence("stale", parts=parts, clean=names([r for r in results if not r.stale_reads]) or
                              "none"))
    elif any(r.reads for r in results):
        said.append(_sentence("no-stale"))
    said += _memory(workload, results)
    said += _taken(workload, results)
    said += _busiest(results)
    said += _fault_sentences(workload, results)
    said += _advice(workload, by)
    return said


def _memory(workload: Workload, results: Sequence[PatternResult]) -> list[Sentence]:
    """What the memory limit did: keys evicted, stores refused, or nothing at all."""
    if workload.maxmemory is None:
        return []
    limit, policy = f"{workload.maxmemory:,}", workload.maxmemory_policy
    found = []
    if any(r.evictions for r in results):
        found.append(_sentence("memory-evicted", limit=limit, policy=policy,
                               parts=", ".join(f"{r.title} {r.evictions:,}" for r in results)))
    refusing = [r for r in results if r.refused]
    if refusing:
        found.append(_sentence("memory-refused", policy=policy,
                               parts=", ".join(f"{r.title} {r.refused:,}" for r in refusing)))
    return found or [_sentence("memory-roomy", limit=limit, policy=policy)]


def _taken(workload: Workload, results: Sequence[PatternResult]) -> list[Sentence]:
    """Which patterns ran with the knobs only some patterns have (the others ran without them)."""
    knobs = workload.part_knobs()
    named = {"ttl_jitter": say("knob-jitter", percent=f"{workload.ttl_jitter:g}"),
             "refresh_ahead": say("knob-refresh-ahead", factor=f"{workload.refresh_ahead or 0:g}"),
             "xfetch_beta": say("knob-xfetch", beta=f"{workload.xfetch_beta or 0:g}"),
             "near_ttl": say("knob-near", ttl=workload.near_ttl, how=workload.near_invalidation)}
    groups: dict[tuple[str, ...], list[str]] = {}
    for attribute, name in named.items():
        if knobs[attribute]:
            takers = tuple(r.title for r in results if attribute in r.took)
            groups.setdefault(takers, []).append(name)
    found = []
    for takers, knob_names in groups.items():
        others = [r.title for r in results if r.title not in takers]
        it = "it" if len(knob_names) == 1 else "them"
        if not takers:
            found.append(_sentence("knobs-taken-by-none", knobs=listed(knob_names), it=it))
        elif others:
            found.append(_sentence("knobs-taken", knobs=listed(knob_names), takers=listed(list(takers)),
                                   have="has" if len(takers) == 1 else "have", it=it, others=listed(others)))
    return found


def _busiest(results: Sequence[PatternResult]) -> list[Sentence]:
    """Each pattern's busiest simulated second for the database (the chart of reads over time shows them all)."""
    peaks = []
    for r in results:
        if r.db_reads_per_second:
            second, count = max(r.db_reads_per_second, key=lambda point: (point[1], -point[0]))
            if count:
                peaks.append(f"{r.title} {count:,} reads (at {second}–{second + 1} s)")
    return [_sentence("db-busiest", parts=", ".join(peaks))] if peaks else []


def time_caption(workload: Workload, results: Sequence[PatternResult]) -> Sentence:
    """What the chart of database reads over time shows of expiry in this run: which runs had keys live out
    their TTL, counted as they ran; or that none did, and how long the runs lasted (shorter than the TTL, or not)."""
    expired = [f"{r.title} {r.expired:,}" for r in results if r.expired]
    if expired:
        return _sentence("db-time-expiry", parts=", ".join(expired), ttl=workload.ttl_seconds)
    longest = max((r.simulated_seconds for r in results), default=0.0)
    # A run that outlived the TTL with no key expiring: each key left or was renewed first (a longer run is no cure).
    name = "db-time-no-expiry-outlived" if longest >= workload.ttl_seconds else "db-time-no-expiry"
    return _sentence(name, seconds=f"{longest:,.1f}", ttl=workload.ttl_seconds)


def policy_summary(workload: Workload, pattern: str, found: dict[str, PatternResult]) -> list[Sentence]:
    """What the policies did to one pattern's reads under the workload's memory limit (`compare.by_policy`)."""
    rated = [(policy, r) for policy, r in found.items() if r.hit_ratio is not None]
    if not rated:
        return []
    best = max(rated, key=lambda item: item[1].hit_ratio)[1]
    worst = min(rated, key=lambda item: item[1].hit_ratio)[1]
    limit = f"{workload.maxmemory or 0:,}"
    if best.hits == worst.hits:
        return [_sentence("policy-same", pattern=pattern, limit=limit, hit=pct1(best.hit_ratio))]

    def alike(chosen: PatternResult) -> str:                # every policy that did as well (or as badly)
        return listed([policy for policy, r in rated if (r.hits, r.db_reads) == (chosen.hits, chosen.db_reads)])

    return [_sentence("policy-best", pattern=pattern, limit=limit, best=alike(best), best_hit=pct1(best.hit_ratio),
                      best_db=f"{best.db_reads:,}", worst=alike(worst), worst_hit=pct1(worst.hit_ratio),
                      worst_db=f"{worst.db_reads:,}")]


def pct1(ratio: float | None) -> str:
    """A ratio in percent with one decimal: policies often differ by less than a point."""
    return "–" if ratio is None else f"{ratio * 100:.1f}"


def _fault_sentences(workload: Workload, results: Sequence[PatternResult]) -> list[Sentence]:
    if workload.fault == "none":
        return []
    if workload.fault == "cache-crash":
        lost = [r for r in results if r.lost_writes]
        if not lost:
            return [_sentence("crash-nothing-lost", at=workload.fault_at + 1)]
        return [_sentence("crash-lost", at=workload.fault_at + 1, lost=f"{sum(r.lost_writes for r in lost):,}",
                          who=names(lost), stale=f"{sum(r.stale_reads for r in lost):,}")]
    failed = sorted(results, key=lambda r: (r.failed_in_window, r.title))
    parts = ", ".join(f"{r.title} {r.failed_in_window:,}" for r in failed)
    name = "outage-db" if workload.fault == "db-outage" else "outage-cache"
    found = [_sentence(name, length=f"{workload.fault_length:,}", at=workload.fault_at + 1, parts=parts,
                       best=failed[0].title, best_failed=f"{failed[0].failed_in_window:,}")]
    wb = next((r for r in results if r.pattern == "write-behind"), None)
    if workload.fault == "db-outage" and wb is not None and wb.failed_writes == 0 and wb.writes:
        found.append(_sentence("outage-db-queue", risk=wb.max_queue))
    return found


def _advice(workload: Workload, by: dict[str, PatternResult]) -> list[Sentence]:
    """"Pick X when …", each said only when this run's numbers back it."""
    found = []
    wb, wt, ca = by.get("write-behind"), by.get("write-through"), by.get("cache-aside")
    owed = wb.db_writes + wb.lost_writes if wb else 0     # a lost write saved no work: it is counted as owed
    if wb and wt and owed and wt.db_writes >= 2 * owed:
        found.append(_sentence("pick-write-behind", factor=times(wt.db_writes, owed), risk=wb.max_queue,
                               lost=f"{wb.lost_writes:,}"))
    if wt and wt.stale_reads == 0 and wt.reads:
        found.append(_sentence("pick-write-through", hit=pct(wt.hit_ratio), p50=ms(wt.write_p50)))
    if ca and workload.fault == "cache-down":
        others = [r for r in by.values() if r is not ca]
        if others and all(ca.failed_in_window < r.failed_in_window for r in others):
            found.append(_sentence("pick-cache-aside", failed=f"{ca.failed_in_window:,}",
                                   others=f"{min(r.failed_in_window for r in others):,}",
                                   stale=f"{ca.stale_reads:,}"))
    return found
