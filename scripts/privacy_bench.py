"""Measure access and erasure requests at scale, and the cost of an edit's stream rewrite.

    python scripts/privacy_bench.py [--rooms 200] [--per-room 50] [--others 50]

Starts an embedded Valkey and one server, fills ``rooms`` rooms with ``per-room`` messages
of one member and ``others`` of other members each (written with the server's own
``publish.lua``), then times ``GET /api/users/{u}/export`` and ``POST .../erase`` while a
client measures RPC round trips (how long the server stops answering), and times
``edit_message.lua`` on a full 1,000-entry history. Numbers go to docs/privacy.md.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from chatserver.engine import HistoryOptions  # noqa: E402
from chatserver.publication import pack_payload  # noqa: E402
from chatserver.redis.broker import RedisBroker, make_client  # noqa: E402
from tests.harness import RawClient, ServerProcess, Valkey, token  # noqa: E402

HISTORY = HistoryOptions(size=1000, ttl=7 * 86_400, meta_ttl=30 * 86_400)


def message(user: str, i: int) -> bytes:
    event = {"type": "message", "id": f"{user}-{i}", "text": f"message {i} of {user}", "user": user, "name": user, "role": "member", "ts": int(time.time() * 1000)}
    return pack_payload(orjson.dumps(event), info={"user": user, "client": "c"}, time_ms=int(time.time() * 1000))


async def fill(url: str, channels: list[str], user: str, per_room: int, others: int) -> None:
    client = make_client(url)
    broker = RedisBroker(client)
    for channel in channels:
        for i in range(per_room + others):
            who = user if i % 2 == 0 and i // 2 < per_room else f"other-{i % 7}"
            await broker.publish(channel, message(who, i), HISTORY)
    await client.aclose()


async def pinger(url: str, community: str, stop: asyncio.Event, gaps: list[float]) -> None:
    c = await RawClient.open(url)
    await c.connect(token("pinger", {community: "member"}))
    while not stop.is_set():
        t = time.perf_counter()
        await c.rpc("chat.rooms", {"community": community})
        gaps.append(time.perf_counter() - t)
        await asyncio.sleep(0.005)
    await c.close()


async def timed(server: ServerProcess, method: str, path: str, community: str) -> tuple[float, dict, list[float]]:
    stop = asyncio.Event()
    gaps: list[float] = []
    ping = asyncio.ensure_future(pinger(server.ws_url, community, stop, gaps))
    await asyncio.sleep(0.2)
    t = time.perf_counter()
    r = await asyncio.to_thread(server.api, method, path)
    took = time.perf_counter() - t
    stop.set()
    await ping
    return took, r.json(), gaps


async def edit_cost(url: str) -> list[float]:
    client = make_client(url)
    broker = RedisBroker(client)
    channel = "bench:edit"
    for i in range(1000):
        await broker.publish(channel, message("editor", i), HISTORY)
    costs = []
    for n in range(20):
        offset = 1000 - n
        entry = await broker.entry(channel, offset)
        assert entry is not None
        t = time.perf_counter()
        status, _ = await broker.edit(channel, offset, entry.payload, message("editor", 5000 + n), b"\x80", HISTORY)
        costs.append(time.perf_counter() - t)
        assert status == 1
    await client.aclose()
    return costs


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rooms", type=int, default=200)
    ap.add_argument("--per-room", type=int, default=50)
    ap.add_argument("--others", type=int, default=50)
    args = ap.parse_args()
    valkey = Valkey()
    server = ServerProcess(valkey.url, name="bench")
    try:
        server.wait_ready()
        community = "bench"
        channels = [server.make_room(community, f"r{i}", history_size=1000) for i in range(args.rooms)]
        user = "bench-user"
        t = time.perf_counter()
        await fill(valkey.url, channels, user, args.per_room, args.others)
        print(f"filled {args.rooms} rooms x {args.per_room + args.others} messages in {time.perf_counter() - t:.1f} s")
        stop = asyncio.Event()
        idle: list[float] = []
        ping = asyncio.ensure_future(pinger(server.ws_url, community, stop, idle))
        await asyncio.sleep(3)
        stop.set()
        await ping
        print(f"idle: RPC round trips n={len(idle)} median {statistics.median(idle) * 1000:.1f} ms, max {max(idle) * 1000:.1f} ms")
        for label, method, path in (("export", "GET", f"/api/users/{user}/export"), ("erase", "POST", f"/api/users/{user}/erase")):
            took, body, gaps = await timed(server, method, path, community)
            detail = len(body.get("messages", [])) if label == "export" else body.get("removed", {}).get("messages")
            print(
                f"{label}: {took:.2f} s for {detail} messages; RPC round trips meanwhile: n={len(gaps)} "
                f"median {statistics.median(gaps) * 1000:.1f} ms, max {max(gaps) * 1000:.1f} ms"
            )
        costs = await edit_cost(valkey.url)
        print(f"edit_message.lua on a 1,000-entry history: median {statistics.median(costs) * 1000:.2f} ms, max {max(costs) * 1000:.2f} ms")
    finally:
        server.stop()
        valkey.stop()


if __name__ == "__main__":
    asyncio.run(main())
