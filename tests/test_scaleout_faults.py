"""Bad Redis deployments: a clear startup error, or error 100 while it lasts (readiness
stays with the process: /readyz/deep is what alerts); never a crash or a silent
single-node fallback."""

from __future__ import annotations

import asyncio
import time

import httpx

from loadtests.topology import Cluster
from tests.harness import Closed, ServerProcess, token, unique


def startup_failure(url: str) -> str:
    """Start a server against ``url``; it must exit non-zero. Returns its log."""
    s = ServerProcess(url)
    try:
        code = s.proc.wait(60)
        assert code != 0
        return s.log()
    finally:
        s.stop()


def test_seed_nodes_that_disagree_are_a_startup_error(cluster, valkey):
    plain = valkey.url.removeprefix("redis://").split("/")[0]
    node = cluster.nodes[0]
    log = startup_failure(f"redis://127.0.0.1:{node.port},{plain}")
    assert "disagree" in log and "is not a cluster node" in log


def test_several_plain_servers_are_not_taken_for_a_cluster(valkey):
    plain = valkey.url.removeprefix("redis://").split("/")[0]
    log = startup_failure(f"redis://{plain},{plain}")
    assert "not cluster nodes" in log


def test_a_sentinel_that_names_no_master_is_a_startup_error(sentinels):
    url = sentinels.url().replace(f"/{sentinels.service}", "/no-such-service")
    log = startup_failure(url)
    assert "no master" in log and "no-such-service" in log


async def test_clusterdown_error_100_while_it_lasts_readiness_stays_deep_check_alerts(clients):
    """A master of a cluster without replicas is killed: the deep check (for alerts) says
    503 while it is away; /readyz (for load balancers) stays 200, since the process still
    serves what answers; a new client is accepted and gets its connect reply within 2 s;
    commands on the missing slots answer error 100; all resumes when the node is back."""
    small = Cluster(masters=3, replicas_per_master=0, node_timeout_ms=1000)
    s = None
    try:
        small.start()
        s = ServerProcess(small.url())
        s.wait_ready(60)
        community = unique("down")
        doomed_node = small.nodes[2]
        room = next(
            f"{community}:r{i}" for i in range(100) if small.owner(f"chat:{{{community}:r{i}}}:p") is doomed_node
        )
        s.make_room(community, room.split(":")[1])
        sender = await clients(s.ws_url)
        await sender.connect(token("w", {community: "member"}))
        assert "result" in await sender.rpc("chat.send", {"channel": room, "text": "before"})
        assert httpx.get(s.url + "/readyz/deep").status_code == 200

        doomed_node.kill()
        deadline = time.monotonic() + 20
        async with httpx.AsyncClient(timeout=5) as http:
            while (await http.get(s.url + "/readyz/deep")).status_code != 503:
                assert time.monotonic() < deadline, "the deep check stayed 200 with a master gone"
                assert (await http.get(s.url + "/readyz")).status_code == 200
                await asyncio.sleep(0.2)
            for _ in range(5):  # the process still serves: no load balancer takes it out
                assert (await http.get(s.url + "/readyz")).status_code == 200
                await asyncio.sleep(0.2)
        reply = await sender.rpc("chat.send", {"channel": room, "text": "during"})
        assert reply["error"]["code"] == 100 and reply["error"]["temporary"] is True
        started = time.monotonic()
        newcomer = await clients(s.ws_url)  # accepted (no 403 while a shard is away)
        answer = await newcomer.connect(token("n", {community: "member"}))
        assert time.monotonic() - started < 2.0
        assert "connect" in answer or answer["error"]["temporary"] is True, answer
        assert s.proc.poll() is None  # no crash

        doomed_node.start()
        small.wait_ok(60)
        deadline = time.monotonic() + 30
        while True:
            if sender.closed.done():
                # The node came back empty (no persistence here): the sender's own channel
                # on it has a new epoch, so its server-side subscription ends with 3010
                # (reconnect and recover), as the SDKs do.
                assert sender.closed.result().code == 3010
                sender = await clients(s.ws_url)
                await sender.connect(token("w", {community: "member"}))
            try:
                reply = await sender.rpc("chat.send", {"channel": room, "text": "after"})
            except Closed:
                continue
            if "result" in reply:
                break
            assert time.monotonic() < deadline, reply
            await asyncio.sleep(0.3)
        assert reply["result"]["status"] == "published"  # (the node kept no data: no persistence here)
        deadline = time.monotonic() + 20
        while httpx.get(s.url + "/readyz/deep").status_code != 200:
            assert time.monotonic() < deadline
            await asyncio.sleep(0.2)
        assert httpx.get(s.url + "/readyz").status_code == 200
    finally:
        if s is not None:
            s.stop()
        small.stop()
