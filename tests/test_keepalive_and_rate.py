"""Pings within what the SDKs accept (issue 12, item 7) and the command rate limit for
pings and id-less commands (item 8)."""

from __future__ import annotations

import asyncio
import dataclasses
import time

import orjson
import pytest

from chatserver.app import Server
from chatserver.config import Settings
from chatserver.connection import Connection
from chatserver.protocol.codec import JSON
from tests.harness import API_KEY, SECRET, token, unique

SDK_GRACE = 10  # centrifuge-js/-python give up at ping interval + 10 s without a ping


@pytest.fixture
async def inproc(valkey):
    settings = Settings(redis_url=valkey.url, secret=SECRET, api_key=API_KEY, seed_demo=False, node_name=unique("ping"))
    server = Server(settings, [])
    await server.start()
    yield server
    await server.stop()


@pytest.mark.parametrize("jitter", [0.0, 0.5, 0.999999])
async def test_first_ping_is_due_within_one_interval(inproc, jitter):
    """Whatever the jitter draws, the first ping is due within ``ping_interval`` (the old
    ``interval * (0.5 + random)`` put it up to 37.5 s after connect, past the SDKs' 35 s)."""
    ctx = dataclasses.replace(inproc.connection_context, jitter=lambda: jitter)
    interval = inproc.settings.ping_interval

    async def asgi_send(message: dict) -> None:
        return None

    conn = Connection(ctx, JSON, asgi_send=asgi_send)
    inproc.node.accept(conn)
    try:
        before = time.monotonic()
        await conn.handle_message(orjson.dumps({"id": 1, "connect": {"token": token(unique("u"))}}).decode())
        after = time.monotonic()
        assert conn.connected
        assert conn.next_ping - before >= interval * 0.5
        assert conn.next_ping - after <= interval, conn.next_ping - after
        # Later pings: one interval after the previous one (the node ticks once a second,
        # so a ping is at most interval + 1 s after the previous one: within the SDKs' grace).
        first = conn.next_ping
        conn.tick(first, time.time())
        assert conn.next_ping - first == pytest.approx(interval)
        assert interval + 1 < interval + SDK_GRACE
    finally:
        await inproc.node.release(conn)


async def test_every_ping_arrives_within_the_interval_on_the_wire(spawn, valkey, clients):
    s = spawn(valkey.url, env={"CHATSERVER_PING_INTERVAL": "2"})
    conns = []
    for i in range(10):
        c = await clients(s.ws_url)
        await c.connect(token(f"p{i}"))
        conns.append(c)
    start = time.monotonic()
    # The harness answers pings itself; count frames that were pings via the raw reader:
    # every connection must stay open past several intervals (no 3012) and see frames.
    await asyncio.sleep(7)
    for c in conns:
        assert not c.closed.done()
        assert c.frames >= 1 + 2  # the connect reply and at least two pings in 7 s
    assert time.monotonic() - start >= 7


async def test_pings_count_against_the_command_rate(server, clients):
    c = await clients(server.ws_url)
    await c.connect(token("pinger", {}))
    cmds = [{"id": 1000 + i, "ping": {}} for i in range(300)]
    futs = {cmd["id"]: asyncio.get_running_loop().create_future() for cmd in cmds}
    c.replies.update(futs)
    await c.send(*cmds)
    replies = await asyncio.wait_for(asyncio.gather(*futs.values()), 10)
    refused = [r for r in replies if r.get("error", {}).get("code") == 111]
    # command_rate 50/s with a burst of 100: about 200 of 300 back-to-back pings are refused.
    assert len(refused) >= 150, len(refused)
    assert all(r["error"].get("temporary") for r in refused)


@pytest.mark.parametrize("command", [{}, {"send": {"data": {"x": 1}}}])
async def test_a_flood_of_id_less_commands_is_limited_and_closed(server, clients, command):
    """Id-less commands (pongs, ``send``) cannot be answered 111: beyond the rate they are
    dropped and counted as mistakes, so a client that keeps flooding is closed with 3509."""
    c = await clients(server.ws_url)
    await c.connect(token("flooder", {}))
    await c.send(*([command] * 400))
    closed = await c.wait_closed(10)
    assert closed.code == 3509
    # A member who is not flooding is unaffected.
    other = await clients(server.ws_url)
    await other.connect(token("calm", {}))
    assert "error" not in await other.call("ping", {})
