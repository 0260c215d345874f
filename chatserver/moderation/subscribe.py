"""Subscribe rules added by moderation: a banned member may not join the community's
channels (1003), a kicked member may not rejoin the room until the block ends (103).
Both read the per-process sanctions cache only."""

from __future__ import annotations

from typing import TYPE_CHECKING

from chatserver.channels import ChannelSpec
from chatserver.moderation.audit import iso
from chatserver.moderation.sanctions import kick_field
from chatserver.protocol import codes
from rooms.channels import ChannelKind
from rooms.model import Member
from rooms.policy import Denied

if TYPE_CHECKING:
    from chatserver.moderation.service import ModerationService


def install_checks(service: ModerationService) -> None:
    sanctions = service.sanctions

    def banned(member: Member, spec: ChannelSpec) -> Denied | None:
        community = spec.parsed.community
        role = member.role_in(community)
        if role is not None and role.is_staff:
            return None
        ban = sanctions.get("bans", community, member.user)
        if ban is not None:
            until = f" until {iso(ban.until)}" if ban.until else ""
            return Denied(codes.BANNED.code, f"you are banned from this community{until}")
        if spec.kind in (ChannelKind.ROOM, ChannelKind.QA):
            kick = sanctions.get("kicks", community, kick_field(spec.parsed.room, member.user))
            if kick is not None:
                return Denied(codes.PERMISSION_DENIED.code, f"removed from this room by a moderator; you may rejoin after {iso(kick.until)}")
        return None

    for kind in (ChannelKind.ROOM, ChannelKind.QA, ChannelKind.ROOM_MOD, ChannelKind.COMMUNITY_MOD):
        service.ext.resolver.add_check(kind, banned)
