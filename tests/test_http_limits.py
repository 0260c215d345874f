"""Issue 23, HTTP limits, against real server processes: the head cap counts head bytes
only, a body over ``max_body_bytes`` gets 413 before it is read, sockets still sending their
head count toward ``max_connections_per_ip``, webhook URLs are validated."""

from __future__ import annotations

import socket
import time

import orjson
import pytest

from tests.harness import API_KEY, RawClient, token
from tests.test_limits import refused_status


def _read_status(sock: socket.socket, timeout: float = 5) -> bytes:
    sock.settimeout(timeout)
    got = b""
    deadline = time.monotonic() + timeout
    while b"\r\n" not in got and time.monotonic() < deadline:
        chunk = sock.recv(4096)
        if not chunk:
            break
        got += chunk
    return got.split(b"\r\n", 1)[0]


def test_a_large_body_sent_with_its_head_is_not_a_large_head(server):
    """The documented 1,000-user POST /api/presence/status (about 106 KB) sent in one write
    with its head, as curl does: the body is not counted as head (no 431)."""
    body = orjson.dumps({"users": [f"user-{n:04d}-" + "x" * 90 for n in range(1000)]})
    assert 100_000 < len(body) < 120_000
    head = (
        b"POST /api/presence/status HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        b"Authorization: Bearer " + API_KEY.encode() + b"\r\nContent-Type: application/json\r\n"
        b"Content-Length: " + str(len(body)).encode() + b"\r\nConnection: close\r\n\r\n"
    )
    for _ in range(5):
        with socket.create_connection(("127.0.0.1", server.port)) as sock:
            sock.sendall(head + body)
            assert _read_status(sock) == b"HTTP/1.1 200 OK"


def test_a_body_over_max_body_bytes_gets_413_before_it_is_sent(spawn, valkey):
    s = spawn(valkey.url, env={"CHATSERVER_MAX_BODY_BYTES": "100000"})
    with socket.create_connection(("127.0.0.1", s.port)) as sock:
        # Only the head: a 50 MB body is announced and never sent; the answer comes anyway.
        sock.sendall(
            b"POST /api/presence/status HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Authorization: Bearer " + API_KEY.encode() + b"\r\nContent-Type: application/json\r\n"
            b"Content-Length: 50000000\r\n\r\n"
        )
        assert _read_status(sock) == b"HTTP/1.1 413 Request Entity Too Large"
    # A chunked body that grows past the limit is cut off with 413 too.
    with socket.create_connection(("127.0.0.1", s.port)) as sock:
        sock.sendall(
            b"POST /api/presence/status HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Authorization: Bearer " + API_KEY.encode() + b"\r\nTransfer-Encoding: chunked\r\n\r\n"
        )
        chunk = b"x" * 60000
        try:
            for _ in range(3):
                sock.sendall(b"%x\r\n" % len(chunk) + chunk + b"\r\n")
        except OSError:
            pass
        assert _read_status(sock).startswith(b"HTTP/1.1 413")
    # Under the limit all is well.
    r = s.api("POST", "/api/presence/status", {"users": ["a", "b"]})
    assert r.status_code == 200, r.text


async def test_sockets_still_sending_their_head_count_per_address(spawn, valkey):
    s = spawn(valkey.url, env={"CHATSERVER_MAX_CONNECTIONS_PER_IP": "4"})
    idle = [socket.create_connection(("127.0.0.1", s.port)) for _ in range(4)]
    try:
        # Wait until the server has them all (each is counted when the server accepts it).
        deadline = time.monotonic() + 10
        while True:
            extra = socket.create_connection(("127.0.0.1", s.port))
            extra.settimeout(0.5)
            try:
                first = extra.recv(64)
            except TimeoutError:
                first = b"(open)"
            extra.close()
            if first.startswith(b"HTTP/1.1 429"):
                break
            assert time.monotonic() < deadline, first
        # A WebSocket from the same address is refused while they hold their slots.
        assert await refused_status(s.ws_url) == 429
    finally:
        for sock in idle:
            sock.close()
    deadline = time.monotonic() + 10
    while await refused_status(s.ws_url) is not None:
        assert time.monotonic() < deadline
    c = await RawClient.open(s.ws_url)
    try:
        assert "connect" in await c.connect(token("after-idle"))
    finally:
        await c.close()


@pytest.mark.parametrize(
    "url",
    [
        "http://hooks.example.com:99999/x",
        "http://hooks.example.com:0/x",
        "ftp://hooks.example.com/x",
        "http://bad host/x",
        "http://user:pw@hooks.example.com/x",
    ],
)
def test_webhook_urls_are_validated(server, url):
    r = server.api("POST", "/api/webhooks", {"url": url, "events": ["report.created"], "secret": "s" * 20})
    assert r.status_code == 400, r.text


def test_webhooks_to_private_addresses_can_be_refused(spawn, valkey):
    s = spawn(valkey.url, env={"CHATSERVER_WEBHOOK_PRIVATE_ADDRESSES": "false"})
    for url in ("http://127.0.0.1:8080/h", "http://10.1.2.3/h", "http://[::1]/h", "http://localhost/h", "http://169.254.169.254/"):
        r = s.api("POST", "/api/webhooks", {"url": url, "events": ["report.created"], "secret": "s" * 20})
        assert r.status_code == 400 and ("private" in r.text or "localhost" in r.text), (url, r.text)
    ok = s.api("POST", "/api/webhooks", {"url": "https://hooks.example.com/x", "events": ["report.created"], "secret": "s" * 20})
    assert ok.status_code == 201, ok.text
    assert s.api("DELETE", f"/api/webhooks/{ok.json()['id']}").status_code == 200
