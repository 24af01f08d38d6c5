"""Fixtures for the simulation core's tests.

`cache` runs a test once per cache backend:
  * "fake": a private in-process fakeredis server, always;
  * "real": the Redis server at $REDIS_URL. Without REDIS_URL it is skipped locally, but under
    CI=true it fails: in CI a missing Redis is a broken setup, not a reason to skip;
  * "cluster", only for tests marked `cluster` (a module opts in with `pytestmark = pytest.mark.cluster`):
    the Redis Cluster at $REDIS_CLUSTER_URL (redis+cluster://host:port/, any one node), through redis-py's
    RedisCluster. Skipped locally without it, a failure under CI=true, as "real" is.

Every test gets its own `namespace` ("test:{<uuid>}:", the braces a cluster hash tag, so all of a test's keys
share one slot); afterwards only the keys under it are deleted (SCAN MATCH + DEL; never FLUSHALL/FLUSHDB), so
tests can share a real server with anything else.

Every lab built through `make_lab` has the explanation of each logged step formatted when the test ends
(`check_explanations`): a narration id missing from assets/narration.md, or a sentence that does not
format, fails the test that produced it.
"""

from __future__ import annotations

import os
import uuid

import fakeredis
import pytest
import redis
from core_support import check_explanations, new_lab
from hypothesis import settings

from strategies import PATTERNS, Database, Lab, SimClock
from strategies.cache import open_client


def running_in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"true", "1", "yes"}


# The property tests are seeded in CI: the same examples every run, so a red CI can be replayed as it was. On a
# developer's machine they explore new examples each run (and Hypothesis replays any that failed first).
settings.register_profile("seeded", derandomize=True)
if running_in_ci():
    settings.load_profile("seeded")


def _real_redis() -> redis.Redis:
    url = os.environ.get("REDIS_URL")
    if not url:
        if running_in_ci():
            pytest.fail("CI=true but REDIS_URL is not set: the real-Redis tests must run against a real "
                        "redis-server in CI (start one and export REDIS_URL=redis://host:port/db).", pytrace=False)
        pytest.skip("REDIS_URL is not set: real-Redis variant skipped (set REDIS_URL to run it)")
    client = redis.Redis.from_url(url, decode_responses=True, socket_connect_timeout=2, socket_timeout=10)
    try:
        client.ping()
    except (redis.RedisError, OSError) as err:
        pytest.fail(f"REDIS_URL is set but the Redis server does not answer PING: {err}", pytrace=False)
    return client


def _cluster_url() -> str:
    """$REDIS_CLUSTER_URL as connect_cache takes it (redis+cluster://…); skips locally without it, fails in CI."""
    url = os.environ.get("REDIS_CLUSTER_URL")
    if not url:
        if running_in_ci():
            pytest.fail("CI=true but REDIS_CLUSTER_URL is not set: the cluster tests must run against a real Redis "
                        "Cluster in CI (start one and export REDIS_CLUSTER_URL=redis+cluster://host:port/).",
                        pytrace=False)
        pytest.skip("REDIS_CLUSTER_URL is not set: cluster variant skipped (set it to run it)")
    scheme, sep, rest = url.partition("://")
    if sep and not scheme.endswith("+cluster"):
        url = f"{scheme}+cluster://{rest}"                # the variable already says it is a cluster
    return url


def _cluster_redis(url: str) -> redis.RedisCluster:
    try:
        client = open_client(url, socket_connect_timeout=2, socket_timeout=10)
        client.ping()
    except (redis.RedisError, redis.exceptions.RedisClusterException, OSError) as err:
        pytest.fail(f"REDIS_CLUSTER_URL is set but the cluster does not answer PING: {err}", pytrace=False)
    return client


@pytest.fixture
def cluster_url() -> str:
    """The cluster at $REDIS_CLUSTER_URL, as a redis+cluster:// URL (skipped locally without it, failed in CI)."""
    return _cluster_url()


@pytest.fixture
def cluster_cache(cluster_url) -> redis.RedisCluster:
    """A RedisCluster client of the cluster at $REDIS_CLUSTER_URL."""
    client = _cluster_redis(cluster_url)
    yield client
    client.close()


def pytest_generate_tests(metafunc) -> None:
    """`cache` runs on "fake" and "real", and on "cluster" too where the test is marked `cluster`."""
    if "cache" in metafunc.fixturenames:
        backends = ["fake", "real"] + (["cluster"] if metafunc.definition.get_closest_marker("cluster") else [])
        metafunc.parametrize("cache", backends, indirect=True)


@pytest.fixture
def cache(request) -> redis.Redis:
    """A redis-py client with decode_responses=True, on fakeredis, on the real server at REDIS_URL or on the
    cluster at REDIS_CLUSTER_URL."""
    if request.param == "fake":
        client = fakeredis.FakeRedis(server=fakeredis.FakeServer(), decode_responses=True)
    elif request.param == "real":
        client = _real_redis()
    else:
        client = _cluster_redis(_cluster_url())
    yield client
    client.close()


def delete_namespace(client: redis.Redis, namespace: str) -> int:
    """Delete every key under `namespace` (and nothing else); returns how many."""
    names = list(client.scan_iter(match=namespace + "*", count=500))
    return client.delete(*names) if names else 0


@pytest.fixture
def namespace(cache) -> str:
    """A namespace of this test's own; its keys are removed from the cache afterwards."""
    prefix = f"test:{{{uuid.uuid4().hex}}}:"
    yield prefix
    delete_namespace(cache, prefix)


@pytest.fixture
def db() -> Database:
    """A seeded in-memory SQLite database."""
    database = Database(":memory:")
    yield database
    database.close()


@pytest.fixture
def clock() -> SimClock:
    return SimClock()


@pytest.fixture
def make_lab(cache, db, namespace, clock):
    """Build a lab: make_lab("cache-aside", batch_size=3, ...) on this test's cache, db, namespace and clock.

    Any of cache / db / namespace / clock can be overridden (e.g. a second lab on a sibling namespace).
    When the test ends, every step its labs logged is explained (see `check_explanations`).
    """
    built: list[Lab] = []

    def build(name: str, *, cache: redis.Redis = cache, db: Database = db, namespace: str = namespace,
              clock: SimClock = clock, **options) -> Lab:
        lab = new_lab(name, cache=cache, db=db, namespace=namespace, clock=clock, **options)
        built.append(lab)
        return lab

    yield build
    for lab in built:
        check_explanations(lab.log.values())


@pytest.fixture
def outage_lab():
    """outage_lab(name, **options) -> (server, client, lab) on a private fakeredis server whose connection a
    test can cut (server.connected = False); every step the lab logged is explained when the test ends."""
    labs = []

    def build(name, **options):
        server = fakeredis.FakeServer()
        client = fakeredis.FakeRedis(server=server, decode_responses=True)
        lab = PATTERNS[name](client, Database(":memory:"), namespace="outage:", clock=SimClock(), **options)
        labs.append(lab)
        return server, client, lab

    yield build
    for lab in labs:
        check_explanations(lab.log.values())
        lab.db.close()


@pytest.fixture
def lab_for():
    """lab_for("cache-aside", **options): a lab on a private fakeredis and in-memory SQLite, with its own clock;
    when the test ends, every step it logged is explained and its database closed."""
    labs: list[Lab] = []

    def build(name: str, **options) -> Lab:
        lab = new_lab(name, **options)
        labs.append(lab)
        return lab

    yield build
    for lab in labs:
        check_explanations(lab.log.values())
        lab.db.close()


# ---- the pages under Streamlit's AppTest (tests/app_support.py holds their helpers) --------------------------
@pytest.fixture
def app(tmp_path, monkeypatch):
    """app(page=None, **query) -> AppTest: the app as a learner's browser opens it (`app_support.open_app`),
    on a private data folder, the embedded fakeredis and a manual clock (time moves only with requests and
    fast-forwards, never with how long a test took)."""
    from app_support import open_app

    monkeypatch.setenv("LAB_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("LAB_CLOCK", "manual")
    monkeypatch.delenv("REDIS_URL", raising=False)
    return open_app


# ---- the browser tests' fixtures (tests/browser_support.py holds their helpers) ----------------------------
@pytest.fixture(scope="module")
def chromium():
    from browser_support import launch_chromium, require_browser

    require_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def lab_server(tmp_path_factory):
    """One server shared by the module's tests; each test opens its own browser context (own session)."""
    from browser_support import require_browser, start_server

    require_browser()
    server = start_server(tmp_path_factory.mktemp("lab-server"))
    yield server
    server.stop()


@pytest.fixture
def open_page(chromium):
    """Pages in fresh contexts (so fresh sessions); at teardown, pass or fail, each one's screenshot goes to
    test-artifacts/<name>.png (unless name is None) and its context is closed."""
    from browser_support import new_page, save_screenshot

    opened = []

    def make(name: str | None):
        page = new_page(chromium)
        opened.append((page, name))
        return page

    yield make
    for page, name in opened:
        try:
            if name:
                save_screenshot(page, name)
        finally:
            page.context.close()
