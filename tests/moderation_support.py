"""Helpers for the moderation acceptance tests: the test config (test-only hooks loaded by
dotted path, short mute minimum) and small waiters for chat events."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import orjson

from tests.harness import RawClient, token

CONFIG = """
[moderation]
mute_min = 1
denied_window = 1

[moderation.hooks.explode]
use = "tests.moderation_test_hooks:raising_hook"

[moderation.hooks.slowpoke]
use = "tests.moderation_test_hooks:sleeping_hook"
timeout = 0.5

[moderation.hooks.blocker]
use = "tests.moderation_test_hooks:blocking_hook"
timeout = 0.5

[moderation.hooks.keywords]
use = "tests.moderation_test_hooks:KeywordHold"
words = ["miracle cure"]
"""


def data_of(pub: dict[str, Any]) -> dict[str, Any]:
    raw = pub["data"]
    return orjson.loads(raw) if isinstance(raw, (bytes, str)) else raw


def is_event(channel: str | None, type_: str | None):
    """A push filter: a publication on ``channel`` (None: any) whose data has ``type``."""

    def match(push: dict[str, Any]) -> bool:
        body = push.get("push", {})
        if "pub" not in body:
            return False
        if channel is not None and body.get("channel") != channel:
            return False
        return type_ is None or data_of(body["pub"]).get("type") == type_

    return match


async def next_event(client: RawClient, channel: str | None, type_: str | None, timeout: float = 5) -> dict[str, Any]:
    """The data of the next publication on ``channel`` with ``type`` (other pushes skipped)."""
    push = await client.next_push(timeout=timeout, where=is_event(channel, type_))
    data = data_of(push["push"]["pub"])
    data["_offset"] = push["push"]["pub"].get("offset", 0)
    return data


async def no_event(client: RawClient, channel: str | None, type_: str | None, wait: float = 0.7) -> None:
    """Fail if a matching publication arrives within ``wait`` seconds."""
    try:
        push = await client.next_push(timeout=wait, where=is_event(channel, type_))
    except TimeoutError:
        return
    raise AssertionError(f"unexpected {type_} on {channel}: {push}")


async def joined(clients, url: str, user: str, roles: dict[str, str], *channels: str, **claims: Any) -> RawClient:
    """A connected client subscribed to ``channels``."""
    c = await clients(url)
    reply = await c.connect(token(user, roles, **claims))
    assert "connect" in reply, reply
    for channel in channels:
        r = await c.call("subscribe", {"channel": channel})
        assert "subscribe" in r, r
    return c


async def send(client: RawClient, channel: str, text: str, **extra: Any) -> dict[str, Any]:
    """rpc chat.send; returns the result or the error."""
    reply = await client.rpc("chat.send", {"channel": channel, "text": text, **extra})
    return reply.get("result") or {"error": reply.get("error")}


async def mod(client: RawClient, method: str, **data: Any) -> dict[str, Any]:
    reply = await client.rpc(method, data)
    return reply.get("result") if "result" in reply else {"error": reply.get("error")}


def audit(server, community: str, **params: Any) -> list[dict[str, Any]]:
    query = "&".join(f"{k}={v}" for k, v in params.items())
    r = server.api("GET", f"/api/communities/{community}/audit" + (f"?{query}" if query else ""))
    assert r.status_code == 200, r.text
    return r.json()["entries"]


async def eventually(check, timeout: float = 5.0, interval: float = 0.1):
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(interval)
