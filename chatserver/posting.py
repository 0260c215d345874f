"""Posting a member's message: validate, gate, moderate, then publish, hold or reject.

This is the one path every member message takes (protocol ``publish`` and rpc ``chat.send``).
Extension points:
- ``gates``: async ``(conn, room, draft) -> None``; raise ``ReplyError`` to refuse before
  moderation (mutes, bans, slow mode, stage mode).
- ``pipeline``: the ``moderation_hooks.Pipeline``; its verdict decides.
- ``hold``: async ``(conn, room, draft, review, message_id) -> dict`` stores a held message
  and returns details for the sender (``id`` and ``reason`` there, if given, replace the new
  message id and the verdict's reason in the result); without one installed, holds are
  refused safely.
- ``retry_lookups``: async ``(conn, room, draft) -> PostResult | None``, asked (before gates)
  when a message with a ``client_msg_id`` was not published before: a lookup that knows the
  id (e.g. a held message) answers the retry with the first attempt's result.
- ``observers``: async ``(conn, room, draft, review, result)`` called after every decision
  (audit log, counters).
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import orjson

from chatserver.errors import ReplyError
from chatserver.protocol import codes
from chatserver.publication import Publication, pack_payload
from moderation_hooks import (
    Hold,
    MessageContext,
    Pipeline,
    Redact,
    Reject,
    Review,
    apply_redactions,
)
from rooms.messages import Draft, InvalidMessage, message_event, parse_draft
from rooms.model import Role, Room
from rooms.policy import may_post

if TYPE_CHECKING:
    from chatserver.connection import Connection
    from chatserver.node import Node

log = logging.getLogger("chatserver.posting")

Gate = Callable[["Connection", Room, Draft], Awaitable[None]]
HoldHandler = Callable[["Connection", Room, Draft, Review, str], Awaitable[dict[str, Any]]]
Observer = Callable[["Connection", Room, Draft, Review, "PostResult"], Awaitable[None]]
ContextBuilder = Callable[["Connection", Room, Draft, MessageContext], Awaitable[MessageContext]]
RetryLookup = Callable[["Connection", Room, Draft], Awaitable["PostResult | None"]]


@dataclass
class PostResult:
    status: str  # published | redacted | held | rejected
    id: str
    offset: int = 0
    epoch: str = ""
    reason: str = ""
    hidden: list[str] = field(default_factory=list)
    duplicate: bool = False
    hold: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"status": self.status, "id": self.id}
        if self.offset:
            out["offset"] = self.offset
            out["epoch"] = self.epoch
        if self.reason:
            out["reason"] = self.reason
        if self.hidden:
            out["hidden"] = self.hidden
        if self.duplicate:
            out["duplicate"] = True
        if self.hold:
            out["hold"] = self.hold
        return out


def new_message_id() -> str:
    return secrets.token_hex(8)


class Poster:
    def __init__(self, node: Node) -> None:
        self.node = node
        self.gates: list[Gate] = []
        self.pipeline = Pipeline([])
        self.hold: HoldHandler | None = None
        self.observers: list[Observer] = []
        self.context_builders: list[ContextBuilder] = []
        self.retry_lookups: list[RetryLookup] = []

    async def post(self, conn: Connection, room: Room, data: Any) -> PostResult:
        assert conn.identity is not None
        member = conn.identity.member
        try:
            draft = parse_draft(data, room)
        except InvalidMessage as exc:
            raise ReplyError(codes.BAD_REQUEST, f"bad request: {exc}") from None
        denied = may_post(member, room)
        if denied is not None:
            if room.settings.locked and denied.code == codes.PERMISSION_DENIED.code and member.role_in(room.community):
                raise ReplyError(codes.ROOM_LOCKED, denied.reason)
            raise ReplyError(denied.code, denied.reason)
        if draft.client_msg_id:
            previous = await self.node.broker.published_offset(room.channel, member.user, draft.client_msg_id)
            if previous is not None:
                return await self._duplicate(room, draft, previous)
            for lookup in self.retry_lookups:
                earlier = await lookup(conn, room, draft)
                if earlier is not None:
                    return earlier
        for gate in self.gates:
            await gate(conn, room, draft)
        role = member.role_in(room.community) or Role.MEMBER
        ctx = MessageContext(
            text=draft.text,
            user=member.user,
            name=member.name,
            role=role,
            room=room,
            now=time.time(),
        )
        for build in self.context_builders:
            ctx = await build(conn, room, draft, ctx)
        review = await self.pipeline.review(ctx)
        verdict = review.verdict
        message_id = new_message_id()
        if isinstance(verdict, Reject):
            result = PostResult("rejected", message_id, reason=verdict.reason)
            await self._observe(conn, room, draft, review, result)
            raise ReplyError(codes.MODERATION_REJECTED, f"message not posted: {verdict.reason}")
        if isinstance(verdict, Hold):
            if self.hold is None:
                result = PostResult("rejected", message_id, reason="held messages are not enabled")
                await self._observe(conn, room, draft, review, result)
                raise ReplyError(codes.MODERATION_REJECTED, "message not posted: it needs review and no review queue is enabled")
            details = await self.hold(conn, room, draft, review, message_id)
            result = PostResult(
                "held",
                str(details.get("id", message_id)),
                reason=str(details.get("reason", verdict.reason)),
                hold=details,
                duplicate=bool(details.get("duplicate", False)),
            )
            await self._observe(conn, room, draft, review, result)
            return result
        text = draft.text
        hidden: list[str] = []
        if isinstance(verdict, Redact):
            text = apply_redactions(draft.text, verdict.spans)
            hidden = sorted({s.label for s in verdict.spans})
        published = await self.publish_message(
            room,
            conn,
            message_id=message_id,
            text=text,
            role=role,
            client_msg_id=draft.client_msg_id,
            redacted=hidden or None,
            reply_to=draft.reply_to,
        )
        status = "redacted" if hidden else "published"
        result = PostResult(
            status,
            message_id,
            offset=published.offset,
            epoch=published.epoch,
            reason=verdict.reason if isinstance(verdict, Redact) else "",
            hidden=hidden,
            duplicate=published.duplicate,
        )
        await self._observe(conn, room, draft, review, result)
        return result

    async def publish_message(
        self,
        room: Room,
        conn: Connection,
        *,
        message_id: str,
        text: str,
        role: Role,
        client_msg_id: str | None = None,
        redacted: list[str] | None = None,
        reply_to: str | None = None,
        extra: dict[str, Any] | None = None,
    ) -> Any:
        """Publish an accepted message into the room (history + fan-out, one Lua call)."""
        assert conn.identity is not None
        now_ms = int(time.time() * 1000)
        event = message_event(
            message_id=message_id,
            text=text,
            author=conn.identity.member,
            role=role,
            ts_ms=now_ms,
            client_msg_id=client_msg_id,
            redacted=redacted,
            reply_to=reply_to,
        )
        if extra:
            event.update(extra)
        sub = conn.subs.get(room.channel)
        info = conn.client_info(sub.chan_info if sub is not None else b"")
        payload = pack_payload(orjson.dumps(event), info=info, time_ms=now_ms)
        spec = self.node.resolver.resolve(room.channel)
        assert spec is not None
        published = await self.node.broker.publish(
            room.channel,
            payload,
            spec.history,
            idempotency=(conn.user, client_msg_id) if client_msg_id else None,
            idempotency_ttl=self.node.settings.idempotency_ttl,
        )
        if not published.duplicate:
            self.node.stats.published += 1
        return published

    async def _duplicate(self, room: Room, draft: Draft, offset: int) -> PostResult:
        message_id = ""
        hist = await self.node.broker.history(room.channel, offset - 1, 1)
        for entry in hist.entries:
            if entry.offset == offset:
                pub = Publication.unpack(room.channel, offset, hist.epoch, entry.payload)
                try:
                    message_id = orjson.loads(pub.data).get("id", "")
                except (orjson.JSONDecodeError, AttributeError):
                    message_id = ""
        return PostResult(
            "published", message_id, offset=offset, epoch=hist.epoch, duplicate=True
        )

    async def _observe(
        self, conn: Connection, room: Room, draft: Draft, review: Review, result: PostResult
    ) -> None:
        for observer in self.observers:
            try:
                await observer(conn, room, draft, review, result)
            except Exception:
                log.exception("post observer failed")
