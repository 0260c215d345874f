"""The moderation service of one process: wires the pipeline, gates, hold queue, actions,
reports and audit log into the node's Poster, and offers the same path to other extensions
(``moderate`` for Q&A questions and other kinds).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from chatserver.errors import ReplyError
from chatserver.moderation import notices
from chatserver.moderation.actions import ModeratorActions
from chatserver.moderation.audit import SYSTEM, Actor, AuditLog, iso
from chatserver.moderation.denied import DeniedAttempts
from chatserver.moderation.holds import HoldQueue, OnApprove, crisis_hold, redaction_spans
from chatserver.moderation.pipelines import RoomPipelines
from chatserver.moderation.records import CrisisSignal, HoldRecord
from chatserver.moderation.reports import ConcernHandler, Reports
from chatserver.moderation.sanctions import Sanctions, kick_field
from chatserver.moderation.watchers import ModeratorWatchers
from chatserver.posting import Held, Outcome, Published, Rejected, Sender, Submission
from chatserver.protocol import codes
from moderation_hooks import (
    Allow,
    Hold,
    Look,
    MessageContext,
    ModerationConfig,
    Policy,
    Review,
    Span,
    Support,
    apply_redactions,
)
from rooms.messages import Draft
from rooms.model import Member, Role, Room
from rooms.retention import setting

if TYPE_CHECKING:
    from chatserver.auth import Identity
    from chatserver.extension import ExtensionContext

log = logging.getLogger("chatserver.moderation")

CrisisListener = Callable[[CrisisSignal], Awaitable[None]]

_VERDICT_ACTIONS = {"redacted": "verdict.redact", "held": "verdict.hold", "rejected": "verdict.reject"}


def seen_text(sub: Submission, review: Review, outcome: Outcome) -> str:
    """The text as members saw it (published) or would have (held, rejected): personal
    details the hooks found are redacted."""
    if isinstance(outcome, Published):
        return outcome.text
    spans = tuple(Span(s, e, label) for s, e, label in redaction_spans(review))
    return apply_redactions(sub.text, spans) if spans else sub.text


def _reviewed(room: Room, record: HoldRecord, text: str, destination: Any, **fields: Any) -> Submission:
    """The submission of a held item a moderator approved (``text``: their edit or the
    redacted original, whose redaction labels it keeps)."""
    redacted = tuple(sorted({label for _, _, label in record.spans})) if text == record.redacted_text and record.spans else ()
    return Submission(
        room=room,
        author=Member(record.user, record.name, {}),
        role=Role(record.role) if record.role in {r.value for r in Role} else Role.MEMBER,
        text=text,
        destination=destination,
        item_id=record.id,
        reviewed=True,
        hidden=redacted,
        **fields,
    )


def actor_of(member: Member, community: str, via: str = "rpc") -> Actor:
    role = member.role_in(community)
    return Actor(member.user, member.name, role.value if role else "none", via)


class ModerationService:
    def __init__(self, ext: ExtensionContext, config: ModerationConfig) -> None:
        self.ext = ext
        self.config = config
        self.mstore = ext.stores.moderation()
        self.pipelines = RoomPipelines(ext, config, self.mstore)
        self.audit = AuditLog(self.mstore, config.audit_retention, config.audit_max_entries, self._audit_ttl)
        self.denied = DeniedAttempts(self.audit, config.denied_window)
        self.sanctions = Sanctions(ext, self.mstore)
        self.watchers = ModeratorWatchers(ext, self.mstore)
        self.store = ext.stores.holds()
        self.holds = HoldQueue(self, self.store, self.audit)
        self.actions = ModeratorActions(self, self.mstore)
        self.reports = Reports(self, self.mstore)
        self.holds.register_kind("message", self._publish_held_message)
        self.holds.register_kind("reported", self.actions.restore_reported)
        self.holds.register_kind("edit", self._apply_held_edit)
        self.crisis_alerts = 0
        self.crisis_looks: dict[str, int] = {}  # community -> "may need a look" items
        self._crisis_listeners: list[CrisisListener] = []

    def _audit_ttl(self, community: str) -> int:
        """A community's ``audit_ttl`` (seconds), else ``[moderation] audit_retention``."""
        return setting(self.ext.catalog.communities.get(community), None, "audit_ttl", self.config.audit_retention)

    # ---- public API for other extensions ----------------------------------------------------

    def register_hold_kind(self, kind: str, on_approve: OnApprove) -> None:
        """``async on_approve(hold: HoldRecord, text: str, actor: Actor) -> dict`` publishes an
        approved item of ``kind`` (``text`` is the moderator's edit or the redacted original)."""
        self.holds.register_kind(kind, on_approve)

    def use_resources(self, localize: Any, allow_numbers: Any) -> None:
        """A community's own resources for a member's locale (``localize(community, locale,
        verdict) -> verdict``) and the numbers in them (``allow_numbers(community)``), which
        no hook may redact."""
        self.pipelines.use_resources(localize, allow_numbers)

    def on_concern(self, handler: ConcernHandler) -> None:
        """``async handler(reporter, room, found)`` takes a member's "I'm worried about this
        person" (report reason ``concern``) instead of the report queue."""
        self.reports.use_concern(handler)

    def on_crisis(self, listener: CrisisListener) -> None:
        """``async listener(signal)`` for every crisis seen: held, posted for support, refused
        or rejected (crisis cases open from these)."""
        self._crisis_listeners.append(listener)

    async def signal_crisis(self, signal: CrisisSignal) -> None:
        for listener in self._crisis_listeners:
            try:
                await listener(signal)
            except Exception:
                log.exception("crisis listener failed for %s in %s", signal.user, signal.community)

    def policy_for(self, room: Room) -> Policy:
        return self.pipelines.for_room(room)[1]

    async def publish_feed(self, channel: str, event: dict[str, Any]) -> None:
        try:
            await self.ext.notifier.publish_event(channel, event)
        except Exception:
            log.exception("could not publish %s to %s", event.get("type"), channel)

    # ---- wiring into the Poster -------------------------------------------------------------

    def attach(self) -> None:
        poster = self.ext.poster
        poster.use_pipeline(self.pipelines)
        poster.add_gate(self.check_sanctions, kinds=("message", "question"))
        poster.add_gate(self.check_edit_sanctions, kinds=("edit",))
        poster.add_context_builder(self._context)
        poster.use_hold(self._hold)
        poster.add_observer(self._observe)
        poster.add_retry_lookup(self._retry)
        self.ext.typing.add_gate(self.typing_gate)

    def typing_gate(self, conn: Sender, spec: Any) -> str | None:
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

    async def check_edit_sanctions(self, conn: Sender, room: Room, draft: Draft) -> None:
        """Gate of a member's edit: bans, mutes and kick blocks as for a post; no slow mode
        (fixing a typo is not a new post)."""
        await self.check_sanctions(conn, room, draft, slow=False)

    async def check_sanctions(self, conn: Sender, room: Room, draft: Draft, slow: bool = True) -> None:
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
        elif slow and room.settings.slow_mode > 0:
            wait_ms = await self.mstore.claim_slow(room.channel, member.user, room.settings.slow_mode * 1000)
            if wait_ms:
                refusal = ReplyError(
                    codes.SLOW_MODE,
                    f"slow mode: next post allowed at {iso(now + wait_ms / 1000)} (in {-(-wait_ms // 1000)} s)",
                )
        if refusal is not None:
            await self.safety_net(conn, room, draft)
            raise refusal

    async def safety_net(self, conn: Sender, room: Room, draft: Draft) -> None:
        pipeline, _ = self.pipelines.for_room(room)
        safety = pipeline.safety_pipeline()
        if not safety.hooks:
            return
        assert conn.identity is not None
        member = conn.identity.member
        role = member.role_in(room.community) or Role.MEMBER
        ctx = MessageContext(text=draft.text, user=member.user, name=member.name, role=role, room=room, now=time.time())
        ctx = await self.pipelines.add_facts(ctx, self._locale(conn.identity), record=False)
        review = self.pipelines.localized(ctx, await safety.review(ctx))
        crisis = crisis_hold(review)
        if crisis is not None:
            spans = tuple(Span(s, e, label) for s, e, label in redaction_spans(review))
            text = apply_redactions(draft.text, spans) if spans else draft.text
            await self._crisis_alert(
                member, room, text, crisis, "refused before review", source="refused", anonymous=draft.anonymous
            )

    async def _crisis_alert(
        self,
        member: Member,
        room: Room,
        text: str,
        crisis: Hold | Support,
        why: str,
        published: Published | None = None,
        source: str = "support",
        anonymous: bool = False,
    ) -> None:
        """Support resources to the sender first, then a high-priority alert to the room's
        moderators (and the community's when none of the room's is online), then the audit
        log. ``published``: the message went out for peer support (moderate risk).
        ``text`` is as members would see it (personal details redacted); ``anonymous`` (an
        anonymous question): the alert and the audit entry name nobody (``qa.trace`` does)."""
        self.crisis_alerts += 1
        message_id = published.id if published is not None else ""
        try:
            await self.ext.notifier.notify_user(member.user, notices.support_for(room.channel, crisis, message_id))
        except Exception:
            log.exception("could not send support resources to a member")  # names nobody
        alert: dict[str, Any] = {
            "type": "crisis.alert",
            "priority": "high",
            "category": crisis.category,
            "channel": room.channel,
            "user": "" if anonymous else member.user,
            "name": "anonymous" if anonymous else member.name,
            "text": text,
            "reason": f"{crisis.reason}; {why}",
            "ts": int(time.time() * 1000),
        }
        if anonymous:
            alert["anonymous"] = True
        if published is not None:
            alert.update({"posted": True, "message_id": published.id, "offset": published.offset})
        await self.publish_feed(room.channel + "/mod", alert)
        if published is not None and await self.watchers.online(room.channel) == 0:
            await self.publish_feed(f"{room.community}/mod", dict(alert, escalated=True))
        target: dict[str, Any] = {"user": "" if anonymous else member.user, "channel": room.channel}
        if published is not None:
            target.update({"message_id": published.id, "offset": published.offset})
        await self.audit.append(
            room.community, "crisis.alert", SYSTEM, target=target, reason=f"{crisis.reason}; {why}", text=text,
        )
        if anonymous:
            return  # no case names the asker of an anonymous question (only qa.trace does)
        await self.signal_crisis(
            CrisisSignal(
                room.community, member.user, member.name, room.channel, text, crisis.reason, source,
                message_id=message_id, offset=published.offset if published is not None else 0,
                kind=crisis.subject if crisis.subject == "third_party" else "self",
            )
        )

    @staticmethod
    def _locale(identity: Identity) -> str | None:
        """The token's ``locale`` claim (or ``info.locale``), else the client's language."""
        return identity.locale or None

    async def _context(self, conn: Sender, room: Room, draft: Draft, ctx: MessageContext) -> MessageContext:
        assert conn.identity is not None
        return await self.pipelines.add_facts(ctx, self._locale(conn.identity))

    def _record(self, sub: Submission, review: Review, item_id: str) -> HoldRecord:
        verdict = review.verdict
        assert isinstance(verdict, Hold)
        body = dict(sub.payload or {})
        if review.failures:
            body["failed_hooks"] = list(review.failures)
        return HoldRecord(
            id=item_id,
            kind=sub.kind,
            channel=sub.room.channel,
            user=sub.author.user,
            name=sub.author.name,
            role=sub.role.value,
            text=sub.text,
            reason=verdict.reason,
            category=verdict.category,
            priority=verdict.priority.value,
            client_msg_id=sub.client_msg_id or "",
            reply_to=sub.reply_to or "",
            spans=redaction_spans(review),
            info=dict(sub.info or {}),
            payload=body,
        )

    @staticmethod
    def _sender_reason(record: HoldRecord, review: Review | None) -> str:
        if review is not None and isinstance(review.verdict, Hold) and review.verdict.notice:
            return review.verdict.notice
        return notices.held(record)["message"]

    async def _hold(self, sub: Submission, review: Review, item_id: str) -> Held:
        """The Poster's hold handler: store the item in the room's hold queue (once per
        client message id)."""
        record, created = await self.holds.hold(self._record(sub, review, item_id), review)
        reason = self._sender_reason(record, review)
        details = {"id": record.id, "expires_at": iso(record.expires_ms / 1000), "reason": reason, "duplicate": not created}
        return Held(record.id, reason, details, duplicate=not created, record=record)

    async def _retry(self, conn: Sender, room: Room, draft: Draft) -> Outcome | None:
        if not draft.client_msg_id:
            return None
        hold_id = await self.store.id_for_client_msg(room.channel, conn.user, draft.client_msg_id)
        if hold_id is None:
            return None
        record = await self.store.get(room.channel, hold_id)
        if record is None:
            return None
        if record.status == "pending":
            return Held(
                record.id, notices.held(record)["message"],
                {"id": record.id, "expires_at": iso(record.expires_ms / 1000), "duplicate": True},
                duplicate=True, record=record,
            )
        if record.status == "approved":
            published = record.resolution.get("published", {})
            return Published(record.id, offset=int(published.get("offset", 0)), epoch=str(published.get("epoch", "")), duplicate=True)
        if record.status == "rejected":
            raise ReplyError(codes.MODERATION_REJECTED, f"message not posted: {record.resolution.get('reason', 'rejected by a moderator')}")
        raise ReplyError(codes.MODERATION_REJECTED, "message not posted: it expired without review; send it again with a new client_msg_id")

    async def _observe(self, sub: Submission, review: Review, outcome: Outcome) -> None:
        """After every decision: count the member's post, audit a non-allow verdict, tell
        the sender of a redaction, alert moderators of crisis language in a rejection."""
        action = ""
        match outcome:
            case Published(duplicate=True) | Held(duplicate=True):
                return
            case Published() if isinstance(review.verdict, Support):
                action = "verdict.support"
            case Published() if isinstance(review.verdict, Look):
                action = "verdict.look"
            case Published(hidden=labels) if labels:
                action = "verdict.redact"
            case Held():
                action = "verdict.hold"
            case Rejected():
                action = "verdict.reject"
        if sub.counts_as_post and not isinstance(outcome, Rejected):
            self.pipelines.count_post(sub.room, sub.author.user, sub.author.name)
        if not action:
            return
        room = sub.room
        member = sub.author
        verdict = review.verdict
        deciding = [name for name, v in review.verdicts if not isinstance(v, Allow)]
        details: dict[str, Any] = {"hooks": deciding, "kind": sub.kind}
        if review.failures:
            details["failures"] = list(review.failures)
        if isinstance(verdict, Look) and verdict.evidence:
            details["evidence"] = list(verdict.evidence)[:10]
        hidden = list(outcome.hidden) if isinstance(outcome, Published) else []
        if hidden:
            details["hidden"] = hidden
        offset = outcome.offset if isinstance(outcome, Published) else 0
        # The audit keeps the text as members saw it (or would have: personal details
        # redacted), never the original; an anonymous question's entry names nobody.
        anonymous = sub.draft.anonymous  # an anonymous question: only qa.trace names the asker
        if anonymous:
            details["anonymous"] = True
        seen = seen_text(sub, review, outcome)
        await self.audit.append(
            room.community,
            action,
            SYSTEM,
            target={
                "user": "" if anonymous else member.user,
                "channel": room.channel,
                "message_id": outcome.id,
                "offset": offset or None,
            },
            reason=getattr(verdict, "reason", ""),
            text=seen,
            details=details,
        )
        if hidden:
            try:
                text = outcome.text if isinstance(outcome, Published) else ""
                await self.ext.notifier.notify_user(member.user, notices.redacted(room.channel, outcome.id, hidden, text))
            except Exception:
                log.exception("could not tell a member about a redaction")  # names nobody
        if isinstance(outcome, Rejected):
            crisis = crisis_hold(review)
            if crisis is not None:
                await self._crisis_alert(
                    member, room, seen, crisis, "the message was rejected by another rule",
                    source="rejected", anonymous=anonymous,
                )
        elif isinstance(outcome, Published) and isinstance(verdict, Support):
            why = (
                "posted: about someone else at risk" if verdict.subject == "third_party"
                else "posted for peer support (community policy)"
            )
            await self._crisis_alert(member, room, seen, verdict, why, published=outcome, anonymous=anonymous)
        elif isinstance(outcome, Published) and isinstance(verdict, Look):
            await self._look(member, room, seen, verdict, outcome, anonymous=anonymous)

    async def _look(
        self, member: Member, room: Room, text: str, look: Look, published: Published, anonymous: bool = False
    ) -> None:
        """"May need a look": the message is out and its author is told nothing; the
        community's moderators get a quiet, low-priority item with the evidence (``crisis.look``
        on ``<community>/mod``, kept in its history so a console that opens later sees it)."""
        self.crisis_looks[room.community] = self.crisis_looks.get(room.community, 0) + 1
        item: dict[str, Any] = {
            "type": "crisis.look",
            "priority": "low",
            "category": look.category,
            "channel": room.channel,
            "user": "" if anonymous else member.user,
            "name": "anonymous" if anonymous else member.name,
            "text": text,
            "reason": look.reason,
            "evidence": list(look.evidence)[:10],
            "message_id": published.id,
            "offset": published.offset,
            "ts": int(time.time() * 1000),
        }
        await self.publish_feed(f"{room.community}/mod", item)

    # ---- applying an approved edit ---------------------------------------------------------

    async def _apply_held_edit(self, record: HoldRecord, text: str, actor: Actor) -> dict[str, Any]:
        """A member's edit a moderator approved replaces the message's text in place."""
        room = self.ext.catalog.rooms.get(record.channel)
        if room is None:
            raise ReplyError(codes.UNKNOWN_CHANNEL, f"unknown channel {record.channel}")
        offset = int(record.payload.get("offset", 0))
        outcome = await self.ext.poster.submit(_reviewed(room, record, text, self.ext.poster.edit_to(offset), kind="edit"))
        assert isinstance(outcome, Published)
        return {"offset": outcome.offset, "message_offset": offset, "message_id": record.payload.get("message_id", "")}

    # ---- publishing an approved message --------------------------------------------------------

    async def _publish_held_message(self, record: HoldRecord, text: str, actor: Actor) -> dict[str, Any]:
        spec = self.ext.resolver.resolve(record.channel)
        room = spec.room if spec is not None else None
        if room is None:
            raise ReplyError(codes.UNKNOWN_CHANNEL, f"unknown channel {record.channel}")
        outcome = await self.ext.poster.submit(
            _reviewed(
                room,
                record,
                text,
                self.ext.poster.to_room,
                info=record.info or None,
                client_msg_id=record.client_msg_id or None,
                reply_to=record.reply_to or None,
                event_extra={"edited": True} if text != record.redacted_text else None,
            )
        )
        assert isinstance(outcome, Published)
        return {"offset": outcome.offset, "epoch": outcome.epoch, "message_id": record.id}
