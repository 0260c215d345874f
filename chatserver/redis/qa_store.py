"""RedisQaStore: Q&A sessions, questions and votes in Redis, and the board events they cause.

Keys (``b`` is the board channel ``<community>:<room>/qa``; the ``{b}`` hash tag keeps them
in the board stream's cluster slot, so state and events change in one Lua call):
- ``qa:{b}:s:<session>``    hash: ``v`` version, ``d`` msgpack session
- ``qa:{b}:q:<session>``    hash: question id -> msgpack question
- ``qa:{b}:st:<session>``   hash: question id -> state, ``@`` -> session state (for votes)
- ``qa:{b}:c:<session>``    hash: question id -> vote count
- ``qa:{b}:v:<session>:<q>`` set of voters of one question
- ``qa:{b}:dv:<session>``   set of questions whose count changed since the last count event
- ``qa:{b}:idx``            zset: session id -> created at
- ``qa:{b}:live``           id of the room's live session
- ``qa:{b}:stage``          id of the session holding the room in stage mode
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Sequence
from types import MappingProxyType
from typing import Any

import msgpack
import redis.asyncio as aioredis
from redis.exceptions import WatchError

from chatserver.engine import Commands, HistoryOptions
from chatserver.member_data import MemberScope
from chatserver.redis.broker import (
    meta_key,
    new_epoch,
    pubsub_channel,
    register_lua,
    stream_key,
)
from chatserver.redis.qa_records import pack_question, pack_session, unpack_question, unpack_session
from chatserver.stores import Committed, Conflict, Loaded, VoteResult
from rooms.qa.model import Board, Question, Session


def _k(board: str, suffix: str) -> str:
    return f"qa:{{{board}}}:{suffix}"


def _s(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def votes_payload_prefix(time_ms: int) -> bytes:
    """The publication envelope up to its ``d`` key (qa_votes_flush.lua appends the data)."""
    packed = msgpack.packb({"k": "pub", "tm": time_ms, "d": b""}, use_bin_type=True)
    return packed[:-2]  # drop the empty bin value (0xc4 0x00)


class RedisQaStore:
    member_phase = 30  # before the streams: its question ids find the board events about them

    def __init__(
        self,
        client: aioredis.Redis,
        history: HistoryOptions,
        ttl: int,
        ttl_of: Callable[[str], int] | None = None,
        commands: Commands | None = None,
    ) -> None:
        self.redis = client
        self.commands = commands
        self.history = history
        self.ttl = ttl
        self._ttl_of = ttl_of  # board -> seconds its state outlives its last change (qa_ttl)
        self._load = register_lua(client, "qa_load.lua")
        self._commit = register_lua(client, "qa_commit.lua")
        self._vote = register_lua(client, "qa_vote.lua")
        self._flush = register_lua(client, "qa_votes_flush.lua")

    def ttl_for(self, board: str) -> int:
        return self._ttl_of(board) if self._ttl_of is not None else self.ttl

    # ------------------------------------------------------------------ reads

    async def load(self, board: str, session_id: str, *, questions: bool = True) -> Loaded:
        blob, qs, counts_raw, live, top, epoch = await self._load(
            keys=[
                _k(board, f"s:{session_id}"),
                _k(board, f"q:{session_id}"),
                _k(board, f"c:{session_id}"),
                _k(board, "live"),
                meta_key(board),
            ],
            args=["1" if questions else "0"],
        )
        if not blob:
            return Loaded(None, offset=int(top), epoch=_s(epoch))
        counts = {_s(counts_raw[i]): int(counts_raw[i + 1]) for i in range(0, len(counts_raw), 2)}
        items: dict[str, Question] = {}
        for i in range(0, len(qs), 2):
            qid = _s(qs[i])
            items[qid] = unpack_question(qs[i + 1], counts.get(qid, 0))
        session = unpack_session(blob)
        return Loaded(
            Board(session, MappingProxyType(items), _s(live) if live else None),
            counts,
            int(top),
            _s(epoch),
        )

    async def sessions(self, board: str, limit: int = 50) -> list[Session]:
        """The room's sessions, newest first."""
        ids = await self.redis.zrevrange(_k(board, "idx"), 0, limit - 1)
        if not ids:
            return []
        async with self.redis.pipeline(transaction=False) as pipe:
            for sid in ids:
                pipe.hget(_k(board, f"s:{_s(sid)}"), "d")
            blobs = await pipe.execute()
        return [unpack_session(b) for b in blobs if b]

    async def live_session(self, board: str) -> str | None:
        value = await self.redis.get(_k(board, "live"))
        return _s(value) if value else None

    async def stage_session(self, board: str) -> str | None:
        """The session holding the board's room in stage mode (a post-path read: over the
        pipelined connection when there is one)."""
        key = _k(board, "stage")
        value = await (self.commands.command(b"GET", key) if self.commands is not None else self.redis.get(key))
        return _s(value) if value else None

    async def voted(self, board: str, session_id: str, user: str, question_ids: list[str]) -> set[str]:
        if not question_ids:
            return set()
        async with self.redis.pipeline(transaction=False) as pipe:
            for qid in question_ids:
                pipe.sismember(_k(board, f"v:{session_id}:{qid}"), user)
            found = await pipe.execute()
        return {qid for qid, yes in zip(question_ids, found, strict=True) if yes}

    # ------------------------------------------------------------------ writes

    async def commit(
        self,
        board: str,
        before: int,
        session: Session,
        questions: list[Question],
        payloads: list[bytes],
        *,
        live: str = "",
        stage: str = "",
    ) -> Committed | Conflict:
        """Write ``session`` (expected at version ``before``) and ``questions``, publish
        ``payloads`` on the board; all or nothing."""
        sid = session.id
        h = self.history
        ttl = self.ttl_for(board)
        args: list[Any] = [
            before,
            session.version,
            pack_session(session),
            session.state.value,
            live,
            stage,
            sid,
            session.created_at,
            ttl,
            max(h.size, 1),
            min(h.ttl, ttl),
            max(h.meta_ttl, min(h.ttl, ttl)),
            new_epoch(),
            pubsub_channel(board),
            len(questions),
        ]
        for q in questions:
            args += [q.id, pack_question(q), q.state.value]
        args += payloads
        result = await self._commit(
            keys=[
                _k(board, f"s:{sid}"),
                _k(board, f"q:{sid}"),
                _k(board, f"st:{sid}"),
                _k(board, "live"),
                _k(board, "stage"),
                _k(board, "idx"),
                stream_key(board),
                meta_key(board),
            ],
            args=args,
        )
        if int(result[0]) == 0:
            return Conflict(_s(result[1]), _s(result[2]))
        return Committed(_s(result[1]), int(result[2]), int(result[3]))

    async def vote(
        self,
        board: str,
        session_id: str,
        question_id: str,
        user: str,
        cast: bool,
        *,
        votable: str,
        voting: str,
    ) -> VoteResult:
        """``votable``/``voting``: space-framed question and session states that take votes."""
        result = await self._vote(
            keys=[
                _k(board, f"st:{session_id}"),
                _k(board, f"v:{session_id}:{question_id}"),
                _k(board, f"c:{session_id}"),
                _k(board, f"dv:{session_id}"),
            ],
            args=[question_id, user, "1" if cast else "0", self.ttl_for(board), votable, voting],
        )
        status = int(result[0])
        if status < 0:
            return VoteResult(False, 0, closed=True, session_state=_s(result[1]), question_state=_s(result[2]))
        return VoteResult(bool(status), int(result[1]))

    async def flush_votes(self, board: str, session_id: str) -> tuple[int, int]:
        """Publish one ``qa.votes`` event with every changed count: (offset, questions)."""
        h = self.history
        offset, n = await self._flush(
            keys=[
                _k(board, f"dv:{session_id}"),
                _k(board, f"c:{session_id}"),
                stream_key(board),
                meta_key(board),
            ],
            args=[
                session_id,
                votes_payload_prefix(int(time.time() * 1000)),
                max(h.size, 1),
                h.ttl,
                max(h.meta_ttl, h.ttl),
                new_epoch(),
                pubsub_channel(board),
            ],
        )
        return int(offset), int(n)

    # ---- member data (chatserver.member_data) -------------------------------------------------

    async def _sessions(self, board: str) -> list[str]:
        return [_s(s) for s in await self.redis.zrange(_k(board, "idx"), 0, -1)]

    async def questions_of(self, board: str, user: str) -> list[tuple[str, Question]]:
        """(session id, question) of every question ``user`` asked on the board."""
        out: list[tuple[str, Question]] = []
        for sid in await self._sessions(board):
            for raw in (await self.redis.hgetall(_k(board, f"q:{sid}"))).values():
                q = unpack_question(raw)
                if q.asker == user:
                    out.append((sid, q))
        return out

    async def votes_of(self, board: str, user: str) -> list[tuple[str, str]]:
        """(session id, question id) of every question ``user`` voted for on the board."""
        out: list[tuple[str, str]] = []
        for sid in await self._sessions(board):
            qids = [_s(q) for q in await self.redis.hkeys(_k(board, f"q:{sid}"))]
            out += [(sid, qid) for qid in sorted(await self.voted(board, sid, user, qids))]
        return out

    async def remove_questions(self, board: str, session: str, question_ids: Sequence[str]) -> int:
        """Remove questions from a session's state (record, state, count, voters)."""
        if not question_ids:
            return 0
        pipe = self.redis.pipeline(transaction=True)
        pipe.hdel(_k(board, f"q:{session}"), *question_ids)
        pipe.hdel(_k(board, f"st:{session}"), *question_ids)
        pipe.hdel(_k(board, f"c:{session}"), *question_ids)
        pipe.srem(_k(board, f"dv:{session}"), *question_ids)
        for qid in question_ids:
            pipe.delete(_k(board, f"v:{session}:{qid}"))
        results = await pipe.execute()
        return int(results[0])

    async def take_back_vote(self, board: str, session: str, question_id: str, user: str) -> int:
        """Remove a member's vote (the count follows at the next count event)."""
        if not int(await self.redis.srem(_k(board, f"v:{session}:{question_id}"), user)):
            return 0
        pipe = self.redis.pipeline(transaction=False)
        pipe.hincrby(_k(board, f"c:{session}"), question_id, -1)
        pipe.sadd(_k(board, f"dv:{session}"), question_id)
        await pipe.execute()
        return 1

    async def forget_asker(self, board: str, user: str) -> int:
        """Remove ``user`` from every session's ``last_asked`` (the question-interval
        clock), bumping the session's version so a concurrent command reloads."""
        changed = 0
        for sid in await self._sessions(board):
            key = _k(board, f"s:{sid}")
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

    async def export_member(self, scope: MemberScope) -> dict[str, list[Any]]:
        questions: list[Any] = []
        votes: list[Any] = []
        for room in scope.rooms:
            board = f"{room.channel}/qa"
            for sid, q in await self.questions_of(board, scope.user):
                item = {
                    "board": board,
                    "session": sid,
                    "id": q.id,
                    "text": q.text,
                    "anonymous": q.anonymous,
                    "state": q.state.value,
                    "asked_at": q.asked_at,
                }
                if q.answer is not None:
                    item["answer"] = q.answer.text
                questions.append(item)
            votes += [{"board": board, "session": sid, "question": qid} for sid, qid in await self.votes_of(board, scope.user)]
        return {"questions": questions, "votes": votes}

    async def forget_member(self, scope: MemberScope) -> dict[str, int]:
        counts = {"questions": 0, "votes": 0}
        for room in scope.rooms:
            board = f"{room.channel}/qa"
            for sid, q in await self.questions_of(board, scope.user):
                scope.ids.add(q.id)
                counts["questions"] += await self.remove_questions(board, sid, [q.id])
                scope.touched.add(room.community)
            for sid, qid in await self.votes_of(board, scope.user):
                counts["votes"] += await self.take_back_vote(board, sid, qid, scope.user)
            await self.forget_asker(board, scope.user)
        return counts
