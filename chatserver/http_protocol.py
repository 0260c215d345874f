"""uvicorn's httptools HTTP protocol with a deadline and a size cap for the request head.

uvicorn has no request-header timeout: a fresh connection has no timer at all, and its
keep-alive timer is reset by every byte, so a socket that stalls in the middle of its
headers, or dribbles one byte every few seconds, stays open for good (and costs a file
descriptor). Here a deadline of ``header_timeout`` seconds (setting, default 10) starts
when the connection opens and again after each response on a kept-alive connection; it is
not moved by incoming bytes, and only a complete request head (a WebSocket upgrade
included) clears it. Past it the server answers 408 and closes. A head larger than
``MAX_HEAD_BYTES`` gets 431.
"""

from __future__ import annotations

import asyncio
import json
import os
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

MAX_HEAD_BYTES = 64 * 1024
DEFAULT_HEADER_TIMEOUT = 10.0

_timeout: float | None = None


def header_timeout() -> float:
    """The ``header_timeout`` setting of this server (the CLI hands settings to uvicorn's
    workers in ``CHATSERVER_SETTINGS_JSON``)."""
    global _timeout
    if _timeout is None:
        try:
            _timeout = float(json.loads(os.environ["CHATSERVER_SETTINGS_JSON"])["header_timeout"])
        except (KeyError, ValueError, TypeError):
            _timeout = DEFAULT_HEADER_TIMEOUT
    return _timeout


def _response(status: bytes) -> bytes:
    return b"HTTP/1.1 " + status + b"\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"


class ChatHttpProtocol(HttpToolsProtocol):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._head_timer: asyncio.TimerHandle | None = None
        self._head_bytes = 0

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_head_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_head_timer()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._head_timer is not None:
            self._head_bytes += len(data)
            if self._head_bytes > MAX_HEAD_BYTES:
                self._disarm_head_timer()
                self.transport.write(_response(b"431 Request Header Fields Too Large"))
                self.transport.close()
                return
        super().data_received(data)

    def on_headers_complete(self) -> None:
        self._disarm_head_timer()
        super().on_headers_complete()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        idle = self.cycle is None or self.cycle.response_complete  # no pipelined request running
        if idle and not self.pipeline and not self.transport.is_closing():
            self._arm_head_timer()

    def _arm_head_timer(self) -> None:
        self._disarm_head_timer()
        self._head_bytes = 0
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
