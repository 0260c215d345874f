"""Errors of moderation actions: a protocol error code for RPC, an HTTP status for the API."""

from __future__ import annotations

from chatserver.errors import ReplyError
from chatserver.protocol import codes

HTTP_STATUS = {
    codes.UNKNOWN_CHANNEL.code: 404,
    codes.PERMISSION_DENIED.code: 403,
    codes.BAD_REQUEST.code: 400,
    codes.NOT_AVAILABLE.code: 409,
}


class ModerationError(ReplyError):
    def __init__(self, error: codes.ErrorCode, message: str, status: int | None = None) -> None:
        super().__init__(error, message)
        self.status = status or HTTP_STATUS.get(error.code, 400)


def bad_request(message: str) -> ModerationError:
    return ModerationError(codes.BAD_REQUEST, f"bad request: {message}", 400)


def not_found(message: str) -> ModerationError:
    return ModerationError(codes.BAD_REQUEST, f"bad request: {message}", 404)


def conflict(message: str) -> ModerationError:
    return ModerationError(codes.BAD_REQUEST, f"bad request: {message}", 409)
