"""A refusal (``Denied``) and the refusal codes; they double as protocol error codes
(chatserver.protocol.codes names them)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Denied:
    """Why an action is refused. ``code`` is the protocol error code to answer with."""

    code: int
    reason: str


UNKNOWN_CHANNEL = 102
PERMISSION_DENIED = 103
BAD_REQUEST = 107
ROOM_LOCKED = 1004
