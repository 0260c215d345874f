"""Each gateway's open connections, shared through one small hash so gateways can compare
their load (``chatserver.balance``): field = node id, value = "count:expires_ms". An
entry not refreshed in time (a stopped or dead process) is ignored and removed."""

from __future__ import annotations

import time
from typing import Any

LOADS_KEY = "chat:nodes:load"


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class RedisNodeLoads:
    def __init__(self, client: Any) -> None:
        self._redis = client

    async def report(self, node_id: str, count: int, ttl: float) -> dict[str, int]:
        """Store this node's count (valid ``ttl`` seconds); every live node's count."""
        now_ms = int(time.time() * 1000)
        await self._redis.hset(LOADS_KEY, node_id, f"{count}:{now_ms + int(ttl * 1000)}")
        raw = await self._redis.hgetall(LOADS_KEY)
        loads: dict[str, int] = {}
        stale: list[str] = []
        for field, value in raw.items():
            name = _text(field)
            try:
                got, _, expires = _text(value).partition(":")
                if int(expires) < now_ms:
                    stale.append(name)
                    continue
                loads[name] = int(got)
            except ValueError:
                stale.append(name)
        if stale:
            await self._redis.hdel(LOADS_KEY, *stale)
        return loads

    async def forget(self, node_id: str) -> None:
        await self._redis.hdel(LOADS_KEY, node_id)
