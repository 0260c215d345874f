"""Webhooks in Redis (``RedisWebhookStore``): the hooks added through the API, the outbox
every event waits in until a receiver took it, retries, and each hook's delivery log. All
keys share the hash tag ``{wh}`` (one cluster slot, so the retry script and the settle
transaction touch one slot):

- ``wh:{wh}:hooks``        hash: hook id -> JSON (hooks added through the API)
- ``wh:{wh}:outbox``       stream: deliveries (field ``d`` = msgpack), consumer group
  ``deliver``: each entry goes to one process; a process that dies holding one has it
  claimed by another after ``reclaim_idle`` (at least once)
- ``wh:{wh}:retry``        zset: packed delivery -> when to try again (ms)
- ``wh:{wh}:log:<hook>``   stream: the hook's delivery log (capped)
"""

from __future__ import annotations

from typing import Any

import msgpack
import redis.asyncio as aioredis
from redis.exceptions import ResponseError

from chatserver.member_data import MemberScope, names, rename
from chatserver.redis.broker import load_lua, register_lua
from chatserver.redis.keyspace import scan

HOOKS = "wh:{wh}:hooks"
OUTBOX = "wh:{wh}:outbox"
RETRY = "wh:{wh}:retry"
GROUP = "deliver"
LOG_MAX = 1000


def log_key(hook_id: str) -> str:
    return f"wh:{{wh}}:log:{hook_id}"


class RedisWebhookStore:
    member_phase = 90

    def __init__(self, client: aioredis.Redis) -> None:
        self.redis = client
        self._rewrite = register_lua(client, "stream_lib.lua", "stream_rewrite.lua")
        self._due = client.register_script(load_lua("webhook_due.lua"))

    # ---- hooks added through the API --------------------------------------------------------

    async def hooks(self) -> dict[str, bytes]:
        return {k.decode(): v for k, v in (await self.redis.hgetall(HOOKS)).items()}

    async def put_hook(self, hook_id: str, data: bytes) -> None:
        await self.redis.hset(HOOKS, hook_id, data)

    async def delete_hook(self, hook_id: str) -> bool:
        return bool(await self.redis.hdel(HOOKS, hook_id))

    # ---- the outbox -------------------------------------------------------------------------

    async def ensure_group(self) -> None:
        try:
            await self.redis.xgroup_create(OUTBOX, GROUP, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    async def enqueue(self, deliveries: list[dict[str, Any]]) -> None:
        pipe = self.redis.pipeline(transaction=False)
        for delivery in deliveries:
            pipe.xadd(OUTBOX, {"d": msgpack.packb(delivery, use_bin_type=True)})
        await pipe.execute()

    async def read(self, consumer: str, count: int, block_ms: int) -> list[tuple[str, dict[str, Any]]]:
        got = await self.redis.xreadgroup(GROUP, consumer, {OUTBOX: ">"}, count=count, block=block_ms)
        return _entries(got[0][1] if got else [])

    async def reclaim(self, consumer: str, idle_ms: int, count: int) -> list[tuple[str, dict[str, Any]]]:
        """Deliveries another process took but did not settle within ``idle_ms``."""
        got = await self.redis.xautoclaim(OUTBOX, GROUP, consumer, idle_ms, start_id="0-0", count=count)
        return _entries(got[1])

    async def settle(self, entry_id: str, retry: dict[str, Any] | None, due_ms: int, hook_id: str, log: dict[str, Any]) -> None:
        """Done with an outbox entry: schedule its retry (if any), log the attempt, ack it."""
        pipe = self.redis.pipeline(transaction=True)
        if retry is not None:
            pipe.zadd(RETRY, {msgpack.packb(retry, use_bin_type=True): due_ms})
        pipe.xadd(log_key(hook_id), {"d": msgpack.packb(log, use_bin_type=True)}, maxlen=LOG_MAX, approximate=True)
        pipe.xack(OUTBOX, GROUP, entry_id)
        pipe.xdel(OUTBOX, entry_id)
        await pipe.execute()

    async def requeue_due(self, now_ms: int, count: int = 100) -> int:
        return int(await self._due(keys=[RETRY, OUTBOX], args=[now_ms, count]))

    async def backlog(self) -> tuple[int, int]:
        """(entries waiting in the outbox, deliveries waiting to be retried)."""
        pipe = self.redis.pipeline(transaction=False)
        pipe.xlen(OUTBOX)
        pipe.zcard(RETRY)
        waiting, retrying = await pipe.execute()
        return int(waiting), int(retrying)

    async def deliveries(self, hook_id: str, limit: int) -> list[dict[str, Any]]:
        out = []
        for entry_id, fields in await self.redis.xrevrange(log_key(hook_id), count=limit):
            item = msgpack.unpackb(fields[b"d"], raw=False)
            item["log_id"] = entry_id.decode()
            out.append(item)
        return out

    # ---- member data (chatserver.member_data) -------------------------------------------------

    async def export_member(self, scope: MemberScope) -> dict[str, list[Any]]:
        return {}  # deliveries about the member are the audit entries the export lists

    async def forget_member(self, scope: MemberScope) -> dict[str, int]:
        """Deliveries waiting, waiting to be retried or logged that name the member name the
        pseudonym instead (the receiver still gets the event)."""
        changed = 0
        needle = scope.user.encode()
        # The outbox keeps its consumer group: a renamed copy is queued, the entry removed
        # (a process delivering it meanwhile delivers it once more: at least once).
        for entry_id, fields in await self.redis.xrange(OUTBOX):
            raw = fields.get(b"d", b"")
            if needle in raw and names(item := msgpack.unpackb(raw, raw=False), scope.user):
                pipe = self.redis.pipeline(transaction=False)
                pipe.xadd(OUTBOX, {"d": msgpack.packb(rename(item, scope.user, scope.alias), use_bin_type=True)})
                pipe.xack(OUTBOX, GROUP, entry_id)
                pipe.xdel(OUTBOX, entry_id)
                await pipe.execute()
                changed += 1
        async for found in scan(self.redis, "wh:{wh}:log:*"):
            for key in found:
                changes: list[Any] = []
                for entry_id, fields in await self.redis.xrange(key):
                    raw = fields.get(b"d", b"")
                    if needle in raw and names(item := msgpack.unpackb(raw, raw=False), scope.user):
                        changes += [entry_id, msgpack.packb(rename(item, scope.user, scope.alias), use_bin_type=True)]
                if changes:
                    changed += int(await self._rewrite(keys=[key], args=changes))
        for member, due in await self.redis.zrange(RETRY, 0, -1, withscores=True):
            if needle in member and names(item := msgpack.unpackb(member, raw=False), scope.user):
                pipe = self.redis.pipeline(transaction=False)
                pipe.zrem(RETRY, member)
                pipe.zadd(RETRY, {msgpack.packb(rename(item, scope.user, scope.alias), use_bin_type=True): due})
                await pipe.execute()
                changed += 1
        return {"webhook_deliveries": changed}


def _entries(raw: list[Any]) -> list[tuple[str, dict[str, Any]]]:
    out = []
    for entry_id, fields in raw:
        if not fields or b"d" not in fields:
            continue
        out.append((entry_id.decode(), msgpack.unpackb(fields[b"d"], raw=False)))
    return out
