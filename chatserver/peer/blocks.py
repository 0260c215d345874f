"""Blocks between members: ``peer.block``, ``peer.unblock``, ``peer.blocks``.

A block works both ways: neither member sees the other's publications, reactions, typing or
presence in shared rooms (``Connection.hidden``, applied live, in history and in recovery),
and a host cannot open a private conversation with a member when either blocks the other.
Moderators and admins see everything in their communities. Every process keeps the hidden
set of its connected users: read at connect, changed when a ``peer.blocks`` control message
names the user (any process's block or unblock).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, Protocol

from chatserver.engine import Control
from chatserver.errors import ReplyError
from chatserver.protocol import codes

log = logging.getLogger("chatserver.peer.blocks")

MAX_USER = 128
MAX_BLOCKS = 1000


class BlockStore(Protocol):
    async def block(self, user: str, other: str, limit: int) -> bool | None: ...

    async def unblock(self, user: str, other: str) -> bool: ...

    async def is_blocking(self, user: str, other: str) -> bool: ...

    async def blocks(self, user: str) -> list[str]: ...

    async def hidden(self, user: str) -> frozenset[str]: ...


def _other(conn: Any, data: Any) -> str:
    other = data.get("user") if isinstance(data, dict) else None
    if not isinstance(other, str) or not other or len(other) > MAX_USER:
        raise ReplyError(codes.BAD_REQUEST, f"bad request: user (1-{MAX_USER} characters) required")
    if other == conn.user:
        raise ReplyError(codes.BAD_REQUEST, "bad request: a member cannot block themselves")
    return other


class Blocks:
    def __init__(self, store: BlockStore, control: Control, local_users: Mapping[str, set[Any]]) -> None:
        self.store = store
        self.control = control
        self.local_users = local_users
        self.changes = 0

    async def on_connect(self, conn: Any) -> None:
        conn.hidden = await self.store.hidden(conn.user)

    def on_control(self, msg: dict[str, Any]) -> None:
        """A change applies at once, in the order pub/sub delivers it (so whatever either
        member publishes after the reply is seen accordingly here too). ``hidden``: whether
        the two still do not see each other (an unblock leaves a block the other way)."""
        users = [u for u in msg.get("users", ()) if isinstance(u, str)]
        if len(users) != 2:
            return
        hide = bool(msg.get("hidden"))
        for user, other in (users, users[::-1]):
            for conn in list(self.local_users.get(user, ())):
                conn.hidden = conn.hidden | {other} if hide else conn.hidden - {other}

    async def block(self, conn: Any, data: Any) -> dict[str, Any]:
        other = _other(conn, data)
        changed = await self.store.block(conn.user, other, MAX_BLOCKS)
        if changed is None:
            raise ReplyError(codes.LIMIT_EXCEEDED, f"limit exceeded: at most {MAX_BLOCKS} blocks")
        if changed:
            await self._announce(conn.user, other, hidden=True)
        return {"user": other, "blocked": True, "changed": changed}

    async def unblock(self, conn: Any, data: Any) -> dict[str, Any]:
        other = _other(conn, data)
        changed = await self.store.unblock(conn.user, other)
        if changed:
            await self._announce(conn.user, other, hidden=await self.store.is_blocking(other, conn.user))
        return {"user": other, "blocked": False, "changed": changed}

    async def list(self, conn: Any, data: Any) -> dict[str, Any]:
        return {"blocks": await self.store.blocks(conn.user)}

    async def _announce(self, user: str, other: str, *, hidden: bool) -> None:
        self.changes += 1
        await self.control.send("peer.blocks", users=[user, other], hidden=hidden)

    async def may_open(self, actor: str, member: str, community: str) -> str | None:
        """A host's private conversation with a member: refused when either blocks the other."""
        if member in await self.store.hidden(actor):
            return "one of you has blocked the other"
        return None
