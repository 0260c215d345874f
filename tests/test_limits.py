"""Connection limits (per process, per client address, X-Forwarded-For from trusted proxies
only) and the HTTP request-head timeout, against real server processes."""

from __future__ import annotations

import asyncio
import socket
import time

import pytest
import websockets

from tests.harness import RawClient, token


async def refused_status(url: str, headers: dict[str, str] | None = None) -> int | None:
    """The HTTP status a WebSocket upgrade is refused with, or None if it was accepted."""
    try:
        ws = await websockets.connect(url, additional_headers=headers or {})
    except websockets.InvalidStatus as exc:
        return exc.response.status_code
    await ws.close()
    return None


async def test_per_address_limit_refuses_with_429_and_logs_once(spawn, valkey):
    s = spawn(valkey.url, env={"CHATSERVER_MAX_CONNECTIONS_PER_IP": "2"})
    first = await RawClient.open(s.ws_url)
    second = await RawClient.open(s.ws_url)
    try:
        assert (await first.connect(token("a")))["connect"]
        for _ in range(3):
            assert await refused_status(s.ws_url) == 429
        # The open ones keep working.
        assert "connect" in await second.connect(token("b"))
        await first.close()
        await asyncio.sleep(0.3)
        # A slot is free again.
        third = await RawClient.open(s.ws_url)
        assert "connect" in await third.connect(token("c"))
        await third.close()
    finally:
        await first.close()
        await second.close()
    lines = [line for line in s.log_path.read_text().splitlines() if "refused a WebSocket" in line]
    assert len(lines) == 1, lines  # three refusals, one line per address per minute
    assert "127.0.0.1" in lines[0] and "429" in lines[0] and "max_connections_per_ip 2" in lines[0]


async def test_process_limit_refuses_with_503(spawn, valkey):
    s = spawn(valkey.url, env={"CHATSERVER_MAX_CONNECTIONS": "2", "CHATSERVER_MAX_CONNECTIONS_PER_IP": "0"})
    a = await RawClient.open(s.ws_url)
    b = await RawClient.open(s.ws_url)
    try:
        assert await refused_status(s.ws_url) == 503
    finally:
        await a.close()
        await b.close()


async def test_forwarded_for_counts_only_behind_a_trusted_proxy(spawn, valkey):
    # No trusted proxies: X-Forwarded-For is ignored, every socket is 127.0.0.1.
    plain = spawn(valkey.url, env={"CHATSERVER_MAX_CONNECTIONS_PER_IP": "2"})
    opened = [await websockets.connect(plain.ws_url, additional_headers={"X-Forwarded-For": f"10.0.0.{i}"}) for i in (1, 2)]
    assert await refused_status(plain.ws_url, {"X-Forwarded-For": "10.0.0.3"}) == 429
    for ws in opened:
        await ws.close()
    # 127.0.0.1 is a trusted proxy: the limit applies to the forwarded client address.
    proxied = spawn(
        valkey.url,
        env={"CHATSERVER_MAX_CONNECTIONS_PER_IP": "2", "CHATSERVER_TRUSTED_PROXIES": "127.0.0.0/8"},
    )
    opened = []
    for client in ("10.0.0.1", "10.0.0.1", "10.0.0.2", "10.0.0.2"):
        opened.append(await websockets.connect(proxied.ws_url, additional_headers={"X-Forwarded-For": client}))
    try:
        assert await refused_status(proxied.ws_url, {"X-Forwarded-For": "10.0.0.1"}) == 429
        assert await refused_status(proxied.ws_url, {"X-Forwarded-For": "10.0.0.3"}) is None
        # The proxy's own connections (no header) count for the proxy's address.
        assert await refused_status(proxied.ws_url) is None
    finally:
        for ws in opened:
            await ws.close()
    assert "10.0.0.1 with 429" in proxied.log_path.read_text()


def _closed_within(sock: socket.socket, seconds: float, dribble: bytes | None = None) -> tuple[bool, bytes, float]:
    """Wait for the server to close ``sock``, sending ``dribble`` every 0.4 s meanwhile."""
    start = time.monotonic()
    sock.settimeout(0.4)
    got = b""
    while time.monotonic() - start < seconds:
        try:
            chunk = sock.recv(4096)
        except TimeoutError:
            if dribble:
                try:
                    sock.sendall(dribble)
                except OSError:
                    return True, got, time.monotonic() - start
            continue
        except OSError:
            return True, got, time.monotonic() - start
        if not chunk:
            return True, got, time.monotonic() - start
        got += chunk
    return False, got, time.monotonic() - start


@pytest.mark.parametrize("case", ["silent", "stalled", "dribbling"])
def test_request_head_timeout(spawn, valkey, case):
    s = spawn(valkey.url, env={"CHATSERVER_HEADER_TIMEOUT": "1.5"})
    sock = socket.create_connection(("127.0.0.1", s.port))
    try:
        if case != "silent":
            sock.sendall(b"GET /connection/websocket HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        closed, got, after = _closed_within(sock, 8, b"X" if case == "dribbling" else None)
        assert closed, f"{case}: still open after {after:.1f}s"
        assert 1.0 <= after <= 4.0, after
        if case != "silent":
            assert got.startswith(b"HTTP/1.1 408"), got
    finally:
        sock.close()
    # A complete request on a kept-alive connection is unaffected.
    with socket.create_connection(("127.0.0.1", s.port)) as ok:
        ok.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        ok.settimeout(5)
        assert ok.recv(4096).startswith(b"HTTP/1.1 200")


def test_oversized_request_head_gets_431(server):
    with socket.create_connection(("127.0.0.1", server.port)) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        try:
            for _ in range(20):
                sock.sendall(b"X-Filler: " + b"y" * 8000 + b"\r\n")
        except OSError:
            pass
        sock.settimeout(5)
        assert sock.recv(4096).startswith(b"HTTP/1.1 431")


def test_log_limiter_one_line_per_key_per_interval():
    from chatserver.limits import LogLimiter

    lim = LogLimiter(60.0, max_keys=4)
    assert lim.allow("a", now=0) == 0
    assert lim.allow("a", now=1) is None and lim.allow("a", now=2) is None
    assert lim.allow("b", now=2) == 0
    assert lim.allow("a", now=61) == 2  # two held back meanwhile
    for i in range(10):  # bounded memory under many addresses
        lim.allow(f"k{i}", now=100 + i)
    assert len(lim._last) <= 4
