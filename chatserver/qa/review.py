"""Hosts' answers pass the room's moderation pipeline, as room messages do.

``review`` builds a ``MessageContext`` (``kind="answer"``), runs the node's context builders
and pipeline (the moderation extension makes it the room's own pipeline) and returns the
outcome: publishable text (maybe redacted), held, or rejected; the caller refuses a held or
rejected answer with 1001 (an answer is not queued for review: the host rewrites it). Unlike
questions (``chatserver.qa.asking``), answers skip the room's posting gates: a host answering
is not slowed by the room's slow mode.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from moderation_hooks import Hold, MessageContext, Redact, Reject, Review, apply_redactions
from rooms.messages import Draft
from rooms.model import Role, Room

if TYPE_CHECKING:
    from chatserver.connection import Connection
    from chatserver.node import Node


@dataclass(frozen=True, slots=True)
class Outcome:
    status: str  # "ok" | "redacted" | "held" | "rejected"
    text: str
    review: Review
    hidden: tuple[str, ...] = ()
    reason: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def verdict(self) -> Any:
        return self.review.verdict


async def review(
    node: Node, conn: Connection, room: Room, text: str, *, kind: str, extra: dict[str, Any]
) -> Outcome:
    assert conn.identity is not None
    member = conn.identity.member
    ctx = MessageContext(
        text=text,
        user=member.user,
        name=member.name,
        role=member.role_in(room.community) or Role.MEMBER,
        room=room,
        now=time.time(),
        kind=kind,
        extra=dict(extra),
    )
    draft = Draft(text=text, client_msg_id=None)
    for build in node.poster.context_builders:
        ctx = await build(conn, room, draft, ctx)
    result = await node.poster.pipeline.review(ctx)
    verdict = result.verdict
    if isinstance(verdict, Reject):
        return Outcome("rejected", text, result, reason=verdict.reason)
    if isinstance(verdict, Hold):
        return Outcome("held", text, result, reason=verdict.reason)
    if isinstance(verdict, Redact):
        hidden = tuple(sorted({s.label for s in verdict.spans}))
        return Outcome("redacted", apply_redactions(text, verdict.spans), result, hidden, verdict.reason)
    return Outcome("ok", text, result)
