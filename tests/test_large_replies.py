"""Large replies (issue 12, item 1): a reading client that asks for more than
``send_queue_bytes`` at once (a long ``history``, a recovery of 1,000 messages of 4 KB) gets
it all; the limit still cuts a client that does not read."""

from __future__ import annotations

import asyncio

import httpx
import orjson
from centrifuge import Client

from tests.harness import read_close_code, stalled_client, token, unique
from tests.test_sdk_centrifuge_python import Recorder, cli_token

TEXT_SIZE = 4000  # the default max_message_length
COUNT = 1000  # the default history_size


async def _fill(server, clients, community: str, channel: str, count: int = COUNT) -> None:
    """``count`` messages of 4 KB, sent in batches by a moderator (no flood hooks)."""
    sender = await clients(server.ws_url)
    await sender.connect(token("poster", {community: "moderator"}))
    batch = 50
    for start in range(0, count, batch):
        futs = []
        for i in range(start, min(count, start + batch)):
            text = f"{i:05d} " + "x" * (TEXT_SIZE - 6)
            futs.append(sender.rpc("chat.send", {"channel": channel, "text": text}))
        replies = await asyncio.gather(*futs)
        assert all("error" not in r for r in replies), replies[0]


def _offsets(pubs) -> list[int]:
    return [p["offset"] for p in pubs]


async def test_history_and_recovery_larger_than_the_send_queue(spawn, valkey, clients):
    s = spawn(valkey.url, env={"CHATSERVER_COMMAND_RATE": "100000"})
    community = unique("big")
    channel = s.make_room(community, "big")
    first = await clients(s.ws_url)
    await first.connect(token("reader", {community: "member"}))
    sub = (await first.call("subscribe", {"channel": channel}))["subscribe"]
    epoch = sub["epoch"]
    await first.close()
    await _fill(s, clients, community, channel)

    reader = await clients(s.ws_url, max_size=None)
    await reader.connect(token("reader", {community: "member"}))
    hist = await reader.call("history", {"channel": channel, "limit": 300}, timeout=30)
    pubs = hist["history"]["publications"]
    assert len(orjson.dumps(hist)) > (1 << 20)  # larger than send_queue_bytes (1 MiB)
    assert _offsets(pubs) == list(range(1, 301))

    rec = (await reader.call("subscribe", {"channel": channel, "recover": True, "epoch": epoch, "offset": 0}, timeout=30))["subscribe"]
    assert rec["recovered"] is True
    assert _offsets(rec["publications"]) == list(range(1, COUNT + 1))
    assert rec["publications"][-1]["data"]["text"].startswith(f"{COUNT - 1:05d} ")
    # Still connected, and live messages follow the recovered ones.
    poster = await clients(s.ws_url)
    await poster.connect(token("poster2", {community: "moderator"}))
    await poster.rpc("chat.send", {"channel": channel, "text": "live"})
    push = await reader.next_push(where=lambda p: "pub" in p.get("push", {}))
    assert push["push"]["pub"]["offset"] == COUNT + 1
    metrics = httpx.get(s.url + "/metrics").text
    assert 'chat_disconnects_total{code="3008"}' not in metrics


async def test_client_not_reading_large_replies_is_not_read_and_is_cut(spawn, valkey, clients):
    """A client that asks for large replies and never reads: the server reads no further
    commands (its memory holds one reply plus the limit), and pushes then close it 3008."""
    s = spawn(valkey.url, env={"CHATSERVER_COMMAND_RATE": "100000", "CHATSERVER_SEND_QUEUE_BYTES": "262144"})
    community = unique("big")
    channel = s.make_room(community, "big")
    await _fill(s, clients, community, channel, 300)
    history = "\n".join('{"id":%d,"history":{"channel":"%s","limit":300}}' % (i, channel) for i in range(3, 40))
    stalled = await asyncio.to_thread(
        stalled_client,
        s.port,
        '{"id":1,"connect":{"token":"%s"}}\n{"id":2,"subscribe":{"channel":"%s"}}\n%s'
        % (token("stall", {community: "member"}), channel, history),
    )
    await asyncio.sleep(1.5)
    page = httpx.get(s.url + "/metrics").text
    history_calls = next(x for x in page.splitlines() if x.startswith('chat_commands_total{method="history"}'))
    # 37 history commands were sent; the server stopped reading after the first large replies.
    assert float(history_calls.split()[1]) < 5, history_calls
    poster = await clients(s.ws_url)
    await poster.connect(token("poster2", {community: "moderator"}))
    for i in range(100):
        await poster.rpc("chat.send", {"channel": channel, "text": "p" * 3900 + str(i)})
    code = await asyncio.to_thread(read_close_code, stalled)
    stalled.close()
    assert code == 3008


async def test_sdk_recovers_a_thousand_large_messages(spawn, valkey, clients):
    """centrifuge-python (recoverable subscription) misses 1,000 messages of 4 KB, then
    recovers them all in order on reconnect, without a reconnect loop."""
    s = spawn(valkey.url, env={"CHATSERVER_COMMAND_RATE": "100000"})
    community = unique("sdkbig")
    channel = s.make_room(community, "big")
    alice = Client(s.ws_url, token=cli_token("alice", community))
    rec = Recorder()
    await alice.connect()
    sub = alice.new_subscription(channel, events=rec, recoverable=True)
    await sub.subscribe()
    await sub.ready(5)
    await alice.disconnect()
    await _fill(s, clients, community, channel)
    await alice.connect()
    await rec.wait_for(COUNT, timeout=60)
    await asyncio.sleep(0.5)
    assert [o for o, _ in rec.pubs] == list(range(1, COUNT + 1))
    assert rec.subscribed[-1].was_recovering and rec.subscribed[-1].recovered
    await alice.disconnect()
    metrics = httpx.get(s.url + "/metrics").text
    assert 'chat_disconnects_total{code="3008"}' not in metrics


def _slow_reader(port: int, commands: str, bytes_per_second: int, after_reply: float) -> tuple[int | None, bool, int]:
    """A raw client that reads at ``bytes_per_second`` and answers pings; returns (close code
    or None, whether the reply to command 2 arrived, pongs sent)."""
    import socket
    import time

    from tests.harness import raw_handshake, ws_frame

    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16384)
    sock.connect(("127.0.0.1", port))
    raw_handshake(sock)
    sock.sendall(ws_frame(commands.encode()))
    sock.settimeout(0.2)
    buf = b""
    replied_at: float | None = None
    pongs = 0
    try:
        while replied_at is None or time.monotonic() - replied_at < after_reply:
            try:
                chunk = sock.recv(8192)
            except TimeoutError:
                chunk = b""
            else:
                if not chunk:
                    return None, replied_at is not None, pongs
            buf += chunk
            time.sleep(len(chunk) / bytes_per_second)
            while len(buf) >= 2:
                opcode, n, pos = buf[0] & 0x0F, buf[1] & 0x7F, 2
                if n == 126:
                    n, pos = int.from_bytes(buf[2:4], "big"), 4
                elif n == 127:
                    n, pos = int.from_bytes(buf[2:10], "big"), 10
                if len(buf) < pos + n:
                    break
                payload, buf = buf[pos : pos + n], buf[pos + n :]
                if opcode == 8:
                    return int.from_bytes(payload[:2], "big"), replied_at is not None, pongs
                for line in payload.split(b"\n"):
                    if line == b"{}":
                        try:
                            sock.sendall(ws_frame(b"{}"))
                        except OSError:
                            return -1, replied_at is not None, pongs
                        pongs += 1
                    elif line.startswith(b'{"id":2,'):
                        replied_at = time.monotonic()
        return None, True, pongs
    finally:
        sock.close()


async def test_a_slow_reader_of_a_large_reply_is_not_cut_for_a_late_pong(spawn, valkey, clients):
    """Pings queue behind a 4 MB recovery that a slow client takes 10+ s to read, and its
    pong waits behind that: the pong deadline moves on while it reads."""
    s = spawn(valkey.url, env={"CHATSERVER_COMMAND_RATE": "100000", "CHATSERVER_PING_INTERVAL": "1",
                               "CHATSERVER_PONG_TIMEOUT": "2"})
    community = unique("slow")
    channel = s.make_room(community, "big")
    first = await clients(s.ws_url)
    await first.connect(token("slow", {community: "member"}))
    epoch = (await first.call("subscribe", {"channel": channel}))["subscribe"]["epoch"]
    await first.close()
    await _fill(s, clients, community, channel)
    commands = '{"id":1,"connect":{"token":"%s"}}\n{"id":2,"subscribe":{"channel":"%s","recover":true,"offset":0,"epoch":"%s"}}' % (
        token("slow", {community: "member"}), channel, epoch)
    code, replied, pongs = await asyncio.to_thread(_slow_reader, s.port, commands, 350_000, 4.0)
    assert replied and code is None, (code, replied, pongs)
    assert pongs >= 1
