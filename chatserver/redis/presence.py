"""RedisPresence: who is subscribed to a room, across processes, with expiry.

Each entry has an expiry in a sorted set; the process that owns the connection refreshes it
by heartbeat. If the process dies, its entries lapse after ``ttl`` seconds and readers drop
them. Keys: ``chat:{c}:pr`` (hash client -> msgpack info), ``chat:{c}:pe`` (zset expiry).
"""

from __future__ import annotations

import time
from typing import Any

import msgpack
import redis.asyncio as aioredis

from chatserver.redis.broker import load_lua


def presence_key(channel: str) -> str:
    return f"chat:{{{channel}}}:pr"


def expiry_key(channel: str) -> str:
    return f"chat:{{{channel}}}:pe"


class RedisPresence:
    def __init__(self, client: aioredis.Redis, ttl: int) -> None:
        self.redis = client
        self.ttl = ttl
        self._get = client.register_script(load_lua("presence_get.lua"))

    async def add(self, channel: str, client_id: str, info: dict[str, Any]) -> None:
        expires = int(time.time()) + self.ttl
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.hset(presence_key(channel), client_id, msgpack.packb(info, use_bin_type=True))
            pipe.zadd(expiry_key(channel), {client_id: expires})
            pipe.expire(presence_key(channel), self.ttl * 2)
            pipe.expire(expiry_key(channel), self.ttl * 2)
            await pipe.execute()

    async def remove(self, channel: str, client_id: str) -> None:
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.hdel(presence_key(channel), client_id)
            pipe.zrem(expiry_key(channel), client_id)
            await pipe.execute()

    async def refresh(self, entries: list[tuple[str, str]]) -> None:
        """Push the expiry of (channel, client id) entries forward (heartbeat)."""
        expires = int(time.time()) + self.ttl
        for i in range(0, len(entries), 500):
            async with self.redis.pipeline(transaction=False) as pipe:
                channels = set()
                for channel, client_id in entries[i : i + 500]:
                    pipe.zadd(expiry_key(channel), {client_id: expires}, xx=True)
                    channels.add(channel)
                for channel in channels:
                    pipe.expire(presence_key(channel), self.ttl * 2)
                    pipe.expire(expiry_key(channel), self.ttl * 2)
                await pipe.execute()

    async def get(self, channel: str) -> dict[str, dict[str, Any]]:
        flat = await self._get(
            keys=[presence_key(channel), expiry_key(channel)], args=[int(time.time())]
        )
        out = {}
        for i in range(0, len(flat), 2):
            out[flat[i].decode()] = msgpack.unpackb(flat[i + 1], raw=False)
        return out
