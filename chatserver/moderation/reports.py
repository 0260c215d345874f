"""Member reports: a member reports a message with a reason; the report lands in the
room's moderator feed (``report.created``) and its open-reports list. When
``report_threshold`` distinct members (not the author) have reported a message, it is hidden
pending review: removed from the room like a deletion (``message.deleted`` with
``pending_review: true``) and held as kind ``reported``; approving the hold restores it,
rejecting it keeps it removed.

Issue 23: only reporters with standing count toward hiding (``report_min_posts`` posts in
the community, an account ``report_min_age`` seconds old; staff always); other reports still
reach moderators. A reporter files at most ``report_cap`` reports an hour (111 after, per
process). Hiding alerts moderators on the room's and the community's feeds
(``report.hidden``). The audit keeps one ``report`` entry per reporter per window, then a
``report.summary``.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections import deque
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Protocol

import msgpack

from chatserver.errors import ReplyError
from chatserver.moderation.actions import FoundMessage, reason_of
from chatserver.moderation.audit import SYSTEM, Actor
from chatserver.moderation.errors import bad_request
from chatserver.moderation.records import HoldRecord
from chatserver.protocol import codes
from rooms.model import Room
from rooms.retention import setting

if TYPE_CHECKING:
    from chatserver.extension import ExtensionContext
    from chatserver.moderation.actions import ModeratorActions
    from chatserver.moderation.audit import AuditLog
    from chatserver.moderation.denied import DeniedAttempts
    from chatserver.moderation.holds import HoldQueue
    from chatserver.moderation.pipelines import RoomPipelines
    from chatserver.stores import ModerationStore
    from moderation_hooks import Policy


class ReportsHost(Protocol):
    """What member reports use of the moderation service."""

    ext: ExtensionContext
    audit: AuditLog
    actions: ModeratorActions
    holds: HoldQueue
    denied: DeniedAttempts
    pipelines: RoomPipelines

    def policy_for(self, room: Room) -> Policy: ...

    async def publish_feed(self, channel: str, event: dict[str, Any]) -> None: ...

log = logging.getLogger("chatserver.moderation.reports")

CONCERN = "concern"  # "I'm worried about this person": a crisis case for the author, nothing hidden
ConcernHandler = Callable[[Actor, Room, FoundMessage], Awaitable[dict[str, Any]]]


class Reports:
    def __init__(self, service: ReportsHost, store: ModerationStore) -> None:
        self.service = service
        self.ext = service.ext
        self.store = store
        self.received = 0
        self.hidden = 0
        self.capped = 0  # reports refused by report_cap
        self._recent: dict[tuple[str, str], deque[float]] = {}
        self.on_concern: ConcernHandler | None = None  # set by crisis response

    def use_concern(self, handler: ConcernHandler) -> None:
        self.on_concern = handler

    async def report(
        self, reporter: Actor, room: Room, *, offset: Any = None, message_id: Any = None, reason: Any = None,
        since: int | None = None,
    ) -> dict[str, Any]:
        reason_text = reason_of(reason, required=True)
        policy = self.service.policy_for(room)
        self._cap(room.community, reporter.user, policy.report_cap)
        found = await self.service.actions.find_message(room, offset, message_id)
        author = str(found.event.get("user", ""))
        if author == reporter.user:
            raise bad_request("you cannot report your own message")
        if reason_text.lower() == CONCERN and self.on_concern is not None:
            # Not a report: never counted towards hiding, never in the report queue.
            return await self.on_concern(reporter, room, found)
        community = self.ext.catalog.communities.get(room.community)
        ttl = setting(community, room, "records_ttl", room.settings.history_ttl)
        # Only reporters with standing count toward hiding (issue 23); the report says which.
        standing = await self._standing(reporter, room.community, since, policy)
        report = {"reason": reason_text, "at": int(time.time() * 1000), "name": reporter.name, "standing": standing}
        count = await self.store.add_report(
            room.channel, found.offset, reporter.user, msgpack.packb(report, use_bin_type=True), ttl
        )
        counted = 0
        if standing and count >= policy.report_threshold:
            reports = (msgpack.unpackb(v, raw=False) for v in (await self.store.reports_of(room.channel, found.offset)).values())
            counted = sum(1 for r in reports if isinstance(r, dict) and r.get("standing", True))
        self.received += 1
        await self.service.publish_feed(
            room.channel + "/mod",
            {
                "type": "report.created",
                "channel": room.channel,
                "offset": found.offset,
                "message_id": found.event.get("id", ""),
                "user": author,
                "name": found.event.get("name", ""),
                "text": found.event.get("text", ""),
                "reporter": {"user": reporter.user, "name": reporter.name},
                "reason": reason_text,
                "count": count,
                "ts": report["at"],
            },
        )
        await self.service.denied.refuse(  # one entry per reporter per window, then a summary
            room.community, reporter, "chat.report",
            {"user": author, "channel": room.channel, "message_id": found.event.get("id", ""), "offset": found.offset},
            reason_text, action="report", summary="report.summary", text=str(found.event.get("text", "")),
            details={"reporters": count, "standing": standing},
        )
        hidden = False
        if standing and counted >= policy.report_threshold and await self.store.claim_hide(room.channel, found.offset, ttl):
            hidden = await self._hide(room, found, counted)
        return {"status": "reported", "channel": room.channel, "offset": found.offset, "hidden": hidden}

    def _cap(self, community: str, user: str, cap: int) -> None:
        """At most ``cap`` reports per reporter per hour (in this process), then 111."""
        now = time.monotonic()
        recent = self._recent.setdefault((community, user), deque())
        while recent and now - recent[0] > 3600:
            recent.popleft()
        if len(recent) >= cap:
            self.capped += 1
            raise ReplyError(codes.TOO_MANY_REQUESTS, f"too many requests: at most {cap} reports an hour; try again later")
        recent.append(now)
        if len(self._recent) > 50_000:  # forget reporters quiet for an hour
            for key in [k for k, q in self._recent.items() if not q or now - q[-1] > 3600]:
                del self._recent[key]

    async def _standing(self, reporter: Actor, community: str, since: int | None, policy: Policy) -> bool:
        """Staff always; a member when their account is ``report_min_age`` old (the token's
        ``account_created`` claim or ``iat``) and they posted ``report_min_posts`` messages."""
        if reporter.role in ("moderator", "admin"):
            return True
        if policy.report_min_age and (since is None or time.time() - since < policy.report_min_age):
            return False
        if policy.report_min_posts:
            return await self.service.pipelines.posts_of(community, reporter.user) >= policy.report_min_posts
        return True

    async def _hide(self, room: Room, found: FoundMessage, count: int) -> bool:
        msg_id = str(found.event.get("id", ""))
        event = {
            "type": "message.deleted",
            "id": msg_id,
            "offset": found.offset,
            "by": "reports",
            "pending_review": True,
            "ts": int(time.time() * 1000),
        }
        if not await self.service.actions.remove_from_room(room, found, event):
            return False
        self.hidden += 1
        record = HoldRecord(
            id=secrets.token_hex(8),
            kind="reported",
            channel=room.channel,
            user=str(found.event.get("user", "")),
            name=str(found.event.get("name", "")),
            role=str(found.event.get("role", "member")),
            text=str(found.event.get("text", "")),
            reason=f"{count} members with standing reported this message",
            category="reported",
            info=found.info,
            payload={"message_id": msg_id, "offset": found.offset, "event": found.event},
        )
        await self.service.holds.hold(record)
        await self.service.audit.append(
            room.community,
            "report.hide",
            SYSTEM,
            target={"user": record.user, "channel": room.channel, "message_id": msg_id, "offset": found.offset, "hold_id": record.id},
            reason=record.reason,
            text=record.text,
        )
        # Moderators are told at once, also those watching only the community's feed.
        alert = {
            "type": "report.hidden", "channel": room.channel, "offset": found.offset, "message_id": msg_id,
            "user": record.user, "hold_id": record.id, "reporters": count, "ts": int(time.time() * 1000),
        }
        for feed in (room.channel + "/mod", room.community + "/mod"):
            await self.service.publish_feed(feed, alert)
        return True

    async def open_reports(self, room: Room, limit: int = 100) -> list[dict[str, Any]]:
        out = []
        for offset, count, reporters in await self.store.open_reports(room.channel, limit):
            out.append(
                {
                    "offset": offset,
                    "count": count,
                    "reports": [
                        {"user": u.decode(), **msgpack.unpackb(v, raw=False)} for u, v in reporters.items()
                    ],
                }
            )
        return out

    async def dismiss(self, actor: Actor, room: Room, offset: Any, reason: Any = None) -> dict[str, Any]:
        if isinstance(offset, bool) or not isinstance(offset, int) or offset < 1:
            raise bad_request("offset must be a positive integer")
        reason_text = reason_of(reason)
        removed = await self.store.dismiss_reports(room.channel, offset)
        await self.service.audit.append(
            room.community, "report.dismiss", actor, target={"channel": room.channel, "offset": offset}, reason=reason_text
        )
        return {"dismissed": bool(removed), "channel": room.channel, "offset": offset}
