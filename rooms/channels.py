"""Channel names and what kind of channel each one is.

- ``<community>:<room>``        a room (recoverable history)
- ``<community>:<room>/mod``    the room's moderator feed (holds, reports)
- ``<community>/mod``           community-wide moderator feed (escalations)
- ``<community>:<room>/qa``     the room's live Q&A board
- ``<community>:<room>/screening``  the Q&A screening feed (moderators, admins and hosts)
- ``user#<user id>``            one user's private notices (server-side subscription)
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from rooms.model import valid_name


class ChannelKind(str, Enum):
    ROOM = "room"
    ROOM_MOD = "room_mod"
    COMMUNITY_MOD = "community_mod"
    QA = "qa"
    QA_SCREENING = "qa_screening"
    USER = "user"


@dataclass(frozen=True, slots=True)
class ChannelName:
    kind: ChannelKind
    community: str = ""
    room: str = ""
    user: str = ""

    @property
    def room_channel(self) -> str:
        return f"{self.community}:{self.room}"

    def __str__(self) -> str:
        if self.kind is ChannelKind.ROOM:
            return self.room_channel
        if self.kind is ChannelKind.ROOM_MOD:
            return f"{self.room_channel}/mod"
        if self.kind is ChannelKind.QA:
            return f"{self.room_channel}/qa"
        if self.kind is ChannelKind.QA_SCREENING:
            return f"{self.room_channel}/screening"
        if self.kind is ChannelKind.COMMUNITY_MOD:
            return f"{self.community}/mod"
        return f"user#{self.user}"


_ROOM_SUFFIXES = {
    "mod": ChannelKind.ROOM_MOD,
    "qa": ChannelKind.QA,
    "screening": ChannelKind.QA_SCREENING,
}


def user_channel(user: str) -> str:
    return f"user#{user}"


def parse_channel(channel: str) -> ChannelName | None:
    """Return what ``channel`` names, or None when it is not a channel this server knows."""
    if len(channel) > 255:
        return None
    if channel.startswith("user#"):
        user = channel[5:]
        if not user or "\n" in user or "\r" in user:
            return None
        return ChannelName(ChannelKind.USER, user=user)
    base, slash, suffix = channel.partition("/")
    if slash:
        if suffix == "mod" and ":" not in base:
            return ChannelName(ChannelKind.COMMUNITY_MOD, community=base) if valid_name(base) else None
        if suffix not in _ROOM_SUFFIXES:
            return None
    community, colon, room = base.partition(":")
    if not colon or not valid_name(community) or not valid_name(room):
        return None
    if not slash:
        return ChannelName(ChannelKind.ROOM, community=community, room=room)
    return ChannelName(_ROOM_SUFFIXES[suffix], community=community, room=room)
