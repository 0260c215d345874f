"""Plain data of presence: member flags, room counters, what a viewer is shown."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntFlag, StrEnum
from typing import Any


class MemberFlags(IntFlag):
    """What presence needs to know about an online member, as a small bitmask.

    Kept in Redis as one ASCII digit (``"0"``..``"7"``) so the Lua scripts can read it
    without decoding anything.
    """

    NONE = 0
    STAFF = 1  # moderator or admin of the room's community
    HOST = 2  # healthcare professional hosting in this community
    INVISIBLE = 4  # hidden from other members; counted only in totals

    def encode(self) -> str:
        return str(int(self))

    @classmethod
    def decode(cls, text: str | bytes) -> MemberFlags:
        digit = text[:1].decode() if isinstance(text, bytes) else text[:1]
        if not digit.isdigit() or int(digit) > 7:
            raise ValueError(f"bad member flags {text!r}")
        return cls(int(digit))


class PushMode(StrEnum):
    """How a room announces members coming and going."""

    OFF = "off"  # the room does not push join/leave at all
    MEMBERS = "members"  # one join/leave push per member (coalesced per user)
    COUNTS = "counts"  # above the size threshold: periodic count events only


@dataclass(frozen=True, slots=True)
class Counts:
    """A room's presence counters, kept exactly in Redis (never computed by scanning).

    ``users`` are distinct users however many connections each has; the ``*_visible``
    counters leave out invisible members.
    """

    clients: int = 0
    users: int = 0
    visible: int = 0
    staff: int = 0
    staff_visible: int = 0
    hosts: int = 0
    hosts_visible: int = 0

    FIELDS = ("clients", "users", "visible", "staff", "staff_visible", "hosts", "hosts_visible")

    @classmethod
    def from_fields(cls, values: dict[str, int]) -> Counts:
        return cls(**{name: max(0, int(values.get(name, 0) or 0)) for name in cls.FIELDS})


@dataclass(frozen=True, slots=True)
class CountsView:
    """The counts one viewer is shown. Invisible members count only in the totals for
    ordinary members; staff also see how many are invisible and the full staff/host counts."""

    users: int
    clients: int
    moderators: int
    hosts: int
    invisible: int | None = None  # only for staff viewers

    @property
    def host_online(self) -> bool:
        return self.hosts > 0

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "users": self.users,
            "clients": self.clients,
            "moderators": self.moderators,
            "hosts": self.hosts,
            "host_online": self.host_online,
        }
        if self.invisible is not None:
            out["invisible"] = self.invisible
        return out


@dataclass(frozen=True, slots=True)
class OnlineMember:
    """One distinct user online in a room (however many tabs or devices)."""

    user: str
    name: str
    role: str
    flags: MemberFlags

    @property
    def invisible(self) -> bool:
        return bool(self.flags & MemberFlags.INVISIBLE)

    def to_dict(self, *, show_invisible: bool) -> dict[str, Any]:
        out: dict[str, Any] = {"user": self.user, "name": self.name, "role": self.role}
        if show_invisible and self.invisible:
            out["invisible"] = True
        return out
