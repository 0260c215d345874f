"""Fixtures: one embedded Valkey and one server process per test session, plus factories
for tests that need their own (two processes, restarts, SIGKILL)."""

from __future__ import annotations

import pytest

from tests.harness import RawClient, ServerProcess, Valkey
from tests.topologies import cluster, sentinels  # noqa: F401  (session fixtures: Valkey Cluster, Sentinel)


@pytest.fixture(scope="session")
def valkey():
    v = Valkey()
    yield v
    v.stop()


@pytest.fixture(scope="session")
def server(valkey):
    s = ServerProcess(valkey.url, name="main")
    s.wait_ready()
    yield s
    s.stop()


@pytest.fixture
def spawn():
    """Start extra server processes: ``spawn(redis_url, **kw)``; all stopped at the end."""
    started: list[ServerProcess] = []

    def start(redis_url, **kw):
        s = ServerProcess(redis_url, **kw)
        started.append(s)
        s.wait_ready()
        return s

    yield start
    for s in started:
        s.stop()


@pytest.fixture
async def clients():
    """Open RawClients that are closed at the end: ``await clients(server.ws_url, ...)``."""
    opened: list[RawClient] = []

    async def open_(url, **kw):
        c = await RawClient.open(url, **kw)
        opened.append(c)
        return c

    yield open_
    for c in opened:
        await c.close()


@pytest.fixture(params=["json", "protobuf"])
def fmt(request):
    return request.param


@pytest.fixture(scope="session")
def modconfig(tmp_path_factory):
    """A config file for moderation tests: test-only hooks by dotted path, mute_min = 1 s."""
    from tests.moderation_support import CONFIG

    path = tmp_path_factory.mktemp("modcfg") / "chatserver.toml"
    path.write_text(CONFIG)
    return path


@pytest.fixture(scope="session")
def modserver(valkey, modconfig):
    """A server process with the moderation test config (shares the session Valkey)."""
    s = ServerProcess(valkey.url, name="moderation", args=["--config", str(modconfig)])
    s.wait_ready()
    yield s
    s.stop()
