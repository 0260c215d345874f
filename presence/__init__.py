"""Presence rules: who counts as online in a room, who may see whom, which join/leave events
are announced, and how typing indicators are throttled and expire.

Contract: pure data and functions, no I/O and no clock. Every function that depends on time
takes ``now`` (seconds as a float, whatever clock the caller uses consistently). The Redis
side (``chatserver.redis.presence`` and its Lua scripts) applies the same rules atomically;
``RoomPresence`` here is the reference model those scripts are tested against.
"""

from presence.model import Counts, CountsView, MemberFlags, OnlineMember, PushMode
from presence.room import (
    CountsDue,
    MemberJoined,
    MemberLeft,
    PresenceEvent,
    RoomPresence,
    RoomRules,
)
from presence.rules import (
    Liveness,
    counts_due,
    counts_view,
    may_see,
    member_flags,
    push_mode,
    room_threshold,
    sort_members,
)
from presence.typing import TypingDecision, TypingPolicy, TypingSlot, decide_typing, typing_stale

__all__ = [
    "Counts",
    "CountsDue",
    "CountsView",
    "Liveness",
    "MemberFlags",
    "MemberJoined",
    "MemberLeft",
    "OnlineMember",
    "PresenceEvent",
    "PushMode",
    "RoomPresence",
    "RoomRules",
    "TypingDecision",
    "TypingPolicy",
    "TypingSlot",
    "counts_due",
    "counts_view",
    "decide_typing",
    "typing_stale",
    "may_see",
    "member_flags",
    "push_mode",
    "room_threshold",
    "sort_members",
]
