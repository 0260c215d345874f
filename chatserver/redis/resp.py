"""RESP (Redis serialization protocol) encoding and an incremental reply reader.

Shared by the pub/sub connection and the pipelined publish connection. The reader works on
an immutable ``bytes`` buffer with indexes (no per-line copies) and returns every complete
value in the buffer; a partial value stays buffered until more data arrives.
"""

from __future__ import annotations


class RespError(Exception):
    """An error reply from Redis (``-ERR ...``); also raised for malformed input."""


class _Incomplete(Exception):
    pass


_INCOMPLETE = _Incomplete()


def encode_command(*args: bytes | str | int) -> bytes:
    """One command as a RESP array of bulk strings."""
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        if isinstance(a, bytes):
            b = a
        elif isinstance(a, str):
            b = a.encode()
        else:
            b = str(a).encode()
        out.append(b"$%d\r\n%b\r\n" % (len(b), b))
    return b"".join(out)


def _value(buf: bytes, pos: int) -> tuple[object, int]:
    if pos >= len(buf):
        raise _INCOMPLETE
    end = buf.find(b"\r\n", pos)
    if end < 0:
        raise _INCOMPLETE
    kind = buf[pos]
    if kind == 0x24:  # $ bulk string
        n = int(buf[pos + 1 : end])
        if n < 0:
            return None, end + 2
        start = end + 2
        stop = start + n
        if stop + 2 > len(buf):
            raise _INCOMPLETE
        return buf[start:stop], stop + 2
    if kind == 0x2A or kind == 0x3E:  # * array, > push
        n = int(buf[pos + 1 : end])
        pos = end + 2
        if n < 0:
            return None, pos
        items = []
        for _ in range(n):
            item, pos = _value(buf, pos)
            items.append(item)
        return items, pos
    if kind == 0x3A:  # : integer
        return int(buf[pos + 1 : end]), end + 2
    if kind == 0x2B:  # + simple string
        return buf[pos + 1 : end], end + 2
    if kind == 0x2D:  # - error
        return RespError(buf[pos + 1 : end].decode(errors="replace")), end + 2
    if kind == 0x5F:  # _ RESP3 null
        return None, end + 2
    raise RespError(f"unexpected RESP type byte {kind!r}")


class RespReader:
    """Feed bytes as they arrive; ``values()`` returns the complete replies so far."""

    __slots__ = ("buf",)

    def __init__(self) -> None:
        self.buf = b""

    def feed(self, data: bytes) -> None:
        self.buf = self.buf + data if self.buf else data

    def values(self) -> list[object]:
        """Complete values in order. Raises RespError (or ValueError) on malformed input."""
        buf = self.buf
        out: list[object] = []
        pos = 0
        size = len(buf)
        while pos < size:
            try:
                value, pos_after = _value(buf, pos)
            except _Incomplete:
                break
            out.append(value)
            pos = pos_after
        self.buf = buf[pos:] if pos < size else b""
        return out
