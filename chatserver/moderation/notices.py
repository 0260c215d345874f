"""The events moderation sends: private notices to a sender (``moderation.*`` on
``user#<id>``) and updates for moderator feeds. Plain builders, no I/O.

Notices speak to the member kindly and never quote a moderator-only reason (e.g. which
crisis phrase matched); moderators see those in the hold and the audit log.

Server text is data (issue 25): next to the English sentence (``message``, ``reason``) a
notice carries ``code`` and ``params`` from which a client says it in its reader's language
(the web client's catalogues); a client that does not know the code shows the sentence.
"""

from __future__ import annotations

import time
from typing import Any

from chatserver.moderation.audit import Actor, iso
from chatserver.moderation.records import HoldRecord
from moderation_hooks import Hold, Support

_HELD_TEXT = {
    "link": "Messages with links are read by a moderator before they appear.",
    "hook_failure": "We could not check your message automatically, so a moderator will read it first.",
    "reported": "Members reported your message, so it is hidden until a moderator has looked at it.",
}
_DEFAULT_HELD = "Your message is waiting for a moderator and will appear once it is approved."
_LABEL_WORDS = {
    "email": "an e-mail address",
    "phone": "a phone number",
    "address": "a street address",
    "id number": "an ID number",
    "link": "a link",
}


def _base(kind: str, record: HoldRecord) -> dict[str, Any]:
    return {"type": kind, "id": record.id, "kind": record.kind, "channel": record.channel, "ts": _now_ms()}


def _now_ms() -> int:
    return int(time.time() * 1000)


def held(record: HoldRecord, note: str = "") -> dict[str, Any]:
    event = _base("moderation.held", record)
    event["message"] = note or _HELD_TEXT.get(record.category, _DEFAULT_HELD)
    if not note:  # a hook's own words have no code: clients show them as they are
        event["code"] = f"held.{record.category}" if record.category in _HELD_TEXT else "held.waiting"
        event["params"] = {}
    event["expires_at"] = iso(record.expires_ms / 1000)
    if record.client_msg_id:
        event["client_msg_id"] = record.client_msg_id
    return event


def support(record: HoldRecord, crisis: Hold | Support) -> dict[str, Any]:
    event = _base("moderation.support", record)
    event["message"] = crisis.notice
    event["resources"] = [r.to_dict() for r in crisis.resources]
    if crisis.subject == "third_party":
        event["subject"] = "third_party"  # how to help someone else
    return event


def support_for(channel: str, crisis: Hold | Support, message_id: str = "") -> dict[str, Any]:
    """Support resources for a post that was not held: refused before it could be, or
    published for peer support (``message_id``)."""
    event: dict[str, Any] = {
        "type": "moderation.support",
        "channel": channel,
        "ts": _now_ms(),
        "message": crisis.notice,
        "resources": [r.to_dict() for r in crisis.resources],
    }
    if message_id:
        event["message_id"] = message_id
    if crisis.subject == "third_party":
        event["subject"] = "third_party"  # how to help someone else
    return event


def approved(record: HoldRecord, text: str, edited: bool, published: dict[str, Any]) -> dict[str, Any]:
    event = _base("moderation.approved", record)
    event["text"] = text
    event["edited"] = edited
    event.update({k: v for k, v in published.items() if k in ("offset", "epoch", "message_id")})
    return event


def rejected(record: HoldRecord, reason: str, reason_code: str = "") -> dict[str, Any]:
    """``reason`` as the moderator wrote it; ``reason_code`` the preset it came from (so the
    member reads it in her own language), when the moderator did not change its words."""
    event = _base("moderation.rejected", record)
    event["reason"] = reason
    event["code"] = "rejected"
    event["params"] = {"reason": reason}
    if reason_code:
        event["reason_code"] = reason_code
    return event


def expired(record: HoldRecord) -> dict[str, Any]:
    event = _base("moderation.expired", record)
    event["message"] = (
        "No moderator was able to review your message in time, so it was not posted. "
        "You are welcome to send it again."
    )
    event["code"] = "expired"
    event["params"] = {}
    return event


def redacted(channel: str, message_id: str, labels: list[str], text: str) -> dict[str, Any]:
    words = [_LABEL_WORDS.get(label, label) for label in labels]
    listed = words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]
    return {
        "type": "moderation.redacted",
        "id": message_id,
        "channel": channel,
        "ts": _now_ms(),
        "hidden": labels,
        "text": text,
        "message": f"To keep you safe, we hid {listed} before your message was shared.",
        "code": "redacted",
        "params": {"hidden": labels},
    }


def resolved(record: HoldRecord, actor: Actor) -> dict[str, Any]:
    event: dict[str, Any] = {
        "type": "hold.resolved",
        "id": record.id,
        "kind": record.kind,
        "channel": record.channel,
        "status": record.status,
        "by": actor.to_dict(),
        "ts": _now_ms(),
    }
    if record.resolution.get("reason"):
        event["reason"] = record.resolution["reason"]
    if record.resolution.get("edited"):
        event["edited"] = True
    return event


def sanction(kind: str, community: str, until: float | None, reason: str, **extra: Any) -> dict[str, Any]:
    """``moderation.muted`` / ``unmuted`` / ``banned`` / ``unbanned`` / ``kicked`` / ``deleted``."""
    event: dict[str, Any] = {"type": f"moderation.{kind}", "community": community, "ts": _now_ms()}
    if until is not None:
        event["until"] = iso(until) if until else None
    if reason:
        event["reason"] = reason
    event.update(extra)
    return event
