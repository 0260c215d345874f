"""``Commands`` over the pipelined connection (or redis-py when there is none), and the
control channel every process listens on."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import msgpack
import redis.asyncio as aioredis

from chatserver.redis.pipeline import CommandPipeline

if TYPE_CHECKING:
    from chatserver.redis.cluster import ClusterRouter

CONTROL_CHANNEL = b"chat:control"


def pack_control(kind: str, **fields: Any) -> bytes:
    """A control message as the hub reads it: msgpack ``{"t": kind, **fields}``."""
    return msgpack.packb({"t": kind, **fields}, use_bin_type=True)  # type: ignore[no-any-return]


class RedisCommands:
    def __init__(self, client: aioredis.Redis, pipeline: CommandPipeline | ClusterRouter | None) -> None:
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
    """``engine.Control``: a publish on the control channel, over the command connection.

    On a cluster it is SPUBLISH (the router's ``publish_command``) on ``chat:control``,
    received by every process's sharded subscription at the shard owning that channel's
    slot: no broadcast over the cluster bus to every node, and the subscription follows
    failovers like a room's (docs/deployment.md)."""

    def __init__(self, pipeline: CommandPipeline | ClusterRouter) -> None:
        self.pipeline = pipeline

    async def send(self, kind: str, **fields: Any) -> None:
        pipeline = self.pipeline
        await pipeline.execute(pipeline.publish_command, CONTROL_CHANNEL, pack_control(kind, **fields))
