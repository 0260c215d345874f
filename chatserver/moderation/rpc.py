"""RPC methods: ``mod.*`` for moderators and admins of the community, ``chat.report`` for
members. A caller who may not moderate gets 103 and nothing else happens; the attempt goes
to the audit log summarised per actor (``denied``, then ``denied.summary``: see ``denied``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from chatserver.errors import ReplyError
from chatserver.moderation.audit import Actor, AuditFilter, iso, parse_time
from chatserver.moderation.errors import bad_request
from chatserver.moderation.service import actor_of
from chatserver.protocol import codes
from rooms.channels import ChannelKind
from rooms.model import Room
from rooms.policy import may_moderate

if TYPE_CHECKING:
    from chatserver.connection import Connection
    from chatserver.moderation.service import ModerationService

Handler = Callable[[Actor, str, "Room | None", dict[str, Any]], Awaitable[Any]]


class ModerationRpc:
    def __init__(self, service: ModerationService) -> None:
        self.service = service
        self.ext = service.ext

    def install(self) -> None:
        s = self.service
        a = s.actions
        room_methods: dict[str, Handler] = {
            "mod.holds": lambda actor, c, room, d: self._holds(room, d),
            "mod.approve": lambda actor, c, room, d: s.holds.approve(actor, _room(room).channel, d.get("id"), d.get("text")),
            "mod.reject": lambda actor, c, room, d: s.holds.reject(
                actor, _room(room).channel, d.get("id"), d.get("reason"), d.get("reason_code")
            ),
            "mod.delete": lambda actor, c, room, d: a.delete_message(
                actor, _room(room), offset=d.get("offset"), message_id=d.get("id"), reason=d.get("reason")
            ),
            "mod.kick": lambda actor, c, room, d: a.kick(actor, _room(room), d.get("user"), d.get("reason")),
            "mod.slow_mode": lambda actor, c, room, d: a.slow_mode(actor, _room(room), d.get("seconds"), d.get("reason")),
            "mod.lock": lambda actor, c, room, d: a.lock(actor, _room(room), True, d.get("reason")),
            "mod.unlock": lambda actor, c, room, d: a.lock(actor, _room(room), False, d.get("reason")),
            "mod.reports": lambda actor, c, room, d: self._reports(_room(room)),
            "mod.dismiss_report": lambda actor, c, room, d: s.reports.dismiss(actor, _room(room), d.get("offset"), d.get("reason")),
        }
        community_methods: dict[str, Handler] = {
            "mod.remove_recent": lambda actor, c, room, d: a.remove_recent(
                actor, c, d.get("user"), room=room, seconds=d.get("seconds"), limit=d.get("limit"), reason=d.get("reason")
            ),
            "mod.mute": lambda actor, c, room, d: a.mute(
                actor, c, d.get("user"), duration=d.get("duration"), until_lifted=d.get("until_lifted", False), reason=d.get("reason")
            ),
            "mod.unmute": lambda actor, c, room, d: a.unmute(actor, c, d.get("user"), d.get("reason")),
            "mod.ban": lambda actor, c, room, d: a.ban(actor, c, d.get("user"), duration=d.get("duration"), reason=d.get("reason")),
            "mod.unban": lambda actor, c, room, d: a.unban(actor, c, d.get("user"), d.get("reason")),
            "mod.sanctions": lambda actor, c, room, d: self._sanctions(c),
            "mod.audit": lambda actor, c, room, d: self._audit(c, d),
            "mod.members": lambda actor, c, room, d: self._members(c, d),
        }
        for name, handler in room_methods.items():
            self.ext.registry.register_rpc(name, self._guard(name, handler, need_room=True))
        for name, handler in community_methods.items():
            self.ext.registry.register_rpc(name, self._guard(name, handler, need_room=False))
        self.ext.registry.register_rpc("chat.report", self._report)
        self.ext.registry.register_rpc("chat.sanctions", self._own_sanctions)

    def _scope(self, data: Any, need_room: bool) -> tuple[str, Room | None]:
        if not isinstance(data, dict):
            raise bad_request('expected an object like {"channel": "<community>:<room>", ...}')
        channel = data.get("channel")
        if channel is not None:
            if not isinstance(channel, str):
                raise bad_request("channel must be a string")
            spec = self.ext.resolver.resolve(channel)
            if spec is None or spec.kind is not ChannelKind.ROOM or spec.room is None:
                raise ReplyError(codes.UNKNOWN_CHANNEL, f"unknown room {channel}")
            return spec.room.community, spec.room
        if need_room:
            raise bad_request("channel (the room) is required")
        community = data.get("community")
        if not isinstance(community, str) or community not in self.ext.catalog.communities:
            raise ReplyError(codes.UNKNOWN_CHANNEL, f"unknown community {community!r}")
        return community, None

    def _guard(self, method: str, handler: Handler, *, need_room: bool) -> Callable[[Connection, Any], Awaitable[Any]]:
        async def call(conn: Connection, data: Any) -> Any:
            assert conn.identity is not None
            member = conn.identity.member
            community, room = self._scope(data, need_room)
            actor = actor_of(member, community)
            denied = may_moderate(member, community)
            if denied is not None:
                await self.service.denied.refuse(
                    community,
                    actor,
                    method,
                    {"user": data.get("user") if isinstance(data.get("user"), str) else "", "channel": room.channel if room else ""},
                    denied.reason,
                )
                raise ReplyError(codes.PERMISSION_DENIED, f"permission denied: {denied.reason}")
            return await handler(actor, community, room, data)

        return call

    async def _holds(self, room: Room | None, data: dict[str, Any]) -> dict[str, Any]:
        limit = data.get("limit", 100)
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= 1000:
            raise bad_request("limit must be 1-1000")
        holds = await self.service.store.pending(_room(room).channel, limit)
        return {"holds": [h.public() for h in holds]}

    async def _reports(self, room: Room) -> dict[str, Any]:
        return {"reports": await self.service.reports.open_reports(room)}

    async def _sanctions(self, community: str) -> dict[str, Any]:
        return sanctions_listing(self.service, community)

    async def _members(self, community: str, data: dict[str, Any]) -> dict[str, Any]:
        """``mod.members {community, limit?}``: the community's recent members by display name
        (who posted lately, newest first), so a moderator's console names people, not ids."""
        limit = data.get("limit", 200)
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= 1000:
            raise bad_request("limit must be 1-1000")
        return {"members": await self.service.mstore.recent_members(community, limit)}

    async def _audit(self, community: str, data: dict[str, Any]) -> dict[str, Any]:
        return {"entries": await self.service.audit.read(community, audit_filter(data))}

    async def _own_sanctions(self, conn: Connection, data: Any) -> dict[str, Any]:
        """``chat.sanctions {community}``: the caller's own mute and ban, so a page opened while
        muted can say until when (the notice that said so may have come before it opened)."""
        assert conn.identity is not None
        member = conn.identity.member
        community, _ = self._scope(data, need_room=False)
        if member.role_in(community) is None:
            raise ReplyError(codes.PERMISSION_DENIED, f"permission denied: not a member of community {community}")
        return {
            "community": community,
            "muted": _own(self.service, "mutes", community, member.user),
            "banned": _own(self.service, "bans", community, member.user),
        }

    async def _report(self, conn: Connection, data: Any) -> dict[str, Any]:
        assert conn.identity is not None
        member = conn.identity.member
        community, room = self._scope(data, need_room=True)
        if member.role_in(community) is None:
            raise ReplyError(codes.PERMISSION_DENIED, f"permission denied: not a member of community {community}")
        if self.service.sanctions.get("bans", community, member.user) is not None:
            raise ReplyError(codes.BANNED, "banned from this community")
        return await self.service.reports.report(
            actor_of(member, community), _room(room), offset=data.get("offset"), message_id=data.get("id"), reason=data.get("reason")
        )


def _own(service: ModerationService, kind: str, community: str, user: str) -> dict[str, Any] | None:
    s = service.sanctions.get(kind, community, user)
    return None if s is None else {"until": iso(s.until) if s.until else None, "reason": s.reason}


def _room(room: Room | None) -> Room:
    if room is None:
        raise bad_request("channel (the room) is required")
    return room


def sanctions_listing(service: ModerationService, community: str) -> dict[str, Any]:
    from chatserver.moderation.audit import iso

    def listing(kind: str) -> list[dict[str, Any]]:
        return [
            {"user": user, "until": iso(s.until) if s.until else None, "by": s.by, "reason": s.reason, "at": iso(s.at)}
            for user, s in sorted(service.sanctions.listing(kind, community).items())
        ]

    return {"community": community, "mutes": listing("mutes"), "bans": listing("bans")}


def audit_filter(data: dict[str, Any]) -> AuditFilter:
    def text(key: str) -> str:
        value = data.get(key) or ""
        if not isinstance(value, str):
            raise bad_request(f"{key} must be a string")
        return value

    def when(key: str) -> int | None:
        value = data.get(key)
        if value in (None, ""):
            return None
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, str):
            try:
                return parse_time(value)
            except ValueError as exc:
                raise bad_request(str(exc)) from None
        raise bad_request(f"{key} must be unix milliseconds or an ISO 8601 time")

    limit = data.get("limit", 100)
    if isinstance(limit, str) and limit.isdigit():
        limit = int(limit)
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= 1000:
        raise bad_request("limit must be 1-1000")
    return AuditFilter(
        action=text("action"),
        actor=text("actor"),
        target=text("target"),
        channel=text("channel"),
        since_ms=when("since"),
        until_ms=when("until"),
        limit=limit,
    )
