"""The moderation service of one process: wires the pipeline, gates, hold queue, actions,
reports and audit log into the node's Poster, and offers the same path to other extensions
(``moderate`` for Q&A questions and other kinds).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import orjson

from chatserver.errors import ReplyError
from chatserver.moderation import keys, notices
from chatserver.moderation.actions import ModeratorActions
from chatserver.moderation.audit import SYSTEM, Actor, AuditLog, iso
from chatserver.moderation.holds import HoldQueue, OnApprove, crisis_hold, redaction_spans
from chatserver.moderation.pipelines import RoomPipelines
from chatserver.moderation.records import HoldRecord, RedisHoldStore
from chatserver.moderation.reports import Reports
from chatserver.moderation.sanctions import Sanctions, kick_field
from chatserver.moderation.watchers import ModeratorWatchers
from chatserver.posting import PostResult, new_message_id
from chatserver.protocol import codes
from chatserver.publication import pack_payload
from moderation_hooks import (
    Allow,
    Hold,
    MessageContext,
    ModerationConfig,
    Policy,
    Redact,
    Reject,
    Review,
    apply_redactions,
)
from rooms.messages import Draft, message_event
from rooms.model import Member, Role, Room

if TYPE_CHECKING:
    from chatserver.connection import Connection
    from chatserver.node import Node

log = logging.getLogger("chatserver.moderation")

_VERDICT_ACTIONS = {"redacted": "verdict.redact", "held": "verdict.hold", "rejected": "verdict.reject"}


def actor_of(member: Member, community: str, via: str = "rpc") -> Actor:
    role = member.role_in(community)
    return Actor(member.user, member.name, role.value if role else "none", via)


@dataclass
class Outcome:
    """The result of ``ModerationService.moderate`` for an item of any kind."""

    status: str  # "publish" (text is ready to publish), "held", "rejected"
    text: str  # the text to publish (redacted if needed)
    review: Review
    hidden: list[str] = field(default_factory=list)
    hold: HoldRecord | None = None
    reason: str = ""


class ModerationService:
    def __init__(self, node: Node, config: ModerationConfig) -> None:
        self.node = node
        self.config = config
        self.pipelines = RoomPipelines(node, config)
        self.audit = AuditLog(node.redis, config.audit_retention)
        self.sanctions = Sanctions(node)
        self.watchers = ModeratorWatchers(node)
        self.store = RedisHoldStore(node.redis)
        self.holds = HoldQueue(self, self.store, self.audit)
        self.actions = ModeratorActions(self)
        self.reports = Reports(self)
        self.holds.register_kind("message", self._publish_held_message)
        self.holds.register_kind("reported", self.actions.restore_reported)
        self.crisis_alerts = 0

    # ---- public API for other extensions ----------------------------------------------------

    def register_hold_kind(self, kind: str, on_approve: OnApprove) -> None:
        """``async on_approve(hold: HoldRecord, text: str, actor: Actor) -> dict`` publishes an
        approved item of ``kind`` (``text`` is the moderator's edit or the redacted original)."""
        self.holds.register_kind(kind, on_approve)

    def policy_for(self, room: Room) -> Policy:
        return self.pipelines.for_room(room)[1]

    async def moderate(
        self,
        conn: Connection,
        room: Room,
        text: str,
        *,
        kind: str,
        item_id: str | None = None,
        client_msg_id: str | None = None,
        payload: dict[str, Any] | None = None,
    ) -> Outcome:
        """Run ``text`` of ``kind`` (e.g. "question") through the room's pipeline, with the
        same gates (ban, mute), holding, notices and audit as room messages. The caller
        publishes when ``status == "publish"``; a hold is published on approval by the
        on-approve registered for ``kind``. Raises ReplyError for a gate or a rejection."""
        assert conn.identity is not None
        member = conn.identity.member
        draft = Draft(text=text, client_msg_id=client_msg_id)
        await self.check_sanctions(conn, room, draft)
        role = member.role_in(room.community) or Role.MEMBER
        ctx = MessageContext(text=text, user=member.user, name=member.name, role=role, room=room, now=time.time(), kind=kind)
        ctx = await self._context(conn, room, draft, ctx)
        review = await self.pipelines.review(ctx)
        verdict = review.verdict
        item_id = item_id or new_message_id()
        if isinstance(verdict, Reject):
            await self.after_verdict(conn, room, draft, review, "rejected", item_id, kind=kind)
            raise ReplyError(codes.MODERATION_REJECTED, f"not posted: {verdict.reason}")
        if isinstance(verdict, Hold):
            record = self._record(conn, room, draft, review, item_id, kind, payload)
            record, created = await self.holds.hold(record, review)
            if created:
                self.pipelines.count_post(room, member.user)
                await self.after_verdict(conn, room, draft, review, "held", record.id, kind=kind)
            return Outcome("held", text, review, hold=record, reason=self._sender_reason(record, review))
        self.pipelines.count_post(room, member.user)
        out = text
        hidden: list[str] = []
        if isinstance(verdict, Redact):
            out = apply_redactions(text, verdict.spans)
            hidden = sorted({s.label for s in verdict.spans})
            await self.after_verdict(conn, room, draft, review, "redacted", item_id, kind=kind, text=out, hidden=hidden)
        return Outcome("publish", out, review, hidden=hidden)

    async def publish_feed(self, channel: str, event: dict[str, Any]) -> None:
        try:
            await self.node.publish_event(channel, event)
        except Exception:
            log.exception("could not publish %s to %s", event.get("type"), channel)

    # ---- wiring into the Poster -------------------------------------------------------------

    def attach(self) -> None:
        poster = self.node.poster
        poster.pipeline = self.pipelines
        poster.gates.append(self.check_sanctions)
        poster.context_builders.append(self._context)
        poster.hold = self._hold_message
        poster.observers.append(self._observe)
        poster.retry_lookups.append(self._retry)
        self.node.typing.gates.append(self.typing_gate)

    def typing_gate(self, conn: Connection, spec: Any) -> str | None:
        """Muted or banned members do not show as typing (they could not post anyway)."""
        assert conn.identity is not None
        member = conn.identity.member
        room = spec.room
        if room is None:
            return None
        role = member.role_in(room.community)
        if role is not None and role.is_staff:
            return None
        now = time.time()
        if self.sanctions.get("bans", room.community, member.user, now) is not None:
            return "banned"
        if self.sanctions.get("mutes", room.community, member.user, now) is not None:
            return "muted"
        return None

    async def check_sanctions(self, conn: Connection, room: Room, draft: Draft) -> None:
        """Gate: bans (1003), mutes (1002), kick blocks (103) from the local cache, then slow
        mode (1005) claimed atomically in Redis. Staff pass. A refused post still gets the
        crisis safety net: support resources and a moderator alert when it needs them."""
        assert conn.identity is not None
        member = conn.identity.member
        role = member.role_in(room.community)
        if role is not None and role.is_staff:
            return
        now = time.time()
        refusal: ReplyError | None = None
        ban = self.sanctions.get("bans", room.community, member.user, now)
        mute = self.sanctions.get("mutes", room.community, member.user, now)
        kick = self.sanctions.get("kicks", room.community, kick_field(room.name, member.user), now)
        if ban is not None:
            refusal = ReplyError(codes.BANNED, "banned from this community" + (f" until {iso(ban.until)}" if ban.until else ""))
        elif mute is not None:
            refusal = ReplyError(
                codes.MUTED, f"muted until {iso(mute.until)}" if mute.until else "muted until a moderator lifts it"
            )
        elif kick is not None:
            refusal = ReplyError(codes.PERMISSION_DENIED, f"permission denied: removed from this room until {iso(kick.until)}")
        elif room.settings.slow_mode > 0:
            key = keys.slow(room.channel, member.user)
            if not await self.node.command(b"SET", key, b"1", b"NX", b"PX", room.settings.slow_mode * 1000):
                wait_ms = max(1, int(await self.node.command(b"PTTL", key)))
                refusal = ReplyError(
                    codes.SLOW_MODE,
                    f"slow mode: next post allowed at {iso(now + wait_ms / 1000)} (in {-(-wait_ms // 1000)} s)",
                )
        if refusal is not None:
            await self._safety_net(conn, room, draft)
            raise refusal

    async def _safety_net(self, conn: Connection, room: Room, draft: Draft) -> None:
        pipeline, _ = self.pipelines.for_room(room)
        safety = pipeline.safety_pipeline()
        if not safety.hooks:
            return
        assert conn.identity is not None
        member = conn.identity.member
        role = member.role_in(room.community) or Role.MEMBER
        ctx = MessageContext(text=draft.text, user=member.user, name=member.name, role=role, room=room, now=time.time())
        ctx = await self.pipelines.add_facts(ctx, self._locale(member), record=False)
        review = await safety.review(ctx)
        crisis = crisis_hold(review)
        if crisis is not None:
            await self._crisis_alert(member, room, draft.text, crisis, "refused before review")

    async def _crisis_alert(self, member: Member, room: Room, text: str, crisis: Hold, why: str) -> None:
        self.crisis_alerts += 1
        try:
            await self.node.notify_user(member.user, notices.support_for(room.channel, crisis))
        except Exception:
            log.exception("could not send support resources to %s", member.user)
        await self.publish_feed(
            room.channel + "/mod",
            {
                "type": "crisis.alert",
                "priority": "high",
                "channel": room.channel,
                "user": member.user,
                "name": member.name,
                "text": text,
                "reason": f"{crisis.reason}; {why}",
                "ts": int(time.time() * 1000),
            },
        )
        await self.audit.append(
            room.community, "crisis.alert", SYSTEM, target={"user": member.user, "channel": room.channel},
            reason=f"{crisis.reason}; {why}", text=text,
        )

    @staticmethod
    def _locale(member: Member) -> str | None:
        locale = member.info.get("locale")
        return locale if isinstance(locale, str) and 0 < len(locale) <= 16 else None

    async def _context(self, conn: Connection, room: Room, draft: Draft, ctx: MessageContext) -> MessageContext:
        assert conn.identity is not None
        return await self.pipelines.add_facts(ctx, self._locale(conn.identity.member))

    def _record(
        self, conn: Connection, room: Room, draft: Draft, review: Review, item_id: str, kind: str, payload: dict[str, Any] | None
    ) -> HoldRecord:
        assert conn.identity is not None
        member = conn.identity.member
        verdict = review.verdict
        assert isinstance(verdict, Hold)
        body = dict(payload or {})
        if review.failures:
            body["failed_hooks"] = list(review.failures)
        return HoldRecord(
            id=item_id,
            kind=kind,
            channel=room.channel,
            user=member.user,
            name=member.name,
            role=(member.role_in(room.community) or Role.MEMBER).value,
            text=draft.text,
            reason=verdict.reason,
            category=verdict.category,
            priority=verdict.priority.value,
            client_msg_id=draft.client_msg_id or "",
            reply_to=draft.reply_to or "",
            spans=redaction_spans(review),
            info=self._client_info(conn, room),
            payload=body,
        )

    @staticmethod
    def _client_info(conn: Connection, room: Room) -> dict[str, Any]:
        """The info a publication of this sender carries (with the room's chan_info, if any),
        kept with a hold so the approved message looks like any other."""
        sub = conn.subs.get(room.channel)
        return conn.client_info(sub.chan_info if sub is not None else b"")

    @staticmethod
    def _sender_reason(record: HoldRecord, review: Review | None) -> str:
        if review is not None and isinstance(review.verdict, Hold) and review.verdict.notice:
            return review.verdict.notice
        return notices.held(record)["message"]

    async def _hold_message(self, conn: Connection, room: Room, draft: Draft, review: Review, message_id: str) -> dict[str, Any]:
        record = self._record(conn, room, draft, review, message_id, "message", None)
        record, created = await self.holds.hold(record, review)
        return {
            "id": record.id,
            "expires_at": iso(record.expires_ms / 1000),
            "reason": self._sender_reason(record, review),
            "duplicate": not created,
        }

    async def _retry(self, conn: Connection, room: Room, draft: Draft) -> PostResult | None:
        if not draft.client_msg_id:
            return None
        hold_id = await self.node.command(
            b"GET", keys.hold_idempotency(room.channel, conn.user, draft.client_msg_id)
        )
        if hold_id is None:
            return None
        record = await self.store.get(room.channel, hold_id.decode())
        if record is None:
            return None
        if record.status == "pending":
            return PostResult(
                "held", record.id, reason=notices.held(record)["message"], duplicate=True,
                hold={"id": record.id, "expires_at": iso(record.expires_ms / 1000), "duplicate": True},
            )
        if record.status == "approved":
            published = record.resolution.get("published", {})
            return PostResult("published", record.id, offset=int(published.get("offset", 0)), epoch=str(published.get("epoch", "")), duplicate=True)
        if record.status == "rejected":
            raise ReplyError(codes.MODERATION_REJECTED, f"message not posted: {record.resolution.get('reason', 'rejected by a moderator')}")
        raise ReplyError(codes.MODERATION_REJECTED, "message not posted: it expired without review; send it again with a new client_msg_id")

    async def _observe(self, conn: Connection, room: Room, draft: Draft, review: Review, result: PostResult) -> None:
        if result.duplicate:
            return
        if result.status in ("published", "redacted", "held"):
            self.pipelines.count_post(room, conn.user)
        if isinstance(review.verdict, Allow) and not review.failures:
            return
        text = apply_redactions(draft.text, review.verdict.spans) if isinstance(review.verdict, Redact) else None
        await self.after_verdict(conn, room, draft, review, result.status, result.id, text=text, hidden=result.hidden, offset=result.offset)

    async def after_verdict(
        self,
        conn: Connection,
        room: Room,
        draft: Draft,
        review: Review,
        status: str,
        item_id: str,
        *,
        kind: str = "message",
        text: str | None = None,
        hidden: list[str] | None = None,
        offset: int = 0,
    ) -> None:
        """Audit a non-allow verdict and tell the sender what they need to know."""
        assert conn.identity is not None
        member = conn.identity.member
        action = _VERDICT_ACTIONS.get(status)
        if action is None:
            return
        verdict = review.verdict
        deciding = [name for name, v in review.verdicts if not isinstance(v, Allow)]
        details: dict[str, Any] = {"hooks": deciding, "kind": kind}
        if review.failures:
            details["failures"] = list(review.failures)
        if hidden:
            details["hidden"] = hidden
        await self.audit.append(
            room.community,
            action,
            SYSTEM,
            target={"user": member.user, "channel": room.channel, "message_id": item_id, "offset": offset or None},
            reason=getattr(verdict, "reason", ""),
            text=draft.text,
            details=details,
        )
        if status == "redacted" and hidden:
            try:
                await self.node.notify_user(member.user, notices.redacted(room.channel, item_id, hidden, text or ""))
            except Exception:
                log.exception("could not tell %s about a redaction", member.user)
        if status == "rejected":
            crisis = crisis_hold(review)
            if crisis is not None:
                await self._crisis_alert(member, room, draft.text, crisis, "the message was rejected by another rule")

    # ---- publishing an approved message --------------------------------------------------------

    async def _publish_held_message(self, record: HoldRecord, text: str, actor: Actor) -> dict[str, Any]:
        spec = self.node.resolver.resolve(record.channel)
        if spec is None:
            raise ReplyError(codes.UNKNOWN_CHANNEL, f"unknown channel {record.channel}")
        now_ms = int(time.time() * 1000)
        author = Member(record.user, record.name, {})
        redacted = sorted({label for _, _, label in record.spans}) if text == record.redacted_text and record.spans else None
        event = message_event(
            message_id=record.id,
            text=text,
            author=author,
            role=Role(record.role) if record.role in {r.value for r in Role} else Role.MEMBER,
            ts_ms=now_ms,
            client_msg_id=record.client_msg_id or None,
            redacted=redacted,
            reply_to=record.reply_to or None,
        )
        if text != record.redacted_text:
            event["edited"] = True
        payload = pack_payload(orjson.dumps(event), info=record.info or None, time_ms=now_ms)
        published = await self.node.broker.publish(
            record.channel,
            payload,
            spec.history,
            idempotency=(record.user, record.client_msg_id or f"hold-{record.id}"),
            idempotency_ttl=self.node.settings.idempotency_ttl,
        )
        if not published.duplicate:
            self.node.stats.published += 1
        return {"offset": published.offset, "epoch": published.epoch, "message_id": record.id}
