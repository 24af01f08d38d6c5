"""What every step carries besides its arrow: the line of the pattern's own code that performed it (`step.code`)
and its explanation, written from assets/narration.md.

The narration is checked three ways: every id the core's source names exists in narration.md; a tour of every
situation the lab can be in produces every sentence of narration.md (so none is dead, and each one formats
with the fields its steps record); and conftest.py formats the explanation of every step every test records.
"""

from __future__ import annotations

import ast
from pathlib import Path

import fakeredis
import pytest
from contract_page import source_line
from core_support import check_explanations
from redis.exceptions import OutOfMemoryError

from lab_ui.text import ui_text
from strategies import PATTERNS, Database, SimClock
from strategies.features.tracking import unavailable
from strategies.narration import explain_warning, templates
from strategies.scenarios.expiry import catalogue, warm_up

pytestmark = pytest.mark.cluster       # the `cache` tests run on a Redis Cluster too (conftest.py)

CORE = Path(__file__).resolve().parent.parent / "strategies"
MODULES = {"cache-aside": "cache_aside.py", "read-through": "read_through.py", "write-through": "write_through.py",
           "write-behind": "write_behind.py"}
WARNINGS = {"cache-aside-read-around", "cache-aside-fill-failed", "invalidation-failed", "wb-background-flush-failed",
            "fill-refused", "near-publish-failed"}
# Sentences about an empty table, a queue's length and the memory, not about a step
# (tests/test_write_behind_delivery.py, tests/test_eviction.py):
TABLE_NOTES = {"queue-empty", "queue-empty-held", "queue-empty-lost", "queue-clause", "near-empty", "memory-gauge",
               "memory-gauge-unlimited", "memory-clause"}
# Near caches told by Redis itself (CLIENT TRACKING): said on a real Redis only (features/tracking.py).
TRACKING = {"near-track", "near-tracked-drop", "near-tracked-nothing", "near-disconnected-tracking",
            "near-reconnected-tracking"}


@pytest.mark.parametrize("ordering", ["safe", "naive"])
def test_write_through_orderings_point_at_their_own_lines(make_lab, db, ordering):
    lab = make_lab("write-through", ordering=ordering)
    write = lab.write("user:1", "x")
    by_action = {step.action: step for step in write.steps}
    set_line, upsert_line = by_action["SET"].code.line, by_action["UPSERT"].code.line
    assert "cache_set" in source_line(by_action["SET"]) and "db_upsert" in source_line(by_action["UPSERT"])
    assert by_action["SET"].code.function == by_action["UPSERT"].code.function == "WriteThrough._write"
    if ordering == "safe":
        assert set_line > upsert_line, "the safe ordering stores in the cache only after the commit"
    else:
        assert set_line < upsert_line, "the naive ordering stores in the cache before the commit"

    db.down = True
    failed = lab.write("user:1", "y")
    assert failed.steps[-1].failed and failed.steps[-1].code.line == upsert_line


def test_the_two_orderings_record_different_set_lines(make_lab, namespace):
    lines = set()
    for ordering in ("safe", "naive"):
        lab = make_lab("write-through", ordering=ordering, namespace=f"{namespace}{ordering}:", db=Database(":memory:"))
        lines.add(next(s.code.line for s in lab.write("k", "v").steps if s.action == "SET"))
    assert len(lines) == 2


def test_a_failed_call_points_at_the_pattern_line_too(make_lab, db):
    lab = make_lab("cache-aside")
    ok = lab.read("user:1")
    db.down = True
    failed = lab.read("user:2")
    assert failed.steps[-1].failed and failed.steps[-1].code.line == ok.steps[2].code.line      # the miss's SELECT
    lab.cache_down = True
    around = lab.read("user:3")
    assert around.steps[0].failed and around.steps[0].code.line == ok.steps[0].code.line        # the GET line
    assert around.steps[-1].failed and "db_select" in source_line(around.steps[-1])
    assert around.steps[-1].code.function == "CacheAside.read_around", "the read-around's own SELECT, not the miss's"


# ---- the narration ---------------------------------------------------------------------------------------


def _note_ids(node) -> list[tuple[str, bool]]:
    """(id, exact) for a note's first element: a literal, an f-string's literal prefix, or both branches of an if."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [(node.value, True)]
    if isinstance(node, ast.JoinedStr):
        prefix = node.values[0].value if node.values and isinstance(node.values[0], ast.Constant) else ""
        return [(prefix, False)]
    if isinstance(node, ast.IfExp):
        return _note_ids(node.body) + _note_ids(node.orelse)
    return []


def narration_ids_in_source() -> list[tuple[str, bool, str]]:
    found = []
    for path in sorted(CORE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Tuple) and len(node.elts) == 2 and (
                    isinstance(node.elts[1], ast.Dict)
                    or (isinstance(node.elts[1], ast.Constant) and node.elts[1].value is None)):
                found += [(name, exact, path.name) for name, exact in _note_ids(node.elts[0])]
            elif isinstance(node, ast.Call) and getattr(node.func, "id", None) == "explain_warning":
                found += [(name, exact, path.name) for name, exact in _note_ids(node.args[0])]
    return found


def test_every_narration_id_in_the_core_exists_in_narration_md():
    known = templates()
    ids = narration_ids_in_source()
    assert len(ids) > 40
    for name, exact, filename in ids:
        if exact:
            assert name in known, f"{filename} records narration id {name!r}, which narration.md lacks"
        else:
            assert any(template.startswith(name) for template in known), f"{filename}: no id starts with {name!r}"


def test_every_page_text_the_core_names_exists_in_ui_md():
    """A part's status line names a sentence of the page's texts (`PageText`): each one must exist."""
    named = [(node.args[0].value, path.name) for path in sorted(CORE.rglob("*.py"))
             for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
             if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "PageText"
             and node.args and isinstance(node.args[0], ast.Constant)]
    assert named
    for name, filename in named:
        assert name in ui_text(), f"{filename} names the page's sentence {name!r}, which assets/ui.md lacks"


def tour(make_lab, namespace) -> list:
    """Every situation the lab can narrate, on this test's cache; returns all the traces it made."""
    labs = []

    def lab(name, **options):
        made = make_lab(name, db=Database(":memory:"), clock=SimClock(), namespace=f"{namespace}{len(labs)}:",
                        **options)
        labs.append(made)
        return made

    aside = lab("cache-aside", ttl_seconds=1)
    aside.read("user:1")
    aside.read("user:1")
    aside.read("ghost")
    aside.write("user:1", "x")
    aside.read("user:1")
    aside.cache.delete(aside.redis_key("user:1"))       # gone within its last second: taken as expired
    aside.read("user:1")
    aside.cache.set(aside.redis_key("user:2"), "planted")
    aside.read("user:2")
    aside.advance_time(5)
    aside.crash_cache()
    aside.cache_down = True
    aside.read("user:3")
    aside.write("user:3", "y")
    aside.cache_down = False
    filling = aside.start_read("user:3")
    for _ in range(4):
        filling.advance()
    aside.cache_down = True
    filling.run()
    aside.cache_down = False
    aside.db.down = True
    aside.read("nobody")
    aside.write("k", "v")
    aside.db.down = False

    negative = lab("cache-aside", negative_ttl=30)
    negative.read("ghost")                               # no row: "not found" is cached
    negative.read("ghost")                               # and answered by the cache

    leased = lab("cache-aside", leases=True, ttl_seconds=None, max_lease_waits=1)
    leased.read("user:1")                                # granted, filled with no expiry
    holder = leased.start_read("user:2", client="A")
    for _ in range(3):                                   # GET, nil, LEASE: A holds the lease
        holder.advance()
    leased.read("user:2", client="B")                    # busy, wait, still a miss, busy, give up
    leased.advance_time(3)                               # A's lease runs out
    holder.run()                                         # A's late fill is refused: its lease ran out
    refusals = lab("cache-aside", leases=True)          # each way a holder's lease is gone before its fill
    holders = {}
    for key in ("user:1", "user:2", "user:3"):
        holders[key] = refusals.start_read(key, client="A")
        for _ in range(3):                               # GET, nil, LEASE
            holders[key].advance()
    refusals.write("user:2", "x", client="C")            # a write voids A's lease on user:2
    refusals.advance_time(3)                             # A's leases run out; B takes the one on user:1
    taker = refusals.start_read("user:1", client="B")
    for _ in range(3):
        taker.advance()
    holders["user:1"].run()                              # refused: B holds the lease now
    holders["user:2"].run()                              # refused: voided by the write (and run out since)
    taker.run()
    again = refusals.start_read("user:3", client="A")
    for _ in range(3):
        again.advance()
    refusals.crash_cache()
    again.run()                                          # refused: the crash took the lease
    late = leased.start_read("user:3", client="C")
    for _ in range(2):                                   # GET, nil
        late.advance()
    leased.read("user:3", client="D")                    # D takes the lease and fills
    late.run()                                           # C's LEASE finds the value D stored
    leased.write("user:1", "x")                          # DEL key lease:key
    leased.write("user:9", "x")                          # DEL key lease:key, with no copy cached
    leased.read("ghost")                                 # no row: the lease is released
    leased.ttl_seconds, leased.negative_ttl = 60, 30
    leased.read("product:7")                             # filled for 60 s
    leased.read("nobody")                                # "not found" filled under the lease

    behind_fill = lab("cache-aside", leases=True, negative_ttl=30)
    for key, value in (("user:2", "Alan M. Turing"), ("ghost:1", "created")):   # a write commits between a
        reader = behind_fill.start_read(key, client="A")                     # leased reader's SELECT and fill,
        while reader.advance().source != "Database":                         # but has not sent its DEL yet
            pass
        writer = behind_fill.start_write(key, value, client="B")
        writer.advance()                                                     # UPSERT committed
        reader.run()                                                         # the fill is accepted, behind
        writer.run()
    near = lab("cache-aside", near_ttl=5, near_invalidation="pubsub")   # two app instances (near_cache.py)
    near.read("user:1", client="A")                      # App 1: no copy, loads it and keeps it
    near.read("user:1", client="B")
    near.read("user:1", client="B")                      # App 2: its own copy
    near.write("user:1", "x", client="A")                # App 1 drops its copy and publishes; App 2 drops its own
    near.write("user:1", "y", client="A")                # App 2 holds nothing to drop
    near.read("user:1", client="B")
    near.near.disconnect("App 2")
    near.write("user:1", "z", client="A")                # App 2 never hears of it
    near.read("user:1", client="B")                      # and serves its stale copy
    near.near.disconnect("App 1")
    near.write("user:2", "w", client="A")                # the writer's own subscriber is cut off too
    near.near.reconnect("App 1")
    near.near.reconnect("App 2")
    near.near.waits = 0                                  # the message is still on its way when App 2 looks
    near.write("user:1", "v", client="A")
    near.near.waits = 8
    near.near.disconnect("App 2")
    near.cache_down = True
    near.near.reconnect("App 2")                         # the cache does not answer the SUBSCRIBE
    near.write("user:3", "u", client="A")                # nor the PUBLISH
    near.cache_down = False
    near.read("user:2", client="B")
    near.clock.advance(6)                                # App 2's copy ran out with no tick in between
    near.read("user:2", client="B")
    near.advance_time(6)                                 # and the copies run out on the lab's clock
    if unavailable(near.cache) is None:                  # CLIENT TRACKING: a real Redis only
        tracked = lab("cache-aside", near_ttl=5, near_invalidation="tracking")
        tracked.read("user:1", client="A")               # kept after a tracked GET
        tracked.read("user:1", client="B")
        tracked.write("user:1", "x", client="A")         # Redis tells both; each drops its copy
        tracked.read("user:2", client="B")
        tracked.read("user:4", client="B")
        tracked.advance_time(6)                          # App 2's copies run out; Redis still tracks user:4
        tracked.write("user:4", "y", client="A")         # told, but App 2 holds no copy any more
        tracked.read("user:2", client="B")
        tracked.crash_cache()
        tracked.near.disconnect("App 1")                 # App 1 holds nothing: it forgets nothing
        tracked.read("user:3", client="A")               # App 2 is told of the crash; App 1 is not tracking
        tracked.near.disconnect("App 2")                 # App 2 forgets its copy
        tracked.near.reconnect("App 2")

    herd = lab("cache-aside", leases=True)
    readers = [herd.start_read("user:3", client=c) for c in "ABC"]
    while not all(r.done for r in readers):          # round robin: a waiter's nil arrives after the fill
        for r in readers:
            r.advance()
    racers = lab("cache-aside")
    first, second = racers.start_read("user:1", client="A"), racers.start_read("user:1", client="B")
    second.advance()                                 # B's GET finds nothing
    first.run()                                      # A fills the key
    second.run()                                     # B's "(nil)" arrives after A's fill
    racers.write("user:2", "y")                      # its DEL finds no cached copy

    for pattern in ("cache-aside", "read-through"):      # early refresh: δ beside the key, XFetch, refresh-ahead
        early = lab(pattern, xfetch_beta=1.0)
        early.read("user:1")                              # filled, with δ and the expiry beside it
        left = early.live().ttl("user:1")
        early.wall_time_passed(left - 0.0005)             # its answer arrives after the expiry: XFetch recomputes
        early.read("user:1")
        ahead = lab(pattern, refresh_ahead=0.5)
        ahead.read("user:1")
        ahead.wall_time_passed(40)                        # inside the last half of the TTL
        ahead.read("user:1", client="A")                  # a refresh is scheduled
        ahead.read("user:1", client="B")                  # and already on its way
        ahead.advance_time(0.1)                           # the refresher runs
        ahead.refresh_ahead = None
        ahead.advance_time(61)
        ahead.read("user:1")                              # filled without early refresh: its δ is dropped
        for size, options in ((3, {}), (2, {"ttl_seconds": None}), (5, {"ttl_jitter": 50})):
            warmed = lab(pattern, **options)              # one TTL for every key, none at all, one of its own each
            warmed.reset(rows=catalogue(size))
            warm_up(warmed, [key for key, _ in catalogue(size)])
    leased_early = lab("cache-aside", leases=True, xfetch_beta=1.0)
    leased_early.read("user:1")                           # the lease holder's fill stores δ too

    through = lab("read-through")
    through.read("user:1")
    through.read("user:1")
    through.read("ghost")
    through.cache.delete(through.redis_key("user:1"))   # 60 s left: the cache lost it
    through.read("user:1")

    write_through = lab("write-through", ttl_seconds=None)
    write_through.write("user:1", "forever")

    behind = lab("write-behind", batch_size=10, queue_limit=2)
    behind.write("a", "1")
    behind.write("a", "2")
    behind.cache.delete(behind.redis_key("a"))
    behind.read("a")
    behind.write("b", "1")
    behind.write("c", "1")
    behind.flush()
    behind.flush()
    behind.write("a", "3")
    behind.advance_time(6)
    behind.write("d", "1")
    behind.crash_cache()
    behind.crash_cache()

    full = lab("write-behind", batch_size=2)
    full.write("a", "1")
    full.write("b", "1")
    full.write("c", "1")
    busy = full.start_write("d", "1")
    while busy.advance().action != "XRANGE":
        pass
    full.flush()
    busy.run()

    failing = lab("write-behind", batch_size=2)
    failing.db.down = True
    failing.write("a", "1")
    failing.write("b", "1")

    untimed = lab("write-behind", ttl_seconds=None)
    untimed.write("a", "1")
    untimed.flush()

    held = lab("write-behind", batch_size=1)             # a crash while the flusher holds a batch,
    held.db.down = True                                  # then that batch fails: its write is lost
    holding = held.start_write("a", "1")
    while holding.advance().action != "XRANGE":
        pass
    held.write("a", "2")                                 # queued afresh: the held entry is superseded
    holding.run()
    held.db.down = False
    held.flush()                                         # the superseded entry is dropped, the newer written
    holding = held.start_write("b", "1")
    while holding.advance().action != "XRANGE":
        pass
    held.crash_cache()                                   # the flusher still holds b
    held.db.down = True
    holding.run()                                        # and its commit fails: lost
    held.db.down = False
    held.write("c", "1")
    for name in held.cache.scan_iter(match=held.namespace + "*"):
        held.cache.delete(name)                          # wiped from outside
    held.flush()                                         # the flusher finds the queue changed

    # A cache that is full (features/eviction.py): each policy's evictions, of a key sampled now or of one its
    # eviction pool kept from earlier; and each refusal (noeviction; volatile-* with no key that has a TTL; a value
    # larger than the whole limit).
    for policy in ("allkeys-lru", "allkeys-lfu", "volatile-ttl", "allkeys-random"):
        crowded = lab("read-through", maxmemory=1000, maxmemory_policy=policy, ttl_seconds=600)
        crowded.reset(rows=tuple((f"k:{number}", f"v{number}") for number in range(40)))
        for number in range(40):
            crowded.read(f"k:{number}")
            crowded.advance_time(1)
            crowded.read(f"k:{number // 3}")
            crowded.advance_time(1)
    refusing = lab("cache-aside", maxmemory=256)
    for key in ("user:1", "user:2", "user:3"):
        refusing.read(key)
    queued_only = lab("write-behind", maxmemory=200, maxmemory_policy="volatile-lru")
    for key in "abcde":
        queued_only.write(key, "1")
    lab("write-through", maxmemory=100).write("user:1", "x" * 200)
    return [trace for each in labs for trace in each.log.values()]


def oom_tour() -> list:
    """A real server at its own maxmemory answers a SET with Redis' OOM error (fakeredis has none: a client that
    answers so stands in for it)."""
    class Full(fakeredis.FakeRedis):
        def set(self, *args, **kwargs):
            raise OutOfMemoryError("command not allowed when used memory > 'maxmemory'.")

    lab = PATTERNS["cache-aside"](Full(server=fakeredis.FakeServer(), decode_responses=True), Database(":memory:"),
                                  namespace="oom:", clock=SimClock())
    lab.read("user:1")
    assert lab.cache_error is None and not lab._resync_needed, "a refusal is an answer: nothing to compare"
    return list(lab.log.values())


def outage_tour() -> list:
    server = fakeredis.FakeServer()
    client = fakeredis.FakeRedis(server=server, decode_responses=True)
    lab = PATTERNS["read-through"](client, Database(":memory:"), namespace="tour:", clock=SimClock())
    lab.read("user:1")
    server.connected = False
    lab.crash_cache()
    lab.read("user:1")
    server.connected = True
    client.delete(lab.redis_key("user:1"))
    lab.read("user:2")
    return list(lab.log.values())


def race_tour() -> list:
    """Find the race's cards (strategies/races): interleavings that make every one of their sentences."""
    from strategies.races import Race, replay

    read, leased, queued = ("GET", "SELECT", "SET-TTL"), ("GET-LEASE", "SELECT", "SET-LEASE"), \
        ("GET", "GET-QUEUED", "SELECT", "SET-TTL")
    runs = [  # (race, the clients' turns in order)
        (Race(read, ("UPDATE", "DEL"), "rw"), "00110"),              # a miss; the DEL finds nothing; the stale SET
        (Race(read, ("UPDATE", "DEL"), "rw"), "00011"),              # the DEL removes a value
        (Race(read, ("UPDATE", "DEL", "DEL-LATER"), "rrw"), "002201112"),   # a hit; the delayed DEL removes one
        (Race(read, ("UPDATE", "DEL", "DEL-LATER"), "rw"), "111000"),      # the delayed DEL finds nothing
        (Race(leased, ("UPDATE", "DEL-LEASE"), "rrw"), "01022011"),   # granted, busy, voided, refused
        (Race(leased, ("UPDATE", "DEL"), "rw"), "00101"),             # a fill accepted behind the database
        (Race(leased, ("UPDATE", "DEL-LEASE"), "rw"), "00011"),       # a fill; the DEL removes it and the lease
        (Race(("GET", "SELECT", "SET-NX"), ("UPDATE",), "rrw"), "0011012"),   # SET NX stored, then refused
        (Race(queued, ("QUEUE", "DEL", "FLUSH"), "rw"), "0011001"),   # nothing queued yet; queue; flush
        (Race(queued, ("QUEUE", "DEL", "FLUSH"), "rw"), "1100001"),   # the queued write found
        (Race(queued, ("QUEUE", "FLUSH"), "ww"), "0101"),             # the second flush finds nothing
    ]
    return [trace for race, turns in runs
            for trace in replay(race, [(int(client), False) for client in turns]).lab.log.values()]


def test_every_sentence_of_the_narration_is_reachable_and_formats(make_lab, namespace, cache):
    traces = tour(make_lab, namespace) + outage_tour() + race_tour() + oom_tour()
    seen = check_explanations(traces)
    sentences = set(templates()) - WARNINGS - TABLE_NOTES
    if unavailable(cache) is not None:                   # fakeredis: no CLIENT TRACKING, so none of these
        assert seen.isdisjoint(TRACKING)
        sentences -= TRACKING
    assert sentences - seen == set(), "narration.md has sentences no step uses (or the tour misses them)"
    assert seen <= sentences
    warnings = {trace.warning for trace in traces if trace.warning}
    for name in WARNINGS - {"wb-background-flush-failed"}:
        assert explain_warning(name) in warnings, name
    assert explain_warning("wb-background-flush-failed", error="database is down: connection refused",
                           wait=1.0) in warnings


def test_learners_text_is_quoted_and_cut_never_formatted(make_lab):
    lab = make_lab("cache-aside")
    key, value = "{source} {0} {key!r}", "{value}" + "x" * 100
    lab.write(key, value)
    read = lab.read(key)
    explanations = [step.explanation for step in read.steps]
    assert "'{source} {0} {key!r}'" in explanations[0]
    db_row = read.steps[3].explanation
    assert "'{value}" in db_row and "…'" in db_row and "x" * 100 not in db_row
