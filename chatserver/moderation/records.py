"""Moderation's crisis signal; a held item as stored (``HoldRecord``, defined with the other
store records in ``chatserver.records``: the stores and the features both use it).

``HoldRecord`` carries everything needed to review the item and to publish it later without
the author's connection: who (user, name, role, client info), what (original text, the
spans to redact, kind-specific ``payload``), why (reason, category, priority) and when.
"""

from __future__ import annotations

from dataclasses import dataclass

from chatserver.records import HoldRecord

__all__ = ["CrisisSignal", "HoldRecord"]  # HoldRecord: defined with the store records


@dataclass(frozen=True, slots=True)
class CrisisSignal:
    """Crisis language seen by moderation, for whoever opens crisis cases
    (``ModerationService.on_crisis``). ``source``: ``hold`` (held for review), ``support``
    (posted for peer support), ``refused`` (refused before review: mute, ban, slow mode) or
    ``rejected`` (rejected by another rule), ``concern`` (a member is worried about the
    author). ``kind``: ``self`` (the member's own risk) or ``third_party`` (the member wrote
    about someone else at risk)."""

    community: str
    user: str
    name: str
    channel: str
    text: str
    reason: str
    source: str
    hold_id: str = ""
    message_id: str = ""
    offset: int = 0
    kind: str = "self"


# HoldRecord is imported above from chatserver.records (the engine stores it).
