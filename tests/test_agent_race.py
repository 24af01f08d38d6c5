"""Find the race through Streamlit's agent API, as a script or an AI assistant drives it (bench/agent_client.py): a
real app server, no browser. The script sets the paths, the clients and a fault by their widget keys, presses
`race:find`, reads the report and the diagram's DOT, and steps the interleaving."""

from __future__ import annotations

import pytest
from browser_support import start_server

from bench.agent_client import AgentClient
from strategies.races import Fault, Race, explore, replay
from strategies.races.report import summary


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    server = start_server(tmp_path_factory.mktemp("agent-race"))
    yield server
    server.stop()


def markdown(snap) -> str:
    return "\n".join(snap.texts("markdown"))


def test_a_script_submits_paths_and_reads_the_race(server):
    client = AgentClient(server.url)
    opened = client.open("find_the_race")
    assert {"race:read-path", "race:write-path", "race:clients", "race:fault"} <= opened.action_keys()
    assert "race:find" not in opened.action_keys()             # disabled until the paths can run
    # Widgets take the values a learner sees: the cards' labels. The fault's options follow the paths: set them first.
    built = client.set(opened.session_id, {"race:read-path": ["GET", "SELECT", "SET with a TTL"],
                                           "race:write-path": ["SET the cache", "UPDATE the database"],
                                           "race:clients": "A reads, B writes"})
    assert "race:find" in built.action_keys()
    found = client.click(built.session_id, "race:find",
                         {"race:fault": "The database fails at B's card 2 (UPDATE the database)"})
    race = Race(("GET", "SELECT", "SET-TTL"), ("SET", "UPDATE"), "rw", Fault("database", "B", 2))
    report = explore(race)
    said = markdown(found)
    for line in summary(report):
        assert line.removeprefix("- ") in said
    steps = replay(race, report.shortest).steps
    assert f"**step 1 of {len(steps)}**" in said
    [dot] = found.dots()
    assert "B1. SET user:1" in dot
    stepped = client.click(found.session_id, "race:forward")
    assert f"**step 2 of {len(steps)}**" in markdown(stepped)
    assert "B2. INSERT" in stepped.dots()[0]
