"""Peer support's keys (``chatserver.peer``).

Blocks (one user each, so every command names one key; works on a Redis Cluster):

- ``peer:blocks:{<user>}``     set: the users ``<user>`` blocks (their own data)
- ``peer:blocked_by:{<user>}`` set: the users who block ``<user>`` (the reverse index, so a
  connection learns both sides with two reads)
- ``peer:mutes:{<user>}``      set: the rooms whose notifications ``<user>`` muted
- ``peer:note_prefs:{<user>}`` hash: content note -> show | hide (their preference)

Waiting for a reply (one community's keys share the ``{<community>}`` hash tag). A post's
key is ``<channel>|<message id>``:

- ``peer:{c}:posts``   hash: key -> the tracked post (json: channel, id, offset, user, name, ts)
- ``peer:{c}:pending`` zset: key -> when its ``reply_wait`` ends (ms)
- ``peer:{c}:waiting`` zset: key -> when it was posted (ms): the waiting list, oldest first
- ``peer:{c}:taken``   hash: key -> the supporter on it (json: user, name)
- ``peer:{c}:supporters`` set: supporters seen connected (they get waiting-list events)
"""

from __future__ import annotations

from typing import Any

import orjson
import redis.asyncio as aioredis

from chatserver.engine import Commands
from chatserver.member_data import MemberScope
from chatserver.redis.broker import load_lua


def _blocks(user: str) -> str:
    return f"peer:blocks:{{{user}}}"


def _blocked_by(user: str) -> str:
    return f"peer:blocked_by:{{{user}}}"


def _mutes(user: str) -> str:
    return f"peer:mutes:{{{user}}}"


def _note_prefs(user: str) -> str:
    return f"peer:note_prefs:{{{user}}}"


def _waiting_keys(community: str) -> tuple[str, str, str, str]:
    tag = f"peer:{{{community}}}"
    return f"{tag}:posts", f"{tag}:pending", f"{tag}:waiting", f"{tag}:taken"


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class RedisPeerStore:
    def __init__(self, client: aioredis.Redis, commands: Commands) -> None:
        self._redis = client
        self._commands = commands  # the pipelined connection of the post path
        self._answer = client.register_script(load_lua("peer_answer.lua"))
        self._sweep = client.register_script(load_lua("peer_sweep.lua"))

    # ------------------------------------------------------------------ blocks

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
        async with self._redis.pipeline(transaction=False) as pipe:  # one round trip (at connect)
            pipe.smembers(_blocks(user))
            pipe.smembers(_blocked_by(user))
            mine, theirs = await pipe.execute()
        return frozenset(_text(v) for v in (*mine, *theirs))

    # ------------------------------------------------------------------ waiting for a reply

    async def track(self, community: str, key: str, post: dict[str, Any], due_ms: int) -> None:
        posts, pending, _, _ = _waiting_keys(community)
        # On the post path: both writes in one round trip on the pipelined connection.
        await self._commands.commands([(b"HSET", posts, key, orjson.dumps(post)), (b"ZADD", pending, due_ms, key)])

    async def answer(self, community: str, key: str, replier: str) -> tuple[dict[str, Any], bool] | None:
        """The first reply by someone else: the post leaves tracking (and the waiting list)."""
        got = await self._answer(keys=list(_waiting_keys(community)), args=[key, replier])
        if not got:
            return None
        return orjson.loads(got[0]), bool(int(got[1]))

    async def sweep(self, community: str, now_ms: int, limit: int = 100) -> list[dict[str, Any]]:
        posts, pending, waiting, _ = _waiting_keys(community)
        got = await self._sweep(keys=[posts, pending, waiting], args=[now_ms, limit])
        return [orjson.loads(raw) for raw in got or ()]

    async def waiting(self, community: str, limit: int) -> list[dict[str, Any]]:
        """The waiting list, oldest first, each with ``taken`` (who is on it) if someone is."""
        posts, _, waiting, taken = _waiting_keys(community)
        keys = [_text(k) for k in await self._redis.zrange(waiting, 0, limit - 1)]
        if not keys:
            return []
        raws = await self._redis.hmget(posts, keys)
        takes = await self._redis.hmget(taken, keys)
        out = []
        for raw, take in zip(raws, takes, strict=True):
            if raw is None:
                continue
            post = orjson.loads(raw)
            if take is not None:
                post["taken"] = orjson.loads(take)
            out.append(post)
        return out

    async def take(self, community: str, key: str, taker: dict[str, Any]) -> dict[str, Any] | None:
        """Mark a waiting post as taken; returns who has it (maybe someone else first), or None
        when it is not on the waiting list."""
        _, _, waiting, taken = _waiting_keys(community)
        if await self._redis.zscore(waiting, key) is None:
            return None
        await self._redis.hsetnx(taken, key, orjson.dumps(taker))
        raw = await self._redis.hget(taken, key)
        return orjson.loads(raw) if raw is not None else None

    async def add_supporter(self, community: str, user: str) -> None:
        await self._redis.sadd(f"peer:{{{community}}}:supporters", user)

    async def supporters(self, community: str) -> list[str]:
        return sorted(_text(v) for v in await self._redis.smembers(f"peer:{{{community}}}:supporters"))

    # ------------------------------------------------------------------ notification settings

    async def set_muted(self, user: str, channel: str, muted: bool, limit: int) -> bool | None:
        key = _mutes(user)
        if not muted:
            return bool(await self._redis.srem(key, channel))
        if await self._redis.sismember(key, channel):
            return False
        if await self._redis.scard(key) >= limit:
            return None
        await self._redis.sadd(key, channel)
        return True

    async def muted(self, user: str) -> list[str]:
        return sorted(_text(v) for v in await self._redis.smembers(_mutes(user)))

    async def is_muted(self, user: str, channel: str) -> bool:
        return bool(await self._redis.sismember(_mutes(user), channel))

    async def note_prefs(self, user: str) -> dict[str, str]:
        return {_text(k): _text(v) for k, v in (await self._redis.hgetall(_note_prefs(user))).items()}

    async def set_note_prefs(self, user: str, prefs: dict[str, str]) -> None:
        forget = [note for note, pref in prefs.items() if pref == "ask"]
        keep = {note: pref for note, pref in prefs.items() if pref != "ask"}
        if forget:
            await self._redis.hdel(_note_prefs(user), *forget)
        if keep:
            await self._redis.hset(_note_prefs(user), mapping=keep)

    # ------------------------------------------------------------------ member data

    async def export_member(self, scope: MemberScope) -> dict[str, list[Any]]:
        """The member's own block list (who blocks them is the other members' data) and
        their posts being tracked for a reply."""
        out: dict[str, list[Any]] = {}
        blocks = await self.blocks(scope.user)
        if blocks:
            out["blocks"] = blocks
        muted = await self.muted(scope.user)
        if muted:
            out["notification_settings"] = [{"channel": c, "muted": True} for c in muted]
        prefs = await self.note_prefs(scope.user)
        if prefs:
            out["content_note_preferences"] = [{"note": n, "pref": p} for n, p in sorted(prefs.items())]
        tracked = []
        for community in scope.communities:
            posts, _, _, _ = _waiting_keys(community)
            for raw in (await self._redis.hgetall(posts)).values():
                post = orjson.loads(raw)
                if post.get("user") == scope.user:
                    tracked.append({"community": community, "channel": post["channel"], "id": post["id"]})
        if tracked:
            out["awaiting_reply"] = tracked
        return out

    async def forget_member(self, scope: MemberScope) -> dict[str, int]:
        """Their block list goes, and so do the others' blocks of them (the pseudonym is
        nobody's to block); their tracked posts leave the waiting list; their "I'm on it"
        marks go."""
        user = scope.user
        mine = [_text(v) for v in await self._redis.smembers(_blocks(user))]
        theirs = [_text(v) for v in await self._redis.smembers(_blocked_by(user))]
        for other in mine:
            await self._redis.srem(_blocked_by(other), user)
        for other in theirs:
            await self._redis.srem(_blocks(other), user)
        await self._redis.delete(_blocks(user))
        await self._redis.delete(_blocked_by(user))
        mutes = await self._redis.scard(_mutes(user))
        await self._redis.delete(_mutes(user))
        prefs = await self._redis.hlen(_note_prefs(user))
        await self._redis.delete(_note_prefs(user))
        tracked = 0
        for community in scope.communities:
            posts, pending, waiting, taken = _waiting_keys(community)
            for key, raw in (await self._redis.hgetall(posts)).items():
                if orjson.loads(raw).get("user") == user:
                    tracked += 1
                    await self._redis.hdel(posts, key)
                    await self._redis.zrem(pending, key)
                    await self._redis.zrem(waiting, key)
                    await self._redis.hdel(taken, key)
            await self._redis.srem(f"peer:{{{community}}}:supporters", user)
            for key, raw in (await self._redis.hgetall(taken)).items():
                if orjson.loads(raw).get("user") == user:
                    await self._redis.hdel(taken, key)
        return {
            "blocks": len(mine), "blocked_by": len(theirs), "awaiting_reply": tracked, "notification_settings": int(mutes),
            "content_note_preferences": int(prefs),
        }
