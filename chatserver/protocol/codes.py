"""Error codes (in replies), disconnect codes (WebSocket close codes) and unsubscribe push
codes of protocol v2: every code the server sends, named once (the domain's refusal codes
are defined in ``rooms`` and taken from there)."""

from __future__ import annotations

from dataclasses import dataclass

from rooms import policy
from rooms.qa import model as qa_model


@dataclass(frozen=True, slots=True)
class ErrorCode:
    code: int
    message: str
    temporary: bool = False


INTERNAL = ErrorCode(100, "internal server error", True)
UNAUTHORIZED = ErrorCode(101, "unauthorized")
UNKNOWN_CHANNEL = ErrorCode(policy.UNKNOWN_CHANNEL, "unknown channel")
PERMISSION_DENIED = ErrorCode(policy.PERMISSION_DENIED, "permission denied")
METHOD_NOT_FOUND = ErrorCode(104, "method not found")
ALREADY_SUBSCRIBED = ErrorCode(105, "already subscribed")
LIMIT_EXCEEDED = ErrorCode(106, "limit exceeded")
BAD_REQUEST = ErrorCode(policy.BAD_REQUEST, "bad request")
NOT_AVAILABLE = ErrorCode(108, "not available")
TOKEN_EXPIRED = ErrorCode(109, "token expired")
EXPIRED = ErrorCode(110, "expired")
TOO_MANY_REQUESTS = ErrorCode(111, "too many requests", True)
UNRECOVERABLE_POSITION = ErrorCode(112, "unrecoverable position")

# Application error codes (docs/protocol.md), in the 1000-1999 range.
MODERATION_REJECTED = ErrorCode(1001, "rejected by moderation")
MUTED = ErrorCode(1002, "muted")
BANNED = ErrorCode(1003, "banned")
ROOM_LOCKED = ErrorCode(1004, "room locked")
SLOW_MODE = ErrorCode(1005, "slow mode")
STAGE_MODE = ErrorCode(1006, "stage mode")
QUESTION_TOO_SOON = ErrorCode(qa_model.TOO_SOON, "question too soon")
QA_CONFLICT = ErrorCode(qa_model.CONFLICT, "Q&A state conflict")

BY_CODE = {
    e.code: e
    for e in (
        MODERATION_REJECTED,
        MUTED,
        BANNED,
        ROOM_LOCKED,
        SLOW_MODE,
        STAGE_MODE,
        QUESTION_TOO_SOON,
        QA_CONFLICT,
        INTERNAL,
        UNAUTHORIZED,
        UNKNOWN_CHANNEL,
        PERMISSION_DENIED,
        METHOD_NOT_FOUND,
        ALREADY_SUBSCRIBED,
        LIMIT_EXCEEDED,
        BAD_REQUEST,
        NOT_AVAILABLE,
        TOKEN_EXPIRED,
        EXPIRED,
        TOO_MANY_REQUESTS,
        UNRECOVERABLE_POSITION,
    )
}


@dataclass(frozen=True, slots=True)
class Disconnect:
    code: int
    reason: str

    @property
    def reconnect(self) -> bool:
        return self.code < 3500 or 4000 <= self.code < 4500


CONNECTION_CLOSED = Disconnect(3000, "connection closed")
SHUTDOWN = Disconnect(3001, "shutdown")
SERVER_ERROR = Disconnect(3004, "internal server error")
CONNECTION_EXPIRED = Disconnect(3005, "connection expired")
SUB_EXPIRED = Disconnect(3006, "subscription expired")
SLOW = Disconnect(3008, "slow")
WRITE_ERROR = Disconnect(3009, "write error")
INSUFFICIENT_STATE = Disconnect(3010, "insufficient state")
FORCE_RECONNECT = Disconnect(3011, "force reconnect")
NO_PONG = Disconnect(3012, "no pong")
TOO_MANY_REQUESTS_DISCONNECT = Disconnect(3013, "too many requests")
INVALID_TOKEN = Disconnect(3500, "invalid token")
BAD_REQUEST_DISCONNECT = Disconnect(3501, "bad request")
STALE = Disconnect(3502, "stale")
FORCE_NO_RECONNECT = Disconnect(3503, "force disconnect")
CONNECTION_LIMIT = Disconnect(3504, "connection limit")
CHANNEL_LIMIT = Disconnect(3505, "channel limit")
PERMISSION_DENIED_DISCONNECT = Disconnect(3507, "permission denied")
TOO_MANY_ERRORS = Disconnect(3509, "too many errors")
ERASED = Disconnect(3520, "user erased")  # an erasure request: the SDK does not reconnect
# Transport level: RFC 6455 "message too big".
MESSAGE_TOO_BIG = Disconnect(1009, "message too big")

# Unsubscribe push codes: below 2500 the SDK stays unsubscribed; 2500+ it resubscribes.
UNSUBSCRIBE_SERVER = 2000
UNSUBSCRIBE_KICKED = 2101
UNSUBSCRIBE_BANNED = 2103
UNSUBSCRIBE_INSUFFICIENT_STATE = 2500
