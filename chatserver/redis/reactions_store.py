"""Support reactions in Redis: who gave which reaction to a message (a set), the counts (a
hash) and a per-member rate counter, all under the room's ``{channel}`` hash tag, changed and
announced in one Lua call (react.lua, with stream_lib.lua's append: the event enters the
room's stream like any publication)."""

from __future__ import annotations

from dataclasses import dataclass

import msgpack
import redis.asyncio as aioredis

from chatserver.engine import HistoryOptions
from chatserver.reactions import ReactionChange
from chatserver.redis.broker import append_args, meta_key, register_lua, stream_key


@dataclass(frozen=True, slots=True)
class ReactResult:
    status: int  # chatserver.reactions: CHANGED, UNCHANGED, NO_MESSAGE or TOO_MANY
    counts: dict[str, int]
    offset: int  # of the published event (CHANGED)
    retry_ms: int  # TOO_MANY: when the window ends


class RedisReactionStore:
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
                f"{tag}:r:{request.message_id}",
                f"{tag}:rc:{request.message_id}",
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


def _s(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
