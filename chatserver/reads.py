"""The protocol's read commands on a channel the client may read: ``history`` and the
argument checks shared with ``subscribe`` (stream offsets) and with every reply (zero values
omitted). A connection checks permission; these functions parse and read."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from chatserver.engine import Streams
from chatserver.errors import ReplyError
from chatserver.protocol import codes
from chatserver.publication import Publication


def uint(value: Any) -> int:
    """A stream offset (or flag) from a client: a whole number in a stream id's range."""
    if isinstance(value, bool):
        raise ReplyError(codes.BAD_REQUEST, "bad request: offset must be a number")
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise ReplyError(codes.BAD_REQUEST, "bad request: offset must be a number") from None
    if number < 0:
        raise ReplyError(codes.BAD_REQUEST, "bad request: offset must not be negative")
    if number >= 1 << 64:  # a stream id's range (found by the fuzzer: the script failed, 100)
        raise ReplyError(codes.BAD_REQUEST, "bad request: offset out of range")
    return number


def strip_zero(result: dict[str, Any]) -> dict[str, Any]:
    """The protocol omits zero values."""
    return {k: v for k, v in result.items() if v or v is True}


async def history(
    streams: Streams,
    channel: str,
    params: dict[str, Any],
    max_limit: int,
    codec_name: str,
    hides: Callable[[Publication], bool] | None = None,
) -> dict[str, Any]:
    """``history {channel, limit, since?, reverse?}`` -> ``{publications, epoch, offset}``."""
    limit = params.get("limit", 0)
    if not isinstance(limit, int) or isinstance(limit, bool):
        raise ReplyError(codes.BAD_REQUEST, "bad request: limit must be an integer")
    if limit < 0 or limit > max_limit:
        limit = max_limit
    reverse = bool(params.get("reverse", False))
    since = params.get("since")
    since_offset: int | None = None
    if since:
        if not isinstance(since, dict):
            raise ReplyError(codes.BAD_REQUEST, "bad request: since must be a stream position")
        since_offset = uint(since.get("offset", 0))
    if reverse and since_offset == 0:
        # Nothing is older than offset 0: read the position only (an exclusive range
        # ending before 0-0 is invalid in Redis; found by the fuzzer).
        hist = await streams.history(channel, None, 0, False)
    else:
        hist = await streams.history(channel, since_offset, limit, reverse)
    if since and since.get("epoch") and since.get("epoch") != hist.epoch:
        raise ReplyError(codes.UNRECOVERABLE_POSITION)
    unpacked = [Publication.unpack(channel, e.offset, hist.epoch, e.payload) for e in hist.entries]
    pubs = [p.encoded_pub(codec_name) for p in unpacked if hides is None or not hides(p)]
    return strip_zero({"publications": pubs, "epoch": hist.epoch, "offset": hist.top})
