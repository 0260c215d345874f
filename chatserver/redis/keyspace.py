"""Walking the keyspace by pattern (SCAN; on a cluster client, every primary in turn), for
the stores' member data (``chatserver.member_data``): erasure finds a member's keys here."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any

import redis.asyncio as aioredis

SCAN = 1000


def glob_escape(value: str) -> str:
    """``value`` as a literal inside a SCAN MATCH pattern."""
    return "".join("\\" + c if c in "*?[]\\" else c for c in value)


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


async def scan(client: aioredis.Redis, pattern: str, count: int = SCAN) -> AsyncIterator[list[str]]:
    """Key names matching ``pattern``, ``count`` at a time."""
    batch: list[str] = []
    async for key in client.scan_iter(match=pattern, count=count):
        batch.append(_text(key))
        if len(batch) >= count:
            yield batch
            batch = []
    if batch:
        yield batch


async def each(client: aioredis.Redis, command: str, calls: Sequence[tuple[Any, ...]]) -> list[Any]:
    """One single-key ``command`` per argument tuple, in one non-transactional pipeline (a
    cluster client splits it by slot)."""
    if not calls:
        return []
    pipe = client.pipeline(transaction=False)
    for args in calls:
        pipe.execute_command(command, *args)
    return list(await pipe.execute())


async def delete_matching(client: aioredis.Redis, pattern: str) -> int:
    removed = 0
    async for keys in scan(client, pattern):
        removed += sum(int(n) for n in await each(client, "DEL", [(k,) for k in keys]))
    return removed
