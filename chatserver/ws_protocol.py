"""uvicorn's sans-I/O WebSocket protocol, adjusted for the Centrifuge SDKs and for fan-out.

Three changes to ``WebSocketsSansIOProtocol``:
1. An empty ``Sec-WebSocket-Protocol`` header (sent by older centrifuge-python in JSON mode)
   is dropped before the handshake instead of being answered with HTTP 400.
2. The ASGI scope carries a ``chatserver.direct`` extension: a synchronous send that frames
   ready bytes straight onto the transport, skipping the ASGI message dicts and the
   bytes->str->bytes round trip of text frames. The gateway falls back to plain ASGI sends
   when the extension is missing (another ASGI server).
3. On server shutdown, clients get close code 3001 ("shutdown", reconnect elsewhere)
   instead of 1012.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

DIRECT_EXTENSION = "chatserver.direct"


class DirectSend:
    """What the gateway uses to write frames synchronously on a uvicorn connection."""

    __slots__ = ("_proto", "on_writable")

    def __init__(self, proto: ChatWebSocketProtocol) -> None:
        self._proto = proto
        self.on_writable: Callable[[], None] | None = None

    def writable(self) -> bool:
        return self._proto.writable.is_set()

    def is_open(self) -> bool:
        p = self._proto
        return not (p.close_sent or p.disconnected or p.transport.is_closing())

    def send(self, data: bytes, binary: bool) -> bool:
        p = self._proto
        if p.close_sent or p.disconnected or p.transport.is_closing():
            return False
        if binary:
            p.conn.send_binary(data)
        else:
            p.conn.send_text(data)
        out = p.conn.data_to_send()
        p.transport.write(out[0] if len(out) == 1 else b"".join(out))
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

    def resume_writing(self) -> None:
        super().resume_writing()
        direct = getattr(self, "direct", None)
        if direct is not None and direct.on_writable is not None:
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
