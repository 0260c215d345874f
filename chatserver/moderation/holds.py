"""The hold queue's flows: hold an item, approve (as written or edited), reject, expire.

Every flow tells the sender (``moderation.*`` notices on ``user#<id>``), updates the room's
moderator feed (``hold.created`` / ``hold.resolved``) and writes the audit log. Publishing
an approved item is pluggable per kind: ``register_kind(kind, on_approve)`` with
``async on_approve(hold, text, actor) -> dict`` (returned details, e.g. the offset, are kept
in the hold's resolution and sent to the sender). Kinds registered here: ``message`` (a room
post) and ``reported`` (a message hidden by member reports: approving restores it).
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Protocol

from chatserver.moderation import notices
from chatserver.moderation.audit import SYSTEM, Actor, AuditLog
from chatserver.moderation.errors import ModerationError as HoldError
from chatserver.moderation.records import CrisisSignal, HoldRecord
from chatserver.protocol import codes
from moderation_hooks import Hold, Redact, Review, Support
from rooms.retention import setting

_REASON_CODE = re.compile(r"[a-z_]{1,40}")

if TYPE_CHECKING:
    from chatserver.extension import ExtensionContext
    from chatserver.moderation.watchers import ModeratorWatchers
    from chatserver.redis.moderation_store import RedisHoldStore
    from moderation_hooks import ModerationConfig, Policy
    from rooms.model import Room


class HoldsHost(Protocol):
    """What the hold queue uses of the moderation service."""

    ext: ExtensionContext
    config: ModerationConfig
    watchers: ModeratorWatchers

    def policy_for(self, room: Room) -> Policy: ...

    async def signal_crisis(self, signal: CrisisSignal) -> None: ...

log = logging.getLogger("chatserver.moderation.holds")

OnApprove = Callable[[HoldRecord, str, Actor], Awaitable[dict[str, Any]]]
SWEEP_SECONDS = 1.0


def crisis_hold(review: Review) -> Hold | Support | None:
    """The verdict that carries support resources (a crisis ``Hold`` or a ``Support``), if
    any hook gave one, whichever verdict decided."""
    return review.support()


def redaction_spans(review: Review) -> list[tuple[int, int, str]]:
    spans: list[tuple[int, int, str]] = []
    for _, verdict in review.verdicts:
        if isinstance(verdict, Redact):
            spans.extend((s.start, s.end, s.label) for s in verdict.spans)
    return spans


class HoldQueue:
    def __init__(self, service: HoldsHost, store: RedisHoldStore, audit: AuditLog) -> None:
        self.service = service
        self.ext = service.ext
        self.store = store
        self.audit = audit
        self.kinds: dict[str, OnApprove] = {}
        self.created = 0
        self.expired = 0
        self._task: asyncio.Task[None] | None = None

    def register_kind(self, kind: str, on_approve: OnApprove) -> None:
        if kind in self.kinds:
            raise ValueError(f"hold kind {kind!r} registered twice")
        self.kinds[kind] = on_approve

    # ---- holding ---------------------------------------------------------------------------

    async def hold(self, record: HoldRecord, review: Review | None = None) -> tuple[HoldRecord, bool]:
        """Store ``record`` (once per client message id) and tell everyone who must know.
        Returns the stored record (the first one, for a retry) and whether it is new."""
        room = self.ext.catalog.rooms.get(record.channel)
        policy = self.service.policy_for(room) if room is not None else self.service.config.policy
        now_ms = int(time.time() * 1000)
        record.created_ms = record.created_ms or now_ms
        record.expires_ms = record.created_ms + policy.hold_expiry * 1000
        crisis = crisis_hold(review) if review is not None else None
        if crisis is not None:
            record.priority = "high"
            record.category = "crisis"
        if policy.escalate:
            record.escalated = await self.service.watchers.online(record.channel) == 0
        hold_ttl = policy.hold_expiry + self.service.config.hold_retention
        idem_ttl = policy.hold_expiry + self.ext.settings.idempotency_ttl
        hold_id, created = await self.store.create(record, hold_ttl, idem_ttl)
        if not created:
            existing = await self.store.get(record.channel, hold_id)
            return (existing or record), False
        self.created += 1
        # The sender first: support resources at once when a crisis hook fired.
        if crisis is not None:
            await self._notify(record.user, notices.support(record, crisis))
            # A case names its member: none for an anonymous question (only qa.trace, which
            # is audited, ties it to its asker; moderators see the high-priority hold). The
            # case keeps the text as members would see it.
            if not record.anonymous:
                await self.service.signal_crisis(
                    CrisisSignal(
                        record.community, record.user, record.name, record.channel, record.redacted_text,
                        crisis.reason, "hold", hold_id=record.id,
                        kind="third_party" if crisis.subject == "third_party" else "self",
                    )
                )
        # The support notice already spoke to a member in crisis; the held notice stays plain.
        note = ""
        if crisis is None and review is not None and isinstance(review.verdict, Hold):
            note = review.verdict.notice
        await self._notify(record.user, notices.held(record, note))
        await self._feed(record.channel + "/mod", {"type": "hold.created", "hold": record.public(original=False)})
        if record.escalated:
            await self._feed(f"{record.community}/mod", {"type": "hold.escalated", "hold": record.public(original=False)})
        return record, True

    # ---- resolving ---------------------------------------------------------------------------

    async def _load(self, channel: str, hold_id: Any) -> HoldRecord:
        if not isinstance(hold_id, str) or not hold_id or len(hold_id) > 64:
            raise HoldError(codes.BAD_REQUEST, "bad request: hold id required", 400)
        record = await self.store.get(channel, hold_id)
        if record is None:
            raise HoldError(codes.BAD_REQUEST, f"bad request: no hold {hold_id} in {channel}", 404)
        return record

    def _conflict(self, record: HoldRecord, status: str) -> HoldError:
        return HoldError(codes.BAD_REQUEST, f"bad request: hold {record.id} is already {status}", 409)

    async def approve(self, actor: Actor, channel: str, hold_id: Any, text: Any = None) -> dict[str, Any]:
        record = await self._load(channel, hold_id)
        if text is not None and (not isinstance(text, str) or not text.strip()):
            raise HoldError(codes.BAD_REQUEST, "bad request: an edited text must be a non-empty string", 400)
        if record.status == "approved":
            return {**record.public(), "already": True}
        if record.status != "pending":
            raise self._conflict(record, record.status)
        room = self.ext.catalog.rooms.get(channel)
        edited = text is not None and text.strip() != record.text
        final = text.strip() if text is not None else record.redacted_text
        if room is not None and len(final) > room.settings.max_message_length:
            raise HoldError(codes.BAD_REQUEST, f"bad request: text longer than {room.settings.max_message_length}", 400)
        publish = self.kinds.get(record.kind)
        if publish is None:
            raise HoldError(codes.NOT_AVAILABLE, f"not available: nothing publishes held items of kind {record.kind!r}", 409)
        resolution: dict[str, Any] = {"by": actor.to_dict(), "at": int(time.time() * 1000), "edited": edited}
        before, changed = await self.store.resolve(record, "pending", "approved", resolution)
        if not changed:
            if before == "approved":
                fresh = await self.store.get(channel, hold_id)
                return {**(fresh or record).public(), "already": True}
            raise self._conflict(record, before or "gone")
        try:
            published = await publish(record, final, actor)
        except Exception:
            await self.store.resolve(record, "approved", "pending", None)
            raise
        resolution["published"] = published
        record.status = "approved"
        record.resolution = resolution
        await self._settle(record)
        await self._notify(record.user, notices.approved(record, final, edited, published))
        await self._feed(channel + "/mod", notices.resolved(record, actor))
        await self.audit.append(
            record.community,
            "hold.approve",
            actor,
            target=_target(record),
            text=final,
            details={"edited": True} if edited else {"published": published},
        )
        return record.public()

    async def reject(
        self, actor: Actor, channel: str, hold_id: Any, reason: Any, reason_code: Any = None
    ) -> dict[str, Any]:
        """``reason_code`` (optional): the preset the reason came from (``[a-z_]{1,40}``), sent
        on to the member so her client says the reason in her language."""
        if not isinstance(reason, str) or not reason.strip() or len(reason) > 500:
            raise HoldError(codes.BAD_REQUEST, "bad request: a reason (1-500 characters) is required; the sender sees it", 400)
        if reason_code is not None and (not isinstance(reason_code, str) or not _REASON_CODE.fullmatch(reason_code)):
            raise HoldError(codes.BAD_REQUEST, "bad request: reason_code must be 1-40 lower-case letters or _", 400)
        record = await self._load(channel, hold_id)
        if record.status == "rejected":
            return {**record.public(), "already": True}
        if record.status != "pending":
            raise self._conflict(record, record.status)
        resolution = {"by": actor.to_dict(), "at": int(time.time() * 1000), "reason": reason.strip()}
        if reason_code:
            resolution["reason_code"] = reason_code
        before, changed = await self.store.resolve(record, "pending", "rejected", resolution)
        if not changed:
            raise self._conflict(record, before or "gone")
        record.status = "rejected"
        record.resolution = resolution
        await self._settle(record)
        await self._notify(record.user, notices.rejected(record, reason.strip(), reason_code or ""))
        await self._feed(channel + "/mod", notices.resolved(record, actor))
        await self.audit.append(
            record.community, "hold.reject", actor, target=_target(record), reason=reason.strip(), text=record.redacted_text
        )
        return record.public()

    async def _settle(self, record: HoldRecord) -> None:
        """A resolved hold keeps only the text as members would see it (unless the community
        keeps originals, ``keep_original_text``) and lives ``records_ttl`` seconds."""
        catalog = self.ext.catalog
        room = catalog.rooms.get(record.channel)
        community = catalog.communities.get(record.community)
        ttl = setting(community, room, "records_ttl", self.service.config.hold_retention)
        keep = setting(community, room, "keep_original_text", 0)
        if keep:
            ttl = ttl if keep < 0 else keep
        else:
            record.drop_original()
        await self.store.settle(record, ttl)

    # ---- expiry --------------------------------------------------------------------------------

    async def start(self) -> None:
        self._task = asyncio.ensure_future(self._sweep_loop())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()

    async def _sweep_loop(self) -> None:
        while True:
            await asyncio.sleep(SWEEP_SECONDS)
            try:
                await self.sweep()
            except Exception:
                self.ext.tasks.log_failure(log, "hold expiry sweep failed")

    async def sweep(self) -> int:
        """Expire holds whose review time has passed (any process may run this; the
        compare-and-set in hold_resolve.lua makes sure each hold expires once)."""
        done = 0
        for channel, hold_id, member in await self.store.due(int(time.time() * 1000)):
            record = await self.store.get(channel, hold_id)
            if record is not None and record.status == "pending":
                resolution = {"by": SYSTEM.to_dict(), "at": int(time.time() * 1000)}
                _, changed = await self.store.resolve(record, "pending", "expired", resolution)
                if changed:
                    done += 1
                    self.expired += 1
                    record.status = "expired"
                    record.resolution = resolution
                    await self._settle(record)
                    await self._notify(record.user, notices.expired(record))
                    await self._feed(channel + "/mod", notices.resolved(record, SYSTEM))
                    await self.audit.append(
                        record.community, "hold.expire", SYSTEM, target=_target(record), text=record.redacted_text
                    )
            await self.store.forget_due(member)
        return done

    # ---- delivery helpers ------------------------------------------------------------------

    async def _notify(self, user: str, event: dict[str, Any]) -> None:
        try:
            await self.ext.notifier.notify_user(user, event)
        except Exception:
            log.exception("could not notify a member of %s", event.get("type"))  # names nobody

    async def _feed(self, channel: str, event: dict[str, Any]) -> None:
        try:
            await self.ext.notifier.publish_event(channel, event)
        except Exception:
            log.exception("could not publish %s to %s", event.get("type"), channel)


def _target(record: HoldRecord) -> dict[str, Any]:
    return {
        "user": record.seen_by()[0],
        "channel": record.channel,
        "hold_id": record.id,
        "kind": record.kind,
        "message_id": record.payload.get("message_id", record.id),
    }
