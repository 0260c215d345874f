"""New-member hold: a member's first N messages in a community wait for a moderator.

``ctx.messages_in_community`` (messages the member posted or had held before this one) is
filled in by the server because this hook declares ``needs = {"member_stats"}``.
Settings: ``first_messages`` (N, default 0 = off), ``exempt_roles`` (hosts and staff).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from moderation_hooks.settings import SettingsReader
from moderation_hooks.verdict import Allow, Hold, MessageContext, Verdict

MEMBER_STATS = "member_stats"


@dataclass(frozen=True, slots=True)
class NewMemberHold:
    first_messages: int = 0
    exempt_roles: frozenset[str] = frozenset({"host", "moderator", "admin"})
    needs: frozenset[str] = frozenset({MEMBER_STATS})

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any]) -> NewMemberHold:
        r = SettingsReader("new_member", settings)
        first = r.integer("first_messages", 0, low=0, high=10_000)
        hook = cls(
            first_messages=first,
            exempt_roles=frozenset(r.roles("exempt_roles", ["host", "moderator", "admin"])),
            needs=frozenset({MEMBER_STATS}) if first else frozenset(),  # off: nothing to read
        )
        r.done()
        return hook

    def __call__(self, ctx: MessageContext) -> Verdict:
        if ctx.role.value in self.exempt_roles or ctx.messages_in_community >= self.first_messages:
            return Allow()
        n = ctx.messages_in_community + 1
        return Hold(
            f"new member: message {n} of the first {self.first_messages} is reviewed",
            category="new_member",
            notice="Welcome! A member's first messages here are read by a moderator before "
            "they appear. Yours will show up once it is approved.",
        )
