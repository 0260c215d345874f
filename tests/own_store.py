"""Module-scoped ``valkey`` and ``server`` fixtures of a test module's own.

Import them into a test module (``from tests.own_store import server, valkey``) when its
tests leave per-user state behind (blocks, mutes, note preferences) on user ids such as
"ann" and "ben" that every other test reuses: the session's shared store never sees it."""

from __future__ import annotations

import pytest

from tests.harness import ServerProcess, Valkey


@pytest.fixture(scope="module")
def valkey():
    v = Valkey()
    yield v
    v.stop()


@pytest.fixture(scope="module")
def server(valkey):
    s = ServerProcess(valkey.url, name="own-store")
    s.wait_ready()
    yield s
    s.stop()
