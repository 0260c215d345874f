"""Signing and sending one webhook POST: a small HTTP/1.1 client on asyncio streams (one
request per connection, the whole exchange under a deadline, the answer's body bounded)."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import ssl
from urllib.parse import urlsplit

MAX_ANSWER = 64 * 1024


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """``sha256=<hex HMAC-SHA256(secret, "<timestamp>." + body)>``."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


async def post(url: str, body: bytes, headers: dict[str, str], timeout: float) -> int:
    """POST ``body``; returns the status code. Raises OSError / TimeoutError / ValueError."""
    return await asyncio.wait_for(_post(url, body, headers), timeout)


async def _post(url: str, body: bytes, headers: dict[str, str]) -> int:
    parts = urlsplit(url)
    secure = parts.scheme == "https"
    host = parts.hostname or ""
    port = parts.port or (443 if secure else 80)
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    context = ssl.create_default_context() if secure else None
    reader, writer = await asyncio.open_connection(host, port, ssl=context, server_hostname=host if secure else None)
    try:
        host_header = host if parts.port is None else f"{host}:{parts.port}"
        lines = [f"POST {path} HTTP/1.1", f"Host: {host_header}", "Content-Type: application/json",
                 f"Content-Length: {len(body)}", "Connection: close", "User-Agent: chatserver-webhooks"]
        lines += [f"{k}: {v}" for k, v in headers.items()]
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
        await writer.drain()
        status_line = await reader.readline()
        fields = status_line.decode("latin-1").split(" ", 2)
        if len(fields) < 2 or not fields[0].startswith("HTTP/") or not fields[1].isdigit():
            raise ValueError(f"not an HTTP answer: {status_line[:80]!r}")
        # Read (and drop) the headers and a bounded body, without waiting for the receiver to
        # close: a receiver that keeps the connection open still gets its answer counted.
        length = 0
        for _ in range(100):
            line = await reader.readline()
            if line in (b"\r\n", b"\n", b""):
                break
            name, _, value = line.decode("latin-1").partition(":")
            if name.strip().lower() == "content-length" and value.strip().isdigit():
                length = int(value.strip())
        if 0 < length <= MAX_ANSWER:
            await reader.readexactly(length)
        return int(fields[1])
    finally:
        writer.close()
