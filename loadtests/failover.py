"""Measure a shard failover under a live stream: ``python -m loadtests.failover``.

(``--topology sentinel [--replicas N]``: the same against Sentinel, ``SENTINEL FAILOVER``
or kill -9 of the master; ``--node-timeout-ms`` is then ``down-after-milliseconds``.)

A 3-master + 3-replica Valkey Cluster (``cluster-node-timeout`` = ``--node-timeout-ms``)
and two gateways; a publisher sends numbered messages at ``--rate``/s into a room (retrying
error 100 with the same ``client_msg_id``, as clients do) while a member on the other
gateway listens. Then the master owning the room is failed over, either coordinated
(``CLUSTER FAILOVER`` on its replica) or killed with SIGKILL. Printed per run: the longest
time without an acknowledged publish (downtime), retries, acknowledged messages missing
from the room's history afterwards (lost to asynchronous replication), and acknowledged
messages the member never received.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from typing import Any

import websockets

from loadtests.launch import ChatServer, make_token
from loadtests.topology import Cluster, SentinelSetup


async def _rpc(ws: Any, ids: list[int], method: str, params: dict[str, Any], replies: dict[int, asyncio.Future[Any]]) -> Any:
    ids[0] += 1
    cid = ids[0]
    fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
    replies[cid] = fut
    await ws.send(json.dumps({"id": cid, method: params}))
    return await asyncio.wait_for(fut, 30)


class Client:
    def __init__(self, ws: Any) -> None:
        self.ws = ws
        self.ids = [0]
        self.replies: dict[int, asyncio.Future[Any]] = {}
        self.pubs: list[dict[str, Any]] = []
        self.reader = asyncio.ensure_future(self._read())

    @classmethod
    async def open(cls, url: str, user: str, community: str) -> Client:
        client = cls(await websockets.connect(url, max_size=2**24))
        await client.call("connect", {"token": make_token(user, {community: "member"})})
        return client

    async def _read(self) -> None:
        async for message in self.ws:
            for line in str(message).split("\n"):
                if not line:
                    continue
                reply = json.loads(line)
                if not reply:
                    await self.ws.send("{}")
                elif reply.get("id") in self.replies:
                    self.replies.pop(reply["id"]).set_result(reply)
                elif "pub" in reply.get("push", {}):
                    self.pubs.append(reply["push"]["pub"])

    async def call(self, method: str, params: dict[str, Any]) -> Any:
        return await _rpc(self.ws, self.ids, method, params, self.replies)

    async def close(self) -> None:
        await self.ws.close()
        self.reader.cancel()


async def whole_history(client: Client, channel: str) -> set[str]:
    """Every text in the room's history, read in pages of 1000 (the server's limit)."""
    first = (await client.call("history", {"channel": channel, "limit": 0}))["history"]
    epoch, offset = first["epoch"], 0
    kept: set[str] = set()
    while True:
        page = (await client.call("history", {"channel": channel, "limit": 1000, "since": {"offset": offset, "epoch": epoch}}))
        pubs = page["history"].get("publications", [])
        if not pubs:
            return kept
        kept.update(p["data"]["text"] for p in pubs)
        offset = pubs[-1]["offset"]


async def run_once(topology: Cluster | SentinelSetup, gateways: list[ChatServer], mode: str, rate: float, seconds: float) -> dict[str, Any]:
    community = f"fo{int(time.time() * 1000) % 10**8}"
    channel = gateways[0].setup_rooms(community, ["stream"], {"history_size": 100000})[0]
    member = await Client.open(f"ws://127.0.0.1:{gateways[1].port}/connection/websocket", "member", community)
    await member.call("subscribe", {"channel": channel})
    publisher = await Client.open(f"ws://127.0.0.1:{gateways[0].port}/connection/websocket", "pub", community)
    acked: list[tuple[int, float]] = []
    retries = 0
    stop = asyncio.Event()

    async def publish() -> None:
        nonlocal retries
        n = 0
        while not stop.is_set():
            while True:
                reply = await publisher.call(
                    "rpc", {"method": "chat.send", "data": {"channel": channel, "text": f"n{n}", "client_msg_id": f"c{n}"}}
                )
                if "rpc" in reply:
                    break
                retries += 1
                await asyncio.sleep(0.05)
            acked.append((n, time.monotonic()))
            n += 1
            await asyncio.sleep(1 / rate)

    task = asyncio.ensure_future(publish())
    await asyncio.sleep(2)
    if isinstance(topology, Cluster):
        owner = topology.owner(f"chat:{{{channel}}}:p")
        failover: Any = lambda: topology.failover(owner)  # noqa: E731
    else:
        owner = topology.master()
        failover = topology.failover
    killed_at = time.monotonic()
    if mode == "kill":
        owner.kill()
    else:
        await asyncio.get_running_loop().run_in_executor(None, failover)
    await asyncio.sleep(seconds)
    stop.set()
    await task
    times = [t for _, t in acked if t >= killed_at - 1]
    downtime = max((b - a for a, b in zip(times, times[1:], strict=False)), default=0.0)
    await asyncio.sleep(1)
    kept = await whole_history(member, channel)
    numbers = [n for n, _ in acked]
    lost = [n for n in numbers if f"n{n}" not in kept]
    received = [p["data"]["text"] for p in member.pubs if p.get("offset")]
    missing_live = [n for n in numbers if f"n{n}" not in received]
    await member.close()
    await publisher.close()
    return {
        "mode": mode,
        "acknowledged": len(numbers),
        "downtime_s": round(downtime, 2),
        "retries": retries,
        "lost_from_history": len(lost),
        "not_received_live": len(missing_live),
        "duplicates_live": len(received) - len(set(received)),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--modes", default="coordinated,kill")
    parser.add_argument("--rate", type=float, default=20.0)
    parser.add_argument("--seconds", type=float, default=8.0, help="publishing after the failover starts")
    parser.add_argument("--node-timeout-ms", type=int, default=2000)
    parser.add_argument("--topology", choices=["cluster", "sentinel"], default="cluster")
    parser.add_argument("--replicas", type=int, default=1, help="replicas per master")
    parser.add_argument("--min-replicas-to-write", type=int, default=0, help="Sentinel data nodes' setting (default %(default)s)")
    args = parser.parse_args(argv)
    for mode in args.modes.split(","):
        topology: Cluster | SentinelSetup
        if args.topology == "cluster":
            topology = Cluster(masters=3, replicas_per_master=args.replicas, node_timeout_ms=args.node_timeout_ms).start()
            urls = [topology.url(topology.nodes[0]), topology.url(topology.nodes[1])]
        else:
            topology = SentinelSetup(replicas=args.replicas, down_after_ms=args.node_timeout_ms, min_replicas_to_write=args.min_replicas_to_write).start()
            urls = [topology.url(topology.sentinels[0]), topology.url(*topology.sentinels[1:])]
        gateways = [ChatServer(urls[0], name="gw-a"), ChatServer(urls[1], name="gw-b")]
        try:
            for g in gateways:
                g.wait_ready()
            result = asyncio.run(run_once(topology, gateways, mode, args.rate, args.seconds))
            result.update(topology=args.topology, replicas=args.replicas, node_timeout_ms=args.node_timeout_ms)
            print(json.dumps(result))
        finally:
            for g in gateways:
                g.stop()
            topology.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
