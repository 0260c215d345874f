"""RedisBroker: publish (history append + publish in one Lua call), history and recovery reads.

The Lua scripts (publish, history/recovery/position reads) and ephemeral publishes go over a
dedicated pipelined connection (``chatserver.redis.pipeline``) when the broker is given the
Redis address: one write per call, replies in order, no pool. A long history answer delays
the calls queued behind it on that connection by the time Redis takes to send it.

Key layout for a channel ``c`` (hash tag keeps a channel's keys in one cluster slot):
- ``chat:{c}:h`` history stream, entry ids ``<offset>-0``, field ``d`` = msgpack payload
- ``chat:{c}:m`` meta hash: ``e`` epoch, ``s`` top offset
- ``chat:{c}:d`` sorted set of removed offsets (moderators, authors, erasures, replaced edit events)
- ``chat:{c}:x`` hash: an edited message's offset -> the offset of its (latest) edit event
- ``chat:{c}:i:<user>:<client message id>`` idempotency keys (value: the offset)
- ``chat:{c}:p`` the pub/sub channel
"""

from __future__ import annotations

import random
import time
from importlib import resources
from typing import TYPE_CHECKING, Any

import redis.asyncio as aioredis
from redis.asyncio.cluster import RedisCluster
from redis.asyncio.connection import BlockingConnectionPool

from chatserver.engine import HistoryOptions, HistoryResult, PublishResult, StreamEntry
from chatserver.redis.pipeline import CommandPipeline

if TYPE_CHECKING:
    from chatserver.redis.cluster import ClusterRouter
from chatserver.redis.resp import RespError

_random = random.Random()


def stream_key(channel: str) -> str:
    return f"chat:{{{channel}}}:h"


def meta_key(channel: str) -> str:
    return f"chat:{{{channel}}}:m"


def deleted_key(channel: str) -> str:
    return f"chat:{{{channel}}}:d"


def edits_key(channel: str) -> str:
    return f"chat:{{{channel}}}:x"


def idempotency_key(channel: str, user: str, client_id: str) -> str:
    return f"chat:{{{channel}}}:i:{user}:{client_id}"


def pubsub_channel(channel: str) -> bytes:
    return f"chat:{{{channel}}}:p".encode()


def channel_from_pubsub(name: bytes) -> str:
    # b"chat:{<channel>}:p"
    return name[6:-3].decode()


def load_lua(name: str) -> str:
    return resources.files("chatserver").joinpath("lua", name).read_text()


def append_args(channel: str, history: HistoryOptions) -> list[Any]:
    """The arguments stream_lib.lua's ``append`` takes after the payload, in its order: history
    size, history ttl, meta ttl, the epoch to start with, the pub/sub channel."""
    return [
        max(history.size, 1),
        history.ttl,
        max(history.meta_ttl, history.ttl),
        new_epoch(),
        pubsub_channel(channel),
    ]


def register_lua(client: Any, *names: str) -> Any:
    """Register the scripts ``names`` (joined in order: a library first) with ``client``.

    On a Redis Cluster (the client is redis-py's ``RedisCluster``) every ``PUBLISH`` of the
    scripts becomes ``SPUBLISH``: the channel (``chat:{c}:p``) carries the hash tag of the
    script's keys, so the message goes out on the shard that owns the room, from the same
    atomic call that changed its keys. This is the one place that picks the variant.
    """
    text = "\n".join(load_lua(name) for name in names)
    if isinstance(client, RedisCluster):
        text = text.replace('redis.call("publish"', 'redis.call("spublish"')
    return client.register_script(text)


async def run_script(
    pipeline: CommandPipeline | ClusterRouter | None, script: Any, keys: list[str], args: list[Any]
) -> Any:
    """Run a script registered with ``register_lua``: over the pipelined connection when
    there is one (EVALSHA, and EVAL when Redis lost its script cache), else through redis-py."""
    if pipeline is None:
        return await script(keys=keys, args=args)
    try:
        return await pipeline.execute(b"EVALSHA", script.sha, len(keys), *keys, *args)
    except RespError as exc:
        if not str(exc).startswith("NOSCRIPT"):
            raise
        return await pipeline.execute(b"EVAL", script.script, len(keys), *keys, *args)


def new_epoch() -> str:
    """A fresh stream epoch. Epochs are public (clients see them) and only need to differ
    between lifetimes of a stream, so a fast PRNG is enough (no syscall per publish)."""
    return f"{_random.getrandbits(32):08x}"


def make_client(url: str, max_connections: int = 64) -> aioredis.Redis:
    """A redis-py client on a *blocking* pool: waits for a free connection instead of
    raising MaxConnectionsError at the pool's limit."""
    pool = BlockingConnectionPool.from_url(url, max_connections=max_connections, timeout=20)
    return aioredis.Redis(connection_pool=pool)


class RedisBroker:
    def __init__(
        self,
        client: aioredis.Redis | RedisCluster,
        meta_ttl: int = 30 * 24 * 3600,
        pipeline: CommandPipeline | ClusterRouter | None = None,
    ) -> None:
        self.redis = client
        self.meta_ttl = meta_ttl
        self._publish = register_lua(client, "stream_lib.lua", "publish.lua")
        self._delete = register_lua(client, "stream_lib.lua", "delete_message.lua")
        self._edit = register_lua(client, "stream_lib.lua", "edit_message.lua")
        self._history = register_lua(client, "history.lua")
        self.pipeline = pipeline
        self.commands = 0  # Redis round trips made, for metrics and load tests
        self.latency_sum = 0.0
        self.errors = 0  # round trips that failed (connection lost, timeout, error reply)

    def close(self) -> None:
        if self.pipeline is not None:
            self.pipeline.close()

    async def _run(self, script: Any, keys: list[str], args: list[Any]) -> Any:
        """Run a Lua script: over the pipelined connection when there is one (EVALSHA, and
        EVAL when Redis lost its script cache), else through redis-py."""
        start = time.perf_counter()
        try:
            return await run_script(self.pipeline, script, keys, args)
        except Exception:
            self.errors += 1
            raise
        finally:
            self.commands += 1
            self.latency_sum += time.perf_counter() - start

    async def publish(
        self,
        channel: str,
        payload: bytes,
        history: HistoryOptions,
        idempotency: tuple[str, str] | None = None,
        idempotency_ttl: int = 600,
    ) -> PublishResult:
        """Append ``payload`` to the channel's history and publish it with its new offset."""
        idem_key = (
            idempotency_key(channel, idempotency[0], idempotency[1])
            if idempotency
            else f"chat:{{{channel}}}:i:-"
        )
        offset, epoch, dup = await self._run(
            self._publish,
            [stream_key(channel), meta_key(channel), idem_key],
            [payload, *append_args(channel, history), idempotency_ttl if idempotency else 0],
        )
        return PublishResult(int(offset), _s(epoch), bool(dup))

    async def published_offset(self, channel: str, user: str, client_msg_id: str) -> int | None:
        key = idempotency_key(channel, user, client_msg_id)
        previous: Any = await (self.redis.get(key) if self.pipeline is None else self.pipeline.execute(b"GET", key))
        return None if previous is None else int(previous)

    async def publish_ephemeral(self, channel: str, payload: bytes) -> None:
        """Publish without history or offset (join/leave, typing)."""
        start = time.perf_counter()
        try:
            if self.pipeline is not None:
                pipeline = self.pipeline
                await pipeline.execute(pipeline.publish_command, pubsub_channel(channel), b"0::" + payload)
            else:
                await self.redis.publish(pubsub_channel(channel), b"0::" + payload)
        except Exception:
            self.errors += 1
            raise
        finally:
            self.commands += 1
            self.latency_sum += time.perf_counter() - start

    async def history(
        self, channel: str, since: int | None, limit: int, reverse: bool = False
    ) -> HistoryResult:
        top, epoch, raw, deleted = await self._run(
            self._history,
            [stream_key(channel), meta_key(channel), deleted_key(channel)],
            ["" if since is None else since, limit, "1" if reverse else "0", new_epoch(), self.meta_ttl],
        )
        entries = []
        for entry_id, fields in raw:
            offset = int(entry_id.split(b"-", 1)[0])
            payload = b""
            for i in range(0, len(fields), 2):
                if fields[i] == b"d":
                    payload = fields[i + 1]
            entries.append(StreamEntry(offset, payload))
        return HistoryResult(int(top), _s(epoch), entries, int(deleted))

    async def position(self, channel: str) -> tuple[int, str]:
        result = await self.history(channel, None, 0)
        return result.top, result.epoch

    async def recover(
        self, channel: str, offset: int, epoch: str, max_count: int
    ) -> tuple[bool, HistoryResult]:
        """Publications after ``offset``, all of them or none: (recovered, result).

        Recovered when the epoch matches and every offset in (offset, top] is either in the
        stream or was removed by a moderator; otherwise the entries list is emptied.
        """
        result = await self.history(channel, offset, max_count + 1)
        missing = result.top - offset
        ok = (
            result.epoch == epoch
            and 0 <= missing <= max_count
            and len(result.entries) + result.deleted == missing
            and all(e.offset > offset for e in result.entries)
        )
        if not ok:
            return False, HistoryResult(result.top, result.epoch, [], 0)
        return True, result

    async def delete(
        self, channel: str, offset: int, payload: bytes, history: HistoryOptions
    ) -> tuple[bool, int]:
        """Remove the publication at ``offset`` and publish ``payload`` (the deletion event)
        with the next offset, atomically: (removed, the event's offset). Nothing happens
        when the entry is no longer in the stream."""
        removed, _original, event_offset, _epoch = await self._run(
            self._delete,
            [stream_key(channel), meta_key(channel), deleted_key(channel), edits_key(channel)],
            [offset, payload, *append_args(channel, history)],
        )
        return bool(removed), int(event_offset)

    async def edit(
        self, channel: str, offset: int, expected: bytes, payload: bytes, event: bytes, history: HistoryOptions
    ) -> tuple[int, int]:
        """Replace the publication at ``offset`` (if its payload is still ``expected``) with
        ``payload`` and publish ``event`` with the next offset, atomically: (status, the
        event's offset); status 1 edited, 0 gone, -1 changed meanwhile."""
        status, event_offset, _epoch = await self._run(
            self._edit,
            [stream_key(channel), meta_key(channel), deleted_key(channel), edits_key(channel)],
            [offset, expected, payload, event, *append_args(channel, history)],
        )
        return int(status), int(event_offset)

    async def entry(self, channel: str, offset: int) -> StreamEntry | None:
        """The stream entry at ``offset`` (no epoch check; None when removed or trimmed)."""
        raw = await self.redis.xrange(stream_key(channel), f"{offset}-0", f"{offset}-0")
        entries = _entries(raw)
        return entries[0] if entries else None

    async def entries_before(self, channel: str, before: int | None, count: int) -> list[StreamEntry]:
        """Up to ``count`` entries, newest first, with offsets below ``before`` (None: the top)."""
        high = "+" if before is None else f"({before}-0"
        return _entries(await self.redis.xrevrange(stream_key(channel), max=high, min="-", count=count))

    async def ping(self) -> float:
        start = time.perf_counter()
        await self.redis.ping()
        return time.perf_counter() - start


__all__ = ["HistoryOptions", "HistoryResult", "PublishResult", "RedisBroker", "StreamEntry"]


def _entries(raw: Any) -> list[StreamEntry]:
    return [
        StreamEntry(int(entry_id.split(b"-", 1)[0]), fields.get(b"d", b"")) for entry_id, fields in raw
    ]


def _s(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
