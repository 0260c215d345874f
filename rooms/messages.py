"""Chat events carried in the ``data`` of room publications.

Every event has a ``type``. Room channels carry:
- ``message``: ``{type, id, text, user, name, role, ts, client_msg_id?, redacted?}``
- ``message.deleted``: ``{type, id, offset, by, ts}`` (added by moderation)
Other event types are documented where they are produced.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rooms.model import Member, Role, Room

MAX_CLIENT_MSG_ID = 64


class InvalidMessage(ValueError):
    """The client's message data does not fit; the text says why (sent back as 107)."""


@dataclass(frozen=True, slots=True)
class Draft:
    """A member's message as received, validated but not yet moderated."""

    text: str
    client_msg_id: str | None
    reply_to: str | None = None
    anonymous: bool = False  # an anonymous Q&A question: gates and alerts name nobody


def parse_draft(data: Any, room: Room) -> Draft:
    if not isinstance(data, dict):
        raise InvalidMessage('message data must be a JSON object like {"text": "..."}')
    text = data.get("text")
    if not isinstance(text, str):
        raise InvalidMessage('message data needs a "text" string')
    text = text.strip()
    if not text:
        raise InvalidMessage("message text is empty")
    if len(text) > room.settings.max_message_length:
        raise InvalidMessage(
            f"message text is {len(text)} characters; this room allows "
            f"{room.settings.max_message_length}"
        )
    cmid = data.get("client_msg_id")
    if cmid is not None:
        if not isinstance(cmid, str) or not cmid or len(cmid) > MAX_CLIENT_MSG_ID:
            raise InvalidMessage(f"client_msg_id must be a string of 1-{MAX_CLIENT_MSG_ID} characters")
        if any(c in cmid for c in ":{} \n\r\t"):
            raise InvalidMessage("client_msg_id may not contain spaces, ':' or braces")
    reply_to = data.get("reply_to")
    if reply_to is not None and not isinstance(reply_to, str):
        raise InvalidMessage("reply_to must be a message id")
    return Draft(text=text, client_msg_id=cmid, reply_to=reply_to)


def message_event(
    *,
    message_id: str,
    text: str,
    author: Member,
    role: Role,
    ts_ms: int,
    client_msg_id: str | None = None,
    redacted: list[str] | None = None,
    reply_to: str | None = None,
) -> dict[str, Any]:
    event: dict[str, Any] = {
        "type": "message",
        "id": message_id,
        "text": text,
        "user": author.user,
        "name": author.name,
        "role": role.value,
        "ts": ts_ms,
    }
    if client_msg_id:
        event["client_msg_id"] = client_msg_id
    if redacted:
        event["redacted"] = redacted
    if reply_to:
        event["reply_to"] = reply_to
    return event
