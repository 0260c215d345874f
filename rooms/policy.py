"""Who may do what, asked of the one table (``rooms.capabilities``): these are the
shorthands the features call. Each returns None (allowed) or a ``Denied``."""

from __future__ import annotations

from rooms.capabilities import Action, check
from rooms.channels import ChannelKind, ChannelName
from rooms.model import Member, Role, Room
from rooms.refusals import BAD_REQUEST, PERMISSION_DENIED, ROOM_LOCKED, UNKNOWN_CHANNEL, Denied

__all__ = [
    "BAD_REQUEST", "PERMISSION_DENIED", "ROLE_RANK", "ROOM_LOCKED", "UNKNOWN_CHANNEL", "Denied",
    "may", "may_join_private", "may_moderate", "may_open_private", "may_post", "may_subscribe",
]

ROLE_RANK = {Role.MEMBER: 0, Role.SUPPORTER: 0, Role.HOST: 1, Role.MODERATOR: 2, Role.ADMIN: 3}

_ROOM_KINDS = (ChannelKind.ROOM, ChannelKind.ROOM_MOD, ChannelKind.QA, ChannelKind.QA_SCREENING)


def room_channel(room: Room) -> ChannelName:
    return ChannelName(ChannelKind.ROOM, community=room.community, room=room.name)


def community_channel(community: str) -> ChannelName:
    return ChannelName(ChannelKind.COMMUNITY_MOD, community=community)


def may(member: Member, action: Action, channel: ChannelName, room: Room | None) -> Denied | None:
    """The table's answer; a room-bound channel without its room is unknown (102)."""
    if room is None and channel.kind in _ROOM_KINDS:
        return Denied(UNKNOWN_CHANNEL, f"no room {channel.room_channel}")
    return check(member, action, channel, room)


def may_subscribe(member: Member, channel: ChannelName, room: Room | None) -> Denied | None:
    """May ``member`` subscribe to ``channel``? ``room`` is the channel's room, if it exists."""
    return may(member, Action.SUBSCRIBE, channel, room)


def may_post(member: Member, room: Room) -> Denied | None:
    """May ``member`` post a message into ``room`` (before moderation and mutes)?"""
    return check(member, Action.POST, room_channel(room), room)


def may_join_private(member: Member, room: Room) -> Denied | None:
    """A private support conversation: its member, the community's moderators and admins,
    and the hosts invited to it; nobody else (103)."""
    return check(member, Action.SUBSCRIBE, room_channel(room), room)


def may_open_private(member: Member, community: str) -> Denied | None:
    """Moderators, admins and hosts may open a private support conversation."""
    return check(member, Action.OPEN_SUPPORT, community_channel(community), None)


def may_moderate(member: Member, community: str) -> Denied | None:
    return check(member, Action.MODERATE, community_channel(community), None)
