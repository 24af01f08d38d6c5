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

from strategies.features.write_queue import delivery
from strategies.scenario import run_scenario, scenario_texts
from strategies.scenarios import CATALOGUE, SCENARIOS

pytestmark = pytest.mark.cluster       # the `cache` tests run on a Redis Cluster too (conftest.py)

SLUGS = [scenario.slug for scenario in CATALOGUE]
# Digits a text may carry that are not figures of the run: key names, app instances' names and references
# (papers, protocols, software versions).
NOT_FIGURES = re.compile(r"\b(?:user|product|import|price):\w+|§[\d.]+|\bNSDI '\d+|\bVLDB \d+|\bApp [12]\b|\bRESP3\b"
                         r"|\b(?:Redis|version) \d+(?:\.\d+)?\b")


def fields_of(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


@pytest.mark.parametrize("slug", SLUGS)
def test_every_figure_a_scenario_claims_is_what_its_run_did(make_lab, slug):
    scenario = SCENARIOS[slug]
    run = run_scenario(scenario, runnable_lab(scenario, make_lab(scenario.pattern)))
    figures = run.figures
    wrong = {name: (claimed, figures.get(name, "not a figure of the run"))
             for name, claimed in scenario.claims.items() if figures.get(name) != claimed}
    assert not wrong, f"{slug}: claimed (in strategies/scenarios) vs what the run did: {wrong}"


def test_every_field_a_scenario_text_quotes_is_claimed_and_no_text_states_a_number_of_its_own():
    claims = 0
    for scenario in CATALOGUE:
        texts = scenario_texts()[scenario.slug]
        for part, template in texts.items():
            quoted = fields_of(template)
            assert quoted <= set(scenario.claims), \
                f"{scenario.slug} / {part} quotes {quoted - set(scenario.claims)}, which its claims do not state"
            bare = re.sub(r"\{[^}]*\}", "", NOT_FIGURES.sub("", template))
            assert not re.search(r"\d", bare), f"{scenario.slug} / {part} states a number of its own: {template!r}"
        claims += len(scenario.claims)
    assert claims >= 120, f"{claims} claims: a claim was dropped without its text"


# ---- sentences chosen from the state of their step -------------------------------------------------------
def _checks(lab, step) -> list[str]:
    """What the sentence of `step` asserts about the tables right after it, where it asserts anything."""
    state = lab.state_after(step)
    name = step.note[0]
    problems = []
    if name in ("cache-aside-miss", "lease-still-miss") and step.key in state.cache:
        problems.append("says the cache has no such key, but another reader has filled it")
    if name.endswith("-filled-since") and step.key not in state.cache:
        problems.append("says another reader filled the key, but the cache does not hold it")
    if name in ("lease-fill", "lease-fill-forever"):
        item, row = state.cache.get(step.key), state.db.get(step.key)
        if item is None or row is None or item.value != row.value:
            problems.append("says the cache now agrees with the database, and it does not")
    if name == "wb-flush-failed" and not state.queue:
        problems.append("says the batch stays queued, and the queue is empty")
    if name in ("crash-queue-empty", "crash") and state.lost:
        problems.append("says nothing was lost, and the ledger has lost writes")
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


@pytest.mark.parametrize("slug", SLUGS)
def test_what_each_step_says_about_the_tables_is_true_of_them(make_lab, slug):
    scenario = SCENARIOS[slug]
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
