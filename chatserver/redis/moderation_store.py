"""Moderation's state in Redis: the hold queue (``RedisHoldStore``) and everything else
(``RedisModerationStore``): audit streams, moderator-feed watchers, sanctions, reports,
slow mode, the facts hooks read (recent posts, post counts). Key names: moderation.keys."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import msgpack
import redis.asyncio as aioredis

from chatserver.engine import Commands, Control
from chatserver.moderation import keys
from chatserver.moderation.records import HoldRecord
from chatserver.redis.broker import register_lua
from chatserver.redis.commands import CONTROL_CHANNEL, pack_control


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class RedisHoldStore:
    """The hold queue in Redis: create once per client message id, resolve by
    compare-and-set, list the pending ones, and the global expiry index."""

    def __init__(self, client: aioredis.Redis, commands: Commands) -> None:
        self.redis = client
        self.commands = commands
        self._create = register_lua(client, "hold_create.lua")
        self._resolve = register_lua(client, "hold_resolve.lua")

    async def create(self, record: HoldRecord, hold_ttl: int, idem_ttl: int) -> tuple[str, bool]:
        hold_id, created = await self._create(
            keys=[
                keys.hold(record.channel, record.id),
                keys.hold_queue(record.channel),
                keys.hold_idempotency(record.channel, record.user, record.client_msg_id),
            ],
            args=[record.id, record.pack(), record.created_ms, hold_ttl, idem_ttl if record.client_msg_id else 0],
        )
        if created:
            await self.redis.zadd(keys.EXPIRING, {f"{record.channel}\n{record.id}": record.expires_ms})
        return _text(hold_id), bool(created)

    async def get(self, channel: str, hold_id: str) -> HoldRecord | None:
        raw = await self.redis.hmget(keys.hold(channel, hold_id), "r", "s", "x")
        if raw[0] is None:
            return None
        return HoldRecord.unpack(raw[0], (raw[1] or b"pending").decode(), raw[2])

    async def id_for_client_msg(self, channel: str, user: str, client_msg_id: str) -> str | None:
        """The hold a client message id made (over the pipelined connection: the post path)."""
        hold_id = await self.commands.command(b"GET", keys.hold_idempotency(channel, user, client_msg_id))
        return None if hold_id is None else _text(hold_id)

    async def by_client_msg_id(self, channel: str, user: str, client_msg_id: str) -> HoldRecord | None:
        hold_id = await self.id_for_client_msg(channel, user, client_msg_id)
        return None if hold_id is None else await self.get(channel, hold_id)

    async def pending(self, channel: str, limit: int = 100) -> list[HoldRecord]:
        ids = await self.redis.zrange(keys.hold_queue(channel), 0, max(0, limit - 1))
        if not ids:
            return []
        pipe = self.redis.pipeline(transaction=False)
        for hold_id in ids:
            pipe.hmget(keys.hold(channel, hold_id.decode()), "r", "s", "x")
        out = []
        stale = []
        for hold_id, raw in zip(ids, await pipe.execute(), strict=True):
            if raw[0] is None:
                stale.append(hold_id)
                continue
            out.append(HoldRecord.unpack(raw[0], (raw[1] or b"pending").decode(), raw[2]))
        if stale:
            await self.redis.zrem(keys.hold_queue(channel), *stale)
        return out

    async def resolve(
        self, record: HoldRecord, expected: str, new: str, resolution: dict[str, Any] | None
    ) -> tuple[str, bool]:
        before, changed = await self._resolve(
            keys=[keys.hold(record.channel, record.id), keys.hold_queue(record.channel)],
            args=[
                record.id,
                expected,
                new,
                msgpack.packb(resolution, use_bin_type=True) if resolution else "",
                record.created_ms,
            ],
        )
        return _text(before), bool(changed)

    async def settle(self, record: HoldRecord, ttl: int) -> None:
        """Store a resolved hold's record and resolution (the original text dropped by the
        caller) and let the hold expire ``ttl`` seconds from now."""
        key = keys.hold(record.channel, record.id)
        pipe = self.redis.pipeline(transaction=True)
        pipe.hset(key, mapping={"r": record.pack(), "x": msgpack.packb(record.resolution, use_bin_type=True)})
        pipe.expire(key, ttl)
        await pipe.execute()

    async def due(self, now_ms: int, limit: int = 100) -> list[tuple[str, str, bytes]]:
        members = await self.redis.zrangebyscore(keys.EXPIRING, "-inf", now_ms, start=0, num=limit)
        out = []
        for m in members:
            channel, _, hold_id = m.decode().partition("\n")
            out.append((channel, hold_id, m))
        return out

    async def forget_due(self, member: bytes) -> None:
        await self.redis.zrem(keys.EXPIRING, member)

    async def pending_count(self) -> int:
        """Holds waiting for review in the whole deployment (the expiry index)."""
        return int(await self.redis.zcard(keys.EXPIRING))


class RedisModerationStore:
    def __init__(self, client: aioredis.Redis, commands: Commands, control: Control | None = None) -> None:
        self.redis = client
        self.commands = commands
        self.control = control

    # ---- audit log (a stream per community, trimmed by age) ------------------------------

    async def audit_append(self, community: str, packed: bytes, min_id_ms: int, retention: int, max_len: int) -> str:
        key = keys.audit(community)
        pipe = self.redis.pipeline(transaction=False)
        pipe.execute_command("XADD", key, "MINID", str(min_id_ms), "*", "d", packed)
        pipe.execute_command("XTRIM", key, "MAXLEN", str(max_len))
        pipe.expire(key, retention)
        entry_id, _, _ = await pipe.execute()
        return _text(entry_id)

    async def audit_range(self, community: str, high: str, low: str, count: int) -> list[tuple[str, bytes | None]]:
        """Entries newest first between stream ids ``low`` and ``high``: (id, packed entry)."""
        batch = await self.redis.xrevrange(keys.audit(community), max=high, min=low, count=count)
        return [(_text(entry_id), fields.get(b"d")) for entry_id, fields in batch]

    # ---- moderator-feed watchers (a sorted set per room, scores = expiry) ----------------

    async def watch(self, entries: Iterable[tuple[str, str]], expires: float, ttl: int) -> None:
        pipe = self.redis.pipeline(transaction=False)
        for room, member in entries:
            pipe.zadd(keys.watchers(room), {member: expires})
            pipe.expire(keys.watchers(room), ttl)
        await pipe.execute()

    async def unwatch(self, entries: Iterable[tuple[str, str]]) -> None:
        pipe = self.redis.pipeline(transaction=False)
        for room, member in entries:
            pipe.zrem(keys.watchers(room), member)
        await pipe.execute()

    async def watchers_online(self, room: str, now: float) -> int:
        key = keys.watchers(room)
        pipe = self.redis.pipeline(transaction=False)
        pipe.zremrangebyscore(key, "-inf", now)
        pipe.zcard(key)
        _, count = await pipe.execute()
        return int(count)

    # ---- sanctions (a hash per community and kind; changes announced to every process) --

    async def sanctions(self, communities: Sequence[str], kinds: Sequence[str]) -> list[dict[bytes, bytes]]:
        """Every (community, kind) hash, in that order."""
        pipe = self.redis.pipeline(transaction=False)
        for community in communities:
            for kind in kinds:
                pipe.hgetall(keys.sanctions(community, kind))
        return list(await pipe.execute())

    async def put_sanction(self, kind: str, community: str, field: str, packed: bytes) -> None:
        await self.redis.hset(keys.sanctions(community, kind), field, packed)
        await self._announce(what=kind, community=community, field=field, s=packed)

    async def lift_sanction(self, kind: str, community: str, field: str) -> bool:
        removed = await self.redis.hdel(keys.sanctions(community, kind), field)
        await self._announce(what=kind, community=community, field=field, s=None)
        return bool(removed)

    async def _announce(self, **fields: Any) -> None:
        """Tell every process (after the write: a process that reloads sees it)."""
        if self.control is not None:
            await self.control.send("mod.sanction", **fields)
        else:
            await self.redis.publish(CONTROL_CHANNEL, pack_control("mod.sanction", **fields))

    # ---- reports --------------------------------------------------------------------------

    async def add_report(self, channel: str, offset: int, reporter: str, packed: bytes, ttl: int) -> int:
        """Record one member's report of a message; returns how many members reported it."""
        key = keys.reporters(channel, offset)
        pipe = self.redis.pipeline(transaction=False)
        pipe.hset(key, reporter, packed)
        pipe.expire(key, ttl)
        pipe.hlen(key)
        _, _, count = await pipe.execute()
        await self.redis.zadd(keys.reports(channel), {str(offset): count})
        return int(count)

    async def claim_hide(self, channel: str, offset: int, ttl: int) -> bool:
        """True once per message: the caller hides it."""
        return bool(await self.redis.set(keys.hidden(channel, offset), b"1", nx=True, ex=ttl))

    async def open_reports(self, channel: str, limit: int) -> list[tuple[int, int, dict[bytes, bytes]]]:
        """(offset, reporters, {user: packed report}) for the most reported messages."""
        items = await self.redis.zrevrange(keys.reports(channel), 0, max(0, limit - 1), withscores=True)
        out = []
        for raw_offset, score in items:
            offset = int(raw_offset)
            out.append((offset, int(score), await self.redis.hgetall(keys.reporters(channel, offset))))
        return out

    async def dismiss_reports(self, channel: str, offset: int) -> bool:
        pipe = self.redis.pipeline(transaction=False)
        pipe.zrem(keys.reports(channel), str(offset))
        pipe.delete(keys.reporters(channel, offset))
        removed, _ = await pipe.execute()
        return bool(removed)

    async def forget_reports(self, channel: str, offset: int) -> None:
        await self.redis.zrem(keys.reports(channel), offset)

    # ---- the post path (over the pipelined connection) ------------------------------------

    async def claim_slow(self, channel: str, user: str, slow_ms: int) -> int:
        """Slow mode: 0 when the member may post now (and the wait starts), else the ms left."""
        key = keys.slow(channel, user)
        if await self.commands.command(b"SET", key, b"1", b"NX", b"PX", slow_ms):
            return 0
        return max(1, int(await self.commands.command(b"PTTL", key)))

    async def facts(
        self,
        channel: str,
        community: str,
        user: str,
        *,
        recent: int,
        record: str | None,
        recent_ttl: int,
        posts: bool,
    ) -> tuple[list[str] | None, int | None]:
        """The member's recent posts (up to ``recent``; ``record`` is appended first when
        given) and their post count in the community (when ``posts``), in one write."""
        commands: list[tuple[bytes | str | int, ...]] = []
        recent_key = keys.recent(channel, user)
        if recent:
            commands.append((b"LRANGE", recent_key, 0, recent - 1))
            if record is not None:
                commands.append((b"LPUSH", recent_key, record))
                commands.append((b"LTRIM", recent_key, 0, recent - 1))
                commands.append((b"EXPIRE", recent_key, recent_ttl))
        if posts:
            commands.append((b"HGET", keys.posts(community), user))
        results = await self.commands.commands(commands)
        listed = [_text(item) for item in results[0]] if recent else None
        count = None
        if posts:
            raw = results[-1]
            count = int(raw) if raw else 0
        return listed, count

    async def count_posts(self, counts: dict[tuple[str, str], int]) -> None:
        """Add ``(community, user) -> n`` to the members' post counts, in one write."""
        if counts:
            await self.commands.commands(
                [(b"HINCRBY", keys.posts(community), user, n) for (community, user), n in counts.items()]
            )

    async def note_members(self, seen: dict[tuple[str, str], tuple[str, int]], keep: int) -> None:
        """Remember ``(community, user) -> (display name, when in ms)`` in the communities'
        directories of recent members, each trimmed to its ``keep`` most recent."""
        if not seen:
            return
        commands: list[tuple[Any, ...]] = []
        for (community, user), (name, ms) in seen.items():
            commands.append((b"HSET", keys.names(community), user, msgpack.packb({"name": name, "seen": ms})))
            commands.append((b"ZADD", keys.seen(community), ms, user))
        await self.commands.commands(commands)
        for community in {community for community, _ in seen}:
            (old,) = await self.commands.commands([(b"ZRANGE", keys.seen(community), 0, -(keep + 1))])
            if old:
                await self.commands.commands(
                    [(b"HDEL", keys.names(community), *old), (b"ZREM", keys.seen(community), *old)]
                )

    async def recent_members(self, community: str, limit: int) -> list[dict[str, Any]]:
        """The community's most recently seen members, newest first: ``{user, name, seen}``."""
        (users,) = await self.commands.commands([(b"ZRANGE", keys.seen(community), 0, limit - 1, b"REV")])
        if not users:
            return []
        (packed,) = await self.commands.commands([(b"HMGET", keys.names(community), *users)])
        out = []
        for user, value in zip(users, packed, strict=True):
            if value:
                entry = msgpack.unpackb(value, raw=False)
                out.append({"user": _text(user), "name": entry.get("name", ""), "seen": entry.get("seen", 0)})
        return out
