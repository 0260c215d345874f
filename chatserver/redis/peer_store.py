"""Peer support's keys (``chatserver.peer``): who blocks whom.

- ``peer:blocks:{<user>}``     set: the users ``<user>`` blocks (their own data)
- ``peer:blocked_by:{<user>}`` set: the users who block ``<user>`` (the reverse index, so a
  connection learns both sides with two reads)

Each key has its own hash slot (one user each), so every command names one key and the
store works on a Redis Cluster.
"""

from __future__ import annotations

from typing import Any

import redis.asyncio as aioredis

from chatserver.member_data import MemberScope


def _blocks(user: str) -> str:
    return f"peer:blocks:{{{user}}}"


def _blocked_by(user: str) -> str:
    return f"peer:blocked_by:{{{user}}}"


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class RedisPeerStore:
    def __init__(self, client: aioredis.Redis) -> None:
        self._redis = client

    async def block(self, user: str, other: str, limit: int) -> bool | None:
        """``user`` blocks ``other``: True if new, False if already, None past ``limit``."""
        if await self._redis.sismember(_blocks(user), other):
            return False
        if await self._redis.scard(_blocks(user)) >= limit:
            return None
        await self._redis.sadd(_blocks(user), other)
        await self._redis.sadd(_blocked_by(other), user)
        return True

    async def unblock(self, user: str, other: str) -> bool:
        removed = await self._redis.srem(_blocks(user), other)
        await self._redis.srem(_blocked_by(other), user)
        return bool(removed)

    async def is_blocking(self, user: str, other: str) -> bool:
        return bool(await self._redis.sismember(_blocks(user), other))

    async def blocks(self, user: str) -> list[str]:
        return sorted(_text(v) for v in await self._redis.smembers(_blocks(user)))

    async def hidden(self, user: str) -> frozenset[str]:
        """Everyone ``user`` does not see: those they block and those who block them."""
        mine = await self._redis.smembers(_blocks(user))
        theirs = await self._redis.smembers(_blocked_by(user))
        return frozenset(_text(v) for v in (*mine, *theirs))

    # ------------------------------------------------------------------ member data

    async def export_member(self, scope: MemberScope) -> dict[str, list[Any]]:
        """The member's own block list (who blocks them is the other members' data)."""
        blocks = await self.blocks(scope.user)
        return {"blocks": blocks} if blocks else {}

    async def forget_member(self, scope: MemberScope) -> dict[str, int]:
        """Their block list goes, and so do the others' blocks of them (the pseudonym is
        nobody's to block)."""
        user = scope.user
        mine = [_text(v) for v in await self._redis.smembers(_blocks(user))]
        theirs = [_text(v) for v in await self._redis.smembers(_blocked_by(user))]
        for other in mine:
            await self._redis.srem(_blocked_by(other), user)
        for other in theirs:
            await self._redis.srem(_blocks(other), user)
        await self._redis.delete(_blocks(user))
        await self._redis.delete(_blocked_by(user))
        return {"blocks": len(mine), "blocked_by": len(theirs)}
