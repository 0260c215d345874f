"""The cluster hot path: the engine's own router vs redis-py's asyncio ``RedisCluster``.

``python scripts/bench_cluster_client.py [--calls 20000] [--concurrency 100]`` starts a
3-master Valkey Cluster and runs ``RedisBroker.publish`` (publish.lua: offset, XADD,
SPUBLISH) over many rooms, once through ``ClusterRouter`` (pipelined connection per
master, what the server uses) and once through redis-py's ``RedisCluster`` (a pooled
connection per command), in this one process. Prints calls/s and this process's CPU
microseconds per call: the measurement behind the choice in ARCHITECTURE.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # this checkout's packages

from redis.asyncio.cluster import ClusterNode  # noqa: E402

from chatserver.engine import HistoryOptions  # noqa: E402
from chatserver.redis.broker import RedisBroker  # noqa: E402
from chatserver.redis.cluster import ClusterRouter  # noqa: E402
from chatserver.redis.deployment import WaitingRedisCluster  # noqa: E402
from chatserver.redis.urls import parse_url  # noqa: E402
from loadtests.topology import Cluster  # noqa: E402

HISTORY = HistoryOptions(size=100, ttl=600, meta_ttl=3600)


async def measure(url: str, via: str, calls: int, concurrency: int, rooms: int) -> dict[str, Any]:
    parsed = parse_url(url)
    client = WaitingRedisCluster(
        startup_nodes=[ClusterNode(n.host, n.port) for n in parsed.nodes],
        max_connections=512,
        concurrency=concurrency,
    )
    router = ClusterRouter(parsed.nodes) if via == "router" else None
    broker = RedisBroker(client, 3600, router)
    payload = b"x" * 100
    await broker.publish("warm:up", payload, HISTORY)
    if router is not None:
        await router.refresh()
    queue = iter(range(calls))

    async def worker() -> None:
        for i in queue:
            await broker.publish(f"bench:r{i % rooms}", payload, HISTORY)

    cpu0, t0 = time.process_time(), time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - t0
    broker.close()
    await client.aclose()
    return {"via": via, "calls": calls, "calls_per_s": round(calls / wall), "client_cpu_us_per_call": round(1e6 * cpu / calls, 1)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=20000)
    parser.add_argument("--concurrency", type=int, default=100)
    parser.add_argument("--rooms", type=int, default=200)
    args = parser.parse_args(argv)
    cluster = Cluster(masters=3, replicas_per_master=0).start()
    try:
        for via in ("router", "redis-py", "router", "redis-py"):
            print(json.dumps(asyncio.run(measure(cluster.url(), via, args.calls, args.concurrency, args.rooms))), flush=True)
    finally:
        cluster.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
