"""A held item as stored in Redis, and the store that keeps the hold queue.

``HoldRecord`` carries everything needed to review the item and to publish it later without
the author's connection: who (user, name, role, client info), what (original text, the
spans to redact, kind-specific ``payload``), why (reason, category, priority) and when.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import msgpack

from chatserver.moderation.audit import iso
from moderation_hooks import Span, apply_redactions


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


@dataclass
class HoldRecord:
    id: str
    kind: str  # "message", "question", "reported", ... (a key of the on-approve registry)
    channel: str  # the room channel "<community>:<room>"
    user: str
    name: str
    role: str
    text: str  # as written (moderators only)
    reason: str
    category: str = ""
    priority: str = "normal"
    created_ms: int = 0
    expires_ms: int = 0
    client_msg_id: str = ""
    reply_to: str = ""
    spans: list[tuple[int, int, str]] = field(default_factory=list)  # redactions to apply
    info: dict[str, Any] = field(default_factory=dict)  # client info for the publication
    payload: dict[str, Any] = field(default_factory=dict)  # kind-specific data
    escalated: bool = False
    status: str = "pending"  # pending | approved | rejected | expired
    resolution: dict[str, Any] = field(default_factory=dict)

    @property
    def community(self) -> str:
        return self.channel.partition(":")[0]

    @property
    def anonymous(self) -> bool:
        """An anonymous Q&A question: no view, feed event or audit entry names its asker
        (only ``qa.trace`` does)."""
        return self.kind == "question" and bool(self.payload.get("anonymous"))

    def seen_by(self) -> tuple[str, str]:
        """(user, name) as views may show them: nobody for an anonymous question."""
        return ("", "anonymous") if self.anonymous else (self.user, self.name)

    def drop_original(self) -> None:
        """Keep only the text as members would see it (after resolution): the original with
        its personal details goes unless the community keeps originals for safety review."""
        self.text = self.redacted_text
        self.spans = []

    @property
    def redacted_text(self) -> str:
        """The text as it would be published without an edit (PII hidden)."""
        spans = tuple(Span(s, e, label) for s, e, label in self.spans)
        return apply_redactions(self.text, spans) if spans else self.text

    def pack(self) -> bytes:
        body = {
            "id": self.id,
            "k": self.kind,
            "c": self.channel,
            "u": self.user,
            "n": self.name,
            "ro": self.role,
            "t": self.text,
            "re": self.reason,
            "ca": self.category,
            "p": self.priority,
            "cr": self.created_ms,
            "ex": self.expires_ms,
            "cm": self.client_msg_id,
            "rt": self.reply_to,
            "sp": [list(s) for s in self.spans],
            "i": self.info,
            "pl": self.payload,
            "es": self.escalated,
        }
        return msgpack.packb(body, use_bin_type=True)

    @classmethod
    def unpack(cls, raw: bytes, status: str = "pending", resolution: bytes | None = None) -> HoldRecord:
        b = msgpack.unpackb(raw, raw=False)
        return cls(
            id=b["id"],
            kind=b.get("k", "message"),
            channel=b["c"],
            user=b.get("u", ""),
            name=b.get("n", ""),
            role=b.get("ro", "member"),
            text=b.get("t", ""),
            reason=b.get("re", ""),
            category=b.get("ca", ""),
            priority=b.get("p", "normal"),
            created_ms=int(b.get("cr", 0)),
            expires_ms=int(b.get("ex", 0)),
            client_msg_id=b.get("cm", ""),
            reply_to=b.get("rt", ""),
            spans=[(int(s[0]), int(s[1]), str(s[2])) for s in b.get("sp", [])],
            info=b.get("i") or {},
            payload=b.get("pl") or {},
            escalated=bool(b.get("es", False)),
            status=status,
            resolution=msgpack.unpackb(resolution, raw=False) if resolution else {},
        )

    def public(self, original: bool = True) -> dict[str, Any]:
        """What moderators see (JSON-safe): everything but the raw client info. ``text`` is
        the text as written while the hold is pending and only in direct answers to a
        moderator (``original``); feed events, which are kept in history, carry the text as
        members would see it (``original=False``). An anonymous question names no asker."""
        user, name = self.seen_by()
        out: dict[str, Any] = {
            "id": self.id,
            "kind": self.kind,
            "channel": self.channel,
            "user": user,
            "name": name,
            "role": self.role,
            "text": self.text if original else self.redacted_text,
            "reason": self.reason,
            "category": self.category,
            "priority": self.priority,
            "created": self.created_ms,
            "expires": self.expires_ms,
            "expires_at": iso(self.expires_ms / 1000),
            "escalated": self.escalated,
            "status": self.status,
        }
        if self.anonymous:
            out["anonymous"] = True
        if self.spans:
            out["hidden"] = sorted({label for _, _, label in self.spans})
            out["redacted_text"] = self.redacted_text
        if self.client_msg_id:
            out["client_msg_id"] = self.client_msg_id
        if self.payload:
            out["payload"] = self.payload
        if self.resolution:
            out["resolution"] = self.resolution
        return out
