"""Who may do what: pure decisions that return None (allowed) or a ``Denied``."""

from __future__ import annotations

from dataclasses import dataclass

from rooms.channels import ChannelKind, ChannelName
from rooms.model import Member, Role, Room
from rooms.private import private_of

ROLE_RANK = {Role.MEMBER: 0, Role.SUPPORTER: 0, Role.HOST: 1, Role.MODERATOR: 2, Role.ADMIN: 3}


@dataclass(frozen=True, slots=True)
class Denied:
    """Why an action is refused. ``code`` is the protocol error code to answer with."""

    code: int
    reason: str


# Refusal codes; they double as protocol error codes (chatserver.protocol.codes names them).
UNKNOWN_CHANNEL = 102
PERMISSION_DENIED = 103
BAD_REQUEST = 107


def _rank(role: Role) -> int:
    return ROLE_RANK[role]


def may_subscribe(member: Member, channel: ChannelName, room: Room | None) -> Denied | None:
    """May ``member`` subscribe to ``channel``? ``room`` is the channel's room, if it exists."""
    if channel.kind is ChannelKind.USER:
        if channel.user != member.user:
            return Denied(PERMISSION_DENIED, "a private channel belongs to one user")
        return None
    role = member.role_in(channel.community)
    if channel.kind is ChannelKind.COMMUNITY_MOD:
        if role is None or not role.is_staff:
            return Denied(PERMISSION_DENIED, "only moderators of this community")
        return None
    if room is None:
        return Denied(UNKNOWN_CHANNEL, f"no room {channel.room_channel}")
    if role is None:
        return Denied(PERMISSION_DENIED, f"not a member of community {channel.community}")
    if channel.kind is ChannelKind.ROOM and private_of(room) is not None:
        return may_join_private(member, room)
    if channel.kind is ChannelKind.ROOM_MOD:
        if not role.is_staff:
            return Denied(PERMISSION_DENIED, "only moderators of this community")
        return None
    if channel.kind is ChannelKind.QA_SCREENING:
        if not (role.is_staff or role is Role.HOST):
            return Denied(PERMISSION_DENIED, "only hosts, moderators and admins of this community")
        return None
    if _rank(role) < _rank(room.settings.min_role) and not role.is_staff:
        return Denied(PERMISSION_DENIED, f"room requires role {room.settings.min_role.value}")
    return None


def may_post(member: Member, room: Room) -> Denied | None:
    """May ``member`` post a message into ``room`` (before moderation and mutes)?"""
    role = member.role_in(room.community)
    if role is None:
        return Denied(PERMISSION_DENIED, f"not a member of community {room.community}")
    if _rank(role) < _rank(room.settings.min_role) and not role.is_staff:
        return Denied(PERMISSION_DENIED, f"room requires role {room.settings.min_role.value}")
    denied = may_join_private(member, room) if private_of(room) is not None else None
    if denied is not None:
        return denied
    if room.settings.locked and not role.is_staff:
        return Denied(PERMISSION_DENIED, "room is locked: only moderators may post")
    return None


def may_join_private(member: Member, room: Room) -> Denied | None:
    """A private support conversation: its member, the community's moderators and admins,
    and the hosts invited to it; nobody else (103)."""
    conv = private_of(room)
    if conv is None:
        return None
    role = member.role_in(room.community)
    if role is None:
        return Denied(PERMISSION_DENIED, f"not a member of community {room.community}")
    if role.is_staff or member.user == conv.member:
        return None
    if role in (Role.HOST, Role.SUPPORTER) and member.user in conv.hosts:
        return None  # invited by a moderator (support.invite); supporters too (chatserver.peer)
    return Denied(PERMISSION_DENIED, "a private conversation: only its member, moderators and invited hosts")


def may_open_private(member: Member, community: str) -> Denied | None:
    """Moderators, admins and hosts may open a private support conversation."""
    role = member.role_in(community)
    if role is None or not (role.is_staff or role is Role.HOST):
        return Denied(PERMISSION_DENIED, "only moderators, admins and hosts of this community")
    return None


def may_moderate(member: Member, community: str) -> Denied | None:
    role = member.role_in(community)
    if role is None or not role.is_staff:
        return Denied(PERMISSION_DENIED, "only moderators and admins of this community")
    return None
