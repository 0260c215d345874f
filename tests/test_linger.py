"""Channels linger after their last local member leaves, and the hub answers positions it
knows: a reconnect within ``channel_linger`` costs no SUBSCRIBE and no position read, and
nothing published meanwhile (or while the pub/sub connection was down) is missed."""

from __future__ import annotations

import asyncio
import os
import signal

import httpx
import orjson
import redis.asyncio as aioredis

from tests.harness import token, unique


def metric(base_url: str, name: str) -> float:
    for line in httpx.get(base_url + "/metrics").text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    raise AssertionError(f"{name} not in /metrics")


def texts(pubs):
    return [(orjson.loads(p["data"]) if isinstance(p["data"], bytes) else p["data"])["text"] for p in pubs]


async def test_reconnect_within_linger_is_answered_from_the_known_position(server, clients):
    community = unique("comm")
    channel = server.make_room(community, "linger")
    sender = await clients(server.ws_url)
    await sender.connect(token("sender", {community: "member"}))
    await sender.rpc("chat.send", {"channel": channel, "text": "before"})

    a = await clients(server.ws_url)
    await a.connect(token("away", {community: "member"}))
    sub = (await a.call("subscribe", {"channel": channel}))["subscribe"]
    epoch, offset = sub["epoch"], sub["offset"]
    assert offset == 1
    await a.close()
    # Nobody here is in the room now; its subscription lingers and follows the stream.
    for _ in range(50):
        if metric(server.url, "chat_channels_lingering") >= 1:
            break
        await asyncio.sleep(0.05)
    assert metric(server.url, "chat_channels_lingering") >= 1
    for i in range(3):
        await sender.rpc("chat.send", {"channel": channel, "text": f"missed {i}"})

    # Behind the known position: a real recovery (read), every missed message.
    known_before = metric(server.url, "chat_positions_known_total")
    a2 = await clients(server.ws_url)
    await a2.connect(token("away", {community: "member"}))
    sub = (await a2.call("subscribe", {"channel": channel, "recover": True, "epoch": epoch, "offset": offset}))["subscribe"]
    assert sub["recovered"] is True
    assert [p["offset"] for p in sub["publications"]] == [2, 3, 4]
    assert texts(sub["publications"]) == ["missed 0", "missed 1", "missed 2"]
    await a2.close()

    # At the known position: recovered with nothing missed, answered without a read.
    a3 = await clients(server.ws_url)
    await a3.connect(token("away", {community: "member"}))
    sub = (await a3.call("subscribe", {"channel": channel, "recover": True, "epoch": epoch, "offset": 4}))["subscribe"]
    assert sub["recovered"] is True and not sub.get("publications")
    assert sub["epoch"] == epoch and sub.get("offset", 0) == 4
    assert metric(server.url, "chat_positions_known_total") > known_before
    await sender.rpc("chat.send", {"channel": channel, "text": "live"})
    push = await a3.next_push(where=lambda p: "pub" in p.get("push", {}))
    assert push["push"]["pub"]["offset"] == 5

    # A plain subscribe of a newcomer is positioned at the known top as well.
    c = await clients(server.ws_url)
    await c.connect(token("newcomer", {community: "member"}))
    sub = (await c.call("subscribe", {"channel": channel}))["subscribe"]
    assert sub["offset"] == 5 and sub["epoch"] == epoch


async def test_channel_is_unsubscribed_after_the_linger(spawn, valkey, clients):
    s = spawn(valkey.url, env={"CHATSERVER_CHANNEL_LINGER": "0.5"})
    community = unique("comm")
    channel = s.make_room(community, "short")
    a = await clients(s.ws_url)
    await a.connect(token("brief", {community: "member"}))
    await a.call("subscribe", {"channel": channel})
    with_member = metric(s.url, "chat_redis_channel_subscriptions")
    await a.close()
    # The room and the member's own channel go once the linger is over.
    for _ in range(100):
        if metric(s.url, "chat_redis_channel_subscriptions") <= with_member - 2:
            break
        await asyncio.sleep(0.05)
    assert metric(s.url, "chat_redis_channel_subscriptions") <= with_member - 2
    assert metric(s.url, "chat_channels_lingering") == 0


async def test_position_known_before_a_pubsub_reset_is_not_trusted(server, spawn, valkey, clients):
    """Messages published while this process's pub/sub connection was down never reached
    its hub: a member recovering afterwards from the position known before must get them."""
    other = spawn(valkey.url, name="other")
    community = unique("comm")
    channel = server.make_room(community, "reset")
    a = await clients(server.ws_url)
    await a.connect(token("away", {community: "member"}))
    sub = (await a.call("subscribe", {"channel": channel}))["subscribe"]
    epoch, offset = sub["epoch"], sub.get("offset", 0)
    await a.close()  # the channel lingers here, at a known position

    sender = await clients(other.ws_url)
    await sender.connect(token("sender", {community: "member"}))
    resets = metric(server.url, "chat_pubsub_resets_total")
    r = aioredis.from_url(valkey.url)
    os.kill(server.proc.pid, signal.SIGSTOP)
    try:
        await r.execute_command("CLIENT", "KILL", "TYPE", "pubsub")
        for i in range(2):
            await sender.rpc("chat.send", {"channel": channel, "text": f"unseen {i}"})
    finally:
        os.kill(server.proc.pid, signal.SIGCONT)
        await r.aclose()
    for _ in range(100):
        if metric(server.url, "chat_pubsub_resets_total") > resets:
            break
        await asyncio.sleep(0.05)
    assert metric(server.url, "chat_pubsub_resets_total") > resets

    a2 = await clients(server.ws_url)
    await a2.connect(token("away", {community: "member"}))
    sub = (await a2.call("subscribe", {"channel": channel, "recover": True, "epoch": epoch, "offset": offset}))["subscribe"]
    assert sub["recovered"] is True
    assert texts(sub["publications"]) == ["unseen 0", "unseen 1"]


async def test_pubsub_forgets_channels_it_left(valkey):
    """Every distinct channel ever subscribed (each member's own channel) must not leave
    bookkeeping behind once unsubscribed: a long-running process sees millions."""
    from chatserver.redis.pubsub import PubSub
    from chatserver.redis.urls import parse_redis_url

    got: list[bytes] = []
    pubsub = PubSub(parse_redis_url(valkey.url), on_message=lambda key, data: got.append(data))
    await pubsub.start()
    try:
        names = [f"chat:{{{unique('forget')}}}:p".encode() for _ in range(200)]
        await asyncio.gather(*(pubsub.subscribe(n) for n in names))
        # A channel left and joined again at once keeps working (its counters stay).
        again = names[0]
        pubsub.unsubscribe(again)
        await pubsub.subscribe(again)
        for n in names[1:]:
            pubsub.unsubscribe(n)
        r = aioredis.from_url(valkey.url)
        try:
            for _ in range(100):
                if len(pubsub._sent) <= 1 and len(pubsub._confirmed) <= 1:
                    break
                await asyncio.sleep(0.02)
            assert set(pubsub._sent) <= {again} and set(pubsub._confirmed) <= {again}
            await r.publish(again, b"still here")
        finally:
            await r.aclose()
        for _ in range(100):
            if got:
                break
            await asyncio.sleep(0.02)
        assert got == [b"still here"]
    finally:
        await pubsub.close()
