"""Small helpers shared by the presence acceptance tests."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson

from tests.harness import RawClient, token


def push_body(p: dict[str, Any]) -> dict[str, Any]:
    return p.get("push", {})


def presence_push(kind: str, user: str | None = None):
    """Match a join/leave push (optionally about ``user``)."""

    def match(p: dict[str, Any]) -> bool:
        body = push_body(p)
        return kind in body and (user is None or body[kind]["info"]["user"] == user)

    return match


def event_of(p: dict[str, Any]) -> dict[str, Any]:
    raw = push_body(p)["pub"]["data"]
    return orjson.loads(raw) if isinstance(raw, (bytes, str)) else raw


def room_event(type_: str, **fields: Any):
    def match(p: dict[str, Any]) -> bool:
        if "pub" not in push_body(p):
            return False
        event = event_of(p)
        return event.get("type") == type_ and all(event.get(k) == v for k, v in fields.items())

    return match


def join_leave_pushes(pushes: list[dict[str, Any]]) -> list[tuple[str, str]]:
    out = []
    for p in pushes:
        body = push_body(p)
        for kind in ("join", "leave"):
            if kind in body:
                out.append((kind, body[kind]["info"]["user"]))
    return out


async def drain(client: RawClient, seconds: float) -> list[dict[str, Any]]:
    """Every push that arrives within ``seconds``."""
    got = []
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while True:
        remaining = deadline - loop.time()
        if remaining <= 0:
            return got
        try:
            got.append(await asyncio.wait_for(client.pushes.get(), remaining))
        except TimeoutError:
            return got


async def collect_until(client: RawClient, where, timeout: float = 10) -> list[dict[str, Any]]:
    """Every push up to and including the first that matches ``where``."""
    got = []
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        remaining = deadline - loop.time()
        if remaining <= 0:
            raise TimeoutError(f"no matching push; got {got!r}")
        push = await asyncio.wait_for(client.pushes.get(), remaining)
        got.append(push)
        if where(push):
            return got


async def member(open_client, url: str, user: str, community: str, role: str = "member",
                 channel: str | None = None, **claims: Any) -> RawClient:
    """Open a connection for ``user`` and subscribe it to ``channel``."""
    c = await open_client(url)
    reply = await c.connect(token(user, {community: role}, name=user.title(), **claims))
    assert "connect" in reply, reply
    if channel:
        sub = await c.call("subscribe", {"channel": channel})
        assert "subscribe" in sub, sub
    return c


async def rpc_result(c: RawClient, method: str, data: Any) -> Any:
    reply = await c.rpc(method, data)
    assert "result" in reply, reply
    return reply["result"]


async def eventually(check, timeout: float = 10, interval: float = 0.1):
    """Await ``check()`` until it returns a truthy value; return it."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        value = await check()
        if value:
            return value
        if loop.time() > deadline:
            raise AssertionError(f"condition not met in {timeout}s (last: {value!r})")
        await asyncio.sleep(interval)
