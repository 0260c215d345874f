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
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.exceptions import InvalidState
from websockets.protocol import State

DIRECT_EXTENSION = "chatserver.direct"

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


class ChatWebSocketProtocol(WebSocketsSansIOProtocol):
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
            self.direct = DirectSend(self)
            scope["extensions"][DIRECT_EXTENSION] = self.direct

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
            self.stop_keepalive()
            self.queue.put_nowait({"type": "websocket.disconnect", "code": 3001})
            self.conn.send_close(3001, "shutdown")
            self.transport.write(b"".join(self.conn.data_to_send()))
            self.close_sent = True
            self.transport.close()
            return
        super().shutdown()
