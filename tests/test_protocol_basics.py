"""Protocol v2 over a real WebSocket to a real server process: connect, subscribe, publish,
history, presence, batching, refresh, in JSON and Protobuf."""

from __future__ import annotations

import asyncio
import time

import httpx
import orjson
import pytest

from tests.harness import Closed, RawClient, token, unique


def data_of(pub: dict) -> dict:
    raw = pub["data"]
    return orjson.loads(raw) if isinstance(raw, (bytes, str)) and not isinstance(raw, dict) else raw


async def test_health_ready_metrics(server):
    assert httpx.get(server.url + "/healthz").json()["status"] == "ok"
    ready = httpx.get(server.url + "/readyz")
    assert ready.status_code == 200 and ready.json()["status"] == "ready"
    metrics = httpx.get(server.url + "/metrics").text
    for name in ("chat_connections", "chat_subscriptions", "chat_messages_in", "chat_messages_out",
                 "chat_send_queue_drops", "chat_redis_ping_seconds"):
        assert name in metrics


async def test_connect_subscribe_publish_receive(server, clients, fmt):
    pb = fmt == "protobuf"
    community = unique("comm")
    channel = server.make_room(community, "lobby")
    alice = await clients(server.ws_url, protobuf_mode=pb)
    bob = await clients(server.ws_url, protobuf_mode=pb)
    reply = await alice.connect(token("alice", {community: "member"}))
    result = reply["connect"]
    assert result["client"] and result["version"] and result["ping"] == 25 and result["pong"] is True
    assert result["expires"] is True and 3500 < result["ttl"] <= 3600
    assert "user#alice" in result.get("subs", {})
    await bob.connect(token("bob", {community: "member"}, name="Bob"))
    sub = (await alice.call("subscribe", {"channel": channel}))["subscribe"]
    assert sub["recoverable"] is True and sub["positioned"] is True and sub["epoch"]
    assert sub.get("offset", 0) == 0
    await bob.call("subscribe", {"channel": channel})
    reply = await bob.call("publish", {"channel": channel, "data": {"text": "  hello  "}})
    assert reply.get("publish") == {} or "error" not in reply
    push = await alice.next_push(where=lambda p: "pub" in p.get("push", {}))
    pub = push["push"]["pub"]
    assert push["push"]["channel"] == channel
    assert pub["offset"] == 1
    event = data_of(pub)
    assert event["type"] == "message" and event["text"] == "hello"
    assert event["user"] == "bob" and event["name"] == "Bob" and event["role"] == "member"
    assert pub["info"]["user"] == "bob"
    conn_info = pub["info"]["conn_info"]
    conn_info = orjson.loads(conn_info) if isinstance(conn_info, (bytes, str)) else conn_info
    assert conn_info["name"] == "Bob"


async def test_connect_and_subscribe_batched_in_one_frame(server, clients, fmt):
    community = unique("comm")
    channel = server.make_room(community, "r")
    c = await clients(server.ws_url, protobuf_mode=fmt == "protobuf")
    fut1 = asyncio.get_running_loop().create_future()
    fut2 = asyncio.get_running_loop().create_future()
    c.replies[101] = fut1
    c.replies[102] = fut2
    await c.send(
        {"id": 101, "connect": {"token": token("u1", {community: "member"})}},
        {"id": 102, "subscribe": {"channel": channel}},
    )
    r1, r2 = await asyncio.wait_for(asyncio.gather(fut1, fut2), 5)
    assert "connect" in r1 and "subscribe" in r2


@pytest.mark.parametrize("header", [None, [""], ["centrifuge-protobuf"]])
async def test_handshake_subprotocol_variants(server, header):
    """No header (centrifuge-python JSON), an empty header (older SDKs), and protobuf."""
    import websockets

    extra = {}
    if header == [""]:
        extra["additional_headers"] = {"Sec-WebSocket-Protocol": ""}
        header = None
    ws = await websockets.connect(server.ws_url, subprotocols=header, **extra)
    try:
        if header == ["centrifuge-protobuf"]:
            assert ws.subprotocol == "centrifuge-protobuf"
            client = RawClient(ws, True)
        else:
            assert ws.subprotocol is None
            client = RawClient(ws, False)
        reply = await client.connect(token("hs", {}))
        assert "connect" in reply
    finally:
        await ws.close()


async def test_protobuf_by_query_parameter(server, clients):
    import websockets

    ws = await websockets.connect(server.ws_url + "?format=protobuf")
    try:
        client = RawClient(ws, True)
        assert "connect" in await client.connect(token("q", {}))
    finally:
        await ws.close()


async def test_history_limit_since_reverse(server, clients, fmt):
    community = unique("comm")
    channel = server.make_room(community, "hist")
    c = await clients(server.ws_url, protobuf_mode=fmt == "protobuf")
    await c.connect(token("h", {community: "member"}))
    for i in range(6):
        r = await c.rpc("chat.send", {"channel": channel, "text": f"m{i}"})
        assert r["result"]["status"] == "published"
    h = (await c.call("history", {"channel": channel, "limit": 3}))["history"]
    assert [p["offset"] for p in h["publications"]] == [1, 2, 3]
    assert h["offset"] == 6 and h["epoch"]
    h = (await c.call("history", {"channel": channel, "limit": 2, "reverse": True}))["history"]
    assert [p["offset"] for p in h["publications"]] == [6, 5]
    epoch = h["epoch"]
    h = (await c.call("history", {"channel": channel, "limit": 10, "since": {"offset": 4, "epoch": epoch}}))["history"]
    assert [p["offset"] for p in h["publications"]] == [5, 6]
    assert [data_of(p)["text"] for p in h["publications"]] == ["m4", "m5"]
    h = (await c.call("history", {"channel": channel}))["history"]
    assert "publications" not in h and h["offset"] == 6  # limit 0: position only
    bad = await c.call("history", {"channel": channel, "limit": 5, "since": {"offset": 1, "epoch": "nope"}})
    assert bad["error"]["code"] == 112


async def test_presence_and_stats(server, clients, fmt):
    pb = fmt == "protobuf"
    community = unique("comm")
    channel = server.make_room(community, "pres")
    a = await clients(server.ws_url, protobuf_mode=pb)
    b1 = await clients(server.ws_url, protobuf_mode=pb)
    b2 = await clients(server.ws_url, protobuf_mode=pb)
    for c, user in ((a, "pa"), (b1, "pb"), (b2, "pb")):
        await c.connect(token(user, {community: "member"}))
        await c.call("subscribe", {"channel": channel})
    presence = (await a.call("presence", {"channel": channel}))["presence"]["presence"]
    assert sorted(info["user"] for info in presence.values()) == ["pa", "pb", "pb"]
    stats = (await a.call("presence_stats", {"channel": channel}))["presence_stats"]
    assert stats == {"num_clients": 3, "num_users": 2}
    await b2.call("unsubscribe", {"channel": channel})
    stats = (await a.call("presence_stats", {"channel": channel}))["presence_stats"]
    assert stats == {"num_clients": 2, "num_users": 2}


async def test_idempotent_send(server, clients):
    community = unique("comm")
    channel = server.make_room(community, "idem")
    c = await clients(server.ws_url)
    await c.connect(token("i", {community: "member"}))
    await c.call("subscribe", {"channel": channel})
    first = (await c.rpc("chat.send", {"channel": channel, "text": "once", "client_msg_id": "abc-1"}))["result"]
    again = (await c.rpc("chat.send", {"channel": channel, "text": "once", "client_msg_id": "abc-1"}))["result"]
    assert first["offset"] == again["offset"] == 1
    assert again["duplicate"] is True and again["id"] == first["id"]
    via_publish = await c.call("publish", {"channel": channel, "data": {"text": "once", "client_msg_id": "abc-1"}})
    assert "error" not in via_publish
    h = (await c.call("history", {"channel": channel, "limit": 10}))["history"]
    assert len(h["publications"]) == 1


async def test_refresh_extends_connection(server, clients):
    c = await clients(server.ws_url)
    reply = await c.connect(token("r", {}, ttl=60))
    assert reply["connect"]["ttl"] <= 60
    refreshed = (await c.call("refresh", {"token": token("r", {}, ttl=7200)}))["refresh"]
    assert refreshed["expires"] is True and refreshed["ttl"] > 7000
    with pytest.raises(Closed) as closed:
        await c.call("refresh", {"token": token("someone-else", {}, ttl=7200)})
    assert closed.value.code == 3500


async def test_rpc_rooms_lists_joinable_rooms(server, clients):
    community = unique("comm")
    server.make_room(community, "a")
    server.make_room(community, "b")
    c = await clients(server.ws_url)
    await c.connect(token("rr", {community: "member"}))
    rooms = (await c.rpc("chat.rooms", {"community": community}))["result"]["rooms"]
    assert [r["channel"] for r in rooms] == [f"{community}:a", f"{community}:b"]


async def test_server_pings_and_pong(server, clients):
    # The first ping is jittered within half the interval; just check the pong path is accepted.
    c = await clients(server.ws_url)
    await c.connect(token("p", {}))
    await c.send({})  # a pong before any ping is harmless
    assert "connect" not in (await c.call("ping", {}))


async def test_subscription_token_chan_info_and_refresh(server, clients):
    import jwt as pyjwt

    from tests.harness import SECRET

    community = unique("comm")
    channel = server.make_room(community, "tok")
    c = await clients(server.ws_url)
    await c.connect(token("st", {community: "member"}))
    now = int(time.time())
    sub_token = pyjwt.encode({"sub": "st", "channel": channel, "info": {"badge": "verified"}, "exp": now + 60},
                             SECRET, algorithm="HS256")
    result = (await c.call("subscribe", {"channel": channel, "token": sub_token}))["subscribe"]
    assert result["expires"] is True and result["ttl"] <= 60
    await c.rpc("chat.send", {"channel": channel, "text": "with badge"})
    push = await c.next_push(where=lambda p: "pub" in p.get("push", {}))
    assert push["push"]["pub"]["info"]["chan_info"] == {"badge": "verified"}
    fresh = pyjwt.encode({"sub": "st", "channel": channel, "exp": now + 3600}, SECRET, algorithm="HS256")
    refreshed = (await c.call("sub_refresh", {"channel": channel, "token": fresh}))["sub_refresh"]
    assert refreshed["expires"] is True and refreshed["ttl"] > 3000
    other = await clients(server.ws_url)
    await other.connect(token("st2", {community: "member"}))
    forged = pyjwt.encode({"sub": "st2", "channel": channel}, "wrong-secret-wrong-secret-wrong-secret-1234", algorithm="HS256")
    assert (await other.call("subscribe", {"channel": channel, "token": forged}))["error"]["code"] == 103
    stolen = (await other.call("subscribe", {"channel": channel, "token": sub_token}))
    assert stolen["error"]["code"] == 103  # issued to another user
