"""Connection limits at the WebSocket endpoint, and log lines that cannot flood the log.

``guard(app, settings)`` wraps the ``/connection/websocket`` ASGI app: before the upgrade
it counts open connections per process (``max_connections``) and per client address
(``max_connections_per_ip``). Over a limit the client gets an HTTP response instead of the
upgrade: 429 for its address, 503 for the process (the SDKs back off and retry). The
client address is the TCP peer, or, when the peer is one of ``trusted_proxies``, the
address the proxy put in ``X-Forwarded-For`` (uvicorn's proxy-headers middleware resolves
it; the CLI trusts exactly ``trusted_proxies``). Refusals are logged at most once per
address per minute, with how many were refused meanwhile.
"""

from __future__ import annotations

import logging
import time
from typing import Any

log = logging.getLogger("chatserver.limits")

REFUSAL_LOG_INTERVAL = 60.0  # seconds: one refusal line per client address per interval


def held_note(held: int, since: str = "since the last such line") -> str:
    """The suffix of a rate-limited log line: how many like it were held back."""
    return f" ({held} more {since})" if held else ""


class LogLimiter:
    """At most one log line per key per ``interval``; counts what was held back."""

    def __init__(self, interval: float, max_keys: int = 10000) -> None:
        self.interval = interval
        self.max_keys = max_keys
        self._last: dict[str, float] = {}
        self._held: dict[str, int] = {}

    def allow(self, key: str, now: float | None = None) -> int | None:
        """None: stay quiet. Otherwise log now; the value is how many were held back."""
        now = time.monotonic() if now is None else now
        last = self._last.get(key)
        if last is not None and now - last < self.interval:
            self._held[key] = self._held.get(key, 0) + 1
            return None
        if len(self._last) >= self.max_keys:
            self._forget(now)
        self._last[key] = now
        return self._held.pop(key, 0)

    def _forget(self, now: float) -> None:
        for key, at in list(self._last.items()):
            if now - at >= self.interval:
                del self._last[key]
                self._held.pop(key, None)
        if len(self._last) >= self.max_keys:  # all recent: forget the oldest half
            for key in sorted(self._last, key=self._last.__getitem__)[: self.max_keys // 2]:
                del self._last[key]
                self._held.pop(key, None)


# WebSocket connections refused over a limit in this process, by HTTP status (429: the
# address's limit, 503: the process's); exported as chat_connections_refused_total.
REFUSED: dict[int, int] = {}


class ConnectionLimits:
    """Open WebSocket connections of this process, in total and per client address."""

    def __init__(self, max_total: int, max_per_ip: int) -> None:
        self.max_total = max_total
        self.max_per_ip = max_per_ip
        self.total = 0
        self.per_ip: dict[str, int] = {}
        self.refused = 0
        self._log = LogLimiter(REFUSAL_LOG_INTERVAL)

    def acquire(self, addr: str) -> tuple[int, str] | None:
        """Count a new connection from ``addr``; or (HTTP status, reason) to refuse it."""
        if self.max_total and self.total >= self.max_total:
            return self._refuse(addr, 503, f"this server is at max_connections ({self.max_total})")
        count = self.per_ip.get(addr, 0)
        if self.max_per_ip and count >= self.max_per_ip:
            return self._refuse(
                addr, 429, f"{count} connections from this address (max_connections_per_ip {self.max_per_ip})"
            )
        self.total += 1
        self.per_ip[addr] = count + 1
        return None

    def release(self, addr: str) -> None:
        self.total -= 1
        count = self.per_ip.get(addr, 0) - 1
        if count > 0:
            self.per_ip[addr] = count
        else:
            self.per_ip.pop(addr, None)

    def _refuse(self, addr: str, status: int, reason: str) -> tuple[int, str]:
        self.refused += 1
        REFUSED[status] = REFUSED.get(status, 0) + 1
        held = self._log.allow(addr)
        if held is not None:
            more = held_note(held, "refused in the last minute")
            log.warning("refused a WebSocket connection from %s with %d: %s%s", addr, status, reason, more)
        return status, reason


def client_address(scope: dict[str, Any]) -> str:
    client = scope.get("client")
    return str(client[0]) if client else ""


def guard(app: Any, settings: Any) -> Any:
    """``app`` behind the connection limits of ``settings`` (the app itself when both are 0)."""
    if not settings.max_connections and not settings.max_connections_per_ip:
        return app
    limits = ConnectionLimits(settings.max_connections, settings.max_connections_per_ip)

    async def guarded(scope: dict[str, Any], receive: Any, send: Any) -> None:
        addr = client_address(scope)
        refusal = limits.acquire(addr)
        if refusal is not None:
            status, reason = refusal
            headers = [(b"content-type", b"text/plain; charset=utf-8")]
            if status in (429, 503):
                headers.append((b"retry-after", b"10"))
            await send({"type": "websocket.http.response.start", "status": status, "headers": headers})
            await send({"type": "websocket.http.response.body", "body": reason.encode() + b"\n"})
            return
        try:
            session = app(scope, receive, send)
            del scope  # the connection's coroutine does not keep its request's scope alive
            await session
        finally:
            limits.release(addr)

    guarded.limits = limits  # type: ignore[attr-defined]
    return guarded
