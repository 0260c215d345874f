"""A small Protobuf wire-format encoder/decoder for the protocol v2 messages.

Written by hand from the field numbers of ``client.proto`` so the server needs no generated
code. Messages are plain dicts with snake_case keys, as in the JSON protocol; ``bytes`` fields
(``data``, ``conn_info``, ``chan_info``) are ``bytes``. Unknown fields are skipped on decode.
"""

from __future__ import annotations

from typing import Any

# Field kinds
STR, BYTES, UINT, INT, BOOL, MSG, REP_MSG, MAP_MSG, MAP_STR = range(9)

Schema = dict[str, tuple[int, int, str | None]]

SCHEMAS: dict[str, Schema] = {
    # Requests
    "Command": {
        "id": (1, UINT, None),
        "connect": (4, MSG, "ConnectRequest"),
        "subscribe": (5, MSG, "SubscribeRequest"),
        "unsubscribe": (6, MSG, "ChannelRequest"),
        "publish": (7, MSG, "PublishRequest"),
        "presence": (8, MSG, "ChannelRequest"),
        "presence_stats": (9, MSG, "ChannelRequest"),
        "history": (10, MSG, "HistoryRequest"),
        "ping": (11, MSG, "Empty"),
        "send": (12, MSG, "SendRequest"),
        "rpc": (13, MSG, "RPCRequest"),
        "refresh": (14, MSG, "RefreshRequest"),
        "sub_refresh": (15, MSG, "SubRefreshRequest"),
    },
    "ConnectRequest": {
        "token": (1, STR, None),
        "data": (2, BYTES, None),
        "subs": (3, MAP_MSG, "SubscribeRequest"),
        "name": (4, STR, None),
        "version": (5, STR, None),
        "headers": (6, MAP_STR, None),
        "flag": (7, INT, None),
    },
    "SubscribeRequest": {
        "channel": (1, STR, None),
        "token": (2, STR, None),
        "recover": (3, BOOL, None),
        "epoch": (6, STR, None),
        "offset": (7, UINT, None),
        "data": (8, BYTES, None),
        "positioned": (9, BOOL, None),
        "recoverable": (10, BOOL, None),
        "join_leave": (11, BOOL, None),
        "delta": (12, STR, None),
        "flag": (14, INT, None),
    },
    "ChannelRequest": {"channel": (1, STR, None)},
    "PublishRequest": {"channel": (1, STR, None), "data": (2, BYTES, None)},
    "HistoryRequest": {
        "channel": (1, STR, None),
        "limit": (7, INT, None),
        "since": (8, MSG, "StreamPosition"),
        "reverse": (9, BOOL, None),
    },
    "StreamPosition": {"offset": (1, UINT, None), "epoch": (2, STR, None)},
    "Empty": {},
    "SendRequest": {"data": (1, BYTES, None)},
    "RPCRequest": {"data": (1, BYTES, None), "method": (2, STR, None)},
    "RefreshRequest": {"token": (1, STR, None)},
    "SubRefreshRequest": {"channel": (1, STR, None), "token": (2, STR, None)},
    # Replies
    "Reply": {
        "id": (1, UINT, None),
        "error": (2, MSG, "Error"),
        "push": (4, MSG, "Push"),
        "connect": (5, MSG, "ConnectResult"),
        "subscribe": (6, MSG, "SubscribeResult"),
        "unsubscribe": (7, MSG, "Empty"),
        "publish": (8, MSG, "Empty"),
        "presence": (9, MSG, "PresenceResult"),
        "presence_stats": (10, MSG, "PresenceStatsResult"),
        "history": (11, MSG, "HistoryResult"),
        "ping": (12, MSG, "Empty"),
        "rpc": (13, MSG, "RPCResult"),
        "refresh": (14, MSG, "RefreshResult"),
        "sub_refresh": (15, MSG, "SubRefreshResult"),
    },
    "Error": {"code": (1, UINT, None), "message": (2, STR, None), "temporary": (3, BOOL, None)},
    "Push": {
        "channel": (2, STR, None),
        "pub": (4, MSG, "Publication"),
        "join": (5, MSG, "Join"),
        "leave": (6, MSG, "Join"),
        "unsubscribe": (7, MSG, "Unsubscribe"),
        "message": (8, MSG, "Message"),
        "subscribe": (9, MSG, "Subscribe"),
        "connect": (10, MSG, "ConnectResult"),
        "disconnect": (11, MSG, "Disconnect"),
        "refresh": (12, MSG, "Refresh"),
    },
    "ClientInfo": {
        "user": (1, STR, None),
        "client": (2, STR, None),
        "conn_info": (3, BYTES, None),
        "chan_info": (4, BYTES, None),
    },
    "Publication": {
        "data": (4, BYTES, None),
        "info": (5, MSG, "ClientInfo"),
        "offset": (6, UINT, None),
        "tags": (7, MAP_STR, None),
        "time": (9, INT, None),
        "channel": (10, STR, None),
    },
    "Join": {"info": (1, MSG, "ClientInfo")},
    "Unsubscribe": {"code": (2, UINT, None), "reason": (3, STR, None)},
    "Message": {"data": (1, BYTES, None)},
    "Subscribe": {
        "recoverable": (1, BOOL, None),
        "epoch": (4, STR, None),
        "offset": (5, UINT, None),
        "positioned": (6, BOOL, None),
        "data": (7, BYTES, None),
    },
    "Disconnect": {"code": (1, UINT, None), "reason": (2, STR, None), "reconnect": (3, BOOL, None)},
    "Refresh": {"expires": (1, BOOL, None), "ttl": (2, UINT, None)},
    "ConnectResult": {
        "client": (1, STR, None),
        "version": (2, STR, None),
        "expires": (3, BOOL, None),
        "ttl": (4, UINT, None),
        "data": (5, BYTES, None),
        "subs": (6, MAP_MSG, "SubscribeResult"),
        "ping": (7, UINT, None),
        "pong": (8, BOOL, None),
        "session": (9, STR, None),
        "node": (10, STR, None),
        "time": (11, INT, None),
    },
    "SubscribeResult": {
        "expires": (1, BOOL, None),
        "ttl": (2, UINT, None),
        "recoverable": (3, BOOL, None),
        "epoch": (6, STR, None),
        "publications": (7, REP_MSG, "Publication"),
        "recovered": (8, BOOL, None),
        "offset": (9, UINT, None),
        "positioned": (10, BOOL, None),
        "data": (11, BYTES, None),
        "was_recovering": (12, BOOL, None),
    },
    "PresenceResult": {"presence": (1, MAP_MSG, "ClientInfo")},
    "PresenceStatsResult": {"num_clients": (1, UINT, None), "num_users": (2, UINT, None)},
    "HistoryResult": {
        "publications": (1, REP_MSG, "Publication"),
        "epoch": (2, STR, None),
        "offset": (3, UINT, None),
    },
    "RPCResult": {"data": (1, BYTES, None)},
    "RefreshResult": {
        "client": (1, STR, None),
        "version": (2, STR, None),
        "expires": (3, BOOL, None),
        "ttl": (4, UINT, None),
    },
    "SubRefreshResult": {"expires": (1, BOOL, None), "ttl": (2, UINT, None)},
}

# Decoding tables: message -> field number -> (name, kind, sub)
_BY_NUMBER: dict[str, dict[int, tuple[str, int, str | None]]] = {
    msg: {num: (name, kind, sub) for name, (num, kind, sub) in fields.items()}
    for msg, fields in SCHEMAS.items()
}


class DecodeError(ValueError):
    pass


def varint(value: int) -> bytes:
    if value < 0:
        value &= (1 << 64) - 1
    if value < 0x80:
        return bytes((value,))
    out = bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def read_varint(buf: bytes, pos: int) -> tuple[int, int]:
    result = 0
    shift = 0
    end = len(buf)
    while True:
        if pos >= end:
            raise DecodeError("truncated varint")
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7
        if shift > 63:
            raise DecodeError("varint too long")


def _key(num: int, wire: int) -> bytes:
    return varint((num << 3) | wire)


def _ld(num: int, payload: bytes) -> bytes:
    return _key(num, 2) + varint(len(payload)) + payload


def encode(msg: str, value: dict[str, Any]) -> bytes:
    """Encode ``value`` (a dict in the JSON shape) as message type ``msg``."""
    schema = SCHEMAS[msg]
    out: list[bytes] = []
    for name, field_value in value.items():
        spec = schema.get(name)
        if spec is None or field_value is None:
            continue
        num, kind, sub = spec
        if kind == STR:
            if field_value:
                out.append(_ld(num, field_value.encode()))
        elif kind == BYTES:
            if field_value:
                out.append(_ld(num, field_value))
        elif kind in (UINT, INT):
            if field_value:
                out.append(_key(num, 0) + varint(int(field_value)))
        elif kind == BOOL:
            if field_value:
                out.append(_key(num, 0) + b"\x01")
        elif kind == MSG:
            assert sub is not None
            out.append(_ld(num, encode(sub, field_value)))
        elif kind == REP_MSG:
            assert sub is not None
            for item in field_value:
                # bytes are an already-encoded message (a publication encoded once, reused)
                out.append(_ld(num, item if isinstance(item, bytes) else encode(sub, item)))
        elif kind == MAP_MSG:
            assert sub is not None
            for k, v in field_value.items():
                entry = _ld(1, k.encode()) + _ld(2, encode(sub, v))
                out.append(_ld(num, entry))
        elif kind == MAP_STR:
            for k, v in field_value.items():
                entry = _ld(1, k.encode()) + _ld(2, str(v).encode())
                out.append(_ld(num, entry))
    return b"".join(out)


def decode(msg: str, buf: bytes) -> dict[str, Any]:
    """Decode ``buf`` as message type ``msg`` into a dict in the JSON shape."""
    fields = _BY_NUMBER[msg]
    result: dict[str, Any] = {}
    pos = 0
    end = len(buf)
    while pos < end:
        key, pos = read_varint(buf, pos)
        num, wire = key >> 3, key & 7
        if wire == 0:
            raw, pos = read_varint(buf, pos)
            chunk: bytes | None = None
        elif wire == 2:
            length, pos = read_varint(buf, pos)
            if pos + length > end:
                raise DecodeError("truncated field")
            chunk = buf[pos : pos + length]
            pos += length
            raw = 0
        elif wire == 1:
            pos += 8
            continue
        elif wire == 5:
            pos += 4
            continue
        else:
            raise DecodeError(f"unsupported wire type {wire}")
        spec = fields.get(num)
        if spec is None:
            continue
        name, kind, sub = spec
        if kind in (UINT, INT, BOOL):
            if chunk is not None:
                raise DecodeError(f"field {name} has the wrong wire type")
            if kind == BOOL:
                result[name] = bool(raw)
            elif kind == INT and raw >= 1 << 63:
                result[name] = raw - (1 << 64)
            else:
                result[name] = raw
            continue
        if chunk is None:
            raise DecodeError(f"field {name} has the wrong wire type")
        if kind == STR:
            try:
                result[name] = chunk.decode()
            except UnicodeDecodeError:
                raise DecodeError(f"field {name} is not UTF-8") from None
        elif kind == BYTES:
            result[name] = bytes(chunk)
        elif kind == MSG:
            assert sub is not None
            result[name] = decode(sub, chunk)
        elif kind == REP_MSG:
            assert sub is not None
            result.setdefault(name, []).append(decode(sub, chunk))
        elif kind in (MAP_MSG, MAP_STR):
            entry = _decode_map_entry(chunk, sub if kind == MAP_MSG else None)
            result.setdefault(name, {})[entry[0]] = entry[1]
    return result


def _decode_map_entry(buf: bytes, sub: str | None) -> tuple[str, Any]:
    key = ""
    value: Any = {} if sub else ""
    pos = 0
    while pos < len(buf):
        tag, pos = read_varint(buf, pos)
        length, pos = read_varint(buf, pos)
        chunk = buf[pos : pos + length]
        pos += length
        if tag >> 3 == 1:
            key = chunk.decode()
        elif tag >> 3 == 2:
            value = decode(sub, chunk) if sub else chunk.decode()
    return key, value


def frame(message: bytes) -> bytes:
    """Prefix one encoded message with its varint length (the stream framing)."""
    return varint(len(message)) + message


def split_frames(buf: bytes) -> list[bytes]:
    """Split a binary WebSocket message into its varint-length-prefixed messages."""
    out = []
    pos = 0
    end = len(buf)
    while pos < end:
        length, pos = read_varint(buf, pos)
        if pos + length > end:
            raise DecodeError("truncated message")
        out.append(buf[pos : pos + length])
        pos += length
    return out
