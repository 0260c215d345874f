"""uvicorn's httptools HTTP protocol with a deadline and a size cap for the request head, a
body limit, and sockets still sending their head counted per client address.

uvicorn has no request-header timeout: a fresh connection has no timer at all, and its
keep-alive timer is reset by every byte, so a socket that stalls in the middle of its
headers, or dribbles one byte every few seconds, stays open for good (and costs a file
descriptor). Here a deadline of ``header_timeout`` seconds (setting, default 10) starts
when the connection opens and again after each response on a kept-alive connection; it is
not moved by incoming bytes, and only a complete request head (a WebSocket upgrade
included) clears it. Past it the server answers 408 and closes.

- A head larger than ``MAX_HEAD_BYTES`` gets 431. Only head bytes count: body bytes that
  arrive in the same read as the end of the head are the body's.
- A request whose ``content-length`` is over ``max_body_bytes`` (setting, default 1 MiB) is
  answered 413 by the server without running the app, and the connection closes; a chunked
  body that grows past the limit gets 413 and the connection closes.
- Sockets that have not finished their head count toward ``max_connections_per_ip``
  (``limits.pending_heads``): a WebSocket upgrade is refused (429) when the address's open
  WebSocket connections plus its sockets still sending a head reach the limit, and a new
  socket from an address that already has that many sockets in their head is answered 429
  and closed at once, so a flood of idle sockets from one address cannot use up the
  process's descriptors. Peers in ``trusted_proxies`` are not counted (their clients are
  behind them).
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import os
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from chatserver import limits

MAX_HEAD_BYTES = 64 * 1024
DEFAULT_HEADER_TIMEOUT = 10.0
DEFAULT_MAX_BODY_BYTES = 1024 * 1024
_END_OF_HEAD = b"\r\n\r\n"

_settings: dict[str, Any] | None = None


def _setting(name: str, default: Any) -> Any:
    """A setting of this server (the CLI hands settings to uvicorn's workers in
    ``CHATSERVER_SETTINGS_JSON``)."""
    global _settings
    if _settings is None:
        try:
            _settings = dict(json.loads(os.environ["CHATSERVER_SETTINGS_JSON"]))
        except (KeyError, ValueError, TypeError):
            _settings = {}
    value = _settings.get(name, default)
    return default if value is None else value


def header_timeout() -> float:
    return float(_setting("header_timeout", DEFAULT_HEADER_TIMEOUT))


def max_body_bytes() -> int:
    return int(_setting("max_body_bytes", DEFAULT_MAX_BODY_BYTES))


def max_per_ip() -> int:
    return int(_setting("max_connections_per_ip", 0))


def _trusted(addr: str) -> bool:
    proxies = _setting("trusted_proxies", [])
    if not proxies:
        return False
    try:
        ip = ipaddress.ip_address(addr)
    except ValueError:
        return False
    for entry in proxies:
        try:
            if ip in ipaddress.ip_network(entry, strict=False):
                return True
        except ValueError:
            continue
    return False


def _response(status: bytes) -> bytes:
    return b"HTTP/1.1 " + status + b"\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"


async def _payload_too_large(scope: Any, receive: Any, send: Any) -> None:
    body = f"request body over max_body_bytes ({max_body_bytes()} bytes)\n".encode()
    headers = [(b"content-type", b"text/plain; charset=utf-8"), (b"connection", b"close")]
    await send({"type": "http.response.start", "status": 413, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class ChatHttpProtocol(HttpToolsProtocol):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._head_timer: asyncio.TimerHandle | None = None
        self._head_bytes = 0
        self._head_tail = b""
        self._pending_addr: str | None = None  # counted in limits.pending_heads
        self._body_bytes = 0
        self._refusing = False  # this request is answered 413 (content-length over the limit)

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        peer = transport.get_extra_info("peername")
        addr = str(peer[0]) if isinstance(peer, tuple) and peer else ""
        limit = max_per_ip()
        if addr and limit and not _trusted(addr):
            if limits.pending_heads.get(addr, 0) >= limit:
                limits.refused_heads += 1
                transport.write(_response(b"429 Too Many Requests"))
                transport.close()
                return
            limits.pending_heads[addr] = limits.pending_heads.get(addr, 0) + 1
            self._pending_addr = addr
        self._arm_head_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_head_timer()
        self._head_done()
        super().connection_lost(exc)

    def _head_done(self) -> None:
        addr = self._pending_addr
        if addr is not None:
            self._pending_addr = None
            count = limits.pending_heads.get(addr, 0) - 1
            if count > 0:
                limits.pending_heads[addr] = count
            else:
                limits.pending_heads.pop(addr, None)

    def data_received(self, data: bytes) -> None:
        if self._head_timer is not None:
            window = self._head_tail + data
            end = window.find(_END_OF_HEAD)
            if end >= 0:
                counted = self._head_bytes + end + len(_END_OF_HEAD) - len(self._head_tail)
            else:
                counted = self._head_bytes + len(data)
                self._head_tail = window[-(len(_END_OF_HEAD) - 1):]
            self._head_bytes = counted
            if counted > MAX_HEAD_BYTES:
                self._disarm_head_timer()
                self.transport.write(_response(b"431 Request Header Fields Too Large"))
                self.transport.close()
                return
        super().data_received(data)

    def on_headers_complete(self) -> None:
        self._disarm_head_timer()
        self._head_done()
        self._body_bytes = 0
        self._refusing = False
        super().on_headers_complete()

    def _start_asgi_task(self, cycle: Any, app: Any) -> None:
        length = _content_length(cycle.scope.get("headers", ()))
        self._refusing = length is not None and length > max_body_bytes()
        if self._refusing:
            cycle.keep_alive = False
            app = _payload_too_large
        super()._start_asgi_task(cycle, app)

    def on_body(self, body: bytes) -> None:
        cycle = self.cycle
        if self._refusing:
            # The 413 needs none of it: stop reading; the connection closes after the answer.
            self.flow.pause_reading()
            return
        self._body_bytes += len(body)
        if cycle is not None and self._body_bytes > max_body_bytes() and not cycle.response_complete:
            # A chunked body past the limit: answer 413 and close; the app sees a disconnect.
            if not cycle.response_started:
                self.transport.write(_response(b"413 Content Too Large"))
            cycle.disconnected = True
            cycle.message_event.set()
            self.transport.close()
            return
        super().on_body(body)

    def on_response_complete(self) -> None:
        super().on_response_complete()
        idle = self.cycle is None or self.cycle.response_complete  # no pipelined request running
        if idle and not self.pipeline and not self.transport.is_closing():
            self._arm_head_timer()

    def _arm_head_timer(self) -> None:
        self._disarm_head_timer()
        self._head_bytes = 0
        self._head_tail = b""
        self._head_timer = self.loop.call_later(header_timeout(), self._head_timed_out)

    def _disarm_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if self.transport.is_closing() or (self.cycle is not None and not self.cycle.response_complete):
            return
        if self._head_bytes:
            self.transport.write(_response(b"408 Request Timeout"))
        self.transport.close()


def _content_length(headers: Any) -> int | None:
    for name, value in headers:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None
