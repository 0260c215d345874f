"""A held item as stored in Redis, and the store that keeps the hold queue.

``HoldRecord`` carries everything needed to review the item and to publish it later without
the author's connection: who (user, name, role, client info), what (original text, the
spans to redact, kind-specific ``payload``), why (reason, category, priority) and when.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import resources
from typing import Any

import msgpack
import redis.asyncio as aioredis

from chatserver.moderation import keys
from chatserver.moderation.audit import iso
from moderation_hooks import Span, apply_redactions


def load_lua(name: str) -> str:
    return resources.files("chatserver").joinpath("lua", name).read_text()


@dataclass
class HoldRecord:
    id: str
    kind: str  # "message", "question", "reported", ... (a key of the on-approve registry)
    channel: str  # the room channel "<community>:<room>"
    user: str
    name: str
    role: str
    text: str  # as written (moderators only)
    reason: str
    category: str = ""
    priority: str = "normal"
    created_ms: int = 0
    expires_ms: int = 0
    client_msg_id: str = ""
    reply_to: str = ""
    spans: list[tuple[int, int, str]] = field(default_factory=list)  # redactions to apply
    info: dict[str, Any] = field(default_factory=dict)  # client info for the publication
    payload: dict[str, Any] = field(default_factory=dict)  # kind-specific data
    escalated: bool = False
    status: str = "pending"  # pending | approved | rejected | expired
    resolution: dict[str, Any] = field(default_factory=dict)

    @property
    def community(self) -> str:
        return self.channel.partition(":")[0]

    @property
    def redacted_text(self) -> str:
        """The text as it would be published without an edit (PII hidden)."""
        spans = tuple(Span(s, e, label) for s, e, label in self.spans)
        return apply_redactions(self.text, spans) if spans else self.text

    def pack(self) -> bytes:
        body = {
            "id": self.id,
            "k": self.kind,
            "c": self.channel,
            "u": self.user,
            "n": self.name,
            "ro": self.role,
            "t": self.text,
            "re": self.reason,
            "ca": self.category,
            "p": self.priority,
            "cr": self.created_ms,
            "ex": self.expires_ms,
            "cm": self.client_msg_id,
            "rt": self.reply_to,
            "sp": [list(s) for s in self.spans],
            "i": self.info,
            "pl": self.payload,
            "es": self.escalated,
        }
        return msgpack.packb(body, use_bin_type=True)

    @classmethod
    def unpack(cls, raw: bytes, status: str = "pending", resolution: bytes | None = None) -> HoldRecord:
        b = msgpack.unpackb(raw, raw=False)
        return cls(
            id=b["id"],
            kind=b.get("k", "message"),
            channel=b["c"],
            user=b.get("u", ""),
            name=b.get("n", ""),
            role=b.get("ro", "member"),
            text=b.get("t", ""),
            reason=b.get("re", ""),
            category=b.get("ca", ""),
            priority=b.get("p", "normal"),
            created_ms=int(b.get("cr", 0)),
            expires_ms=int(b.get("ex", 0)),
            client_msg_id=b.get("cm", ""),
            reply_to=b.get("rt", ""),
            spans=[(int(s[0]), int(s[1]), str(s[2])) for s in b.get("sp", [])],
            info=b.get("i") or {},
            payload=b.get("pl") or {},
            escalated=bool(b.get("es", False)),
            status=status,
            resolution=msgpack.unpackb(resolution, raw=False) if resolution else {},
        )

    def public(self) -> dict[str, Any]:
        """What moderators see (JSON-safe): everything but the raw client info."""
        out: dict[str, Any] = {
            "id": self.id,
            "kind": self.kind,
            "channel": self.channel,
            "user": self.user,
            "name": self.name,
            "role": self.role,
            "text": self.text,
            "reason": self.reason,
            "category": self.category,
            "priority": self.priority,
            "created": self.created_ms,
            "expires": self.expires_ms,
            "expires_at": iso(self.expires_ms / 1000),
            "escalated": self.escalated,
            "status": self.status,
        }
        if self.spans:
            out["hidden"] = sorted({label for _, _, label in self.spans})
            out["redacted_text"] = self.redacted_text
        if self.client_msg_id:
            out["client_msg_id"] = self.client_msg_id
        if self.payload:
            out["payload"] = self.payload
        if self.resolution:
            out["resolution"] = self.resolution
        return out


class RedisHoldStore:
    """The hold queue in Redis: create once per client message id, resolve by
    compare-and-set, list the pending ones, and the global expiry index."""

    def __init__(self, client: aioredis.Redis) -> None:
        self.redis = client
        self._create = client.register_script(load_lua("hold_create.lua"))
        self._resolve = client.register_script(load_lua("hold_resolve.lua"))

    async def create(self, record: HoldRecord, hold_ttl: int, idem_ttl: int) -> tuple[str, bool]:
        hold_id, created = await self._create(
            keys=[
                keys.hold(record.channel, record.id),
                keys.hold_queue(record.channel),
                keys.hold_idempotency(record.channel, record.user, record.client_msg_id),
            ],
            args=[record.id, record.pack(), record.created_ms, hold_ttl, idem_ttl if record.client_msg_id else 0],
        )
        hold_id = hold_id.decode() if isinstance(hold_id, bytes) else str(hold_id)
        if created:
            await self.redis.zadd(keys.EXPIRING, {f"{record.channel}\n{record.id}": record.expires_ms})
        return hold_id, bool(created)

    async def get(self, channel: str, hold_id: str) -> HoldRecord | None:
        raw = await self.redis.hmget(keys.hold(channel, hold_id), "r", "s", "x")
        if raw[0] is None:
            return None
        return HoldRecord.unpack(raw[0], (raw[1] or b"pending").decode(), raw[2])

    async def by_client_msg_id(self, channel: str, user: str, client_msg_id: str) -> HoldRecord | None:
        hold_id = await self.redis.get(keys.hold_idempotency(channel, user, client_msg_id))
        if hold_id is None:
            return None
        return await self.get(channel, hold_id.decode())

    async def pending(self, channel: str, limit: int = 100) -> list[HoldRecord]:
        ids = await self.redis.zrange(keys.hold_queue(channel), 0, max(0, limit - 1))
        if not ids:
            return []
        pipe = self.redis.pipeline(transaction=False)
        for hold_id in ids:
            pipe.hmget(keys.hold(channel, hold_id.decode()), "r", "s", "x")
        out = []
        stale = []
        for hold_id, raw in zip(ids, await pipe.execute(), strict=True):
            if raw[0] is None:
                stale.append(hold_id)
                continue
            out.append(HoldRecord.unpack(raw[0], (raw[1] or b"pending").decode(), raw[2]))
        if stale:
            await self.redis.zrem(keys.hold_queue(channel), *stale)
        return out

    async def resolve(
        self, record: HoldRecord, expected: str, new: str, resolution: dict[str, Any] | None
    ) -> tuple[str, bool]:
        before, changed = await self._resolve(
            keys=[keys.hold(record.channel, record.id), keys.hold_queue(record.channel)],
            args=[
                record.id,
                expected,
                new,
                msgpack.packb(resolution, use_bin_type=True) if resolution else "",
                record.created_ms,
            ],
        )
        before = before.decode() if isinstance(before, bytes) else str(before)
        return before, bool(changed)

    async def set_resolution(self, record: HoldRecord, resolution: dict[str, Any]) -> None:
        await self.redis.hset(
            keys.hold(record.channel, record.id), "x", msgpack.packb(resolution, use_bin_type=True)
        )

    async def due(self, now_ms: int, limit: int = 100) -> list[tuple[str, str, bytes]]:
        members = await self.redis.zrangebyscore(keys.EXPIRING, "-inf", now_ms, start=0, num=limit)
        out = []
        for m in members:
            channel, _, hold_id = m.decode().partition("\n")
            out.append((channel, hold_id, m))
        return out

    async def forget_due(self, member: bytes) -> None:
        await self.redis.zrem(keys.EXPIRING, member)
