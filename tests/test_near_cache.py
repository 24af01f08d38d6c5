"""Near caches on two app instances (strategies/features/near_cache.py), on every pattern that composes them: which
instance serves a request, what each keeps in its own memory and for how long, and the invalidations over a real
Redis Pub/Sub channel — on fakeredis, a real Redis and a Redis Cluster (sharded Pub/Sub there)."""

from __future__ import annotations

import uuid

import pytest
import redis
from core_support import arrows

from strategies.diagram_layout import figure_of
from strategies.export import ExportError, scenario_frames
from strategies.features.near_cache import CHANNEL, INSTANCES, TABLES, instance_of
from strategies.features.tracking import unavailable
from strategies.quiz import question_for
from strategies.scenario import ScenarioUnavailable, run_scenario
from strategies.scenarios import SCENARIOS
from strategies.session import LearnerSession
from strategies.share import Action, InvalidLink, encode, parse
from strategies.views import near_rows

pytestmark = pytest.mark.cluster       # the `cache` tests run on a Redis Cluster too (conftest.py)

NEAR_PATTERNS = ["cache-aside", "read-through", "write-through"]
OLD, NEW = "Ada Lovelace", "Ada King"


def near_lab(make_lab, pattern: str, **knobs):
    return make_lab(pattern, near_ttl=knobs.pop("near_ttl", 10), **knobs)


def near_table(lab, app: str) -> dict:
    return dict(getattr(lab.live(), TABLES[app]))


def assert_near_is_real(lab) -> None:
    """The lab's record of each near cache is what that instance holds in its memory (read_real_state)."""
    live, real = lab.live(), lab.read_real_state()
    for table in TABLES.values():
        assert dict(getattr(live, table)) == dict(getattr(real, table)), table


# ---- which instance, and what it keeps ----------------------------------------------------------------
@pytest.mark.parametrize("pattern", NEAR_PATTERNS)
def test_without_a_near_ttl_the_pattern_is_as_it_was(make_lab, pattern):
    lab = make_lab(pattern)
    trace = lab.read("user:1", client="B")
    assert {step.source for step in trace.steps} | {step.target for step in trace.steps} >= {"App", "Cache"}
    assert lab.topology is type(lab).topology
    assert [view.title for view in lab.views() if view.shown(lab.live())] == ["Cache", "Database"]


@pytest.mark.parametrize("pattern", NEAR_PATTERNS)
def test_each_client_is_served_by_its_instance_which_keeps_a_copy_for_its_near_ttl(make_lab, pattern):
    lab = near_lab(make_lab, pattern)
    first = lab.read("user:1", client="A")
    assert first.steps[0].source == first.steps[0].target == "App 1"
    assert arrows(first)[0] == ("App 1", "App 1", "LOOKUP", "miss")
    assert arrows(first)[-1] == ("App 1", "App 1", "KEEP", "ok")
    assert "App" not in {step.source for step in first.steps} | {step.target for step in first.steps}
    second = lab.read("user:1", client="B")
    assert {step.source for step in second.steps} - {"Cache", "Loader", "Database"} == {"App 2"}
    assert near_table(lab, "App 1")["user:1"].value == near_table(lab, "App 2")["user:1"].value == OLD
    assert_near_is_real(lab)

    redis_gets = lab.counters.hits + lab.counters.misses
    hit = lab.read("user:1", client="B")
    assert arrows(hit) == [("App 2", "App 2", "LOOKUP", "hit")], "served from App 2's memory alone"
    assert (hit.value, hit.hit, hit.latency_ms) == (OLD, True, 0)
    assert lab.counters.hits + lab.counters.misses == redis_gets + 1
    assert dict(lab.metrics())["Near hits"] == 1

    kept_at = near_table(lab, "App 2")["user:1"].expires_at
    expired = lab.advance_time(10.5)
    steps = [step for trace in expired for step in trace.steps if step.action == "EXPIRE" and step.target != "Cache"]
    assert {step.target for step in steps} == {"App 1", "App 2"}
    assert all(step.source == step.target for step in steps)
    assert kept_at == pytest.approx(second.steps[-1].at_ms / 1000 + 10)
    assert near_table(lab, "App 1") == near_table(lab, "App 2") == {}
    assert_near_is_real(lab)
    again = lab.read("user:1", client="B")
    assert arrows(again)[0] == ("App 2", "App 2", "LOOKUP", "miss")


def test_clients_are_spread_over_the_two_instances():
    assert [instance_of(client) for client in "ABCDER"] == ["App 1", "App 2", "App 1", "App 2", "App 1", "App 1"]


@pytest.mark.parametrize("pattern", NEAR_PATTERNS)
def test_without_invalidation_the_other_instance_serves_its_old_copy_until_its_near_ttl(make_lab, pattern):
    lab = near_lab(make_lab, pattern)
    lab.read("user:1", client="A")
    lab.read("user:1", client="B")
    write = lab.write("user:1", NEW, client="A")
    assert ("App 1", "App 1", "DROP", "ok") in arrows(write)
    assert not any(step.target == CHANNEL for step in write.steps), "nothing is published"
    assert "user:1" not in near_table(lab, "App 1") and near_table(lab, "App 2")["user:1"].value == OLD
    stale = lab.read("user:1", client="B")
    assert (stale.value, stale.stale, stale.steps[0].note[0]) == (OLD, True, "near-hit-stale")
    assert lab.read("user:1", client="A").value == NEW
    [(key, value, _, mark)] = near_rows(TABLES["App 2"])(lab.live()).rows
    assert (key, value, mark) == ("user:1", OLD, "⚠ stale: DB has v2")
    lab.advance_time(10.5)
    assert lab.read("user:1", client="B").value == NEW
    assert lab.counters.stale_reads == 1


# ---- Pub/Sub: real PUBLISH and SUBSCRIBE ----------------------------------------------------------------
@pytest.mark.parametrize("pattern", NEAR_PATTERNS)
def test_a_write_publishes_and_the_other_instance_drops_its_copy(make_lab, pattern, cache):
    lab = near_lab(make_lab, pattern, near_invalidation="pubsub")
    lab.read("user:1", client="A")
    lab.read("user:1", client="B")
    write = lab.write("user:1", NEW, client="A")
    publish = next(step for step in write.steps if step.action == "PUBLISH")
    clustered = isinstance(cache, redis.RedisCluster)
    assert (publish.source, publish.target) == ("App 1", CHANNEL)
    assert publish.command.startswith("SPUBLISH" if clustered else "PUBLISH")
    assert publish.note == ("near-publish", {"app": "App 1", "receivers": 2, "others": 1})
    message = next(step for step in write.steps if step.action == "MESSAGE")
    assert (message.source, message.target, message.note[0], message.background) == \
        (CHANNEL, "App 2", "near-message-drop", True)
    assert near_table(lab, "App 2") == {}
    assert_near_is_real(lab)
    reread = lab.read("user:1", client="B")
    assert (reread.value, reread.stale) == (NEW, False)
    assert dict(lab.metrics())["Invalidations heard"] == 1
    # The channel is the lab's own: its name carries the lab's hash tag, so on a cluster it lives in the lab's slot.
    assert lab.near.channel.startswith(lab.namespace)
    if clustered:
        assert cache.keyslot(lab.near.channel) == cache.keyslot(lab.redis_key("user:1"))


def test_a_disconnected_subscriber_misses_the_message_for_good(make_lab, cache):
    lab = near_lab(make_lab, "cache-aside", near_invalidation="pubsub")
    lab.read("user:1", client="A")
    lab.read("user:1", client="B")
    cut = lab.near.disconnect("App 2")
    assert arrows(cut) == [("App 2", CHANNEL, "DISCONNECT", "error")]
    write = lab.write("user:1", NEW, client="A")
    publish = next(step for step in write.steps if step.action == "PUBLISH")
    assert publish.note[1]["receivers"] == 1, "only App 1's own subscriber was listening"
    assert not any(step.action == "MESSAGE" for step in write.steps)
    back = lab.near.reconnect("App 2")
    assert arrows(back) == [("App 2", CHANNEL, "SUBSCRIBE", "ok")]
    assert near_table(lab, "App 2")["user:1"].value == OLD, "nothing kept the message for App 2"
    assert lab.read("user:1", client="B").value == OLD
    # Subscribed again: the next write reaches it.
    lab.write("user:1", "Ada, Countess of Lovelace", client="A")
    assert "user:1" not in near_table(lab, "App 2")
    assert lab.read("user:1", client="B").value == "Ada, Countess of Lovelace"


def test_a_near_copy_is_served_while_the_cache_is_down_and_a_publish_that_fails_is_said(make_lab):
    lab = near_lab(make_lab, "cache-aside", near_invalidation="pubsub")
    lab.read("user:1", client="B")
    lab.cache_down = True
    served = lab.read("user:1", client="B")
    assert (served.ok, served.value, arrows(served)) == (True, OLD, [("App 2", "App 2", "LOOKUP", "hit")])
    write = lab.write("user:1", NEW, client="A")
    assert write.ok and write.degraded and "PUBLISH" in write.warning
    assert [step.outcome for step in write.steps if step.action == "PUBLISH"] == ["error"]
    lab.cache_down = False
    assert lab.read("user:1", client="B").value == OLD, "nothing told App 2: its copy lives out its near TTL"


@pytest.mark.parametrize("pattern", NEAR_PATTERNS)
def test_a_reset_empties_every_near_cache_and_hangs_up(make_lab, pattern):
    lab = near_lab(make_lab, pattern, near_invalidation="pubsub")
    lab.read("user:1", client="A")
    lab.read("user:2", client="B")
    assert set(lab.near.listeners) == set(INSTANCES)
    lab.reset()
    assert lab.near.memory == {app: {} for app in INSTANCES} and not lab.near.listeners
    assert near_table(lab, "App 1") == near_table(lab, "App 2") == {}
    assert lab.read("user:1", client="B").steps[0].outcome == "miss"


def test_near_caches_and_leases_work_together(make_lab):
    lab = near_lab(make_lab, "cache-aside", leases=True)
    first = lab.start_read("user:1", client="A")
    while first.advance().action != "LEASE":
        pass
    waiting = lab.read("user:1", client="B")       # App 2 finds A's lease, waits on its own loop, then gives up
    assert ("App 2", "App 2", "WAIT", "ok") in arrows(waiting)
    assert (waiting.value, near_table(lab, "App 2")["user:1"].value) == (OLD, OLD)
    first.run()
    assert near_table(lab, "App 1")["user:1"].value == OLD


# ---- the cluster: sharded against classic Pub/Sub ------------------------------------------------------------
def test_on_a_cluster_classic_publish_is_broadcast_and_a_sharded_one_stays_in_the_labs_slot(cluster_cache):
    """Why the lab publishes with SPUBLISH on a cluster: a classic PUBLISH is forwarded to every node (its message
    reaches a subscriber on another node, but its answer counts only the node it ran on), while a sharded channel
    lives on the shard of its slot — under the lab's hash tag, the node that holds the lab's keys."""
    channel = f"lab:{{{uuid.uuid4().hex[:12]}}}:near:invalidations"
    home = cluster_cache.get_node_from_key(channel)
    other = next(node for node in cluster_cache.get_primaries() if node.name != home.name)
    classic = cluster_cache.pubsub()
    classic.subscribe(channel)
    assert classic.get_message(timeout=2)["type"] == "subscribe"
    assert other.redis_connection.publish(channel, "from elsewhere") == 0
    got = classic.get_message(timeout=2)
    assert (got["type"], got["data"]) == ("message", "from elsewhere")
    classic.close()
    sharded = cluster_cache.pubsub()
    sharded.ssubscribe(channel)
    assert sharded.get_sharded_message(timeout=2)["type"] == "ssubscribe"
    assert cluster_cache.spublish(channel, "in its slot") == 1
    assert sharded.get_sharded_message(timeout=2)["data"] == "in its slot"
    with pytest.raises(redis.exceptions.MovedError):            # sharded: only the slot's shard takes it
        other.redis_connection.spublish(channel, "wrong shard")
    sharded.close()


# ---- the figure, the tables and the quiz ------------------------------------------------------------------
@pytest.mark.parametrize("pattern", NEAR_PATTERNS)
def test_the_two_instance_figure_has_a_lane_for_every_step_and_keeps_its_labels_apart(make_lab, pattern):
    lab = near_lab(make_lab, pattern, near_invalidation="pubsub")
    assert lab.topology is not type(lab).topology
    figure = figure_of(lab.topology)
    figure.check()
    names = {actor.name for actor in lab.topology.actors}
    assert {"App 1", "App 2", "Cache", CHANNEL} <= names and "App" not in names
    lab.read("user:1", client="A")
    lab.read("user:1", client="B")
    lab.write("user:1", NEW, client="B")
    lab.near.disconnect("App 1")
    lab.near.reconnect("App 1")
    lab.crash_cache()
    lab.advance_time(3600)
    for trace in lab.log.values():
        for step in trace.steps:
            assert frozenset((step.source, step.target)) in figure.lanes, (step.source, step.target)
    lab.near_ttl = None
    assert lab.topology is type(lab).topology


def test_each_instance_near_cache_is_a_table_the_page_shows(make_lab):
    lab = near_lab(make_lab, "cache-aside")
    views = {view.title: view for view in lab.views()}
    assert {"Near cache of App 1", "Near cache of App 2"} <= set(views)
    state = lab.live()
    assert views["Near cache of App 2"].shown(state) and views["Near cache of App 2"].empty(state)
    trace = lab.read("user:1", client="B")
    after = lab.state_after(trace.steps[-1])
    rows = views["Near cache of App 2"].rows(after, changed=frozenset({"user:1"}))
    assert rows.rows == [("user:1", OLD, "10", "✓ same as DB")] and rows.changed == {"user:1"}
    before = lab.state_after(trace.steps[0])
    assert views["Near cache of App 2"].rows(before).rows == []


def test_predict_mode_asks_whether_an_instance_holds_a_copy(make_lab):
    lab = near_lab(make_lab, "cache-aside")
    miss = lab.read("user:1", client="B").steps[0]
    hit = lab.read("user:1", client="B").steps[0]
    for step, answer in ((miss, 1), (hit, 0)):
        question = question_for("cache-aside", step, None)
        assert question.kind == "near" and question.answer == answer
        assert "App 2" in question.prompt and question.why == step.explanation


# ---- tracking: server-assisted client-side caching (a real Redis only) -----------------------------------------
def test_with_tracking_redis_itself_tells_each_instance_what_changed(make_lab, cache):
    lab = near_lab(make_lab, "cache-aside", near_invalidation="tracking")
    why = unavailable(cache)
    if why is not None:                      # fakeredis: no CLIENT TRACKING, and the scenario says so untouched
        before = lab.read("user:1", client="A")
        assert not lab.near.trackers and "CLIENT TRACKING" in why
        with pytest.raises(ScenarioUnavailable, match="real Redis"):
            run_scenario(SCENARIOS["near-cache-tracking"], lab)
        assert list(lab.log.values()) == [before] and lab.near_invalidation == "tracking"
        return
    first = lab.read("user:1", client="A")
    assert arrows(first)[-2:] == [("App 1", "Cache", "TRACK", "hit"), ("App 1", "App 1", "KEEP", "ok")]
    lab.read("user:1", client="B")
    if isinstance(cache, redis.RedisCluster):          # tracking lives on the node that holds the lab's keys
        home = cache.get_node_from_key(lab.namespace)
        assert {tracker.tracking.connection_pool.connection_kwargs["port"]
                for tracker in lab.near.trackers.values()} == {home.port}
    write = lab.write("user:1", NEW, client="A")
    assert not any(step.action in ("PUBLISH", "DROP") for step in write.steps), "the app publishes nothing"
    told = [(step.source, step.target, step.note[0]) for step in write.steps if step.action == "MESSAGE"]
    assert sorted(told) == [(CHANNEL, "App 1", "near-tracked-drop"), (CHANNEL, "App 2", "near-tracked-drop")]
    assert near_table(lab, "App 1") == near_table(lab, "App 2") == {}
    assert (lab.read("user:1", client="B").value, lab.counters.stale_reads) == (NEW, 0)
    lab.crash_cache()                                  # whoever changes a tracked key, Redis tells
    after = lab.read("user:2", client="A")
    assert arrows(after)[0] == (CHANNEL, "App 2", "MESSAGE", "ok") and after.steps[0].key == "user:1"
    assert "user:1" not in near_table(lab, "App 2")
    lab.read("user:1", client="B")
    cut = lab.near.disconnect("App 2")                 # no tracking, no trust: App 2 forgets every copy
    assert cut.steps[0].note == ("near-disconnected-tracking", {"app": "App 2", "count": 1})
    assert near_table(lab, "App 2") == {} and "App 2" not in lab.near.trackers
    assert lab.near.reconnect("App 2").steps[0].note[0] == "near-reconnected-tracking"
    assert_near_is_real(lab)
    lab.near_invalidation = "ttl"
    lab.read("user:1", client="A")
    assert not lab.near.trackers, "tracking connections close when tracking is switched off"


def test_an_export_of_a_scenario_fakeredis_cannot_run_says_why():
    with pytest.raises(ExportError, match="CLIENT TRACKING"):
        scenario_frames("near-cache-tracking")


def test_a_learner_leaving_closes_the_connections_the_near_caches_opened(tmp_path):
    session = LearnerSession(redis_url="", data_dir=tmp_path)
    lab = session.lab("cache-aside")
    lab.near_ttl, lab.near_invalidation = 10, "pubsub"
    lab.read("user:1", client="B")
    listeners = list(lab.near.listeners.values())
    assert len(listeners) == 2 and all(listener.subscribed for listener in listeners)
    session.close()
    assert not lab.near.listeners and not any(listener.subscribed for listener in listeners)


def test_a_share_link_carries_the_client_and_so_the_instance_a_request_ran_on():
    actions = [Action("r", key="user:1"), Action("r", key="user:1", client="B"),
               Action("w", key="user:1", value="Ada~King", client="D")]
    encoded = [encode(action) for action in actions]
    assert encoded == ["r~user:1", "rB~user:1", "wD~user:1~Ada%7EKing"]
    assert parse(encoded) == actions
    assert [instance_of(action.client) for action in parse(encoded)] == ["App 1", "App 2", "App 2"]
    with pytest.raises(InvalidLink, match="not one the lab knows"):
        parse(["rZ~user:1"])
