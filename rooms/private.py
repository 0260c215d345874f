"""Private support conversations: a room of its own between one member and the community's
moderators (and the hosts invited to it). Pure data: who the conversation is with, read from
the room's ``settings.extra["private"]``; ``rooms.policy`` decides who may join and post.

A private conversation is a room named ``dm-<id>`` (the prefix is reserved: the HTTP API
refuses to create a room with it), so its channel is ``<community>:dm-<id>`` and it has
history, recovery, presence and typing like any room.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rooms.model import Room

PREFIX = "dm-"
EXTRA_KEY = "private"


@dataclass(frozen=True, slots=True)
class PrivateConversation:
    member: str  # the member the conversation is with ("" if the record is unreadable)
    member_name: str = ""
    hosts: tuple[str, ...] = ()  # hosts invited to it
    case: str = ""  # the crisis case it was opened from, if any
    opened_by: str = ""
    closed: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "member": self.member,
            "member_name": self.member_name,
            "hosts": list(self.hosts),
            "case": self.case,
            "opened_by": self.opened_by,
            "closed": self.closed,
        }

    @classmethod
    def from_dict(cls, data: Any) -> PrivateConversation:
        if not isinstance(data, dict):
            return cls("")
        hosts = data.get("hosts")
        return cls(
            member=str(data.get("member") or ""),
            member_name=str(data.get("member_name") or ""),
            hosts=tuple(str(h) for h in hosts) if isinstance(hosts, list) else (),
            case=str(data.get("case") or ""),
            opened_by=str(data.get("opened_by") or ""),
            closed=bool(data.get("closed", False)),
        )


def is_private_name(name: str) -> bool:
    return name.startswith(PREFIX)


def private_of(room: Room) -> PrivateConversation | None:
    """The conversation ``room`` is, or None for an ordinary room. A ``dm-`` room without a
    readable record is private with nobody but staff in it (never open to everyone)."""
    if not is_private_name(room.name):
        return None
    return PrivateConversation.from_dict(room.settings.extra.get(EXTRA_KEY))
