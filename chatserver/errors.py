"""Errors a command handler raises to answer the client with a protocol error."""

from __future__ import annotations

from chatserver.protocol import codes


class ReplyError(Exception):
    """Answer the command with ``{"error": {code, message, temporary}}``; connection stays."""

    def __init__(self, code: int, message: str = "", temporary: bool | None = None) -> None:
        known = codes.BY_CODE.get(code)
        self.code = code
        self.message = message or (known.message if known else "error")
        self.temporary = temporary if temporary is not None else bool(known and known.temporary)
        super().__init__(f"{code}: {self.message}")

    def to_dict(self) -> dict[str, object]:
        out: dict[str, object] = {"code": self.code, "message": self.message}
        if self.temporary:
            out["temporary"] = True
        return out


class DisconnectError(Exception):
    """Close the connection with this code and reason."""

    def __init__(self, disconnect: codes.Disconnect, reason: str | None = None) -> None:
        self.disconnect = codes.Disconnect(disconnect.code, reason or disconnect.reason)
        super().__init__(f"{self.disconnect.code}: {self.disconnect.reason}")


# Application error codes (documented in docs/protocol.md). Standard codes are used where
# they fit (102 unknown room, 103 not allowed, 111 rate limited).
MODERATION_REJECTED = 1001  # a moderation hook rejected the message; message says why
MUTED = 1002  # the member is muted; message names the end time
BANNED = 1003  # the member is banned from the community
ROOM_LOCKED = 1004
SLOW_MODE = 1005  # message names when the next post is allowed
STAGE_MODE = 1006  # room is in Q&A stage mode: ask on the board instead
