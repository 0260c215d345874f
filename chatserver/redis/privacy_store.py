"""What access and erasure requests (``chatserver.privacy``) need from Redis, behind a small
interface: walk the keyspace by pattern, read a channel's stream in batches, remove a batch
of publications (``purge_messages.lua``), rewrite a stream (``stream_rewrite.lua``: the
audit log with pseudonyms), and small per-key reads and removals.

Cluster safety: every Lua call touches one hash tag (one channel's or one community's keys);
the per-key commands are single-key commands sent in non-transactional pipelines (a cluster
client splits them by slot). ``scan`` walks one node's keyspace (a cluster engine walks
every primary).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Sequence
from typing import Any

import orjson
import redis.asyncio as aioredis

from chatserver.engine import Commands, HistoryOptions, StreamEntry
from chatserver.member_data import MemberScope, names
from chatserver.publication import Publication, pack_payload
from chatserver.redis.broker import (
    append_args,
    deleted_key,
    edits_key,
    meta_key,
    register_lua,
    stream_key,
)
from chatserver.redis.keyspace import glob_escape

ERASING = "chat:erasing"  # zset: pseudonym of a member being erased -> blocked until (ms)
ACK_TTL_MS = 600_000
BATCH = 200  # stream entries read (and publications removed) per Redis call
SCAN = 1000


def _json(raw: bytes) -> Any:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class RedisPrivacyStore:
    """The channels' streams as member data: a member's messages and edits in every room,
    their reactions' events, events naming them or their items in moderator feeds, Q&A
    boards and screening, notices naming them in invited hosts' channels, their own channel
    and their idempotency keys."""

    member_phase = 50  # after the stores that find the member's item ids (Q&A, holds)

    def __init__(self, client: aioredis.Redis, commands: Commands | None = None) -> None:
        self.redis = client
        self.commands = commands
        self._purge = register_lua(client, "stream_lib.lua", "purge_messages.lua")
        self._rewrite = register_lua(client, "stream_lib.lua", "stream_rewrite.lua")

    # ---- members being erased: blocked on every process (by pseudonym, never the id) -------

    async def block(self, alias: str, until_ms: int, now_ms: int) -> None:
        pipe = self.redis.pipeline(transaction=False)
        pipe.zremrangebyscore(ERASING, "-inf", now_ms)
        pipe.zadd(ERASING, {alias: until_ms})
        pipe.pexpire(ERASING, max(1, until_ms - now_ms))
        await pipe.execute()

    async def blocks(self, now_ms: int) -> dict[str, int]:
        """alias -> until (ms) of every block in force."""
        return {_text(a): int(t) for a, t in await self.redis.zrangebyscore(ERASING, now_ms, "+inf", withscores=True)}

    async def ack_block(self, alias: str, node: str) -> None:
        """This process applies the block. Over the pipelined connection when there is one,
        so every publication it issued before is in Redis ahead of the acknowledgement."""
        key = f"{ERASING}:{{{alias}}}:acks"
        if self.commands is not None:
            await self.commands.commands([(b"SADD", key, node), (b"PEXPIRE", key, ACK_TTL_MS)])
        else:
            await self.redis.sadd(key, node)
            await self.redis.pexpire(key, ACK_TTL_MS)

    async def block_acks(self, alias: str) -> set[str]:
        return {_text(n) for n in await self.redis.smembers(f"{ERASING}:{{{alias}}}:acks")}

    async def forget_block_acks(self, alias: str) -> None:
        await self.redis.delete(f"{ERASING}:{{{alias}}}:acks")

    # ---- the keyspace ---------------------------------------------------------------------

    async def scan(self, pattern: str, count: int = 1000) -> AsyncIterator[list[str]]:
        """Key names matching ``pattern``, ``count`` at a time (SCAN; on a cluster client,
        every primary in turn)."""
        batch: list[str] = []
        async for key in self.redis.scan_iter(match=pattern, count=count):
            batch.append(_text(key))
            if len(batch) >= count:
                yield batch
                batch = []
        if batch:
            yield batch

    async def delete(self, keys: Sequence[str]) -> int:
        return sum(int(n) for n in await self._each("DEL", [(k,) for k in keys]))

    # ---- streams ----------------------------------------------------------------------------

    async def entries(self, channel: str, after: int, count: int) -> list[StreamEntry]:
        """Up to ``count`` entries of the channel's history with offsets above ``after``."""
        raw = await self.redis.xrange(stream_key(channel), min=f"({after}-0" if after else "-", max="+", count=count)
        return [StreamEntry(int(_text(i).split("-", 1)[0]), f.get(b"d", b"")) for i, f in raw]

    async def purge(self, channel: str, offsets: Sequence[int], events: Sequence[bytes], history: HistoryOptions) -> int:
        """Remove these publications (and publish ``events``, one per offset, if given)."""
        if not offsets:
            return 0
        args: list[Any] = [len(offsets), *offsets]
        args += append_args(channel, history)
        args += list(events)
        removed = await self._purge(keys=[stream_key(channel), meta_key(channel), deleted_key(channel), edits_key(channel)], args=args)
        return int(removed)

    async def drop_channel(self, channel: str) -> int:
        """Remove a channel's history, meta and removed-offsets set (a user's own channel)."""
        return await self.delete([stream_key(channel), meta_key(channel), deleted_key(channel), edits_key(channel)])

    async def stream_range(self, key: str, after: str, count: int) -> list[tuple[str, bytes]]:
        """Entries of any stream (``key``) after entry id ``after`` ("" = from the start)."""
        raw = await self.redis.xrange(key, min=f"({after}" if after else "-", max="+", count=count)
        return [(_text(i), f.get(b"d", b"")) for i, f in raw]

    async def rewrite(self, key: str, changes: dict[str, bytes | None]) -> int:
        """Replace (bytes) or leave out (None) entries of the stream ``key``, in one call."""
        if not changes:
            return 0
        args: list[Any] = []
        for entry_id, payload in changes.items():
            args += [entry_id, b"" if payload is None else payload]
        return int(await self._rewrite(keys=[key], args=args))

    # ---- hashes, sets, sorted sets -------------------------------------------------------------

    async def _each(self, command: str, calls: Sequence[tuple[Any, ...]]) -> list[Any]:
        """One single-key ``command`` per argument tuple, in one non-transactional pipeline."""
        if not calls:
            return []
        pipe = self.redis.pipeline(transaction=False)
        for args in calls:
            pipe.execute_command(command, *args)
        return list(await pipe.execute())

    async def hget_many(self, pairs: Sequence[tuple[str, str]]) -> list[bytes | None]:
        return await self._each("HGET", pairs)

    async def hdel_many(self, pairs: Sequence[tuple[str, str]]) -> int:
        return sum(int(n) for n in await self._each("HDEL", pairs))

    async def zrem_many(self, keys: Sequence[str], member: str) -> int:
        return sum(int(n) for n in await self._each("ZREM", [(k, member) for k in keys]))

    async def zrem(self, key: str, *members: str) -> int:
        return int(await self.redis.zrem(key, *members)) if members else 0

    # ---- member data (chatserver.member_data) -------------------------------------------------

    async def _entries(self, channel: str) -> AsyncIterator[list[tuple[int, Publication]]]:
        """A channel's history in batches of decoded publications (yielding between them)."""
        after = 0
        while True:
            batch = await self.entries(channel, after, BATCH)
            if not batch:
                return
            yield [(e.offset, Publication.unpack(channel, e.offset, "", e.payload)) for e in batch]
            after = batch[-1].offset
            if len(batch) < BATCH:
                return
            await asyncio.sleep(0)

    async def _room_events(self, channel: str, user: str) -> AsyncIterator[list[tuple[int, dict[str, Any]]]]:
        """The member's messages, edit events and reaction events in a room, batch by batch."""
        needle = user.encode()
        async for batch in self._entries(channel):
            found = []
            for offset, pub in batch:
                if needle not in pub.data and not (pub.info and pub.info.get("user") == user):
                    continue
                event = _json(pub.data)
                if (
                    isinstance(event, dict)
                    and event.get("type") in ("message", "message.edited", "message.reactions")
                    and event.get("user") == user
                ):
                    found.append((offset, event))
            yield found

    async def _naming(self, channel: str, user: str, ids: set[str]) -> AsyncIterator[list[int]]:
        """Offsets of events in a channel that name the member or one of their items."""
        needles = [user.encode(), *(i.encode() for i in ids)]
        async for batch in self._entries(channel):
            found = []
            for offset, pub in batch:
                if not any(n in pub.data for n in needles):
                    continue
                event = _json(pub.data)
                if names(event, user) or any(names(event, i) for i in ids):
                    found.append(offset)
            yield found

    @staticmethod
    def _feeds(scope: MemberScope) -> list[str]:
        """Channels whose events may name a member: moderator feeds, screening, boards, and
        the private channels of hosts invited to a conversation with them."""
        out = [f"{c}/mod" for c in scope.communities]
        for room in scope.rooms:
            out += [f"{room.channel}/mod", f"{room.channel}/screening", f"{room.channel}/qa"]
        out += [f"user#{host}" for host in sorted(scope.notified)]
        return out

    async def export_member(self, scope: MemberScope) -> dict[str, list[Any]]:
        messages = []
        for room in scope.rooms:
            async for batch in self._room_events(room.channel, scope.user):
                for offset, event in batch:
                    if event.get("type") == "message":
                        messages.append({"channel": room.channel, "offset": offset, **event})
        return {"messages": messages}

    async def forget_member(self, scope: MemberScope) -> dict[str, int]:
        user = scope.user
        counts = {"messages": 0, "feed_events": 0, "reaction_events": 0, "keys": 0}
        for room in scope.rooms:
            history = scope.history_of(room.channel)
            if history is None:
                continue
            others: list[int] = []
            async for batch in self._room_events(room.channel, user):
                messages = [(offset, event) for offset, event in batch if event.get("type") == "message"]
                for offset, event in batch:
                    if event.get("type") == "message.reactions":
                        counts["reaction_events"] += 1
                        others.append(offset)
                    elif event.get("type") != "message":
                        counts["feed_events"] += 1
                        others.append(offset)
                if not messages:
                    continue
                scope.ids.update(str(event.get("id", "")) for _, event in messages if event.get("id"))
                scope.message_ids.update((room.channel, str(e["id"])) for _, e in messages if e.get("id"))
                scope.message_offsets.update((room.channel, offset) for offset, _ in messages)
                now_ms = int(time.time() * 1000)
                events = [
                    pack_payload(
                        orjson.dumps({"type": "message.deleted", "id": event.get("id", ""), "offset": offset, "by": "erasure", "ts": now_ms}),
                        time_ms=now_ms,
                    )
                    for offset, event in messages
                ]
                counts["messages"] += await self.purge(room.channel, [o for o, _ in messages], events, history)
                scope.touched.add(room.community)
            # Edit and reaction events (their message went first, or it is someone else's):
            # removed without an event.
            for i in range(0, len(others), BATCH):
                await self.purge(room.channel, others[i : i + BATCH], [], history)
        for feed in self._feeds(scope):
            history = scope.history_of(feed)
            if history is None:
                continue
            async for offsets in self._naming(feed, user, scope.ids):
                if offsets:
                    counts["feed_events"] += await self.purge(feed, offsets, [], history)
        async for keys in self.scan(f"chat:{{*}}:i:{glob_escape(user)}:*", SCAN):
            counts["keys"] += await self.delete(keys)
        counts["keys"] += await self.drop_channel(f"user#{user}")
        return counts
