"""``Commands`` over the pipelined connection (or redis-py when there is none), and the
control channel every process listens on."""

from __future__ import annotations

from typing import Any

import msgpack
import redis.asyncio as aioredis

from chatserver.redis.pipeline import CommandPipeline

CONTROL_CHANNEL = b"chat:control"


def pack_control(kind: str, **fields: Any) -> bytes:
    """A control message as the hub reads it: msgpack ``{"t": kind, **fields}``."""
    return msgpack.packb({"t": kind, **fields}, use_bin_type=True)  # type: ignore[no-any-return]


class RedisCommands:
    def __init__(self, client: aioredis.Redis, pipeline: CommandPipeline | None) -> None:
        self.redis = client
        self.pipeline = pipeline

    async def command(self, *args: bytes | str | int) -> Any:
        """One command: one write, one future on the pipelined connection. Raw replies:
        bytes, int, list or None."""
        pipeline = self.pipeline
        if pipeline is None:
            return await self.redis.execute_command(*args)
        return await pipeline.execute(*args)

    async def commands(self, commands: list[tuple[bytes | str | int, ...]]) -> list[Any]:
        """Several commands in one write (not a transaction); raises the first error reply."""
        pipeline = self.pipeline
        if pipeline is None:
            pipe = self.redis.pipeline(transaction=False)
            for args in commands:
                pipe.execute_command(*args)
            return list(await pipe.execute())
        results = await pipeline.execute_many(commands)
        for result in results:
            if isinstance(result, Exception):
                raise result
        return results


class RedisControl:
    """``engine.Control``: PUBLISH on the control channel."""

    def __init__(self, client: aioredis.Redis) -> None:
        self.redis = client

    async def send(self, kind: str, **fields: Any) -> None:
        await self.redis.publish(CONTROL_CHANNEL, pack_control(kind, **fields))
