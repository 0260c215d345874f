"""The official centrifuge-python SDK, unchanged, in JSON and Protobuf mode."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys

import orjson
import pytest
from centrifuge import (
    Client,
    PublicationContext,
    SubscribedContext,
    SubscriptionEventHandler,
)

from tests.harness import SECRET, unique


def cli_token(user: str, community: str, role: str = "member") -> str:
    """A token from the real ``chatserver token`` command, with the server's secret."""
    env = dict(os.environ, CHATSERVER_SECRET=SECRET)
    out = subprocess.run(
        [sys.executable, "-m", "chatserver", "token", "--user", user, "--name", user.title(),
         "--community", f"{community}={role}", "--ttl", "3600"],
        env=env, capture_output=True, text=True, check=True,
    )
    return out.stdout.strip()


class Recorder(SubscriptionEventHandler):
    def __init__(self) -> None:
        self.pubs: list[tuple[int, dict]] = []
        self.subscribed: list[SubscribedContext] = []
        self.event = asyncio.Event()

    async def on_publication(self, ctx: PublicationContext) -> None:
        data = ctx.pub.data
        if isinstance(data, (bytes, bytearray)):
            data = orjson.loads(data)
        self.pubs.append((ctx.pub.offset, data))
        self.event.set()

    async def on_subscribed(self, ctx: SubscribedContext) -> None:
        self.subscribed.append(ctx)

    async def wait_for(self, n: int, timeout: float = 10) -> None:
        async def _wait():
            while len(self.pubs) < n:
                self.event.clear()
                await self.event.wait()
        await asyncio.wait_for(_wait(), timeout)


def payload(pb: bool, text: str):
    data = {"text": text}
    return orjson.dumps(data) if pb else data


@pytest.mark.parametrize("mode", ["json", "protobuf"])
async def test_sdk_receive_disconnect_miss_five_recover_in_order(server, mode):
    pb = mode == "protobuf"
    community = unique("sdk")
    channel = server.make_room(community, "room")
    alice = Client(server.ws_url, token=cli_token("alice", community), use_protobuf=pb)
    bob = Client(server.ws_url, token=cli_token("bob", community), use_protobuf=pb)
    rec = Recorder()
    await alice.connect()
    await bob.connect()
    sub_a = alice.new_subscription(channel, events=rec)
    sub_b = bob.new_subscription(channel)
    await sub_a.subscribe()
    await sub_b.subscribe()
    await sub_a.ready(5)
    await sub_b.ready(5)

    await sub_b.publish(payload(pb, "hello alice"))
    await rec.wait_for(1)
    assert rec.pubs[0][1]["text"] == "hello alice" and rec.pubs[0][1]["user"] == "bob"

    await alice.disconnect()
    for i in range(5):
        await sub_b.publish(payload(pb, f"missed {i}"))
    await alice.connect()
    await rec.wait_for(6)
    await asyncio.sleep(0.3)
    assert [text for _, text in [(o, d["text"]) for o, d in rec.pubs]] == ["hello alice"] + [f"missed {i}" for i in range(5)]
    assert [o for o, _ in rec.pubs] == [1, 2, 3, 4, 5, 6]
    assert rec.subscribed[-1].was_recovering and rec.subscribed[-1].recovered

    await sub_b.publish(payload(pb, "live again"))
    await rec.wait_for(7)
    assert rec.pubs[-1] == (7, rec.pubs[-1][1]) and rec.pubs[-1][1]["text"] == "live again"
    await alice.disconnect()
    await bob.disconnect()


@pytest.mark.parametrize("mode", ["json", "protobuf"])
async def test_sdk_rpc_history_presence(server, mode):
    pb = mode == "protobuf"
    community = unique("sdk")
    channel = server.make_room(community, "room")
    c = Client(server.ws_url, token=cli_token("carol", community), use_protobuf=pb)
    await c.connect()
    sub = c.new_subscription(channel)
    await sub.subscribe()
    await sub.ready(5)
    data = {"channel": channel, "text": "via rpc", "client_msg_id": "m-1"}
    result = await c.rpc("chat.send", orjson.dumps(data) if pb else data)
    answer = orjson.loads(result.data) if pb else result.data
    assert answer["status"] == "published" and answer["offset"] == 1
    history = await sub.history(limit=10)
    assert [p.offset for p in history.publications] == [1]
    stats = await sub.presence_stats()
    assert stats.num_clients == 1 and stats.num_users == 1
    await c.disconnect()
