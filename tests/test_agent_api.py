"""End to end through Streamlit's agent API: a real app server, driven over HTTP as a script or an AI
assistant would (bench/agent_client.py), no browser. Nothing here is skipped: it needs only the app's
own requirements and a loopback port.

* a scenario loaded by its link (`/cache_aside?scenario=stale-set-race`), read back from the JSON tree:
  the Scenario picker, the narration, the Requests table; then stepped to its end, where the tables and
  the summary show the stale value the race left in the cache;
* the same through the MCP endpoint (`/_stcore/agent/mcp`, JSON-RPC): its tools, and a scenario loaded;
* the release of labs: once Streamlit ends an idle agent session, the app's reaper removes that
  learner's folder, while a learner who keeps clicking keeps hers.
"""

from __future__ import annotations

import json
import os
import re
import urllib.request

import pytest
from browser_support import poll, start_server
from conftest import _real_redis

from bench.agent_client import AgentClient, Snapshot
from bench.load import check_answer

PATTERN = "cache-aside"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    server = start_server(tmp_path_factory.mktemp("agent-api"))
    yield server
    server.stop()


def step_counter(snap: Snapshot) -> tuple[int, int] | None:
    for body in snap.texts("markdown"):
        found = re.fullmatch(r"\*\*step (\d+) of (\d+)\*\*", body)
        if found:
            return int(found[1]), int(found[2])
    return None


LOG_OPEN = {f"{PATTERN}:log": True}       # the request log's expander: its table is drawn only while open


def with_log(client: AgentClient, snap: Snapshot) -> Snapshot:
    """The same session with its request log open."""
    return client.set(snap.session_id, LOG_OPEN)


def requests_rows(snap: Snapshot) -> list[list]:
    table = snap.table_with("Latency (ms)")
    assert table is not None, "no Requests table"
    return table["rows"]


def test_the_server_describes_the_agent_api_and_its_mcp_endpoint(server):
    document = AgentClient(server.url).openapi()
    assert document["info"]["x-streamlit-agent-api"] == "available", "server.enableAgentApi is off"
    assert {"/_stcore/agent/interact", "/_stcore/agent/mcp"} <= set(document["paths"])


def mcp_call(server, message: dict) -> dict:
    request = urllib.request.Request(server.url + "/_stcore/agent/mcp", data=json.dumps(message).encode(),
                                     method="POST", headers={"Content-Type": "application/json",
                                                             "MCP-Protocol-Version": "2025-06-18"})
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.loads(response.read())


def test_the_mcp_endpoint_lists_its_tools_and_loads_a_scenario(server):
    hello = mcp_call(server, {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "test", "version": "0"}}})
    assert "tools" in hello["result"]["capabilities"]
    tools = mcp_call(server, {"jsonrpc": "2.0", "id": 2, "method": "tools/list"})["result"]["tools"]
    assert {tool["name"] for tool in tools} == {"interact", "get_data"}
    called = mcp_call(server, {"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": {
        "name": "interact", "arguments": {"page": "cache_aside", "query_params": {"scenario": ["stale-set-race"]}}}})
    assert not called["result"].get("isError"), called
    snap = Snapshot(json.loads(called["result"]["content"][0]["text"]))
    assert snap.status == "ready" and snap.value(f"{PATTERN}:scenario-choice") == "Stale-set race (no leases)"
    snap = with_log(AgentClient(server.url, timeout=60), snap)
    assert [row[:2] for row in requests_rows(snap)] == [[3, "read"], [2, "write"], [1, "read"]]


def test_a_scenario_link_plays_the_stale_set_race(server):
    client = AgentClient(server.url, timeout=60)
    snap = client.open("cache_aside", {"scenario": ["stale-set-race"]})

    assert snap.status == "ready" and snap.page == "cache_aside"
    assert snap.value(f"{PATTERN}:scenario-choice") == "Stale-set race (no leases)"
    intro = " ".join(snap.texts("info"))
    assert "Stale-set race (no leases)" in intro and "Client A reads user:1: a miss" in intro
    # The three requests the scenario sent, newest first: A's slow read, B's write, C's read of the old value.
    snap = with_log(client, snap)
    rows = requests_rows(snap)
    assert [row[:4] for row in rows] == [[3, "read", "user:1", "hit"], [2, "write", "user:1", "ok"],
                                         [1, "read", "user:1", "miss"]]
    assert rows[0][-1] == "stale read"
    assert any("Stale reads **1**" in body for body in snap.texts("markdown"))
    # The narration of step 1, and the diagram of the same step.
    assert step_counter(snap) == (1, step_counter(snap)[1])
    assert any(body.startswith("**Client A · Step 1: App → Cache**") for body in snap.texts("markdown"))
    assert "App looks up 'user:1' in the cache." in snap.texts("text")
    active = [line.strip() for dot in snap.dots() for line in dot.splitlines() if "class=active" in line]
    assert len(active) == 1 and re.match(r'App -> Cache \[label="A?1\. GET user:1"', active[0]), active

    # Step to the end: the tables are live there, and the summary says what the race did.
    step, total = step_counter(snap)
    assert total > 3
    for _ in range(total):
        if step >= total:
            break
        snap = client.click(snap.session_id, f"{PATTERN}:forward")
        assert snap.status == "ready"
        step, total = step_counter(snap) or (total, total)
    assert step == total
    assert any("A third client, C, reads user:1 and gets the old value" in body for body in snap.texts("info"))
    assert ("**What you saw:** At the end the cache holds 'Ada Lovelace' and the database holds 'Ada King': "
            "they disagree. Stale reads served: 1.") in " ".join(snap.texts("success"))
    assert ("After this step, for 'user:1': the cache has 'Ada Lovelace' (60 s left); the database has "
            "'Ada King' (version 2).") in snap.texts("text")
    cache, database = snap.table_with("TTL (s)"), snap.table_with("Version")
    assert cache is not None and database is not None
    assert cache["rows"] == [["user:1", "Ada Lovelace", "60", "⚠ stale: DB has v2"]]
    assert ["user:1", "Ada King", 2, "0.0", "⚠ cache is stale"] in database["rows"]


def test_labs_of_ended_sessions_are_released(tmp_path):
    server = start_server(tmp_path, {"STREAMLIT_SERVER_AGENT_SESSION_TTL": "2", "LAB_REAP_INTERVAL": "0.5"})
    sessions = tmp_path / "data" / "sessions"
    try:
        client = AgentClient(server.url, timeout=60)
        leaver = client.open("cache_aside")
        stayer = client.open("cache_aside")
        for snap in (leaver, stayer):
            answer = client.click(snap.session_id, f"{PATTERN}:read", {f"{PATTERN}:key": "user:2"})
            assert check_answer(answer, 1, "read", "user:2") is None
        assert len(list(sessions.iterdir())) == 2, "each learner has a folder of its own"
        before = {p.name for p in sessions.iterdir()}

        def folders_while_the_stayer_clicks() -> int:
            client.click(stayer.session_id, f"{PATTERN}:read", {f"{PATTERN}:key": "user:1"})
            return len(list(sessions.iterdir()))

        # The leaver sends nothing more: Streamlit ends its session after 2 s idle, the reaper then
        # releases its lab. The stayer's requests keep its session, and so its folder.
        poll(folders_while_the_stayer_clicks, lambda count: count == 1, timeout=30, interval=0.5,
             what="the leaver's folder to be removed")
        (stayer_folder,) = {p.name for p in sessions.iterdir()} & before
        answer = client.click(stayer.session_id, f"{PATTERN}:read", {f"{PATTERN}:key": "user:3"})
        assert answer.status == "ready" and requests_rows(with_log(client, answer))[0][1:3] == ["read", "user:3"]
        assert (sessions / stayer_folder).is_dir()
    finally:
        server.stop()


def headings(snap: Snapshot) -> list[str]:
    """The captions as a learner reads them (Markdown escapes undone): the diagram's names its request."""
    return [re.sub(r"\\(.)", r"\1", body) for body in snap.texts("caption")]


def test_two_app_processes_share_one_real_redis_and_keep_their_learners_apart(tmp_path):
    """Two Streamlit processes (two ports) on one real Redis, as replicas behind a load balancer would be: a
    learner on one never sees what a learner on the other wrote, and each learner's keys carry its own tag."""
    redis_client = _real_redis()          # skipped locally without REDIS_URL; a failure in CI
    url = os.environ["REDIS_URL"]
    pattern = "lab:{*}:write-through:kv:user:1"
    before = set(redis_client.scan_iter(match=pattern))        # another run's learners, on a shared server
    servers = [start_server(tmp_path / f"replica-{n}", {"REDIS_URL": url}) for n in (1, 2)]
    tags: set[str] = set()
    try:
        first, second = (AgentClient(server.url, timeout=60) for server in servers)
        on_first, on_second = first.open("write_through"), second.open("write_through")
        wrote = first.click(on_first.session_id, "write-through:write",
                            {"write-through:key": "user:1", "write-through:value": "written on replica 1"})
        assert "#1: write user:1" in headings(wrote)
        read = second.click(on_second.session_id, "write-through:read", {"write-through:key": "user:1"})
        assert "#1: read user:1" in headings(read)
        assert "written on replica 1" not in json.dumps(read.raw)
        assert "Ada Lovelace" in " ".join(read.texts("text"))
        stored = {key: redis_client.get(key) for key in set(redis_client.scan_iter(match=pattern)) - before}
        tags = {key.split("}")[0] + "}" for key in stored}
        assert len(tags) == 2, stored                 # one learner on each replica, each under its own tag
        assert sorted(stored.values()) == ["Ada Lovelace", "written on replica 1"], stored
    finally:
        for server in servers:
            server.stop()
        for tag in tags:
            names = list(redis_client.scan_iter(match=tag.replace("{", "\\{").replace("}", "\\}") + "*"))
            if names:
                redis_client.delete(*names)
