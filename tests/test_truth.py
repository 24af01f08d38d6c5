"""Every sentence the lab shows is true of the run on screen: the guard against texts written apart from runs.

* Each scenario states, as data (`claims`), the figures its captions and "what you saw" quote; every scenario
  is run here, on fakeredis, on a real Redis and on a cluster, and each claim is checked against the run.
* No scenario text states a number of its own: every number is a field filled in from the run.
* The sentences chosen at a step (a miss "still on its way", a fill that is already behind, a batch that "stays
  queued", an empty queue that "has reached the database") agree with the tables of that very step.
"""

from __future__ import annotations

import re
import string

import pytest
from core_support import runnable_lab

from strategies.features.early_refresh import REFRESHER
from strategies.features.flusher import FLUSHER
from strategies.features.near_cache import INSTANCE_ITSELF
from strategies.features.write_queue import delivery
from strategies.scenario import run_scenario, scenario_texts
from strategies.scenarios import CATALOGUE, find
from strategies.trace import CACHE_SERVER, RESERVED_CLIENTS

pytestmark = pytest.mark.cluster       # the `cache` tests run on a Redis Cluster too (conftest.py)

# Every scenario on every page it runs on (a slug may run on several: cache-aside and read-through).
CASES = [pytest.param(scenario.pattern, scenario.slug, id=f"{scenario.pattern}:{scenario.slug}")
         for scenario in CATALOGUE]
# Digits a text may carry that are not figures of the run: key names, app instances' names and references
# (papers, protocols, software versions).
NOT_FIGURES = re.compile(r"\b(?:user|product|import|price):\w+|§[\d.]+|\bNSDI '\d+|\bVLDB \d+|\bApp [12]\b|\bRESP3\b"
                         r"|\b(?:Redis|version) \d+(?:\.\d+)?\b")


def fields_of(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


@pytest.mark.parametrize(("pattern", "slug"), CASES)
def test_every_figure_a_scenario_claims_is_what_its_run_did(make_lab, pattern, slug):
    scenario = find(pattern, slug)
    run = run_scenario(scenario, runnable_lab(scenario, make_lab(scenario.pattern)))
    figures = run.figures
    wrong = {name: (claimed, figures.get(name, "not a figure of the run"))
             for name, claimed in scenario.claims.items() if figures.get(name) != claimed}
    assert not wrong, f"{pattern}:{slug}: claimed (in strategies/scenarios) vs what the run did: {wrong}"


def test_every_field_a_scenario_text_quotes_is_claimed_and_no_text_states_a_number_of_its_own():
    claims = 0
    for scenario in CATALOGUE:
        texts = scenario_texts()[scenario.section]
        intro = fields_of(texts["intro"])        # shown before the run: it may quote the scenario's knobs only
        assert intro <= set(scenario.knobs), f"{scenario.section} / intro quotes {intro - set(scenario.knobs)}"
        for part, template in texts.items():
            quoted = fields_of(template)
            assert quoted <= set(scenario.claims), \
                f"{scenario.slug} / {part} quotes {quoted - set(scenario.claims)}, which its claims do not state"
            bare = re.sub(r"\{[^}]*\}", "", NOT_FIGURES.sub("", template))
            assert not re.search(r"\d", bare), f"{scenario.slug} / {part} states a number of its own: {template!r}"
        claims += len(scenario.claims)
    assert claims >= 120, f"{claims} claims: a claim was dropped without its text"


# ---- sentences chosen from the state of their step -------------------------------------------------------
# The sentences that assert something about the tables (the tables of a step are rebuilt only for them: a scenario
# of thousands of steps would otherwise rebuild them thousands of times).
ASSERTING = {"cache-aside-miss", "lease-still-miss", "lease-fill", "lease-fill-forever", "wb-flush-failed",
             "crash-queue-empty", "crash", "early-fill", "xfetch-recompute", "warm-up-set", "warm-up-set-jitter"}


def _checks(lab, step) -> list[str]:
    """What the sentence of `step` asserts about the tables right after it, where it asserts anything."""
    name = step.note[0]
    if name not in ASSERTING and not name.endswith("-filled-since") and "queue" not in lab.cache_tables():
        return []
    state = lab.state_after(step)
    problems = []
    if name in ("cache-aside-miss", "lease-still-miss") and step.key in state.cache:
        problems.append("says the cache has no such key, but another reader has filled it")
    if name.endswith("-filled-since") and step.key not in state.cache:
        problems.append("says another reader filled the key, but the cache does not hold it")
    if name in ("lease-fill", "lease-fill-forever"):
        item, row = state.cache.get(step.key), state.db.get(step.key)
        if item is None or row is None or item.value != row.value:
            problems.append("says the cache now agrees with the database, and it does not")
    removed = any(change.table == "cache" and change.key == step.key and change.after is None
                  for change in step.changes)
    if name in ("cache-del", "cache-aside-del-lease") and not removed:
        problems.append("says it deleted a cached copy, and none was cached")
    if name in ("cache-del-nothing", "cache-aside-del-lease-nothing") and removed:
        problems.append("says no copy was cached, and its DEL removed one")
    if name == "wb-flush-failed" and not state.queue:
        problems.append("says the batch stays queued, and the queue is empty")
    if name in ("crash-queue-empty", "crash") and any(change.table == "lost" for change in step.changes):
        problems.append("says this crash lost nothing, and it lost writes")
    if name.startswith(("evict-", "oom-")):          # a full cache: what the sentence says of its memory and keys
        fields = step.note[1]
        if name != "oom-too-big" and not fields["used"] + fields["need"] > fields["limit"]:
            problems.append(f"says the cache is full, yet {fields['used']} + {fields['need']} fit {fields['limit']}")
        if name.startswith("evict-") and (step.key in state.cache or step.key not in state.evicted):
            problems.append("says the key was evicted, and the Cache table does not show it so")
        if name.startswith("oom-") and (state.cache.get(step.key) or (None,))[0] == step.value:
            problems.append("says nothing was stored, and the cache holds the refused value")
        if name == "oom-volatile" and any(item.expires_at is not None for item in state.cache.values()):
            problems.append("says no key has a TTL, and one has")
    if name == "early-fill":
        entry, item = state.early.get(step.key), state.cache.get(step.key)
        if entry is None or item is None or entry.expires_at != item.expires_at or entry.delta_ms <= 0:
            problems.append("says δ and the expiry are stored beside the key, and they are not (or not its own)")
    if name == "xfetch-recompute" and step.key not in state.cache:
        problems.append("says the key is recomputed before it expires, and the cache no longer holds it")
    if name.startswith("warm-up-set"):
        ttls = {round(state.cache[change.key].expires_at - step.at_ms / 1000) for change in step.changes}
        if (len(ttls) == 1) != (name == "warm-up-set") or len(step.changes) != step.note[1]["rows"]:
            problems.append(f"says how the warmed keys expire, and they expire after {sorted(ttls)} s")
    near = {"App 1": state.near1, "App 2": state.near2}
    app = (step.note[1] or {}).get("app")
    if name in ("near-hit", "near-hit-stale"):
        newest = state.latest(step.key)
        if (step.value == newest) != (name == "near-hit"):
            problems.append(f"says the copy {'is' if name == 'near-hit' else 'is not'} the newest value ({newest!r})")
    if name in ("near-message-drop", "near-tracked-drop", "near-drop-own", "near-expired") and step.key in near[app]:
        problems.append(f"says {app} dropped its copy, and its near cache still holds it")
    if name == "near-keep" and (near[app].get(step.key) is None or near[app][step.key].value != step.value):
        problems.append(f"says {app} keeps the value, and its near cache does not hold it")
    if name in ("near-message-nothing", "near-tracked-nothing") and step.key in near[app]:
        problems.append(f"says {app} held no copy, and it holds one")
    if "queue" in lab.cache_tables() and not state.queue:
        note = delivery(state)
        if "every acknowledged write has reached the database" in note and (state.acked or state.lost):
            problems.append(f"the empty queue says every write arrived: {note}")
    return problems


@pytest.mark.parametrize(("pattern", "slug"), CASES)
def test_what_each_step_says_about_the_tables_is_true_of_them(make_lab, pattern, slug):
    scenario = find(pattern, slug)
    run = run_scenario(scenario, runnable_lab(scenario, make_lab(scenario.pattern)))
    problems = [f"{step.client}{step.number} {step.command}: {problem}"
                for step in run.steps for problem in _checks(run.lab, step)]
    assert not problems, f"{slug}:\n" + "\n".join(problems)


def test_every_scenario_a_text_names_exists():
    """The pattern texts back their claims by naming the scenario that shows them: each name is a real one."""
    from lab_ui.text import ASSETS
    titles = [scenario.title for scenario in CATALOGUE]
    named = re.compile(r"scenarios? \*\*([^*]+)\*\*|\*\*([^*]+)\*\* scenarios?")
    found = 0
    for path in sorted(ASSETS.glob("*.md")):
        for match in named.finditer(path.read_text(encoding="utf-8")):
            name = match.group(1) or match.group(2)
            assert any(title.startswith(name) for title in titles), f"{path.name} names a scenario {name!r}"
            found += 1
    assert found >= 15, found


@pytest.mark.parametrize(("pattern", "slug"), CASES)
def test_a_step_is_a_clients_only_when_a_client_made_it(make_lab, pattern, slug):
    """The flusher's batches are the flusher's ("F"), even inside the write that made one due; a TTL running out,
    a restart, a resync or an eviction in the cache is the cache server's own ("S"), even an eviction made inside
    a client's call; a background refresh is the refresher's ("W"); an app instance's own events (its near copy
    running out, its connection lost or back) are the instance's ("N"): the diagram and the narration never credit
    them to the client whose steps happen to share the scene. Every other step is its request's own client's, and
    no client takes a letter reserved for a worker or a job."""
    scenario = find(pattern, slug)
    run = run_scenario(scenario, runnable_lab(scenario, make_lab(scenario.pattern)))
    workers = {"refresh": REFRESHER, "near-expiry": INSTANCE_ITSELF, "disconnect": INSTANCE_ITSELF,
               "subscribe": INSTANCE_ITSELF}
    jobs = {"warm-up": "J", "report": "R"}
    for trace in run.traces:
        assert trace.operation in ("flush", "expiry", "crash", "resync", *workers) or \
            trace.client not in RESERVED_CLIENTS or trace.client == jobs.get(trace.operation), \
            f"{slug}: {trace.operation} by {trace.client}"
        for step in trace.steps:
            said = f"{slug}: {step.client}{step.number} {step.command}"
            if "Flusher" in (step.source, step.target):
                assert step.client == FLUSHER, said
            elif step.target == "Cache" and step.action in ("EXPIRE", "CRASH", "RESYNC", "EVICT"):
                assert step.client == CACHE_SERVER, said
            else:
                assert step.client == workers.get(trace.operation, trace.client), said


# ---- a number and its words agree ----------------------------------------------------------------------------
def test_a_number_and_the_words_after_it_agree():
    """"{n:one|many}" in a text picks the words for its number: one for 1, many for 0 and the rest, also when the
    number was written with thousands separators."""
    from strategies.assets import fill

    template = "{n} acknowledged {n:write was|writes were} lost"
    assert fill(template, {"n": 1}) == "1 acknowledged write was lost"
    assert fill(template, {"n": "3"}) == "3 acknowledged writes were lost"
    assert fill(template, {"n": 0}) == "0 acknowledged writes were lost"
    assert fill("{n:key|keys}", {"n": "1,250"}) == "keys"
    assert fill("{ms:.1f} ms", {"ms": 2.25}) == "2.2 ms"          # any other format spec works as str.format's


def test_no_text_hedges_a_plural_with_s_in_brackets():
    """"1 write(s) were lost" reads wrong at 1 and sloppy at 3: every text says its count with agreeing words
    ({n:one|many}); a unit in brackets, as in "TTL (s)", is not a plural."""
    from strategies.assets import ASSETS

    hedged = [f"{path.name}:{number}: {line.strip()[:80]}" for path in sorted(ASSETS.glob("*.md"))
              for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1)
              if re.search(r"[A-Za-z]\(s\)", line)]
    assert not hedged, hedged
