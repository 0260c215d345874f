"""Support reactions in Redis: who gave which reaction to a message (a set), the counts (a
hash) and a per-member rate counter, all under the room's ``{channel}`` hash tag, changed and
announced in one Lua call (react.lua, with stream_lib.lua's append: the event enters the
room's stream like any publication)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import msgpack
import redis.asyncio as aioredis

from chatserver.engine import HistoryOptions
from chatserver.member_data import MemberScope
from chatserver.records import ReactionChange
from chatserver.redis.broker import (
    append_args,
    meta_key,
    reaction_counts_key,
    reactors_key,
    register_lua,
    stream_key,
)
from chatserver.redis.keyspace import delete_matching, each, glob_escape, scan


@dataclass(frozen=True, slots=True)
class ReactResult:
    status: int  # chatserver.reactions: CHANGED, UNCHANGED, NO_MESSAGE or TOO_MANY
    counts: dict[str, int]
    offset: int  # of the published event (CHANGED)
    retry_ms: int  # TOO_MANY: when the window ends


class RedisReactionStore:
    member_phase = 70  # after the streams: the member's message ids name their reaction sets

    def __init__(self, client: aioredis.Redis) -> None:
        self.redis = client
        self._react = register_lua(client, "stream_lib.lua", "react.lua")

    async def react(self, change: ReactionChange, history: HistoryOptions, rate: tuple[int, int]) -> ReactResult:
        """Give or take back the reaction; the script completes ``change.event_head`` with the
        message's new counts and appends the event to the room's stream."""
        channel, request = change.channel, change.request
        tag = f"chat:{{{channel}}}"
        prefix = b"\x83" + msgpack.packb({"k": "pub", "tm": change.time_ms}, use_bin_type=True)[1:] + msgpack.packb("d")
        status, flat, event_offset, retry_ms = await self._react(
            keys=[
                stream_key(channel),
                meta_key(channel),
                reactors_key(channel, request.message_id),
                reaction_counts_key(channel, request.message_id),
                f"{tag}:rr:{change.user}",
            ],
            args=[
                request.offset,
                request.message_id,
                change.user,
                request.reaction,
                "1" if request.on else "0",
                rate[0],
                rate[1],
                prefix,
                change.event_head,
                *append_args(channel, history),
            ],
        )
        counts = {_s(flat[i]): int(flat[i + 1]) for i in range(0, len(flat), 2)}
        return ReactResult(int(status), counts, int(event_offset), int(retry_ms))

    # ---- member data (chatserver.member_data) -------------------------------------------------

    async def _given(self, user: str) -> list[tuple[str, str, str, list[str]]]:
        """(key, channel, message id, reactions) of the member's reactions."""
        out = []
        suffix = ":" + user
        async for found in scan(self.redis, "chat:{*}:r:*"):
            for key, members in zip(found, await each(self.redis, "SMEMBERS", [(k,) for k in found]), strict=True):
                given = [_s(m)[: -len(suffix)] for m in members if _s(m).endswith(suffix)]
                if given:
                    channel, _, message_id = key[6:].rpartition("}:r:")
                    out.append((key, channel, message_id, given))
        return out

    async def export_member(self, scope: MemberScope) -> dict[str, list[Any]]:
        return {
            "reactions": [
                {"channel": channel, "message": message_id, "reaction": r}
                for _, channel, message_id, given in await self._given(scope.user)
                for r in given
            ]
        }

    async def forget_member(self, scope: MemberScope) -> dict[str, int]:
        """Their reactions are taken back (counts follow); their messages' reaction sets and
        counts (other members' ids) go with the messages; their rate counters go."""
        counts = {"reactions": 0, "keys": 0}
        for key, channel, message_id, given in await self._given(scope.user):
            if (channel, message_id) in scope.message_ids:
                continue  # goes whole below
            pipe = self.redis.pipeline(transaction=False)
            pipe.srem(key, *[f"{r}:{scope.user}" for r in given])
            for r in given:
                pipe.hincrby(reaction_counts_key(channel, message_id), r, -1)
            await pipe.execute()
            counts["reactions"] += len(given)
        for channel, message_id in sorted(scope.message_ids):
            counts["keys"] += int(await self.redis.delete(reactors_key(channel, message_id), reaction_counts_key(channel, message_id)))
        counts["keys"] += await delete_matching(self.redis, f"chat:{{*}}:rr:{glob_escape(scope.user)}")
        return counts


def _s(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
