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

import dataclasses
from collections.abc import AsyncIterator, Sequence
from types import MappingProxyType
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import WatchError

from chatserver.engine import HistoryOptions, StreamEntry
from chatserver.redis.broker import (
    append_args,
    deleted_key,
    edits_key,
    meta_key,
    register_lua,
    stream_key,
)
from chatserver.redis.crisis_store import (
    case_key,
    due_key,
    index_key,
    items_key,
    notify_key,
    open_key,
)
from chatserver.redis.qa_records import pack_session, unpack_question, unpack_session
from rooms.qa.model import Question


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def glob_escape(value: str) -> str:
    """``value`` as a literal inside a SCAN MATCH pattern."""
    return "".join("\\" + c if c in "*?[]\\" else c for c in value)


class RedisPrivacyStore:
    def __init__(self, client: aioredis.Redis) -> None:
        self.redis = client
        self._purge = register_lua(client, "stream_lib.lua", "purge_messages.lua")
        self._rewrite = register_lua(client, "stream_lib.lua", "stream_rewrite.lua")

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

    # ---- Q&A boards (keys of chatserver.redis.qa_store, one board's hash tag per call) ------

    async def questions(self, board: str) -> list[tuple[str, Question]]:
        """Every (session id, question) kept for the board."""
        tag = f"qa:{{{board}}}"
        sessions = [_text(s) for s in await self.redis.zrange(f"{tag}:idx", 0, -1)]
        out: list[tuple[str, Question]] = []
        for sid in sessions:
            for raw in (await self.redis.hgetall(f"{tag}:q:{sid}")).values():
                out.append((sid, unpack_question(raw)))
        return out

    async def remove_questions(self, board: str, session: str, question_ids: Sequence[str]) -> int:
        """Remove questions from a session's state (record, state, count, voters)."""
        if not question_ids:
            return 0
        tag = f"qa:{{{board}}}"
        pipe = self.redis.pipeline(transaction=True)
        pipe.hdel(f"{tag}:q:{session}", *question_ids)
        pipe.hdel(f"{tag}:st:{session}", *question_ids)
        pipe.hdel(f"{tag}:c:{session}", *question_ids)
        pipe.srem(f"{tag}:dv:{session}", *question_ids)
        for qid in question_ids:
            pipe.delete(f"{tag}:v:{session}:{qid}")
        results = await pipe.execute()
        return int(results[0])

    async def forget_asker(self, board: str, user: str) -> int:
        """Remove ``user`` from every session's ``last_asked`` (the question-interval
        clock), bumping the session's version so a concurrent command reloads."""
        tag = f"qa:{{{board}}}"
        changed = 0
        for sid in [_text(s) for s in await self.redis.zrange(f"{tag}:idx", 0, -1)]:
            key = f"{tag}:s:{sid}"
            for _ in range(5):
                async with self.redis.pipeline(transaction=True) as pipe:
                    try:
                        await pipe.watch(key)
                        raw = await pipe.hget(key, "d")
                        if raw is None:
                            break
                        session = unpack_session(raw)
                        if user not in session.last_asked:
                            break
                        kept = {u: t for u, t in session.last_asked.items() if u != user}
                        fresh = dataclasses.replace(session, last_asked=MappingProxyType(kept), version=session.version + 1)
                        pipe.multi()
                        pipe.hset(key, mapping={"v": fresh.version, "d": pack_session(fresh)})
                        await pipe.execute()
                        changed += 1
                        break
                    except WatchError:
                        continue
        return changed

    # ---- crisis cases (keys of chatserver.redis.crisis_store, one community's hash tag) -----

    async def remove_case(self, community: str, case_id: str, user: str) -> int:
        """Remove a member's crisis case: its record, its messages and every index entry."""
        pipe = self.redis.pipeline(transaction=True)
        pipe.delete(case_key(community, case_id), items_key(community, case_id))
        pipe.zrem(index_key(community), case_id)
        pipe.zrem(due_key(community), case_id)
        pipe.zrem(notify_key(community), case_id)
        pipe.hdel(open_key(community), user)
        return int((await pipe.execute())[0] > 0)
