"""Private support conversations: rooms ``<community>:dm-<id>`` between one member and the
community's moderators (and invited hosts). They are ordinary catalog rooms (history,
recovery, presence, typing, the moderation pipeline) marked private in
``settings.extra["private"]`` (``rooms.private``); ``rooms.policy`` keeps everyone else out.
The member is told on ``user#<id>`` (``support.conversation``) the moment one opens.
"""

from __future__ import annotations

import logging
import secrets
from typing import TYPE_CHECKING, Any

from chatserver.errors import ReplyError
from chatserver.moderation.audit import Actor
from chatserver.moderation.errors import ModerationError, bad_request, conflict, not_found
from chatserver.protocol import codes
from rooms.model import Member, Role, Room, RoomSettings, valid_name
from rooms.policy import Denied, may_join_private
from rooms.private import EXTRA_KEY, PREFIX, PrivateConversation, private_of

if TYPE_CHECKING:
    from chatserver.channels import ChannelSpec
    from chatserver.crisis.cases import CaseService

log = logging.getLogger("chatserver.crisis.conversations")


def conversation_view(room: Room) -> dict[str, Any]:
    conv = private_of(room)
    assert conv is not None
    return {"channel": room.channel, "community": room.community, "title": room.title, **conv.to_dict()}


class Conversations:
    def __init__(self, cases: CaseService) -> None:
        self.cases = cases
        self.ext = cases.ext
        self.denied = 0

    def of_member(self, community: str, user: str) -> list[Room]:
        return [
            r for r in self.ext.catalog.rooms_of(community)
            if (conv := private_of(r)) is not None and conv.member == user
        ]

    async def _is_member(self, community: str, user: str) -> bool:
        """Roles live in members' tokens, so "a member of the community" is someone with a
        case here, who has posted here, or who is connected with a role in it."""
        if await self.cases.store.open_case_of(community, user) is not None:
            return True
        if await self.cases.store.has_posted(community, user):
            return True
        for conn in self.ext.local_users.get(user, ()):
            identity = getattr(conn, "identity", None)
            if identity is not None and identity.member.role_in(community) is not None:
                return True
        return False

    async def open(
        self, actor: Actor, community: str, *, user: Any = None, case_id: Any = None, name: Any = None, hosts: Any = None
    ) -> dict[str, Any]:
        """Open (or return the open) private conversation with a member, from a case or by
        the member's user id."""
        if community not in self.ext.catalog.communities:
            raise not_found(f"no community {community}")
        case: dict[str, Any] | None = None
        if case_id is not None:
            case = await self.cases.get(community, case_id)
            user = case["user"]
            name = name or case.get("name")
        if not isinstance(user, str) or not user or len(user) > 128:
            raise bad_request("user (the member) or case is required")
        if name is not None and (not isinstance(name, str) or len(name) > 128):
            raise bad_request("name must be a string")
        invited = _hosts(hosts)
        if actor.role == "host" and actor.user not in invited:
            invited.append(actor.user)
        if actor.role == "host":
            for check in self.ext.registry.private_open_checks:
                refusal = await check(actor.user, user, community)
                if refusal is not None:
                    raise ModerationError(codes.PERMISSION_DENIED, f"permission denied: {refusal}", 403)
        if case is None and not await self._is_member(community, user):
            raise bad_request(f"{user} is not a member of community {community} (no case, no posts, not connected)")
        for room in self.of_member(community, user):
            conv = private_of(room)
            assert conv is not None
            if not conv.closed:
                _may_see(actor, room)
                if case is not None and conv.case != case["id"]:
                    await self._update(room, {"case": case["id"]})
                    await self.cases.link_conversation(community, case["id"], room.channel)
                return {**conversation_view(self.ext.catalog.rooms[room.channel]), "existing": True}
        conv = PrivateConversation(
            member=user,
            member_name=str(name or user),
            hosts=tuple(invited),
            case=case["id"] if case is not None else "",
            opened_by=actor.name or actor.user,
        )
        room_name = PREFIX + secrets.token_hex(5)
        assert valid_name(room_name)
        retention = self.cases.config.conversation_history_ttl
        room = Room(
            community,
            room_name,
            f"Support: {conv.member_name}",
            RoomSettings(history_size=5000, history_ttl=retention, presence=True, join_leave=True, extra={EXTRA_KEY: conv.to_dict()}),
        )
        await self.ext.catalog.put_room(room, create_only=True)
        view = conversation_view(room)
        if case is not None:
            await self.cases.link_conversation(community, case["id"], room.channel)
        await self.cases.audit.append(
            community, "support.open", actor, target={"user": user, "channel": room.channel, "case": conv.case},
        )
        await self._tell(user, {"type": "support.conversation", "state": "open", **view})
        for host in invited:
            await self._tell(host, {"type": "support.invited", **view})
        return view

    async def invite(self, actor: Actor, room: Room, host: Any) -> dict[str, Any]:
        conv = _private(room)
        if not isinstance(host, str) or not host or len(host) > 128:
            raise bad_request("user (the host to invite) is required")
        if host not in conv.hosts:
            room = await self._update(room, {"hosts": [*conv.hosts, host]})
        await self.cases.audit.append(room.community, "support.invite", actor, target={"user": host, "channel": room.channel})
        view = conversation_view(room)
        await self._tell(host, {"type": "support.invited", **view})
        return view

    async def close(self, actor: Actor, room: Room) -> dict[str, Any]:
        """Close the conversation: nobody but staff may post any more; history stays for the
        room's retention (``[crisis] conversation_history_ttl``)."""
        conv = _private(room)
        if conv.closed:
            raise conflict(f"conversation {room.channel} is already closed")
        room = await self._update(room, {"closed": True}, locked=True)
        await self.cases.audit.append(room.community, "support.close", actor, target={"user": conv.member, "channel": room.channel})
        view = conversation_view(room)
        await self._tell(conv.member, {"type": "support.conversation", "state": "closed", **view})
        return view

    async def close_for_case(self, actor: Actor, case: dict[str, Any]) -> None:
        channel = case.get("conversation")
        room = self.ext.catalog.rooms.get(channel) if channel else None
        if room is not None and (conv := private_of(room)) is not None and not conv.closed:
            await self.close(actor, room)

    def listing(self, member: Member, community: str | None) -> list[dict[str, Any]]:
        """The conversations ``member`` may join (their own; every one for staff; invited hosts)."""
        out = []
        for room in sorted(self.ext.catalog.rooms.values(), key=lambda r: r.channel):
            if (community and room.community != community) or private_of(room) is None:
                continue
            spec = self.ext.resolver.resolve(room.channel)
            if spec is not None and self._allowed(member, spec) is None:
                out.append(conversation_view(room))
        return out

    def _allowed(self, member: Member, spec: ChannelSpec) -> Denied | None:
        assert spec.room is not None
        return may_join_private(member, spec.room)

    def on_denied(self, member: Member, spec: ChannelSpec, denied: Denied) -> None:
        """A refused join of a private conversation goes to the community's audit log."""
        room = spec.room
        if room is None or private_of(room) is None:
            return
        self.denied += 1
        role = member.role_in(room.community)
        actor = Actor(member.user, member.name, role.value if role else "none", "rpc")
        # Summarised per actor per window like refused moderator calls (issue 23).
        self.ext.tasks.spawn(
            self.cases.moderation.denied.refuse(
                room.community, actor, "subscribe", {"channel": room.channel}, denied.reason, action="support.denied",
            ),
            "audit a refused private conversation",
        )

    async def _update(self, room: Room, changes: dict[str, Any], locked: bool | None = None) -> Room:
        conv = _private(room)
        record = {**conv.to_dict(), **changes}
        settings: dict[str, Any] = {"extra": {EXTRA_KEY: record}}
        if locked is not None:
            settings["locked"] = locked
        return await self.ext.catalog.update_room(room.community, room.name, {"settings": settings})

    async def _tell(self, user: str, event: dict[str, Any]) -> None:
        try:
            await self.ext.notifier.notify_user(user, event)
        except Exception:
            log.exception("could not tell %s about a private conversation", user)


def _may_see(actor: Actor, room: Room) -> None:
    """The open conversation is returned only to whom the table lets in (an uninvited host
    asking ``support.open`` for the same member gets 103, not the channel). The HTTP API is
    the platform."""
    if actor.via != "rpc":
        return
    try:
        role = Role(actor.role)
    except ValueError:
        role = None
    member = Member(actor.user, actor.name, {room.community: role} if role else {})
    denied = may_join_private(member, room)
    if denied is not None:
        raise ReplyError(denied.code, f"permission denied: {denied.reason}")


def _private(room: Room) -> PrivateConversation:
    conv = private_of(room)
    if conv is None:
        raise bad_request(f"{room.channel} is not a private conversation")
    return conv


def _hosts(raw: Any) -> list[str]:
    if raw is None:
        return []
    if not isinstance(raw, list) or len(raw) > 20 or not all(isinstance(h, str) and 0 < len(h) <= 128 for h in raw):
        raise bad_request("hosts must be a list of user ids")
    return list(dict.fromkeys(raw))
