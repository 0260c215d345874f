"""Frame codecs: JSON (newline-separated, text frames) and Protobuf (varint-delimited, binary).

``decode_commands`` turns one WebSocket message into command dicts. ``encode`` turns one reply
dict into bytes in the codec's stream framing; ``join`` makes one WebSocket message out of
several encoded replies, so that pending replies and pushes share a frame.
"""

from __future__ import annotations

from typing import Any

import orjson

from chatserver.protocol import protobuf


class ProtocolError(ValueError):
    """The frame cannot be parsed: the connection is closed with 3501 (bad request)."""


def _default(obj: Any) -> Any:
    if isinstance(obj, (bytes, bytearray, memoryview)):
        return orjson.Fragment(bytes(obj))
    raise TypeError(f"cannot encode {type(obj).__name__}")


def json_dumps(value: Any) -> bytes:
    """orjson with ``bytes`` embedded as raw JSON (the protocol's ``data`` fields).

    orjson's result keeps the 4 KiB buffer it was written into, however short the JSON; a
    short result is copied to an exact-size object, so what is kept (connection info,
    queued replies and pushes, cached publications) costs what it weighs."""
    out = orjson.dumps(value, default=_default)
    if len(out) < 2048:
        return bytes(memoryview(out))
    return out


class Codec:
    name = "abstract"
    binary = False
    ping = b""

    def decode_commands(self, message: bytes | str) -> list[dict[str, Any]]:
        raise NotImplementedError

    def encode(self, reply: dict[str, Any]) -> bytes:
        raise NotImplementedError

    def join(self, items: list[bytes]) -> bytes:
        raise NotImplementedError

    def raw_data(self, value: Any) -> bytes:
        """A command's ``data`` field as raw JSON bytes."""
        raise NotImplementedError

    def load_data(self, value: Any) -> Any:
        """A command's ``data`` field as a Python value (raises ProtocolError)."""
        raise NotImplementedError


class JsonCodec(Codec):
    name = "json"
    binary = False
    ping = b"{}"

    def decode_commands(self, message: bytes | str) -> list[dict[str, Any]]:
        commands = []
        lines = message.split("\n") if isinstance(message, str) else message.split(b"\n")
        for line in lines:
            if not line.strip():
                continue
            try:
                cmd = orjson.loads(line)
            except orjson.JSONDecodeError as exc:
                raise ProtocolError(f"malformed JSON: {exc}") from None
            if not isinstance(cmd, dict):
                raise ProtocolError("a command must be a JSON object")
            commands.append(cmd)
        return commands

    def encode(self, reply: dict[str, Any]) -> bytes:
        return json_dumps(reply)

    def join(self, items: list[bytes]) -> bytes:
        return items[0] if len(items) == 1 else b"\n".join(items)

    def raw_data(self, value: Any) -> bytes:
        return orjson.dumps(value)

    def load_data(self, value: Any) -> Any:
        return value


class ProtobufCodec(Codec):
    name = "protobuf"
    binary = True
    ping = b"\x00"

    def decode_commands(self, message: bytes | str) -> list[dict[str, Any]]:
        if isinstance(message, str):
            raise ProtocolError("protobuf connections send binary frames")
        try:
            return [protobuf.decode("Command", m) for m in protobuf.split_frames(message)]
        except protobuf.DecodeError as exc:
            raise ProtocolError(f"malformed protobuf: {exc}") from None

    def encode(self, reply: dict[str, Any]) -> bytes:
        return protobuf.frame(protobuf.encode("Reply", reply))

    def join(self, items: list[bytes]) -> bytes:
        return items[0] if len(items) == 1 else b"".join(items)

    def raw_data(self, value: Any) -> bytes:
        if isinstance(value, bytes):
            return value
        return orjson.dumps(value)

    def load_data(self, value: Any) -> Any:
        if value is None or value == b"":
            return None
        if not isinstance(value, bytes):
            return value
        try:
            return orjson.loads(value)
        except orjson.JSONDecodeError:
            raise ProtocolError("data must be JSON-encoded bytes") from None


JSON = JsonCodec()
PROTOBUF = ProtobufCodec()
