"""Recovery after a reconnect, fan-out across processes, slow readers, restarts."""

from __future__ import annotations

import asyncio
import signal

import httpx
import orjson

from tests.harness import RawClient, ServerProcess, read_close_code, stalled_client, token, unique


def texts(pubs):
    out = []
    for p in pubs:
        raw = p["data"]
        out.append((orjson.loads(raw) if isinstance(raw, bytes) else raw)["text"])
    return out


async def test_recover_exactly_the_missed_publications(server, clients, fmt):
    pb = fmt == "protobuf"
    community = unique("comm")
    channel = server.make_room(community, "rec")
    sender = await clients(server.ws_url, protobuf_mode=pb)
    await sender.connect(token("s", {community: "member"}))
    await sender.rpc("chat.send", {"channel": channel, "text": "before"})
    c = await clients(server.ws_url, protobuf_mode=pb)
    await c.connect(token("r", {community: "member"}))
    sub = (await c.call("subscribe", {"channel": channel}))["subscribe"]
    epoch, offset = sub["epoch"], sub["offset"]
    assert offset == 1
    await c.close()
    for i in range(5):
        await sender.rpc("chat.send", {"channel": channel, "text": f"missed {i}"})
    c2 = await clients(server.ws_url, protobuf_mode=pb)
    await c2.connect(token("r", {community: "member"}))
    sub = (await c2.call("subscribe", {"channel": channel, "recover": True, "epoch": epoch, "offset": offset}))["subscribe"]
    assert sub["recovered"] is True and sub["was_recovering"] is True
    assert [p["offset"] for p in sub["publications"]] == [2, 3, 4, 5, 6]
    assert texts(sub["publications"]) == [f"missed {i}" for i in range(5)]
    assert sub["epoch"] == epoch
    # Live publications continue after the recovered ones, without duplicates.
    await sender.rpc("chat.send", {"channel": channel, "text": "live"})
    push = await c2.next_push(where=lambda p: "pub" in p.get("push", {}))
    assert push["push"]["pub"]["offset"] == 7


async def test_wrong_epoch_is_not_recovered_never_partial(server, clients):
    community = unique("comm")
    channel = server.make_room(community, "rec")
    c = await clients(server.ws_url)
    await c.connect(token("r", {community: "member"}))
    for i in range(3):
        await c.rpc("chat.send", {"channel": channel, "text": f"m{i}"})
    sub = (await c.call("subscribe", {"channel": channel, "recover": True, "epoch": "deadbeef", "offset": 1}))["subscribe"]
    assert not sub.get("recovered") and not sub.get("publications")
    assert sub["offset"] == 3
    await c.call("unsubscribe", {"channel": channel})
    reply = await c.call("subscribe", {"channel": channel, "recover": True, "epoch": "deadbeef", "offset": 1, "flag": 2})
    assert reply["error"]["code"] == 112


async def test_trimmed_history_is_not_recovered(server, clients):
    community = unique("comm")
    channel = server.make_room(community, "tiny", history_size=3)
    c = await clients(server.ws_url)
    await c.connect(token("t", {community: "member"}))
    sub = (await c.call("subscribe", {"channel": channel}))["subscribe"]
    epoch = sub["epoch"]
    await c.call("unsubscribe", {"channel": channel})
    for i in range(6):
        await c.rpc("chat.send", {"channel": channel, "text": f"m{i}"})
    sub = (await c.call("subscribe", {"channel": channel, "recover": True, "epoch": epoch, "offset": 0}))["subscribe"]
    assert not sub.get("recovered") and not sub.get("publications")
    sub2 = (await c.call("history", {"channel": channel, "limit": 10}))["history"]
    assert [p["offset"] for p in sub2["publications"]] == [4, 5, 6]


async def test_concurrent_joins_to_a_new_room_all_receive(server, clients):
    """The broadcaster bug: members joining while the first SUBSCRIBE is in flight."""
    community = unique("comm")
    channel = server.make_room(community, "rush")
    members = []
    for i in range(30):
        c = await clients(server.ws_url)
        await c.connect(token(f"m{i}", {community: "member"}))
        members.append(c)
    subs = await asyncio.gather(*(m.call("subscribe", {"channel": channel}) for m in members))
    assert all("subscribe" in s for s in subs)
    await members[0].rpc("chat.send", {"channel": channel, "text": "hello all"})
    pushes = await asyncio.gather(*(m.next_push(where=lambda p: "pub" in p.get("push", {})) for m in members))
    assert all(p["push"]["pub"]["offset"] == 1 for p in pushes)


async def test_two_processes_one_valkey(server, spawn, valkey, clients):
    other = spawn(valkey.url, name="second")
    community = unique("comm")
    channel = server.make_room(community, "x")
    a = await clients(server.ws_url)
    b = await clients(other.ws_url, protobuf_mode=True)
    await a.connect(token("a", {community: "member"}))
    b_connect = await b.connect(token("b", {community: "member"}))
    assert b_connect["connect"]["node"] != (await a.call("ping", {})).get("node", "x")
    await a.call("subscribe", {"channel": channel})
    await b.call("subscribe", {"channel": channel})
    await a.rpc("chat.send", {"channel": channel, "text": "from process one"})
    push = await b.next_push(where=lambda p: "pub" in p.get("push", {}))
    assert texts([push["push"]["pub"]]) == ["from process one"]
    await b.rpc("chat.send", {"channel": channel, "text": "from process two"})
    push = await a.next_push(where=lambda p: "pub" in p.get("push", {}) and p["push"]["pub"]["offset"] == 2)
    assert texts([push["push"]["pub"]]) == ["from process two"]


async def test_stalled_reader_is_closed_3008_others_keep_receiving(spawn, valkey, clients):
    s = spawn(valkey.url, env={"CHATSERVER_SEND_QUEUE_BYTES": "262144", "CHATSERVER_COMMAND_RATE": "100000"})
    community = unique("comm")
    channel = s.make_room(community, "busy", max_message_length=8000)
    reader = await clients(s.ws_url)
    await reader.connect(token("reader", {community: "member"}))
    await reader.call("subscribe", {"channel": channel})
    sender = await clients(s.ws_url)
    await sender.connect(token("sender", {community: "moderator"}))
    stalled = await asyncio.to_thread(
        stalled_client,
        s.port,
        '{"id":1,"connect":{"token":"%s"}}\n{"id":2,"subscribe":{"channel":"%s"}}'
        % (token("stall", {community: "member"}), channel),
    )
    text = "y" * 7000
    total = 1000
    peak_queued = 0
    got = 0
    for i in range(total):
        await sender.send({"id": 10000 + i, "rpc": {"method": "chat.send", "data": {"channel": channel, "text": text}}})
        if i % 20 == 19:
            # Closed loop: the healthy reader keeps up, so only the stalled one falls behind.
            while got <= i:
                await reader.next_push(timeout=30, where=lambda p: "pub" in p.get("push", {}))
                got += 1
        if i % 100 == 99:
            page = await asyncio.to_thread(httpx.get, s.url + "/metrics")
            queued = next(x for x in page.text.splitlines() if x.startswith("chat_send_queue_bytes "))
            peak_queued = max(peak_queued, float(queued.split()[1]))
    # 7 MB went out to a client that reads nothing; the server never holds more than the
    # per-connection bound (256 KiB here) for it, plus the healthy reader's small backlog.
    assert peak_queued < 2 * 262144, peak_queued
    assert got == total
    metrics = httpx.get(s.url + "/metrics").text
    assert 'chat_disconnects_total{code="3008"} 1.0' in metrics
    assert "chat_send_queue_drops_total 1.0" in metrics
    code = await asyncio.to_thread(read_close_code, stalled)
    stalled.close()
    assert code == 3008


async def test_graceful_shutdown_closes_clients_3001(valkey):
    s = ServerProcess(valkey.url)
    s.wait_ready()
    c = await RawClient.open(s.ws_url)
    try:
        await c.connect(token("bye", {}))
        s.proc.send_signal(signal.SIGTERM)
        closed = await c.wait_closed(timeout=10)
        assert closed.code == 3001
    finally:
        await c.close()
        s.stop()
    assert s.proc.returncode == 0, s.log()
