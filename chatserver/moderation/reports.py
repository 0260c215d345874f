"""Member reports: a member reports a message with a reason; the report lands in the
room's moderator feed (``report.created``) and its open-reports list. When
``report_threshold`` distinct members (not the author) have reported a message, it is hidden
pending review: removed from the room like a deletion (``message.deleted`` with
``pending_review: true``) and held as kind ``reported``; approving the hold restores it,
rejecting it keeps it removed.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Protocol

import msgpack

from chatserver.moderation.actions import FoundMessage, reason_of
from chatserver.moderation.audit import SYSTEM, Actor
from chatserver.moderation.errors import bad_request
from chatserver.moderation.records import HoldRecord
from rooms.model import Room
from rooms.retention import setting

if TYPE_CHECKING:
    from chatserver.extension import ExtensionContext
    from chatserver.moderation.actions import ModeratorActions
    from chatserver.moderation.audit import AuditLog
    from chatserver.moderation.holds import HoldQueue
    from chatserver.redis.moderation_store import RedisModerationStore
    from moderation_hooks import Policy


class ReportsHost(Protocol):
    """What member reports use of the moderation service."""

    ext: ExtensionContext
    audit: AuditLog
    actions: ModeratorActions
    holds: HoldQueue

    def policy_for(self, room: Room) -> Policy: ...

    async def publish_feed(self, channel: str, event: dict[str, Any]) -> None: ...

log = logging.getLogger("chatserver.moderation.reports")

CONCERN = "concern"  # "I'm worried about this person": a crisis case for the author, nothing hidden
ConcernHandler = Callable[[Actor, Room, FoundMessage], Awaitable[dict[str, Any]]]


class Reports:
    def __init__(self, service: ReportsHost, store: RedisModerationStore) -> None:
        self.service = service
        self.ext = service.ext
        self.store = store
        self.received = 0
        self.hidden = 0
        self.on_concern: ConcernHandler | None = None  # set by crisis response

    def use_concern(self, handler: ConcernHandler) -> None:
        self.on_concern = handler

    async def report(self, reporter: Actor, room: Room, *, offset: Any = None, message_id: Any = None, reason: Any = None) -> dict[str, Any]:
        reason_text = reason_of(reason, required=True)
        found = await self.service.actions.find_message(room, offset, message_id)
        author = str(found.event.get("user", ""))
        if author == reporter.user:
            raise bad_request("you cannot report your own message")
        if reason_text.lower() == CONCERN and self.on_concern is not None:
            # Not a report: never counted towards hiding, never in the report queue.
            return await self.on_concern(reporter, room, found)
        community = self.ext.catalog.communities.get(room.community)
        ttl = setting(community, room, "records_ttl", room.settings.history_ttl)
        report = {"reason": reason_text, "at": int(time.time() * 1000), "name": reporter.name}
        count = await self.store.add_report(
            room.channel, found.offset, reporter.user, msgpack.packb(report, use_bin_type=True), ttl
        )
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
        await self.service.audit.append(
            room.community,
            "report",
            reporter,
            target={"user": author, "channel": room.channel, "message_id": found.event.get("id", ""), "offset": found.offset},
            reason=reason_text,
            text=str(found.event.get("text", "")),
            details={"reporters": count},
        )
        threshold = self.service.policy_for(room).report_threshold
        hidden = False
        if count >= threshold and await self.store.claim_hide(room.channel, found.offset, ttl):
            hidden = await self._hide(room, found, count)
        return {"status": "reported", "channel": room.channel, "offset": found.offset, "hidden": hidden}

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
            reason=f"{count} members reported this message",
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
