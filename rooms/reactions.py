"""Support reactions on room messages (no I/O).

A small fixed set that suits a peer-support room: a heart, a hug, "same here" and thanks. A
member gives each at most once per message and may take it back; every change is a
``message.reactions`` event in the room's stream carrying the message's new counts, so
members online get it live and members who come back get it with history or recovery.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# In the order clients offer them.
REACTIONS: tuple[str, ...] = ("heart", "hug", "same", "thanks")

# Per member and room: at most RATE changes in WINDOW seconds (a toggle counts once).
RATE = 20
WINDOW = 30


class InvalidReaction(ValueError):
    """The request does not name a message and one of the reactions; the message says why."""


@dataclass(frozen=True, slots=True)
class ReactionRequest:
    message_id: str
    offset: int
    reaction: str
    on: bool


def parse_request(data: Any) -> ReactionRequest:
    """``{id, offset, reaction, on?}`` from a client (``on`` defaults to true)."""
    if not isinstance(data, dict):
        raise InvalidReaction('expected {"channel", "id", "offset", "reaction", "on"?}')
    message_id = data.get("id")
    if not isinstance(message_id, str) or not message_id or len(message_id) > 100:
        raise InvalidReaction("id (the message's id) is required")
    offset = data.get("offset")
    if isinstance(offset, bool) or not isinstance(offset, int) or offset < 1:
        raise InvalidReaction("offset (the message's offset in the room) is required")
    reaction = data.get("reaction")
    if reaction not in REACTIONS:
        raise InvalidReaction(f"reaction must be one of {', '.join(REACTIONS)}")
    on = data.get("on", True)
    if not isinstance(on, bool):
        raise InvalidReaction("on must be true or false")
    return ReactionRequest(message_id, offset, reaction, on)


def reaction_event(request: ReactionRequest, user: str, ts_ms: int) -> dict[str, Any]:
    """The event without its counts (the store adds them, atomically with the change)."""
    return {
        "type": "message.reactions",
        # Not "id": moderators find a message by id among the stream's events, and this
        # event is not the message.
        "message_id": request.message_id,
        "offset": request.offset,
        "user": user,
        "reaction": request.reaction,
        "on": request.on,
        "ts": ts_ms,
    }


def counts_view(raw: dict[str, int]) -> dict[str, int]:
    """Counts in the fixed order, without zeros."""
    return {kind: int(raw[kind]) for kind in REACTIONS if int(raw.get(kind, 0)) > 0}
