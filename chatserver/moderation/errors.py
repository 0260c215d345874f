"""Errors of moderation actions: a protocol error code for RPC, an HTTP status for the API."""

from __future__ import annotations

from chatserver.errors import ReplyError

HTTP_STATUS = {102: 404, 103: 403, 107: 400, 108: 409}


class ModerationError(ReplyError):
    def __init__(self, code: int, message: str, status: int | None = None) -> None:
        super().__init__(code, message)
        self.status = status or HTTP_STATUS.get(code, 400)


def bad_request(message: str) -> ModerationError:
    return ModerationError(107, f"bad request: {message}", 400)


def not_found(message: str) -> ModerationError:
    return ModerationError(107, f"bad request: {message}", 404)


def conflict(message: str) -> ModerationError:
    return ModerationError(107, f"bad request: {message}", 409)
