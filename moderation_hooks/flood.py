"""Flood control: per-member rate, repeated messages and mention spam.

The hook is pure: the member's recent attempts to post in the room (refused ones included)
arrive in ``ctx.extra["recent_posts"]`` (a tuple of ``RecentPost``, newest first), filled in
by the server because this hook declares ``needs = {"recent_posts"}``. Room slow mode (one post
per N seconds, error 1005) is enforced before the pipeline by the server, because it must
be claimed atomically across processes.

Settings: ``rate`` posts per ``per`` seconds (10 per 10), ``duplicate_window`` seconds (60)
and ``max_copies`` (2: a third identical message inside the window is refused),
``max_mentions`` (5) with ``mention_action`` (``reject`` | ``hold``), ``exempt_roles``
(``["moderator", "admin"]``).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from moderation_hooks.settings import SettingsReader
from moderation_hooks.verdict import Allow, Hold, MessageContext, Reject, Verdict

RECENT_POSTS = "recent_posts"
_MENTION = re.compile(r"(?<![\w@])@[\w.-]{1,64}")


@dataclass(frozen=True, slots=True)
class RecentPost:
    at: float  # unix seconds
    digest: str  # ``digest(text)``


def digest(text: str) -> str:
    """A short fingerprint of a message for duplicate detection (case and spacing ignored)."""
    normal = " ".join(text.casefold().split())
    return hashlib.blake2b(normal.encode(), digest_size=8).hexdigest()


def count_mentions(text: str) -> int:
    return len(_MENTION.findall(text)) if "@" in text else 0


@dataclass(frozen=True, slots=True)
class FloodControl:
    rate: int = 10
    per: float = 10.0
    duplicate_window: float = 60.0
    max_copies: int = 2
    max_mentions: int = 5
    mention_action: str = "reject"
    exempt_roles: frozenset[str] = frozenset({"moderator", "admin"})
    needs: frozenset[str] = frozenset({RECENT_POSTS})

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any]) -> FloodControl:
        r = SettingsReader("flood", settings)
        hook = cls(
            rate=r.integer("rate", 10, low=1, high=10_000),
            per=r.number("per", 10.0, low=1, high=86_400),
            duplicate_window=r.number("duplicate_window", 60.0, low=0, high=86_400),
            max_copies=r.integer("max_copies", 2, low=1, high=1000),
            max_mentions=r.integer("max_mentions", 5, low=1, high=1000),
            mention_action=r.string("mention_action", "reject", ("reject", "hold")),
            exempt_roles=frozenset(r.roles("exempt_roles", ["moderator", "admin"])),
        )
        r.done()
        return hook

    def __call__(self, ctx: MessageContext) -> Verdict:
        if ctx.role.value in self.exempt_roles:
            return Allow()
        mentions = count_mentions(ctx.text)
        if mentions > self.max_mentions:
            if self.mention_action == "hold":
                return Hold(f"{mentions} mentions in one message", category="mention_spam")
            return Reject(f"too many mentions (at most {self.max_mentions} per message)")
        recent: tuple[RecentPost, ...] = tuple(ctx.extra.get(RECENT_POSTS, ()))
        in_window = [p for p in recent if ctx.now - p.at < self.per]
        if len(in_window) >= self.rate:
            oldest = min(p.at for p in in_window)
            wait = max(1, int(self.per - (ctx.now - oldest) + 0.999))
            return Reject(f"you are posting too fast; try again in {wait} s", retry_after=wait)
        if self.duplicate_window > 0:
            mine = digest(ctx.text)
            copies = sum(1 for p in recent if p.digest == mine and ctx.now - p.at < self.duplicate_window)
            if copies + 1 > self.max_copies:
                return Reject("you already sent this message; please don't repeat it")
        return Allow()
