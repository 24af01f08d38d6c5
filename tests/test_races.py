"""Find the race, the core: every classic ordering gives its known result out of the search (nothing here is
written down but the orderings), the explorer's counts equal a brute-force run of every interleaving on its own
fresh lab, faults branch, and a found interleaving replays to the same steps and verdict — on fakeredis and on a
real Redis."""

from __future__ import annotations

import math
import re

import pytest
from core_support import check_explanations

from strategies.races import PRESETS, Explorer, Fault, Race, Report, explore, naive_verdicts, replay, upper_bound
from strategies.races.cards import TEXT_FILE, path_problems, text
from strategies.races.program import KEY
from strategies.races.report import Count, faults, headline, summary
from strategies.races.schedule import Blocked, schedules

READ = PRESETS["cache-aside"].read           # GET, SELECT, SET with a TTL


def preset(slug: str, clients: str | None = None, fault: Fault | None = None) -> Race:
    chosen = PRESETS[slug]
    return Race(chosen.read, chosen.write, clients or chosen.clients, fault)


def cards_of(race: Race, schedule) -> list[tuple[str, str]]:
    """(client letter, card code) of each turn of `schedule`, in order."""
    done, found = [0] * len(race.roles), []
    for client, _ in schedule:
        found.append((race.letters[client], race.path(client)[done[client]].code))
        done[client] += 1
    return found


def position(turns: list[tuple[str, str]], client: str, code: str) -> int:
    return turns.index((client, code))


# ---- the classic orderings, each with its known result ---------------------------------------------------------
def test_update_then_delete_breaks_only_when_a_read_miss_races_the_write():
    race = preset("cache-aside")
    explorer = Explorer(race)
    report = explorer.run()
    assert 0 < report.bad < report.interleavings
    bad = list(explorer.bad_schedules())
    assert len(bad) == report.bad
    for schedule in bad:
        run = replay(race, schedule)
        turns = cards_of(race, schedule)
        [get] = [step for step in run.steps if step.client == "A" and step.action == "GET"]
        assert get.outcome == "miss"                                   # the read missed…
        assert position(turns, "A", "SELECT") < position(turns, "B", "UPDATE")   # …read the old row…
        assert position(turns, "A", "SET-TTL") > position(turns, "B", "DEL")     # …and stored it after the DEL
        assert run.verdict.stale_cache and not run.verdict.forever
    assert explore(preset("cache-aside", "ww")).bad == 0               # no reader, no race


def test_delete_then_update_breaks_more_often_than_update_then_delete():
    for clients in ("rw", "rrw"):
        wrong, right = explore(preset("delete-then-update", clients)), explore(preset("cache-aside", clients))
        assert wrong.interleavings == right.interleavings
        assert wrong.bad > right.bad > 0


def test_update_then_set_loses_to_a_concurrent_writer():
    race = preset("update-then-set", "ww")
    report = explore(race)
    assert report.lost > 0 and report.stale_forever > 0
    turns = cards_of(race, report.shortest)
    # Both commit, then their SETs land in the other order: the cache keeps the value the database replaced.
    first, second = ("A", "B") if position(turns, "A", "UPDATE") < position(turns, "B", "UPDATE") else ("B", "A")
    assert position(turns, second, "SET") < position(turns, first, "SET")
    run = replay(race, report.shortest)
    values = dict(zip("AB", ("Ada King", "Ada Byron"), strict=True))
    assert run.lab.world().cache.value == values[first] and run.lab.world().row[0] == values[second]
    assert run.verdict.lost_write


def test_set_then_update_breaks_when_the_database_write_fails_even_without_a_race():
    race = preset("set-then-update", "rw", Fault("database", "B", 2))
    serial = [(1, False), (1, False), (0, False), (0, False), (0, False)]       # the writer first, then the reader
    assert not replay(race, serial).verdict.bad
    failing = replay(race, [(1, False), (1, True), (0, False), (0, False), (0, False)])
    assert failing.verdict.stale_cache and failing.verdict.forever
    report = explore(race)
    assert report.faulted_bad > 0
    writer = [index for index, (client, _) in enumerate(report.shortest) if client == 1]
    assert writer == [0, 1] and report.shortest[1] == (1, True)     # the shortest: the writer alone, its UPDATE failing


def test_delayed_double_delete_narrows_the_window_but_a_third_client_breaks_it():
    two = explore(preset("delayed-double-delete", "rw"))
    assert two.bad == 0
    assert [weak.card for weak in two.rests_on] == ["DEL-LATER"]
    three = explore(preset("delayed-double-delete", "rrw"))
    assert three.bad > 0 and three.bad == three.stale_reads
    assert three.stale_cache == 0 and three.lost == 0                  # the second DEL always cleans up
    without = explore(Race(READ, ("UPDATE", "DEL"), "rrw"))
    assert without.stale_cache > 0                                     # without it the cache stays stale


@pytest.mark.parametrize("clients", ["rw", "ww", "rrw"])
def test_leases_break_in_no_interleaving(clients):
    report = explore(preset("leases", clients))
    assert report.interleavings > 0 and report.bad == 0
    if clients != "ww":
        assert {weak.card for weak in report.rests_on} == {"SET-LEASE", "DEL-LEASE"}


# ---- the counts, against a brute-force run of every interleaving -------------------------------------------------
def naive_counts(race: Race) -> tuple[int, ...]:
    verdicts = list(naive_verdicts(race))
    return (len(verdicts), sum(v.bad for v in verdicts), sum(v.stale_cache and not v.forever for v in verdicts),
            sum(v.forever for v in verdicts), sum(v.lost_write for v in verdicts), sum(v.stale_read for v in verdicts),
            sum(v.faulted for v in verdicts), sum(v.faulted and v.bad for v in verdicts))


def counts(report) -> tuple[int, ...]:
    return (report.interleavings, report.bad, report.stale_ttl, report.stale_forever, report.lost,
            report.stale_reads, report.faulted, report.faulted_bad)


SMALL = [preset(slug, clients) for slug in PRESETS for clients in ("rw", "ww")] + [
    preset("cache-aside", "rw", Fault("cache", "B", 2)),
    preset("set-then-update", "ww", Fault("database", "A", 2)),
    preset("leases", "rw", Fault("database", "A", 2)),
    preset("write-behind", "rw", Fault("database", "B", 2)),
]


@pytest.mark.parametrize("race", SMALL, ids=lambda race: f"{race.write}-{race.clients}-{race.fault}")
def test_the_explorer_counts_what_running_every_interleaving_on_a_fresh_lab_finds(race):
    assert counts(explore(race, rests_on=False)) == naive_counts(race)


@pytest.mark.parametrize("slug", ["cache-aside", "delayed-double-delete"])
def test_three_clients_counted_as_brute_force_counts_them(slug):
    race = preset(slug, "rrw")
    assert counts(explore(race, rests_on=False)) == naive_counts(race)


def test_every_order_is_counted_once():
    two = Race(("GET", "GET-QUEUED", "SELECT", "SET-NX", "SET-TTL", "SET"),
               ("QUEUE", "UPDATE", "DEL", "SET-TTL", "DEL-LEASE", "FLUSH"), "rw")
    assert explore(two, rests_on=False).interleavings == upper_bound(two) == math.comb(12, 6) == 924
    three = Race(("GET", "SELECT", "SET-NX", "SET-TTL"), ("UPDATE", "DEL", "SET-TTL", "DEL-LEASE"), "rrw")
    assert explore(three, rests_on=False).interleavings == upper_bound(three) == 34_650
    assert sum(1 for _ in schedules(preset("cache-aside"))) == math.comb(5, 2)


def test_progress_is_reported_and_ends_at_the_total():
    seen = []
    report = explore(Race(READ, ("UPDATE", "DEL", "SET-TTL", "DEL-LEASE"), "rrw"), rests_on=False,
                     progress=lambda done, bound: seen.append((done, bound)))
    assert seen[-1] == (report.interleavings, report.interleavings)
    assert len(seen) > 2 and all(a[0] <= b[0] for a, b in zip(seen, seen[1:], strict=False))


# ---- replay ------------------------------------------------------------------------------------------------------
def test_every_interleaving_replays_to_the_verdict_the_explorer_counted():
    race = preset("delete-then-update")
    explorer = Explorer(race)
    explorer.run()
    for order in schedules(race):
        schedule = tuple((client, False) for client in order)
        assert replay(race, schedule).verdict == explorer.verdict_of(schedule)


def test_the_shortest_interleaving_replays_to_the_same_steps_and_every_step_explains_itself():
    race = preset("delayed-double-delete", "rrw")
    report = explore(race)
    first, second = replay(race, report.shortest), replay(race, report.shortest)
    assert first.verdict.bad and first.verdict == second.verdict
    shape = [(s.client, s.source, s.target, s.action, s.command, s.outcome, s.value) for s in first.steps]
    assert shape == [(s.client, s.source, s.target, s.action, s.command, s.outcome, s.value) for s in second.steps]
    assert report.shortest_calls == sum(step is not None for _, step in first.turns)
    check_explanations(first.lab.log.values())


def test_a_schedule_the_race_does_not_allow_is_refused():
    race = preset("delayed-double-delete")
    with pytest.raises(Blocked):          # the delayed DEL while the read it waits for is still under way
        replay(race, [(0, False), (1, False), (1, False), (1, False), (0, False), (0, False)])
    with pytest.raises(Blocked):          # a fault where none was asked for
        replay(race, [(1, True)])


def real_world(lab) -> tuple:
    """What Redis and SQLite really hold of the race's key (no step recorded)."""
    cache = lab.cache
    ttl = cache.ttl(lab.redis_key(KEY))
    return (cache.get(lab.redis_key(KEY)), ttl > 0, (cache.get(lab.lease_key) or "").partition("|")[0] or None,
            cache.hget(lab.queue_key, KEY), lab.db.get(KEY))


def lab_world(lab) -> tuple:
    world = lab.world()
    item = world.cache
    return (item and item.value, bool(item and item.expires_at is not None), world.lease and world.lease.token,
            world.queued, world.row)


@pytest.mark.parametrize("slug,clients", [("cache-aside", "rw"), ("leases", "rrw"), ("write-behind", "ww"),
                                          ("update-then-set", "ww")])
def test_a_replay_on_a_real_redis_makes_the_same_calls_and_its_tables_are_what_redis_holds(cache, namespace, slug,
                                                                                          clients):
    race = preset(slug, clients)
    explorer = Explorer(race)
    explorer.run()
    schedule = next(explorer.bad_schedules(), None) or tuple(
        (client, False) for client in next(iter(schedules(race))))
    here = replay(race, schedule)
    there = replay(race, schedule, cache=cache, namespace=namespace)
    shape = [(s.client, s.action, s.command, s.outcome, s.value) for s in here.steps]
    assert [(s.client, s.action, s.command, s.outcome, s.value) for s in there.steps] == shape
    assert there.verdict == here.verdict == explorer.verdict_of(schedule)
    assert lab_world(there.lab) == real_world(there.lab)


@pytest.mark.parametrize("slug,clients", [("leases", "rw"), ("write-behind", "rw")])
def test_the_search_counts_the_same_on_a_real_redis_and_leaves_no_key_behind(cache, namespace, slug, clients):
    race = preset(slug, clients)
    assert counts(explore(race, cache=cache, namespace=namespace)) == counts(explore(race))
    assert not list(cache.scan_iter(match=namespace + "*"))


# ---- faults and the rules of a path ---------------------------------------------------------------------------
def test_a_fault_is_one_more_branch_where_its_card_calls_the_component():
    race = preset("cache-aside", "rw", Fault("database", "B", 1))
    report = explore(race)
    plain = explore(preset("cache-aside", "rw"))
    assert report.interleavings == 2 * plain.interleavings       # the writer's UPDATE always runs: every order twice
    assert report.faulted == plain.interleavings
    # A reader's SELECT does nothing after a hit, so the fault there strikes only where the read missed.
    reader = explore(Race(READ, ("UPDATE", "SET-TTL"), "rw", Fault("database", "A", 2)), rests_on=False)
    assert plain.interleavings < reader.interleavings < 2 * plain.interleavings


def test_the_faults_offered_are_exactly_the_calls_the_paths_make():
    race = preset("cache-aside")
    assert [fault.code for fault in faults(race)] == ["cache:A1", "db:A2", "cache:A3", "db:B1", "cache:B2"]
    for fault in faults(race):
        assert not Race(race.read, race.write, race.clients, fault).problems()
    assert Fault.parse("db:B2") == Fault("database", "B", 2)
    for bad in ("db", "disk:B1", "db:Z1", "db:B", "cache:Bx"):
        with pytest.raises(ValueError):
            Fault.parse(bad)


@pytest.mark.parametrize("fault,words", [
    (Fault("cache", "B", 1), "does not call the cache"),
    (Fault("database", "B", 3), "no card 3"),
    (Fault("database", "C", 1), "these clients are A, B"),
])
def test_a_fault_that_cannot_strike_says_why(fault, words):
    [problem] = preset("cache-aside", "rw", fault).problems()
    assert words in problem


@pytest.mark.parametrize("side,codes,words", [
    ("read", ("SET-TTL", "SELECT"), "before anything loaded"),
    ("read", ("SELECT", "SET-LEASE"), "needs **GET with lease**"),
    ("read", ("GET", "GET"), "twice"),
    ("read", ("GET", "NOPE"), "does not know"),
    ("read", (), "empty"),
    ("write", ("DEL-LATER", "UPDATE"), "goes after"),
    ("write", ("DEL-LATER",), "only cards that run after"),
    ("write", ("UPDATE", "FLUSH"), "nothing queued"),
])
def test_a_path_that_cannot_run_says_why(side, codes, words):
    problems = path_problems(side, codes)
    assert problems and any(words in problem for problem in problems), problems
    with pytest.raises(ValueError):
        Explorer(Race(codes if side == "read" else READ, codes if side == "write" else ("UPDATE",), "rw"))


def test_every_preset_is_a_race_that_can_run():
    for slug in PRESETS:
        assert not preset(slug).problems(), slug


# ---- the report's text ---------------------------------------------------------------------------------------------
def test_the_report_quotes_the_search_and_states_no_number_of_its_own():
    for section, body in text().items():
        assert not re.search(r"\d", re.sub(r"\{[^}]*\}", "", body)), (TEXT_FILE.name, section, body)
    report = explore(preset("cache-aside", "rrw"))
    lines = [headline(report), *summary(report)]
    quoted = {int(n.replace(",", "")) for line in lines for n in re.findall(r"\d[\d,]*", line)}
    idle = len(report.shortest) - report.shortest_calls
    assert quoted <= {report.interleavings, report.states, report.cards_run, report.bad, report.stale_ttl,
                      report.lost, report.stale_reads, report.shortest_calls, idle, 60}
    assert not any("forever" in line or "no expiry" in line for line in lines)     # no count of zero is said
    safe = explore(preset("leases", "rrw"))
    assert "None of the 560 interleavings breaks" in headline(safe)
    assert any("SET with lease" in line and "A lease is a token" in line for line in summary(safe))


def counted(bad: int, *, interleavings: int = 10, faulted: int = 0, faulted_bad: int = 0, calls: int = 5,
            idle: int = 0) -> list[str]:
    """The headline and the report of a search that found `bad` bad interleavings, each ending in every way."""
    race = preset("cache-aside", fault=Fault("cache", "B", 2) if faulted else None)
    report = Report(race, interleavings, bad, bad, bad, bad, bad, faulted, faulted_bad,
                    ((0, False),) * (calls + idle) if bad else None, calls if bad else 0, states=21, cards_run=14)
    return [headline(report), *summary(report)]


def test_every_sentence_of_the_report_agrees_with_its_count():
    one = " ".join(counted(1, faulted=4, faulted_bad=1, calls=1, idle=1))
    assert "**1 of the 10 interleavings breaks.**" in one
    for sentence in ("1 ends with the cache holding", "1 loses a write", "1 serves a stale read",
                     "1 of the 4 interleavings in which the fault struck breaks.",
                     "runs 1 card that makes a call, and 1 that calls nothing."):
        assert sentence in one, sentence
    many = " ".join(counted(3, interleavings=1_200, faulted=4, faulted_bad=2, calls=5, idle=2))
    assert "**3 of the 1,200 interleavings break.**" in many
    for sentence in ("3 end with the cache holding", "3 lose a write", "3 serve a stale read",
                     "2 of the 4 interleavings in which the fault struck break.",
                     "runs 5 cards that make a call, and 2 that call nothing."):
        assert sentence in many, sentence
    assert "**1,200** interleavings explored" in many
    assert "**1** interleaving explored" in " ".join(counted(0, interleavings=1))
    assert re.search(r"\b1 (end|lose|serve|break)\b|\b[02-9] (ends|loses|serves|breaks)\b", one + many) is None
    none = counted(0, faulted=10)
    assert none[0].startswith("**None of the 10 interleavings breaks**")
    assert not any(re.search(r"\b0 ", line) for line in none)           # a zero is said as "none", or not at all
    every = " ".join(counted(10, faulted=4, faulted_bad=4))
    assert "**All 10 interleavings break.**" in every
    assert "Every interleaving in which the fault struck breaks (4 of them)." in every
    assert "No interleaving in which the fault struck breaks (4 of them)" in " ".join(counted(2, faulted=4))
    assert "runs 5 cards." in every


def test_a_count_agrees_with_the_words_beside_it():
    for count, word in ((0, "steps"), (1, "step"), (2, "steps"), (12_345, "steps")):
        assert f"{Count(count)} {Count(count):step|steps}" == f"{count:,} {word}"
