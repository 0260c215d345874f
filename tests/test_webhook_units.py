"""Units of webhooks: settings validation, the signature (the documented check), and the
small HTTP client against receivers that keep the connection open or never answer."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import time

import pytest

from chatserver.webhooks import sender
from chatserver.webhooks.config import Webhook, WebhookError, from_config


def test_settings_are_validated_with_clear_messages():
    ok = Webhook.parse({"url": "https://x.example/h", "events": ["crisis.opened"], "secret": "s" * 16}, source="api", default_id="a")
    assert ok.wants("crisis.opened", "any") and not ok.wants("hold.created", "any")
    for raw, words in (
        ({"url": "ftp://x/h", "events": ["crisis.opened"], "secret": "s" * 16}, "http:// or https://"),
        ({"url": "https:///nohost", "events": ["crisis.opened"], "secret": "s" * 16}, "with a host"),
        ({"url": "http://x/h", "events": [], "secret": "s" * 16}, "events"),
        ({"url": "http://x/h", "events": ["crisis.openned"], "secret": "s" * 16}, "unknown events"),
        ({"url": "http://x/h", "events": ["crisis.opened"], "secret": "short"}, "secret"),
        ({"url": "http://x/h", "events": ["crisis.opened"], "secret": "s" * 16, "timeout": 0}, "timeout"),
    ):
        with pytest.raises(WebhookError, match=words):
            Webhook.parse(raw, source="api", default_id="a")
    with pytest.raises(WebhookError, match="entry 2"):
        from_config([{"url": "http://x/h", "events": ["*"], "secret": "s" * 16}, {"url": "mailto:a@b"}])
    generated = Webhook.parse({"url": "http://x/h", "events": ["*"]}, source="api", default_id="a", generate_secret=True)
    assert len(generated.secret) >= 32


def test_signature_is_the_documented_hmac():
    body = b'{"type":"crisis.opened"}'
    ts = int(time.time())
    expected = "sha256=" + hmac.new(b"k" * 16, str(ts).encode() + b"." + body, hashlib.sha256).hexdigest()
    assert sender.signature("k" * 16, ts, body) == expected
    assert sender.signature("k" * 16, ts + 1, body) != expected


async def _server(answer: bytes | None):
    """A receiver that reads the request, answers ``answer`` (None: nothing) and never closes."""
    held = []

    async def handle(reader, writer):
        await reader.readuntil(b"\r\n\r\n")
        if answer is not None:
            writer.write(answer)
            await writer.drain()
        held.append(writer)
        await asyncio.sleep(30)

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1], held


async def test_an_answer_counts_even_when_the_receiver_keeps_the_connection_open():
    server, port, _ = await _server(b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n")
    try:
        started = time.perf_counter()
        assert await sender.post(f"http://127.0.0.1:{port}/h", b"{}", {}, timeout=5) == 204
        assert time.perf_counter() - started < 1
    finally:
        server.close()


async def test_a_receiver_that_never_answers_times_out():
    server, port, _ = await _server(None)
    try:
        started = time.perf_counter()
        with pytest.raises(TimeoutError):
            await sender.post(f"http://127.0.0.1:{port}/h", b"{}", {}, timeout=0.3)
        assert time.perf_counter() - started < 1
    finally:
        server.close()
