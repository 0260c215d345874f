"""Support reactions in Redis: who gave which reaction to a message (a set), the counts (a
hash) and a per-member rate counter, all under the room's ``{channel}`` hash tag, changed and
announced in one Lua call (react.lua, with stream_lib.lua's append: the event enters the
room's stream like any publication)."""

from __future__ import annotations

from dataclasses import dataclass

import msgpack
import redis.asyncio as aioredis

from chatserver.engine import HistoryOptions
from chatserver.redis.broker import load_lua, meta_key, new_epoch, pubsub_channel, stream_key


@dataclass(frozen=True, slots=True)
class ReactResult:
    status: int  # chatserver.reactions: CHANGED, UNCHANGED, NO_MESSAGE or TOO_MANY
    counts: dict[str, int]
    offset: int  # of the published event (CHANGED)
    retry_ms: int  # TOO_MANY: when the window ends


class RedisReactionStore:
    def __init__(self, client: aioredis.Redis) -> None:
        self.redis = client
        self._react = client.register_script(load_lua("stream_lib.lua") + "\n" + load_lua("react.lua"))

    async def react(
        self,
        channel: str,
        *,
        offset: int,
        message_id: str,
        user: str,
        reaction: str,
        on: bool,
        event_head: bytes,
        time_ms: int,
        history: HistoryOptions,
        rate: tuple[int, int],
    ) -> ReactResult:
        """Give (``on``) or take back ``reaction``; ``event_head`` is the event's JSON up to
        its counts (``...,"counts":``), which the script completes with the new counts."""
        tag = f"chat:{{{channel}}}"
        prefix = b"\x83" + msgpack.packb({"k": "pub", "tm": time_ms}, use_bin_type=True)[1:] + msgpack.packb("d")
        status, flat, event_offset, retry_ms = await self._react(
            keys=[
                stream_key(channel),
                meta_key(channel),
                f"{tag}:r:{message_id}",
                f"{tag}:rc:{message_id}",
                f"{tag}:rr:{user}",
            ],
            args=[
                offset,
                message_id,
                user,
                reaction,
                "1" if on else "0",
                rate[0],
                rate[1],
                prefix,
                event_head,
                max(history.size, 1),
                history.ttl,
                max(history.meta_ttl, history.ttl),
                new_epoch(),
                pubsub_channel(channel),
            ],
        )
        counts = {_s(flat[i]): int(flat[i + 1]) for i in range(0, len(flat), 2)}
        return ReactResult(int(status), counts, int(event_offset), int(retry_ms))


def _s(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
