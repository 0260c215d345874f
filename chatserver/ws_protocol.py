"""uvicorn's sans-I/O WebSocket protocol, adjusted for the Centrifuge SDKs and for fan-out.

Changes to ``WebSocketsSansIOProtocol``:
1. An empty ``Sec-WebSocket-Protocol`` header (sent by older centrifuge-python in JSON mode)
   is dropped before the handshake instead of being answered with HTTP 400.
2. The ASGI scope carries a ``chatserver.direct`` extension: a synchronous send that frames
   ready bytes straight onto the transport, skipping the ASGI message dicts and the
   bytes->str->bytes round trip of text frames. The gateway falls back to plain ASGI sends
   when the extension is missing (another ASGI server). Without a negotiated extension
   (permessage-deflate) a frame is just a 2-10 byte header plus the payload, so the direct
   send writes that itself instead of going through websockets' ``Frame`` objects; the
   last framed payload is remembered, so a publication fanned out to a whole room as one
   message per frame is framed once, not once per member.
3. On server shutdown, clients get close code 3001 ("shutdown", reconnect elsewhere)
   instead of 1012.
4. A WebSocket route of a plain Starlette app (no user middleware) is called directly,
   wrapped only in uvicorn's proxy-headers middleware when the app had it, instead of
   through Starlette's middleware and routing stack: the connection's task then keeps two
   coroutine frames alive for its whole life instead of about ten.
5. Memory per connection (tens of thousands of idle members are mostly this): a small
   FIFO and a small writable flag stand in for the ``asyncio.Queue`` and ``asyncio.Event``
   uvicorn creates for every connection (same methods, a fraction of the size); uvicorn's
   attributes live in slots (no 1.6 KiB instance dict); once the handshake is done its
   request, response and ASGI scope are let go, and websockets' parser is restarted at the
   first frame boundary so its generator frame does not keep the request's headers.
6. A text frame that is not valid UTF-8 closes the connection with 1007 and logs one
   warning line without a traceback, at most one per ``BAD_FRAME_LOG_INTERVAL`` per
   process (uvicorn logs an ERROR with a full traceback for each: a log flood on demand).
"""

from __future__ import annotations

import asyncio
import fcntl
import json
import logging
import os
import random
import struct
import termios
from collections.abc import Callable
from typing import Any

from starlette.applications import Starlette
from starlette.routing import WebSocketRoute
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.exceptions import InvalidState
from websockets.protocol import Protocol, State
from websockets.server import ServerProtocol
from websockets.streams import StreamReader

from chatserver.limits import LogLimiter, held_note

DIRECT_EXTENSION = "chatserver.direct"
DEFAULT_DRAIN = 1.0  # seconds (the shutdown_drain setting's default)
_drain: float | None = None


def drain_window() -> float:
    """The ``shutdown_drain`` setting of this server (the CLI hands settings to uvicorn's
    workers in ``CHATSERVER_SETTINGS_JSON``)."""
    global _drain
    if _drain is None:
        try:
            _drain = float(json.loads(os.environ["CHATSERVER_SETTINGS_JSON"])["shutdown_drain"])
        except (KeyError, ValueError, TypeError):
            _drain = DEFAULT_DRAIN
    return _drain
BAD_FRAME_LOG_INTERVAL = 10.0  # seconds
_bad_frames = LogLimiter(BAD_FRAME_LOG_INTERVAL)
log = logging.getLogger("chatserver.websocket")

_OPEN = State.OPEN
# Headers of unmasked, final, single-frame messages: [binary][payload length] for < 126.
_SHORT_HEADERS = (
    tuple(bytes((0x81, n)) for n in range(126)),
    tuple(bytes((0x82, n)) for n in range(126)),
)


def frame_header(length: int, binary: bool) -> bytes:
    """RFC 6455 header of a server-to-client (unmasked) final frame."""
    if length < 126:
        return _SHORT_HEADERS[binary][length]
    first = 0x82 if binary else 0x81
    if length < 65536:
        return bytes((first, 126)) + length.to_bytes(2, "big")
    return bytes((first, 127)) + length.to_bytes(8, "big")


class _FrameCache:
    """The last payload framed and its frame: a fan-out writes the same bytes object to
    every member, so consecutive sends of it reuse one frame."""

    __slots__ = ("payload", "binary", "frame")

    def __init__(self) -> None:
        self.payload: bytes | None = None
        self.binary = False
        self.frame = b""


_LAST = _FrameCache()


class DirectSend:
    """What the gateway uses to write frames synchronously on a uvicorn connection.

    ``paused`` is true while the transport's write buffer is over its high-water mark;
    ``on_writable`` is called when it drains again.
    """

    __slots__ = ("_proto", "on_writable", "paused")

    def __init__(self, proto: ChatWebSocketProtocol) -> None:
        self._proto = proto
        self.on_writable: Callable[[], None] | None = None
        self.paused = not proto.writable.is_set()

    def writable(self) -> bool:
        return not self.paused

    def reading_behind(self) -> bool:
        """True while the client's frames wait for the server: received but not handled
        yet, or one still being handled (the ASGI task is not waiting for the next). A pong
        may be among them: the server is late, not the client."""
        inbox = self._proto.queue
        waiter = inbox._waiter
        return bool(inbox._items) or waiter is None or waiter.done()

    def next_message(self) -> Any:
        """The next ASGI receive event, or None while there is none (then await
        ``arrival()``): uvicorn's ``receive`` without its two coroutine frames, which an idle
        connection would keep alive while it waits."""
        p = self._proto
        items = p.queue._items
        if not items:
            return None
        message = items.pop(0)
        if p.read_paused and not items:
            p.read_paused = False
            p.transport.resume_reading()
        return message

    def arrival(self) -> asyncio.Future[None]:
        """Done when ``next_message`` has something."""
        return self._proto.queue.arrival()

    def is_open(self) -> bool:
        p = self._proto
        return not (p.close_sent or p.disconnected or p.transport.is_closing())

    def send(self, data: bytes, binary: bool) -> bool:
        p = self._proto
        transport = p.transport
        if p.close_sent or p.disconnected or transport.is_closing():
            return False
        conn = p.conn
        if conn.extensions or conn.state is not _OPEN or conn.expect_continuation_frame:
            try:
                if binary:
                    conn.send_binary(data)
                else:
                    conn.send_text(data)
            except InvalidState:
                return False
            out = conn.data_to_send()
            transport.write(out[0] if len(out) == 1 else b"".join(out))
            return True
        last = _LAST
        if data is last.payload and binary is last.binary:
            transport.write(last.frame)
            return True
        frame = frame_header(len(data), binary) + data
        last.payload = data
        last.binary = binary
        last.frame = frame
        transport.write(frame)
        return True

    def buffered(self) -> int:
        return self._proto.transport.get_write_buffer_size()

    def unsent(self) -> int:
        """Bytes in the kernel's send queue not yet acknowledged by the peer (Linux
        SIOCOUTQ; 0 where it cannot be read)."""
        sock = self._proto.transport.get_extra_info("socket")
        if sock is None:
            return 0
        try:
            raw = fcntl.ioctl(sock.fileno(), termios.TIOCOUTQ, b"\0\0\0\0")
        except (OSError, ValueError):
            return 0
        return int(struct.unpack("i", raw)[0])

    def close(self, code: int, reason: str, abort_after: float = 5.0) -> None:
        """Send a close frame now, even while the transport is paused (a slow reader), and
        abort the socket if the peer has not completed the closing handshake in time."""
        p = self._proto
        if p.close_sent or p.disconnected or p.transport.is_closing():
            return
        p.queue.put_nowait({"type": "websocket.disconnect", "code": code, "reason": reason})
        p.conn.send_close(code, reason)
        p.transport.write(b"".join(p.conn.data_to_send()))
        p.close_sent = True
        if p.read_paused:
            p.read_paused = False
            p.transport.resume_reading()
        p.close_timer = p.loop.call_later(abort_after, p.transport.abort)


class _Inbox:
    """What uvicorn needs of its per-connection ``asyncio.Queue``: unbounded FIFO,
    ``put_nowait``, ``await get()``, ``empty()``, ``qsize()``; one reader (the ASGI task).

    A list, not a ``deque`` (which allocates a 64-slot block, about 600 bytes, up front):
    reading pauses after each message until the app takes it, so it holds one or two."""

    __slots__ = ("_items", "_waiter")

    def __init__(self) -> None:
        self._items: list[Any] = []
        self._waiter: asyncio.Future[None] | None = None

    def put_nowait(self, item: Any) -> None:
        self._items.append(item)
        waiter = self._waiter
        if waiter is not None:
            self._waiter = None
            if not waiter.done():
                waiter.set_result(None)

    def arrival(self) -> asyncio.Future[None]:
        """A future done when an item is put (the one reader awaits it directly)."""
        waiter = self._waiter
        if waiter is None or waiter.done():
            waiter = self._waiter = asyncio.get_running_loop().create_future()
        return waiter

    async def get(self) -> Any:
        while not self._items:
            await self.arrival()
        return self._items.pop(0)

    def get_nowait(self) -> Any:
        if not self._items:
            raise asyncio.QueueEmpty
        return self._items.pop(0)

    def empty(self) -> bool:
        return not self._items

    def qsize(self) -> int:
        return len(self._items)


class _Flag:
    """What uvicorn needs of its per-connection ``asyncio.Event`` (``writable``)."""

    __slots__ = ("_value", "_waiters")

    def __init__(self) -> None:
        self._value = False
        self._waiters: list[asyncio.Future[bool]] | None = None

    def is_set(self) -> bool:
        return self._value

    def set(self) -> None:
        if not self._value:
            self._value = True
            waiters = self._waiters
            self._waiters = None
            for fut in waiters or ():
                if not fut.done():
                    fut.set_result(True)

    def clear(self) -> None:
        self._value = False

    async def wait(self) -> bool:
        if self._value:
            return True
        fut: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        if self._waiters is None:
            self._waiters = []
        self._waiters.append(fut)
        try:
            return await fut
        finally:
            if self._waiters is not None and fut in self._waiters:
                self._waiters.remove(fut)


_DIRECT_APPS: dict[tuple[int, str], Any] = {}


def direct_app(app: Any, path: str) -> Any:
    """The ASGI app of the WebSocket route for ``path`` if ``app`` is a plain Starlette app
    (optionally behind uvicorn's proxy-headers middleware); None otherwise."""
    key = (id(app), path)
    if key in _DIRECT_APPS:
        return _DIRECT_APPS[key]
    found: Any = None
    proxy = app if isinstance(app, ProxyHeadersMiddleware) else None
    inner = proxy.app if proxy is not None else app
    if isinstance(inner, Starlette) and not inner.user_middleware:
        for route in inner.routes:
            if isinstance(route, WebSocketRoute) and route.path == path and not route.param_convertors:
                found = route.app
                break
    if found is not None and proxy is not None:
        wrapped = ProxyHeadersMiddleware(found)
        wrapped.trusted_hosts = proxy.trusted_hosts
        found = wrapped
    _DIRECT_APPS[key] = found
    return found


_AT_EOF = StreamReader.at_eof.__code__


def _fresh_frame_parser(conn: ServerProtocol) -> None:
    """Restart ``conn``'s parser as websockets' frame parser if it waits for the first byte
    of a frame. The server's parser keeps the handshake request (its headers: 1-2 KiB) alive
    in its frame for the connection's whole life; the restarted one holds nothing. Left
    alone when the parser is anywhere else (a frame half read)."""
    outer = conn.parser
    frames = getattr(outer, "gi_yieldfrom", None)  # Protocol.parse, after the handshake
    waiting = getattr(frames, "gi_yieldfrom", None)
    if getattr(waiting, "gi_code", None) is not _AT_EOF or conn.reader.buffer:
        return
    parser = Protocol.parse(conn)
    next(parser)  # runs to the same place: waiting in at_eof() for data
    conn.parser = parser
    outer.close()  # type: ignore[union-attr]


class ChatWebSocketProtocol(WebSocketsSansIOProtocol):
    # Slots for uvicorn's attributes and ours: past 30 attributes CPython gives every
    # instance its own ~1.6 KiB dict instead of a shared-key one (docs/performance.md).
    # Attributes a later uvicorn adds land in the instance dict as before.
    __slots__ = (
        "config", "app", "loop", "logger", "root_path", "asgi_version", "app_state",
        "connections", "tasks", "default_headers", "transport", "server", "client", "scheme",
        "queue", "handshake_initiated", "handshake_complete", "close_sent", "disconnected",
        "close_timer", "close_timeout", "initial_response", "conn", "read_paused", "writable",
        "ping_interval", "ping_timeout", "ping_timer", "pong_timer", "pending_ping_payload",
        "ping_sent_at", "last_ping_rtt", "frames", "curr_msg_data_type", "request", "response",
        "scope", "direct",
    )  # fmt: skip
    queue: _Inbox  # type: ignore[assignment]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.queue = _Inbox()
        self.writable = _Flag()  # type: ignore[assignment]
        self.writable.set()

    async def send(self, message: Any) -> None:
        await super().send(message)
        if message.get("type") == "websocket.accept" and self.handshake_complete:
            # The handshake is over: its request, response and ASGI scope (uvicorn reads
            # the scope only before the handshake completes) are not needed any more.
            self.request = None  # type: ignore[assignment]
            self.response = None  # type: ignore[assignment]
            self.scope = None  # type: ignore[assignment]

    def handle_connect(self, event: Any) -> None:
        headers = event.headers
        values = headers.get_all("Sec-WebSocket-Protocol")
        if values:
            tokens = [t.strip() for v in values for t in v.split(",") if t.strip()]
            del headers["Sec-WebSocket-Protocol"]
            if tokens:
                headers["Sec-WebSocket-Protocol"] = ", ".join(tokens)
        super().handle_connect(event)
        scope = getattr(self, "scope", None)
        if scope is not None:
            # The ASGI task is created but has not started: it calls self.app when it does.
            route_app = direct_app(self.app, scope["path"])
            if route_app is not None:
                self.app = route_app
            self.direct = DirectSend(self)
            scope["extensions"][DIRECT_EXTENSION] = self.direct
            _fresh_frame_parser(self.conn)

    def send_receive_event_to_app(self) -> None:
        # uvicorn's, except for the invalid UTF-8 branch.
        data = self.frames[0] if len(self.frames) == 1 else b"".join(self.frames)
        self.frames = []
        if self.close_sent:
            return
        if self.curr_msg_data_type == "text":
            try:
                self.queue.put_nowait({"type": "websocket.receive", "text": data.decode()})
            except UnicodeDecodeError:
                self._bad_utf8()
                return
        else:
            self.queue.put_nowait({"type": "websocket.receive", "bytes": data})
        if not self.read_paused:
            self.read_paused = True
            self.transport.pause_reading()

    def _bad_utf8(self) -> None:
        held = _bad_frames.allow("utf-8")
        if held is not None:
            log.warning(
                "closed a connection from %s with 1007: a text frame that is not valid UTF-8%s",
                self.client[0] if self.client else "?",
                held_note(held),
            )
        self.conn.send_close(1007, "invalid UTF-8")
        self.handle_parser_exception()

    def pause_writing(self) -> None:
        super().pause_writing()
        direct = getattr(self, "direct", None)
        if direct is not None:
            direct.paused = True

    def resume_writing(self) -> None:
        super().resume_writing()
        direct = getattr(self, "direct", None)
        if direct is not None:
            direct.paused = False
            if direct.on_writable is not None:
                direct.on_writable()

    def shutdown(self) -> None:
        if self.handshake_complete and not self.close_sent and not self.disconnected:
            # SIGTERM: the closes are spread over shutdown_drain seconds (uvicorn has
            # stopped listening already), so the clients reconnect to the other gateways
            # at a bounded rate instead of all in the same moment.
            delay = drain_window() * random.random()
            if delay >= 0.005:
                asyncio.get_running_loop().call_later(delay, self._close_for_shutdown)
                return
            self._close_for_shutdown()
            return
        super().shutdown()

    def _close_for_shutdown(self) -> None:
        if self.handshake_complete and not self.close_sent and not self.disconnected:
            self.stop_keepalive()
            self.queue.put_nowait({"type": "websocket.disconnect", "code": 3001})
            self.conn.send_close(3001, "shutdown")
            self.transport.write(b"".join(self.conn.data_to_send()))
            self.close_sent = True
            self.transport.close()
