"""Plain data for communities, rooms and the members who use them."""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from enum import Enum
from typing import Any

NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")


class Role(str, Enum):
    """A member's role in one community, from the token's ``communities`` claim."""

    MEMBER = "member"
    SUPPORTER = "supporter"  # a trained peer supporter: sees the waiting list, never moderates
    HOST = "host"
    MODERATOR = "moderator"
    ADMIN = "admin"

    @property
    def is_staff(self) -> bool:
        """Moderators and admins: may act on other members' messages."""
        return self in (Role.MODERATOR, Role.ADMIN)

    @classmethod
    def parse(cls, value: str) -> Role:
        try:
            return cls(value.strip().lower())
        except ValueError:
            raise ValueError(
                f"unknown role {value!r}; expected one of: "
                + ", ".join(r.value for r in cls)
            ) from None


def valid_name(name: str) -> bool:
    """Community and room names: lower-case letters, digits, '-' and '_', 1-64 chars."""
    return bool(NAME_RE.match(name))


@dataclass(frozen=True, slots=True)
class RoomSettings:
    """Per-room behaviour. Unknown keys from config or the API are rejected."""

    history_size: int = 1000  # publications kept for recovery and history
    history_ttl: int = 7 * 24 * 3600  # seconds a quiet room keeps its history
    join_leave: bool = False  # push join/leave events to subscribers
    presence: bool = True  # answer presence queries
    min_role: Role = Role.MEMBER  # lowest role that may join
    locked: bool = False  # only staff may post
    slow_mode: int = 0  # seconds between posts per member (0 = off)
    max_message_length: int = 4000  # characters of text per message
    extra: dict[str, Any] = field(default_factory=dict)  # settings owned by extensions

    def to_dict(self) -> dict[str, Any]:
        return {
            "history_size": self.history_size,
            "history_ttl": self.history_ttl,
            "join_leave": self.join_leave,
            "presence": self.presence,
            "min_role": self.min_role.value,
            "locked": self.locked,
            "slow_mode": self.slow_mode,
            "max_message_length": self.max_message_length,
            "extra": dict(self.extra),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RoomSettings:
        return cls().updated(data)

    def updated(self, changes: dict[str, Any]) -> RoomSettings:
        """Return a copy with ``changes`` applied; raises ValueError on bad keys or values."""
        known = {
            "history_size": int,
            "history_ttl": int,
            "join_leave": bool,
            "presence": bool,
            "min_role": str,
            "locked": bool,
            "slow_mode": int,
            "max_message_length": int,
            "extra": dict,
        }
        values: dict[str, Any] = {}
        for key, value in changes.items():
            if key not in known:
                raise ValueError(f"unknown room setting {key!r}")
            expected = known[key]
            if expected is int and (isinstance(value, bool) or not isinstance(value, int)):
                raise ValueError(f"room setting {key!r} must be an integer")
            if expected is not int and not isinstance(value, expected):
                raise ValueError(f"room setting {key!r} must be a {expected.__name__}")
            values[key] = value
        if "min_role" in values:
            values["min_role"] = Role.parse(values["min_role"])
        if "extra" in values:
            values["extra"] = {**self.extra, **values["extra"]}
        result = replace(self, **values)
        if result.history_size < 0 or result.history_size > 100_000:
            raise ValueError("history_size must be between 0 and 100000")
        if result.history_ttl < 1:
            raise ValueError("history_ttl must be at least 1 second")
        if result.slow_mode < 0 or result.slow_mode > 6 * 3600:
            raise ValueError("slow_mode must be between 0 and 21600 seconds")
        if not 1 <= result.max_message_length <= 20_000:
            raise ValueError("max_message_length must be between 1 and 20000")
        return result


@dataclass(frozen=True, slots=True)
class Room:
    community: str
    name: str
    title: str = ""
    settings: RoomSettings = field(default_factory=RoomSettings)

    @property
    def channel(self) -> str:
        return f"{self.community}:{self.name}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "community": self.community,
            "name": self.name,
            "title": self.title,
            "channel": self.channel,
            "settings": self.settings.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Room:
        return cls(
            community=data["community"],
            name=data["name"],
            title=data.get("title", ""),
            settings=RoomSettings.from_dict(data.get("settings", {})),
        )


@dataclass(frozen=True, slots=True)
class Community:
    name: str
    title: str = ""
    settings: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "title": self.title, "settings": dict(self.settings)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Community:
        return cls(
            name=data["name"], title=data.get("title", ""), settings=dict(data.get("settings", {}))
        )


@dataclass(frozen=True, slots=True)
class Member:
    """Who is acting: built from the verified connection token."""

    user: str
    name: str
    communities: dict[str, Role]
    info: dict[str, Any] = field(default_factory=dict)

    def role_in(self, community: str) -> Role | None:
        return self.communities.get(community)
