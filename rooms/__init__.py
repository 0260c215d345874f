"""Rooms domain: communities, rooms, roles and what each role may do.

Contract: plain frozen dataclasses and pure functions. Nothing here touches the network,
Redis or the clock; callers pass ``now`` where time matters. ``chatserver`` adapts these
rules to the wire protocol and to Redis.
"""

from rooms.channels import ChannelKind, ChannelName, parse_channel
from rooms.model import Community, Member, Role, Room, RoomSettings
from rooms.policy import Denied, may_moderate, may_post, may_subscribe

__all__ = [
    "ChannelKind",
    "ChannelName",
    "Community",
    "Denied",
    "Member",
    "Role",
    "Room",
    "RoomSettings",
    "may_moderate",
    "may_post",
    "may_subscribe",
    "parse_channel",
]
