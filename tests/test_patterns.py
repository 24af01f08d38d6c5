"""Unit tests of the simulation core: each pattern's recorded steps and the cache/database state after them.

Every test that builds a lab (through `make_lab` or `cache`) runs on fakeredis and, when REDIS_URL is set, on a real
Redis server as well. What every pattern promises (faults, input, text, namespaces, latency, stepping…) is the
contract suite (test_contract.py); here are each pattern's own stories, the database and validation. Write-behind's
own behaviour is in test_write_behind.py, time in test_time.py, cache faults in test_faults.py, the tables
(LabState) in test_state.py.
"""

from __future__ import annotations

import sqlite3
import threading

import pytest
from contract import TRICKY_VALUES, row, stored
from core_support import arrows, assert_live_is_real, cached, namespace_keys

from strategies import (
    PATTERNS,
    CacheUnavailable,
    Costs,
    Database,
    DatabaseUnavailable,
    InvalidInput,
    SimClock,
    backend_description,
    connect_cache,
    validate_key,
    validate_value,
)
from strategies.database import SEED_ROWS

pytestmark = pytest.mark.cluster       # the `cache` tests run on a Redis Cluster too (conftest.py)


# ---- cache-aside -----------------------------------------------------------------------------------------


def test_cache_aside_miss_then_hit(make_lab, db):
    lab = make_lab("cache-aside")

    miss = lab.read("user:1")
    assert arrows(miss) == [
        ("App", "Cache", "GET", "miss"),
        ("Cache", "App", "REPLY", "miss"),
        ("App", "Database", "SELECT", "ok"),
        ("Database", "App", "REPLY", "ok"),
        ("App", "Cache", "SET", "ok"),
    ]
    assert (miss.ok, miss.hit, miss.value, miss.stale, miss.db_calls) == (True, False, "Ada Lovelace", False, 1)
    assert (miss.number, miss.label, miss.finished, miss.outcome) == (1, "#1 read user:1", True, "miss")
    assert [s.number for s in miss.steps] == [1, 2, 3, 4, 5]
    assert cached(lab, "user:1") == "Ada Lovelace"
    live = lab.live()
    assert list(live.cache) == ["user:1"]
    assert (live.cache["user:1"].value, live.cache["user:1"].version) == ("Ada Lovelace", 1)
    assert live.ttl("user:1") == pytest.approx(60, abs=0.05)
    assert lab.cache.pttl(lab.redis_key("user:1")) > 59_000

    hit = lab.read("user:1")
    assert arrows(hit) == [("App", "Cache", "GET", "hit"), ("Cache", "App", "REPLY", "hit")]
    assert (hit.ok, hit.hit, hit.value, hit.db_calls, hit.outcome) == (True, True, "Ada Lovelace", 0, "hit")
    assert (lab.counters.hits, lab.counters.misses, lab.counters.db_reads) == (1, 1, 1)
    assert lab.counters.hit_ratio == 0.5
    assert lab.log == {1: miss, 2: hit}
    assert lab.request(2) is hit and lab.request(3) is None
    assert db.get("user:1") == ("Ada Lovelace", 1)


def test_cache_aside_read_of_missing_key_caches_nothing(make_lab):
    lab = make_lab("cache-aside")
    trace = lab.read("nobody:here")
    assert arrows(trace) == [
        ("App", "Cache", "GET", "miss"),
        ("Cache", "App", "REPLY", "miss"),
        ("App", "Database", "SELECT", "ok"),
        ("Database", "App", "REPLY", "miss"),
    ]
    assert trace.ok and trace.value is None and trace.hit is False and trace.stale is False
    assert lab.live().cache == {} and namespace_keys(lab.cache, lab.namespace) == []


def test_cache_aside_write_upserts_then_invalidates(make_lab, db):
    lab = make_lab("cache-aside")
    lab.read("user:1")
    assert cached(lab, "user:1") == "Ada Lovelace"

    write = lab.write("user:1", "Ada King")
    assert arrows(write) == [
        ("App", "Database", "UPSERT", "ok"),
        ("Database", "App", "REPLY", "ok"),
        ("App", "Cache", "DEL", "ok"),
    ]
    assert write.ok and write.value == "Ada King" and write.db_calls == 1 and write.outcome == "ok"
    assert cached(lab, "user:1") is None and "user:1" not in lab.live().cache
    assert db.get("user:1") == ("Ada King", 2)
    assert lab.live().db["user:1"][1:3] == ("Ada King", 2)
    assert lab.counters.db_writes == 1

    again = lab.read("user:1")
    assert again.hit is False and again.value == "Ada King" and not again.stale
    assert cached(lab, "user:1") == "Ada King" and lab.live().cache["user:1"].version == 2


def test_cache_aside_write_of_new_key_inserts_row_at_version_1(make_lab, db):
    lab = make_lab("cache-aside")
    assert db.get("order:9") is None
    write = lab.write("order:9", "2 lattes")
    assert write.ok
    assert db.get("order:9") == ("2 lattes", 1)
    assert row(db, "order:9").updated_at == pytest.approx(write.steps[0].at_ms / 1000)   # the commit's moment


# ---- read-through ----------------------------------------------------------------------------------------


def test_read_through_loader_fetches_on_miss_then_hit(make_lab):
    lab = make_lab("read-through")
    miss = lab.read("user:2")
    assert arrows(miss) == [
        ("App", "Cache", "GET", "miss"),
        ("Loader", "Database", "SELECT", "ok"),
        ("Database", "Loader", "REPLY", "ok"),
        ("Loader", "Cache", "SET", "ok"),
        ("Cache", "App", "REPLY", "miss"),
    ]
    assert miss.value == "Alan Turing" and miss.hit is False
    assert miss.steps[2].value == "Alan Turing" and miss.steps[-1].value == "Alan Turing"
    assert not any(s.source == "App" and s.target == "Database" for s in miss.steps), "the app never reads the DB"
    assert cached(lab, "user:2") == "Alan Turing"

    hit = lab.read("user:2")
    assert arrows(hit) == [("App", "Cache", "GET", "hit"), ("Cache", "App", "REPLY", "hit")]
    assert hit.value == "Alan Turing"
    assert (lab.counters.hits, lab.counters.misses, lab.counters.db_reads) == (1, 1, 1)


def test_read_through_missing_key_and_write(make_lab, db):
    lab = make_lab("read-through")
    missing = lab.read("ghost")
    assert arrows(missing) == [
        ("App", "Cache", "GET", "miss"),
        ("Loader", "Database", "SELECT", "ok"),
        ("Database", "Loader", "REPLY", "miss"),
        ("Cache", "App", "REPLY", "miss"),
    ]
    assert missing.value is None and lab.live().cache == {}

    lab.read("user:2")
    write = lab.write("user:2", "A. M. Turing")
    assert arrows(write) == [
        ("App", "Database", "UPSERT", "ok"),
        ("Database", "App", "REPLY", "ok"),
        ("App", "Cache", "DEL", "ok"),
    ]
    assert cached(lab, "user:2") is None and db.get("user:2") == ("A. M. Turing", 2)
    assert lab.read("user:2").value == "A. M. Turing"


# ---- write-through ---------------------------------------------------------------------------------------


def test_write_through_read_uses_cache_as_loader(make_lab):
    lab = make_lab("write-through")
    trace = lab.read("user:3")
    assert arrows(trace) == [
        ("App", "Cache", "GET", "miss"),
        ("Cache", "Database", "SELECT", "ok"),
        ("Database", "Cache", "REPLY", "ok"),
        ("Cache", "Cache", "SET", "ok"),
        ("Cache", "App", "REPLY", "miss"),
    ]
    assert trace.value == "Grace Hopper" and cached(lab, "user:3") == "Grace Hopper"


def test_write_through_safe_write_updates_db_then_cache(make_lab, db):
    lab = make_lab("write-through")
    assert lab.ordering == "safe"
    write = lab.write("user:3", "Rear Admiral Hopper")
    assert arrows(write) == [
        ("App", "Cache", "WRITE", "ok"),
        ("Cache", "Database", "UPSERT", "ok"),
        ("Database", "Cache", "REPLY", "ok"),
        ("Cache", "Cache", "SET", "ok"),
        ("Cache", "App", "REPLY", "ok"),
    ]
    assert write.ok
    assert db.get("user:3") == ("Rear Admiral Hopper", 2)
    assert cached(lab, "user:3") == "Rear Admiral Hopper"
    assert lab.cache.ttl(lab.redis_key("user:3")) > 0
    assert lab.live().cache["user:3"].version == 2
    assert lab.live().cache_mark("user:3") == "✓ same as DB"

    read = lab.read("user:3")
    assert read.hit is True and read.value == "Rear Admiral Hopper" and not read.stale


def test_write_through_safe_ordering_with_db_down_acknowledges_nothing(make_lab, db):
    lab = make_lab("write-through")
    lab.read("user:1")  # the cache holds the committed value
    db.down = True

    write = lab.write("user:1", "never committed")
    assert write.ok is False and write.outcome == "error"
    assert "database is down" in write.error
    assert arrows(write) == [("App", "Cache", "WRITE", "ok"), ("Cache", "Database", "UPSERT", "error")]
    assert not any(s.target == "App" and s.action == "REPLY" for s in write.steps), "no acknowledgement"
    assert cached(lab, "user:1") == "Ada Lovelace"
    assert row(db, "user:1")[1:3] == ("Ada Lovelace", 1)
    assert lab.counters.db_writes == 0 and lab.counters.failed == 1
    db.down = False

    read = lab.read("user:1")
    assert read.value == "Ada Lovelace" and read.stale is False and lab.counters.stale_reads == 0


def test_write_through_naive_ordering_sets_cache_before_db(make_lab, db):
    lab = make_lab("write-through", ordering="naive")
    write = lab.write("user:1", "Countess")
    assert arrows(write) == [
        ("App", "Cache", "WRITE", "ok"),
        ("Cache", "Cache", "SET", "ok"),
        ("Cache", "Database", "UPSERT", "ok"),
        ("Database", "Cache", "REPLY", "ok"),
        ("Cache", "App", "REPLY", "ok"),
    ]
    assert write.ok and cached(lab, "user:1") == "Countess" and db.get("user:1") == ("Countess", 2)


def test_write_through_naive_ordering_with_db_down_is_the_dual_write_inconsistency(make_lab, db):
    lab = make_lab("write-through", ordering="naive")
    db.down = True
    write = lab.write("user:1", "Countess")
    assert write.ok is False and "database is down" in write.error
    assert arrows(write) == [
        ("App", "Cache", "WRITE", "ok"),
        ("Cache", "Cache", "SET", "ok"),
        ("Cache", "Database", "UPSERT", "error"),
    ]
    assert cached(lab, "user:1") == "Countess"          # the cache holds what the DB never committed
    assert row(db, "user:1")[1:3] == ("Ada Lovelace", 1)
    live = lab.live()
    assert live.cache["user:1"].version is None
    assert live.cache_mark("user:1").startswith("⚠ ahead")        # the cache is ahead of the database
    assert live.db_mark("user:1") == "⚠ cache is ahead"
    db.down = False

    read = lab.read("user:1")
    assert read.ok and read.hit is True and read.value == "Countess"
    assert read.stale is True
    assert lab.counters.stale_reads == 1


# ---- every pattern: the database's faults ---------------------------------------------------------------


# ---- input validation ----------------------------------------------------------------------------------


def test_validation_messages_name_the_broken_rule():
    with pytest.raises(InvalidInput, match="empty"):
        validate_key("   ")
    with pytest.raises(InvalidInput, match="201 characters"):
        validate_key("k" * 201)
    with pytest.raises(InvalidInput, match=r"U\+001B\) at position 2"):
        validate_key("a\x1b")
    with pytest.raises(InvalidInput, match="65,537 bytes"):
        validate_value("x" * 65537)
    with pytest.raises(InvalidInput, match="must be text"):
        validate_value(None)
    with pytest.raises(InvalidInput, match="lone surrogate"):
        validate_value("\ud800")


def test_validation_accepts_the_limits_unchanged():
    assert validate_key("k" * 200) == "k" * 200
    assert validate_key(" padded ") == " padded "
    assert validate_value("x" * 65536) == "x" * 65536
    assert validate_value("é" * 32768) == "é" * 32768
    assert validate_value("") == ""
    assert validate_value("tab\tnew\nline\r\n") == "tab\tnew\nline\r\n"


# ---- namespaces -----------------------------------------------------------------------------------------


def test_namespaces_with_glob_characters_match_only_themselves(make_lab, namespace):
    def lab_in(suffix):
        return make_lab("write-behind", namespace=f"{namespace}{suffix}", db=Database(":memory:"))

    star, bracket = lab_in("a*:"), lab_in("[ab]:")
    bystanders = [lab_in("ab:"), lab_in("a:")]      # what unescaped "a*:*" and "[ab]:*" would also match
    for lab in (star, bracket, *bystanders):
        lab.write("k", lab.namespace)
    real = star.read_real_state()
    assert {key: item.value for key, item in real.cache.items()} == {"k": star.namespace}
    assert list(real.pending) == ["k"] and len(real.queue) == 1

    star.crash_cache()
    bracket.reset()
    assert star.counters.lost_writes == 1
    assert star.read_real_state().cache == {} and bracket.read_real_state().cache == {}
    for lab in bystanders:
        real = lab.read_real_state()
        assert {key: item.value for key, item in real.cache.items()} == {"k": lab.namespace}
        assert len(real.queue) == 1
        assert_live_is_real(lab)


def test_default_namespaces_are_unique(cache, db):
    one, two = PATTERNS["cache-aside"](cache, db), PATTERNS["cache-aside"](cache, db)
    try:
        assert one.namespace != two.namespace
        one.read("user:1")
        assert two.read_real_state().cache == {}
        assert list(one.read_real_state().cache) == ["user:1"]
    finally:
        one.reset()
        assert namespace_keys(cache, one.namespace) == []


# ---- where the cache lives ------------------------------------------------------------------------------


def test_connect_cache_without_url_gives_a_private_fakeredis(monkeypatch):
    monkeypatch.delenv("REDIS_URL", raising=False)
    one, two = connect_cache(), connect_cache()
    one.set("k", "v")
    assert one.get("k") == "v" and two.get("k") is None, "each learner gets a server of its own"
    assert "fakeredis" in backend_description()


def test_unreachable_redis_is_reported_without_its_password():
    with pytest.raises(CacheUnavailable) as raised:
        connect_cache("redis://learner:s3cret@127.0.0.1:1/0")
    message = str(raised.value)
    assert "127.0.0.1:1" in message and "s3cret" not in message and ":***@" in message
    assert "s3cret" not in backend_description("redis://learner:s3cret@127.0.0.1:1/0")


# ---- the database ---------------------------------------------------------------------------------------


def test_database_is_seeded():
    db = Database(":memory:")
    assert db.get("user:1") == ("Ada Lovelace", 1)
    assert db.get("product:42") == ("Espresso machine, 199.00 EUR", 1)
    assert {r.key: r.value for r in db.rows()} == dict(SEED_ROWS)
    assert all(r.version == 1 and r.updated_at == 0.0 for r in db.rows())
    assert [r.key for r in db.rows()] == sorted(dict(SEED_ROWS))


def test_unseeded_database_is_empty():
    db = Database(":memory:", seed=False)
    assert db.rows() == [] and db.get("user:1") is None


def test_database_versions_times_outage_and_reset(db):
    assert db.put("user:1", "v2", 1.25) == 2
    assert db.put("user:1", "v3", 2.5) == 3
    assert db.put("fresh", "new", 3.0) == 1
    assert db.get("user:1") == ("v3", 3)
    assert row(db, "user:1").updated_at == 2.5 and isinstance(row(db, "user:1").updated_at, float)
    db.down = True
    with pytest.raises(DatabaseUnavailable):
        db.get("user:1")
    with pytest.raises(DatabaseUnavailable):
        db.put("user:1", "v4")
    with pytest.raises(DatabaseUnavailable):
        db.put_many([("user:1", "v4")])
    assert stored(db, "user:1") == "v3"            # an observer reads past the outage
    db.slowdown = 5.0
    db.reset()
    assert (db.down, db.slowdown) == (False, 1.0)
    assert db.get("user:1") == ("Ada Lovelace", 1) and db.get("fresh") is None


def test_put_many_is_all_or_nothing(db):
    with pytest.raises(sqlite3.IntegrityError):
        db.put_many([("user:1", "changed"), ("broken", None)])
    assert db.get("user:1") == ("Ada Lovelace", 1) and db.get("broken") is None
    assert db.put_many([("user:1", "changed"), ("new", "row"), ("user:1", "again")], 7.0) == [2, 1, 3]
    assert (db.get("user:1"), db.get("new")) == (("again", 3), ("row", 1))
    assert row(db, "new").updated_at == 7.0


def test_database_round_trips_tricky_text(db):
    for text in TRICKY_VALUES:
        db.put(text or "empty", text)
        assert db.get(text or "empty")[0] == text
        assert row(db, text or "empty").value.encode() == text.encode()
    assert len(db.rows()) == len(SEED_ROWS) + len(TRICKY_VALUES)


def test_file_database_used_from_two_threads(tmp_path):
    db = Database(str(tmp_path / "lab.sqlite3"))
    errors: list[Exception] = []
    rounds = 150

    def worker(name: str) -> None:
        try:
            for i in range(rounds):
                db.put(f"{name}:own", f"{name}-{i}")
                db.put("shared", f"{name}-{i}")
                db.put_many([(f"{name}:a", str(i)), (f"{name}:b", str(i))])
                assert db.get(f"{name}:own") == (f"{name}-{i}", i + 1)
                db.rows()
        except Exception as err:  # reported by the main thread below
            errors.append(err)

    threads = [threading.Thread(target=worker, args=(n,)) for n in ("t1", "t2")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert db.get("shared")[1] == 2 * rounds
    assert db.get("t1:own")[1] == rounds and db.get("t2:b")[1] == rounds
    db.close()

    reopened = Database(str(tmp_path / "lab.sqlite3"))   # committed, and not re-seeded over
    assert reopened.get("shared")[1] == 2 * rounds and reopened.get("user:1") == ("Ada Lovelace", 1)
    reopened.close()


# ---- latency model ---------------------------------------------------------------------------------------

COSTS = Costs(cache_ms=2.0, db_read_ms=30.0, db_write_ms=50.0)


@pytest.mark.parametrize("slowdown", [1.0, 3.0])
def test_write_behind_latency_excludes_background_flush(make_lab, db, clock, slowdown):
    c, w = COSTS.cache_ms, COSTS.db_write_ms
    lab = make_lab("write-behind", costs=COSTS, batch_size=3, coalesce=False)
    db.slowdown = slowdown
    lab.write("a", "1")
    lab.write("b", "2")
    before = clock.now()
    third = lab.write("c", "3")
    background = (w + c * 2) * slowdown      # one batch of 3 rows: one commit plus a row's cost per extra row
    assert third.latency_ms == c
    assert sum(s.cost_ms for s in third.steps if s.background) == pytest.approx(c + background + c)
    assert (clock.now() - before) * 1000 == pytest.approx(c + c + background + c), "the clock ran the flush"

    lab.write("d", "4")
    flush = lab.flush()                      # a requested flush is what the caller waits for
    assert flush.latency_ms == pytest.approx(c + w * slowdown + c)


def test_step_times_follow_the_clock(make_lab, clock):
    lab = make_lab("cache-aside", costs=COSTS)
    clock.advance(1.5)
    trace = lab.read("user:1")
    assert [s.at_ms for s in trace.steps] == pytest.approx([1502.0, 1502.0, 1532.0, 1532.0, 1534.0])
    assert [s.cost_ms for s in trace.steps] == [2.0, 0.0, 30.0, 0.0, 2.0]
    assert lab.live().cache["user:1"].expires_at == pytest.approx(1.534 + 60)


def test_clock_does_not_run_backwards():
    clock = SimClock(10.0)
    with pytest.raises(ValueError):
        clock.advance(-1)
    clock.advance_to(5.0)
    assert clock.now() == 10.0
    clock.advance_to(12.5)
    assert clock.now() == 12.5


# ---- stepping and interleaving ---------------------------------------------------------------------------


def test_stepped_write_performs_one_call_per_advance(make_lab, db):
    lab = make_lab("cache-aside")
    lab.read("user:1")
    request = lab.start_write("user:1", "stepped")
    assert db.get("user:1") == ("Ada Lovelace", 1)

    upsert = request.advance()
    assert (upsert.action, upsert.target) == ("UPSERT", "Database")
    assert db.get("user:1") == ("stepped", 2)
    assert cached(lab, "user:1") == "Ada Lovelace", "not invalidated yet"
    assert lab.live().cache["user:1"].value == "Ada Lovelace"
    assert request.advance().action == "REPLY"
    assert request.advance().action == "DEL"
    assert cached(lab, "user:1") is None and "user:1" not in lab.live().cache
    assert not request.done and not request.trace.finished
    assert request.advance() is None and request.done and request.trace.finished
    assert request.run() is request.trace and len(request.trace.steps) == 3


def test_interleaved_clients_reproduce_the_stale_set_race(make_lab, cache, db):
    lab = make_lab("cache-aside")

    a = lab.start_read("user:1", client="A")
    assert a.advance().outcome == "miss"            # A: GET → miss
    a.advance()                                     # Cache → A: (nil)
    assert a.advance().action == "SELECT"           # A: SELECT
    assert a.advance().value == "Ada Lovelace"      # the row A will cache: the old value

    b = lab.write("user:1", "Ada King", client="B")  # B: UPSERT + DEL, all before A's SET
    assert b.ok and [s.action for s in b.steps] == ["UPSERT", "REPLY", "DEL"]
    assert {s.client for s in b.steps} == {"B"} and b.client == "B" and b.number == 2
    assert cached(lab, "user:1") is None

    set_step = a.advance()
    assert (set_step.action, set_step.value, set_step.client) == ("SET", "Ada Lovelace", "A")
    assert a.advance() is None
    assert cached(lab, "user:1") == "Ada Lovelace"                   # stale value in the cache...
    assert db.get("user:1") == ("Ada King", 2)                       # ...while the DB holds the new one
    # A returned the value the database held when A's read began: overlapping a write is not a stale
    # read. What A left behind is stale, and that is what the next reader gets.
    assert a.trace.stale is False and lab.counters.stale_reads == 0
    live = lab.live()
    assert live.cache["user:1"].version == 1
    assert live.cache_mark("user:1") == "⚠ stale: DB has v2"
    assert live.db_mark("user:1") == "⚠ cache is stale"
    assert [s.seq for s in lab.history] == sorted(s.seq for t in (a.trace, b) for s in t.steps)

    later = lab.read("user:1")                                       # and it keeps being served
    assert later.hit is True and later.value == "Ada Lovelace" and later.stale is True
    assert lab.counters.stale_reads == 1
    assert_live_is_real(lab)
