"""Live moderator actions: delete a message, remove a member's recent messages, mute,
kick, ban, slow mode, lock. Callers (RPC and HTTP) have already checked that the actor may
moderate the community; every action here writes the audit log and tells the member.

Deleting uses ``delete_message.lua``: the entry leaves the history stream, its offset joins
the removed-offsets set (recovery still returns all-or-nothing), and a ``message.deleted``
event is appended and published in the same call, so every connected client, on every
process, drops the message, and a client that recovers later learns of it too.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import orjson

from chatserver.engine import StreamEntry
from chatserver.moderation import notices
from chatserver.moderation.audit import Actor, iso
from chatserver.moderation.errors import bad_request, not_found
from chatserver.moderation.records import HoldRecord
from chatserver.moderation.sanctions import UNSUBSCRIBE_KICKED, Sanction, kick_field
from chatserver.posting import Placed, Published, Submission
from chatserver.publication import Publication, pack_payload
from rooms.model import Member, Role, Room

if TYPE_CHECKING:
    from chatserver.extension import ExtensionContext
    from chatserver.moderation.audit import AuditLog
    from chatserver.moderation.sanctions import Sanctions
    from chatserver.stores import ModerationStore
    from moderation_hooks import ModerationConfig, Policy


class ActionsHost(Protocol):
    """What moderator actions use of the moderation service."""

    ext: ExtensionContext
    config: ModerationConfig
    audit: AuditLog
    sanctions: Sanctions

    def policy_for(self, room: Room) -> Policy: ...

log = logging.getLogger("chatserver.moderation.actions")

MAX_REASON = 500


@dataclass(frozen=True, slots=True)
class FoundMessage:
    offset: int
    event: dict[str, Any]  # the message event (data of the publication)
    info: dict[str, Any]  # the publication's client info


def reason_of(value: Any, *, required: bool = False) -> str:
    if value is None or value == "":
        if required:
            raise bad_request("a reason is required")
        return ""
    if not isinstance(value, str) or len(value) > MAX_REASON:
        raise bad_request(f"reason must be a string of at most {MAX_REASON} characters")
    return value.strip()


def user_of(value: Any) -> str:
    if not isinstance(value, str) or not value or len(value) > 128 or "\n" in value:
        raise bad_request("user (a user id) is required")
    return value


class ModeratorActions:
    def __init__(self, service: ActionsHost, store: ModerationStore) -> None:
        self.service = service
        self.ext = service.ext
        self.store = store
        self.audit = service.audit
        self.sanctions = service.sanctions
        self.deleted = 0

    # ---- finding messages ----------------------------------------------------------------

    async def find_message(self, room: Room, offset: Any = None, message_id: Any = None) -> FoundMessage:
        channel = room.channel
        if offset is not None:
            if isinstance(offset, bool) or not isinstance(offset, int) or offset < 1:
                raise bad_request("offset must be a positive integer")
            found = await self.ext.streams.entry(channel, offset)
            entries = [found] if found is not None else []
        elif isinstance(message_id, str) and message_id:
            entries = await self._scan_for_id(channel, message_id)
        else:
            raise bad_request("give the message's offset (or its id)")
        for entry in entries:
            found_offset = entry.offset
            pub = Publication.unpack(channel, found_offset, "", entry.payload)
            try:
                event = orjson.loads(pub.data)
            except orjson.JSONDecodeError:
                continue
            if isinstance(event, dict) and event.get("type") == "message":
                return FoundMessage(found_offset, event, pub.info or {})
        raise not_found(f"no message {offset if offset is not None else message_id} in {channel} (removed or too old)")

    @staticmethod
    def _event_id(channel: str, payload: bytes) -> str:
        try:
            event = orjson.loads(Publication.unpack(channel, 0, "", payload).data)
        except orjson.JSONDecodeError:
            return ""
        return str(event.get("id", "")) if isinstance(event, dict) else ""

    async def _scan_for_id(self, channel: str, message_id: str) -> list[StreamEntry]:
        needle = message_id.encode()
        before: int | None = None
        scanned = 0
        limit = self.ext.settings.history_max_limit
        while scanned < 10 * limit:
            batch = await self.ext.streams.entries_before(channel, before, 200)
            if not batch:
                return []
            for entry in batch:
                if needle in entry.payload and self._event_id(channel, entry.payload) == message_id:
                    return [entry]
            scanned += len(batch)
            before = batch[-1].offset
            if before <= 1:
                return []
        return []

    # ---- delete ------------------------------------------------------------------------------

    async def remove_from_room(self, room: Room, found: FoundMessage, event: dict[str, Any]) -> int:
        """Run delete_message.lua; returns the deletion event's offset (0: already gone)."""
        spec = self.ext.resolver.resolve(room.channel)
        if spec is None:
            raise not_found(f"no room {room.channel}")
        now_ms = int(time.time() * 1000)
        payload = pack_payload(orjson.dumps(event), time_ms=now_ms)
        removed, event_offset = await self.ext.streams.delete(room.channel, found.offset, payload, spec.history)
        if not removed:
            return 0
        self.deleted += 1
        await self.store.forget_reports(room.channel, found.offset)
        return event_offset

    async def delete_message(
        self, actor: Actor, room: Room, *, offset: Any = None, message_id: Any = None, reason: Any = None, via: str = ""
    ) -> dict[str, Any]:
        reason_text = reason_of(reason)
        found = await self.find_message(room, offset, message_id)
        msg_id = str(found.event.get("id", ""))
        event = {
            "type": "message.deleted",
            "id": msg_id,
            "offset": found.offset,
            "by": actor.role if actor.role in ("moderator", "admin") else "moderator",
            "ts": int(time.time() * 1000),
        }
        event_offset = await self.remove_from_room(room, found, event)
        if not event_offset:
            raise not_found(f"message {found.offset} in {room.channel} was already removed")
        author = str(found.event.get("user", ""))
        await self.audit.append(
            room.community,
            "delete",
            actor,
            target={"user": author, "channel": room.channel, "message_id": msg_id, "offset": found.offset},
            reason=reason_text,
            text=str(found.event.get("text", "")),
            details={"via": via} if via else None,
        )
        if author and not via:
            await self._tell(author, notices.sanction("deleted", room.community, None, reason_text, channel=room.channel, id=msg_id))
        return {"deleted": True, "channel": room.channel, "id": msg_id, "offset": found.offset, "event_offset": event_offset}

    async def remove_recent(
        self, actor: Actor, community: str, user: Any, *, room: Room | None = None, seconds: Any = None, limit: Any = None, reason: Any = None
    ) -> dict[str, Any]:
        target = user_of(user)
        reason_text = reason_of(reason)
        window = self._int(seconds, "seconds", 1, 30 * 86_400, self.service.config.recent_window)
        most = self._int(limit, "limit", 1, 1000, 100)
        cutoff_ms = int((time.time() - window) * 1000)
        rooms = [room] if room is not None else self.ext.catalog.rooms_of(community)
        removed: list[dict[str, Any]] = []
        for r in rooms:
            for found in await self._recent_of(r, target, cutoff_ms, most - len(removed)):
                result = await self.delete_message(actor, r, offset=found.offset, reason=reason_text, via="remove_recent")
                removed.append({"channel": r.channel, "offset": result["offset"], "id": result["id"]})
            if len(removed) >= most:
                break
        await self.audit.append(
            community,
            "remove_recent",
            actor,
            target={"user": target, "channel": room.channel if room else ""},
            reason=reason_text,
            details={"removed": len(removed), "seconds": window},
        )
        if removed:
            await self._tell(target, notices.sanction("deleted", community, None, reason_text, count=len(removed)))
        return {"removed": removed, "count": len(removed)}

    async def _recent_of(self, room: Room, user: str, cutoff_ms: int, most: int) -> list[FoundMessage]:
        out: list[FoundMessage] = []
        if most <= 0:
            return out
        batch = await self.ext.streams.entries_before(room.channel, None, self.ext.settings.history_max_limit)
        needle = user.encode()
        for entry in batch:
            payload = entry.payload
            if needle not in payload:
                continue
            offset = entry.offset
            pub = Publication.unpack(room.channel, offset, "", payload)
            try:
                event = orjson.loads(pub.data)
            except orjson.JSONDecodeError:
                continue
            if not isinstance(event, dict) or event.get("type") != "message" or event.get("user") != user:
                continue
            if int(event.get("ts", 0)) < cutoff_ms:
                break
            out.append(FoundMessage(offset, event, pub.info or {}))
            if len(out) >= most:
                break
        return out

    # ---- sanctions ---------------------------------------------------------------------------

    def _int(self, value: Any, name: str, low: int, high: int, default: int | None) -> int:
        if value is None and default is not None:
            return default
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise bad_request(f"{name} must be an integer from {low} to {high}")
        return value

    async def mute(
        self, actor: Actor, community: str, user: Any, *, duration: Any = None, until_lifted: Any = False, reason: Any = None
    ) -> dict[str, Any]:
        target = user_of(user)
        reason_text = reason_of(reason)
        cfg = self.service.config
        now = time.time()
        seconds = 0
        if until_lifted is True and duration is None:
            until = 0.0
        elif duration is not None and until_lifted is not True:
            seconds = self._int(duration, "duration", cfg.mute_min, cfg.mute_max, None)
            until = float(math.ceil(now + seconds))  # whole seconds: the ISO time named is exact
        else:
            raise bad_request(
                f"give duration (seconds, {cfg.mute_min} to {cfg.mute_max}) or until_lifted: true"
            )
        await self.sanctions.put("mutes", community, target, Sanction(until, actor.user, reason_text, now))
        await self._tell(target, notices.sanction("muted", community, until, reason_text))
        await self.audit.append(
            community, "mute", actor, target={"user": target}, reason=reason_text,
            details={"until": iso(until) if until else None, "duration": seconds or None},
        )
        return {"user": target, "community": community, "until": iso(until) if until else None}

    async def unmute(self, actor: Actor, community: str, user: Any, reason: Any = None) -> dict[str, Any]:
        target = user_of(user)
        reason_text = reason_of(reason)
        lifted = await self.sanctions.lift("mutes", community, target)
        await self._tell(target, notices.sanction("unmuted", community, None, reason_text))
        await self.audit.append(community, "unmute", actor, target={"user": target}, reason=reason_text, details={"was_muted": lifted})
        return {"user": target, "community": community, "lifted": lifted}

    async def ban(
        self, actor: Actor, community: str, user: Any, *, duration: Any = None, reason: Any = None
    ) -> dict[str, Any]:
        target = user_of(user)
        reason_text = reason_of(reason)
        now = time.time()
        until = 0.0 if duration is None else float(math.ceil(now + self._int(duration, "duration", 60, 3650 * 86_400, None)))
        # The control message makes every process drop the user's subscriptions to this
        # community; subscribing again is refused with 1003 while the ban lasts.
        await self.sanctions.put("bans", community, target, Sanction(until, actor.user, reason_text, now))
        await self._tell(target, notices.sanction("banned", community, until, reason_text))
        await self.audit.append(
            community, "ban", actor, target={"user": target}, reason=reason_text,
            details={"until": iso(until) if until else None},
        )
        return {"user": target, "community": community, "until": iso(until) if until else None}

    async def unban(self, actor: Actor, community: str, user: Any, reason: Any = None) -> dict[str, Any]:
        target = user_of(user)
        reason_text = reason_of(reason)
        lifted = await self.sanctions.lift("bans", community, target)
        await self._tell(target, notices.sanction("unbanned", community, None, reason_text))
        await self.audit.append(community, "unban", actor, target={"user": target}, reason=reason_text, details={"was_banned": lifted})
        return {"user": target, "community": community, "lifted": lifted}

    async def kick(self, actor: Actor, room: Room, user: Any, reason: Any = None) -> dict[str, Any]:
        target = user_of(user)
        reason_text = reason_of(reason)
        block = self.service.policy_for(room).kick_block
        now = time.time()
        until = float(math.ceil(now + block))
        if block > 0:
            await self.sanctions.put("kicks", room.community, kick_field(room.name, target), Sanction(until, actor.user, reason_text, now))
        why = "removed from the room by a moderator" + (f": {reason_text}" if reason_text else "")
        for channel in (room.channel, room.channel + "/qa"):
            await self.ext.notifier.unsubscribe_user(target, channel, UNSUBSCRIBE_KICKED, why[:100])
        await self._tell(target, notices.sanction("kicked", room.community, until if block else None, reason_text, channel=room.channel))
        await self.audit.append(
            room.community, "kick", actor, target={"user": target, "channel": room.channel}, reason=reason_text,
            details={"rejoin_after": iso(until) if block else None},
        )
        return {"user": target, "channel": room.channel, "rejoin_after": iso(until) if block else None}

    # ---- room settings -------------------------------------------------------------------------

    async def slow_mode(self, actor: Actor, room: Room, seconds: Any, reason: Any = None) -> dict[str, Any]:
        value = self._int(seconds, "seconds", 0, 6 * 3600, None)
        reason_text = reason_of(reason)
        await self.ext.catalog.update_room(room.community, room.name, {"settings": {"slow_mode": value}})
        await self.ext.notifier.publish_event(room.channel, {"type": "room.slow_mode", "seconds": value, "ts": int(time.time() * 1000)})
        await self.audit.append(
            room.community, "slow_mode", actor, target={"channel": room.channel}, reason=reason_text, details={"seconds": value}
        )
        return {"channel": room.channel, "slow_mode": value}

    async def lock(self, actor: Actor, room: Room, locked: bool, reason: Any = None) -> dict[str, Any]:
        reason_text = reason_of(reason)
        await self.ext.catalog.update_room(room.community, room.name, {"settings": {"locked": locked}})
        event = {"type": "room.locked" if locked else "room.unlocked", "ts": int(time.time() * 1000)}
        if reason_text:
            event["reason"] = reason_text
        await self.ext.notifier.publish_event(room.channel, event)
        await self.audit.append(
            room.community, "lock" if locked else "unlock", actor, target={"channel": room.channel}, reason=reason_text
        )
        return {"channel": room.channel, "locked": locked}

    # ---- restoring a message hidden by reports ------------------------------------------------

    async def restore_reported(self, record: HoldRecord, text: str, actor: Actor) -> dict[str, Any]:
        """On-approve for kind ``reported``: publish the hidden message again (same id, a
        new offset, ``restored: true``)."""
        event = dict(record.payload.get("event") or {})
        if not event:
            raise bad_request("the hidden message is not stored with this hold")
        if text != event.get("text"):
            event["text"] = text
            event["edited"] = True
        event["restored"] = True
        spec = self.ext.resolver.resolve(record.channel)
        if spec is None or spec.room is None:
            raise not_found(f"no room {record.channel}")
        poster = self.ext.poster

        async def republish(sub: Submission, item_id: str, text: str, hidden: tuple[str, ...]) -> Placed:
            published = await poster.publish_event(
                record.channel, event, info=record.info, idempotency=(record.user, f"restore-{record.id}"),
                idempotency_ttl=self.service.config.hold_retention,
            )
            return Placed(published.offset, published.epoch, published.duplicate)

        outcome = await poster.submit(
            Submission(
                room=spec.room, author=Member(record.user, record.name, {}), role=Role.MEMBER, text=text,
                destination=republish, kind="reported", item_id=record.id, reviewed=True,
            )
        )
        assert isinstance(outcome, Published)
        published = outcome
        return {"offset": published.offset, "epoch": published.epoch, "message_id": event.get("id", "")}

    async def _tell(self, user: str, event: dict[str, Any]) -> None:
        try:
            await self.ext.notifier.notify_user(user, event)
        except Exception:
            log.exception("could not notify %s", user)
