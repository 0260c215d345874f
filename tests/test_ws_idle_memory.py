"""What an idle WebSocket connection keeps on the server (``chatserver.ws_protocol``).

A real uvicorn server with the gateway's protocol classes runs in the test's event loop,
with an echo endpoint that uses the direct extension the way the gateway's endpoint does;
real clients (websockets, and a raw socket for byte-exact splits) talk to it. The checks:
once connected, the protocol object has no instance dict, its request, response and ASGI
scope are gone, websockets' parser no longer holds the handshake request, and frames are
still parsed exactly (one byte at a time, and whatever part of a frame came with the
request when the parser is restarted).
"""

from __future__ import annotations

import asyncio
import base64
import gc
import os
import socket
from collections.abc import AsyncIterator
from typing import Any

import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.routing import WebSocketRoute
from websockets.asyncio.client import connect
from websockets.frames import Frame
from websockets.http11 import Request
from websockets.protocol import Protocol
from websockets.server import ServerProtocol

from chatserver.http_protocol import ChatHttpProtocol
from chatserver.websocket import _RawAsgi
from chatserver.ws_protocol import DIRECT_EXTENSION, ChatWebSocketProtocol, _fresh_frame_parser


async def echo(scope: dict[str, Any], receive: Any, send: Any) -> None:
    assert (await receive())["type"] == "websocket.connect"
    await send({"type": "websocket.accept"})
    direct = scope["extensions"][DIRECT_EXTENSION]
    del scope
    while True:
        message = direct.next_message()
        if message is None:
            await direct.arrival()
            continue
        if message["type"] == "websocket.disconnect":
            return
        direct.send(("echo:" + message["text"]).encode(), False)


@pytest.fixture
async def server() -> AsyncIterator[uvicorn.Server]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    app = Starlette(routes=[WebSocketRoute("/ws", _RawAsgi(echo))])
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, ws=ChatWebSocketProtocol, http=ChatHttpProtocol,
        lifespan="off", log_level="warning",
    )  # fmt: skip
    srv = uvicorn.Server(config)
    task = asyncio.ensure_future(srv.serve())
    for _ in range(200):
        if srv.started:
            break
        await asyncio.sleep(0.01)
    assert srv.started
    try:
        yield srv
    finally:
        srv.should_exit = True
        await asyncio.wait_for(task, 10)


def url(srv: uvicorn.Server) -> str:
    return f"ws://127.0.0.1:{srv.config.port}/ws"


def protocols(srv: uvicorn.Server) -> list[ChatWebSocketProtocol]:
    return [p for p in srv.server_state.connections if isinstance(p, ChatWebSocketProtocol)]


async def test_an_idle_connection_keeps_no_handshake_state(server: uvicorn.Server) -> None:
    async with connect(url(server), additional_headers={"X-Padding": "p" * 2000}) as ws:
        await ws.send("hello")
        assert await ws.recv() == "echo:hello"
        [proto] = protocols(server)
        assert not getattr(proto, "__dict__", None)  # every attribute is a slot
        assert proto.scope is None and proto.request is None and proto.response is None
        assert proto.conn.parser.gi_code is Protocol.parse.__code__  # type: ignore[attr-defined]
        gc.collect()
        # The only request left is the client's own (this test runs both ends).
        assert [o for o in gc.get_objects() if isinstance(o, Request)] == [ws.request]
        # Still a full WebSocket: fragmented and large messages, then a clean close.
        await ws.send(["frag", "mented"])
        assert await ws.recv() == "echo:fragmented"
        big = "x" * 200_000
        await ws.send(big)
        assert await ws.recv() == "echo:" + big
    for _ in range(100):
        if not protocols(server):
            break
        await asyncio.sleep(0.01)
    assert not protocols(server)


def masked_text(text: str) -> bytes:
    payload = text.encode()
    assert len(payload) < 126
    mask = os.urandom(4)
    return bytes((0x81, 0x80 | len(payload))) + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


def handshake(port: int) -> bytes:
    key = base64.b64encode(os.urandom(16)).decode()
    return (
        f"GET /ws HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
    ).encode()


async def read_until(reader: asyncio.StreamReader, needle: bytes) -> bytes:
    data = b""
    while needle not in data:
        chunk = await asyncio.wait_for(reader.read(4096), 5)
        assert chunk, data
        data += chunk
    return data


async def test_frames_after_the_handshake_one_byte_at_a_time(server: uvicorn.Server) -> None:
    port = server.config.port
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(handshake(port))
    head = await read_until(reader, b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 101 ")
    for b in masked_text("one") + masked_text("two"):
        writer.write(bytes((b,)))
        await writer.drain()
    data = head + await read_until(reader, b"echo:two")
    assert data.index(b"echo:one") < data.index(b"echo:two")
    writer.close()


@pytest.mark.parametrize("cut", [0, 1, 2, 4, 9, 10, 11])
def test_parser_restarts_only_between_frames(cut: int) -> None:
    """``_fresh_frame_parser`` after the request was parsed together with ``cut`` bytes of
    two frames: the frames come out whole and in order whether or not it restarted."""
    frames = masked_text("one") + masked_text("two")  # 9 + 9 bytes
    conn = ServerProtocol()
    conn.receive_data(handshake(80) + frames[:cut])
    events = conn.events_received()
    assert isinstance(events[0], Request)
    conn.accept(events[0])
    _fresh_frame_parser(conn)
    restarted = conn.parser.gi_code is Protocol.parse.__code__  # type: ignore[attr-defined]
    assert restarted == (cut in (0, 9))  # only where the next byte starts a frame
    conn.receive_data(frames[cut:])
    texts = [e.data for e in events[1:] + conn.events_received() if isinstance(e, Frame)]
    assert texts == [b"one", b"two"]
