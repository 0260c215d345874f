"""Bad input gets the protocol's proper error or close code, and nothing else breaks."""

from __future__ import annotations

import asyncio

import pytest
import websockets

from tests.harness import Closed, RawClient, token, unique


async def _witness(server, clients, channel, community):
    """A connection that keeps working while others misbehave."""
    w = await clients(server.ws_url)
    await w.connect(token("witness", {community: "member"}))
    await w.call("subscribe", {"channel": channel})
    return w


async def _still_serves(w, channel):
    r = await w.rpc("chat.send", {"channel": channel, "text": "still here"})
    assert r["result"]["status"] == "published"
    push = await w.next_push(where=lambda p: "pub" in p.get("push", {}))
    assert push["push"]["channel"] == channel


async def test_invalid_token_closes_3500(server, clients, fmt):
    c = await clients(server.ws_url, protobuf_mode=fmt == "protobuf")
    forged = token("mallory", {}).rsplit(".", 1)[0] + ".c2lnbmF0dXJl"
    with pytest.raises(Closed) as closed:
        await c.connect(forged)
    assert closed.value.code == 3500


async def test_garbage_token_closes_3500(server, clients):
    c = await clients(server.ws_url)
    with pytest.raises(Closed) as closed:
        await c.connect("not-a-jwt")
    assert closed.value.code == 3500


async def test_expired_token_gets_109_and_can_retry(server, clients, fmt):
    c = await clients(server.ws_url, protobuf_mode=fmt == "protobuf")
    reply = await c.connect(token("late", {}, ttl=-10))
    assert reply["error"]["code"] == 109
    reply = await c.connect(token("late", {}))
    assert "connect" in reply  # the SDK refreshes its token and connects on the same socket


async def test_command_before_connect_closes_3501(server, clients, fmt):
    c = await clients(server.ws_url, protobuf_mode=fmt == "protobuf")
    with pytest.raises(Closed) as closed:
        await c.call("subscribe", {"channel": "demo:lobby"})
    assert closed.value.code == 3501


async def test_malformed_json_closes_3501_others_unaffected(server, clients):
    community = unique("comm")
    channel = server.make_room(community, "r")
    w = await _witness(server, clients, channel, community)
    c = await clients(server.ws_url)
    await c.connect(token("bad", {}))
    await c.send_raw('{"id": 2, "subscribe": {"channel": ')
    closed = await c.wait_closed()
    assert closed.code == 3501
    await _still_serves(w, channel)


async def test_malformed_protobuf_closes_3501(server, clients):
    c = await clients(server.ws_url, protobuf_mode=True)
    await c.connect(token("badpb", {}))
    await c.send_raw(b"\x05\x0a\xff\xff")  # length 5, truncated body
    closed = await c.wait_closed()
    assert closed.code == 3501


async def test_frame_over_size_limit_closes_1009_others_unaffected(server, clients):
    community = unique("comm")
    channel = server.make_room(community, "r")
    w = await _witness(server, clients, channel, community)
    c = await clients(server.ws_url)
    await c.connect(token("big", {community: "member"}))
    await c.send_raw('{"id": 9, "publish": {"channel": "%s", "data": {"text": "%s"}}}' % (channel, "x" * 70000))
    closed = await c.wait_closed()
    assert closed.code == 1009
    await _still_serves(w, channel)


async def test_message_text_over_room_limit_is_107_connection_survives(server, clients):
    community = unique("comm")
    channel = server.make_room(community, "short", max_message_length=10)
    c = await clients(server.ws_url)
    await c.connect(token("long", {community: "member"}))
    reply = await c.call("publish", {"channel": channel, "data": {"text": "x" * 11}})
    assert reply["error"]["code"] == 107 and "10" in reply["error"]["message"]
    reply = await c.call("publish", {"channel": channel, "data": {"text": "short"}})
    assert "error" not in reply


async def test_unknown_method_is_104(server, clients):
    c = await clients(server.ws_url)
    await c.connect(token("m", {}))
    reply = await c.call("teleport", {})
    assert reply["error"]["code"] == 104
    reply = await c.rpc("no.such.method", {})
    assert reply["error"]["code"] == 104
    assert "connect" not in await c.call("ping", {})


async def test_unknown_room_is_102(server, clients, fmt):
    c = await clients(server.ws_url, protobuf_mode=fmt == "protobuf")
    await c.connect(token("u", {"demo": "member"}))
    for channel in ("demo:no-such-room", "nosuchcommunity:lobby", "Not A Channel", "a:b:c"):
        reply = await c.call("subscribe", {"channel": channel})
        assert reply["error"]["code"] == 102, channel


async def test_room_of_another_community_is_103(server, clients, fmt):
    community = unique("comm")
    channel = server.make_room(community, "private")
    c = await clients(server.ws_url, protobuf_mode=fmt == "protobuf")
    await c.connect(token("outsider", {"demo": "member"}))
    reply = await c.call("subscribe", {"channel": channel})
    assert reply["error"]["code"] == 103
    reply = await c.call("publish", {"channel": channel, "data": {"text": "hi"}})
    assert reply["error"]["code"] == 103
    reply = await c.call("history", {"channel": channel, "limit": 5})
    assert reply["error"]["code"] == 103


async def test_other_users_private_channel_is_103(server, clients):
    c = await clients(server.ws_url)
    await c.connect(token("snoop", {}))
    reply = await c.call("subscribe", {"channel": "user#victim"})
    assert reply["error"]["code"] == 103


async def test_already_subscribed_is_105(server, clients):
    community = unique("comm")
    channel = server.make_room(community, "r")
    c = await clients(server.ws_url)
    await c.connect(token("twice", {community: "member"}))
    assert "subscribe" in await c.call("subscribe", {"channel": channel})
    reply = await c.call("subscribe", {"channel": channel})
    assert reply["error"]["code"] == 105


async def test_bad_message_data_is_107(server, clients):
    community = unique("comm")
    channel = server.make_room(community, "r")
    c = await clients(server.ws_url)
    await c.connect(token("d", {community: "member"}))
    for data in ("just a string", {"no_text": 1}, {"text": "   "}, {"text": "ok", "client_msg_id": "has space"}):
        reply = await c.call("publish", {"channel": channel, "data": data})
        assert reply["error"]["code"] == 107, data


async def test_publish_to_private_channel_refused(server, clients):
    c = await clients(server.ws_url)
    await c.connect(token("self", {}))
    reply = await c.call("publish", {"channel": "user#self", "data": {"text": "hi"}})
    assert reply["error"]["code"] == 103


async def test_too_many_errors_closes_3509(server, clients):
    c = await clients(server.ws_url)
    await c.connect(token("err", {}))
    with pytest.raises(Closed) as closed:
        for _ in range(200):
            await c.call("subscribe", {"channel": "zz:nope"})
    assert closed.value.code == 3509


async def test_rate_limit_answers_111(server, clients):
    c = await clients(server.ws_url)
    await c.connect(token("flood", {}))
    cmds = [{"id": 1000 + i, "presence_stats": {"channel": "demo:lobby"}} for i in range(150)]
    futs = {}
    for cmd in cmds:
        futs[cmd["id"]] = asyncio.get_running_loop().create_future()
    c.replies.update(futs)
    await c.send(*cmds)
    replies = await asyncio.wait_for(asyncio.gather(*futs.values()), 10)
    codes = [r.get("error", {}).get("code") for r in replies]
    assert 111 in codes
    assert all(r["error"].get("temporary") for r in replies if r.get("error", {}).get("code") == 111)


async def test_stale_connection_without_connect(spawn, valkey):
    s = spawn(valkey.url, env={"CHATSERVER_CONNECT_TIMEOUT": "1"})
    c = await RawClient.open(s.ws_url)
    try:
        closed = await c.wait_closed(timeout=5)
        assert closed.code == 3502
    finally:
        await c.close()


async def test_no_pong_closes_3012(spawn, valkey):
    s = spawn(valkey.url, env={"CHATSERVER_PING_INTERVAL": "1", "CHATSERVER_PONG_TIMEOUT": "1"})
    ws = await websockets.connect(s.ws_url)
    try:
        await ws.send('{"id":1,"connect":{"token":"%s"}}' % token("silent", {}))
        pings = 0
        with pytest.raises(websockets.ConnectionClosed):
            while True:
                message = await asyncio.wait_for(ws.recv(), 10)
                if message == "{}":
                    pings += 1  # we never answer
        assert ws.protocol.close_rcvd.code == 3012
        assert pings >= 1
    finally:
        await ws.close()


async def test_pong_keeps_connection(spawn, valkey):
    s = spawn(valkey.url, env={"CHATSERVER_PING_INTERVAL": "1", "CHATSERVER_PONG_TIMEOUT": "1"})
    c = await RawClient.open(s.ws_url)  # RawClient answers pings
    try:
        await c.connect(token("polite", {}))
        await asyncio.sleep(4)
        assert not c.closed.done()
        assert "ping" in await c.call("ping", {})
    finally:
        await c.close()
