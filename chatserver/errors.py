"""Errors a command handler raises to answer the client with a protocol error."""

from __future__ import annotations

from chatserver.protocol import codes


class ReplyError(Exception):
    """Answer the command with ``{"error": {code, message, temporary}}``; connection stays."""

    def __init__(
        self, error: codes.ErrorCode | int, message: str = "", temporary: bool | None = None
    ) -> None:
        """``error`` is a named code from ``chatserver.protocol.codes``; a plain number only
        where the domain decided it (``rooms.policy.Denied.code``)."""
        if isinstance(error, codes.ErrorCode):
            known: codes.ErrorCode | None = error
            code = error.code
        else:
            known = codes.BY_CODE.get(error)
            code = error
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
