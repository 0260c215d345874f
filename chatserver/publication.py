"""A publication as it travels: decoded once from Redis, encoded once per wire format.

The payload kept in Redis (history entries and pub/sub messages) is msgpack:
``{"k": kind, "d": data (raw JSON bytes), "i": client info or nil, "t": tags or nil, "tm": ms}``
where kind is ``pub`` (a publication), ``join`` or ``leave`` (presence pushes).
"""

from __future__ import annotations

from typing import Any

import msgpack
import orjson

from chatserver.protocol import protobuf
from chatserver.protocol.codec import json_dumps

KIND_PUB = "pub"
KIND_JOIN = "join"
KIND_LEAVE = "leave"


def pack_payload(
    data: bytes,
    *,
    info: dict[str, Any] | None = None,
    tags: dict[str, str] | None = None,
    kind: str = KIND_PUB,
    time_ms: int = 0,
) -> bytes:
    body: dict[str, Any] = {"k": kind, "d": data}
    if info:
        body["i"] = info
    if tags:
        body["t"] = tags
    if time_ms:
        body["tm"] = time_ms
    return msgpack.packb(body, use_bin_type=True)


class Publication:
    """One message of a channel; ``push(codec_name)`` returns the ready-to-send push bytes."""

    __slots__ = ("channel", "offset", "epoch", "kind", "data", "info", "tags", "time", "_cache")

    def __init__(
        self,
        channel: str,
        offset: int,
        epoch: str,
        kind: str,
        data: bytes,
        info: dict[str, Any] | None,
        tags: dict[str, str] | None,
        time_ms: int,
    ) -> None:
        self.channel = channel
        self.offset = offset
        self.epoch = epoch
        self.kind = kind
        self.data = data
        self.info = info
        self.tags = tags
        self.time = time_ms
        self._cache: dict[str, Any] = {}

    @classmethod
    def unpack(cls, channel: str, offset: int, epoch: str, payload: bytes) -> Publication:
        body = msgpack.unpackb(payload, raw=False)
        return cls(
            channel,
            offset,
            epoch,
            body.get("k", KIND_PUB),
            body.get("d", b"null"),
            body.get("i"),
            body.get("t"),
            body.get("tm", 0),
        )

    def sender(self) -> str:
        """The user behind this publication (its client info, else the event's ``user``, e.g.
        a reaction event); "" for none. Cached: asked only by connections that hide someone
        (chatserver.peer's blocks), so the fan-out of rooms without blocks never pays for it."""
        got = self._cache.get("sender")
        if got is None:
            got = (self.info or {}).get("user") or ""
            if not got:
                try:
                    event = orjson.loads(self.data)
                except orjson.JSONDecodeError:
                    event = None
                got = event.get("user", "") if isinstance(event, dict) else ""
                got = got if isinstance(got, str) else ""
            self._cache["sender"] = got
        return str(got)

    def pub_dict(self) -> dict[str, Any]:
        """The Publication message in the JSON shape (``data`` as raw bytes)."""
        pub: dict[str, Any] = {"data": self.data}
        if self.info:
            pub["info"] = _info(self.info)
        if self.offset:
            pub["offset"] = self.offset
        if self.tags:
            pub["tags"] = self.tags
        return pub

    def encoded_pub(self, codec_name: str) -> Any:
        """For lists of publications (subscribe, history): for JSON a ready fragment (the
        same for every member recovering it), bytes for Protobuf."""
        if codec_name == "json":
            fragment = self._cache.get("json-pub")
            if fragment is None:
                fragment = orjson.Fragment(json_dumps(self.pub_dict()))
                self._cache["json-pub"] = fragment
            return fragment
        key = "pb-pub"
        got = self._cache.get(key)
        if got is None:
            got = protobuf.encode("Publication", self.pub_dict())
            self._cache[key] = got
        return got

    def push(self, codec_name: str) -> bytes:
        got = self._cache.get(codec_name)
        if got is not None:
            return got
        if self.kind == KIND_PUB:
            body: dict[str, Any] = {"channel": self.channel, "pub": self.pub_dict()}
        else:
            body = {"channel": self.channel, self.kind: {"info": _info(self.info or {})}}
        if codec_name == "json":
            got = json_dumps({"push": body})
        else:
            got = protobuf.frame(protobuf.encode("Reply", {"push": body}))
        self._cache[codec_name] = got
        return got


def _info(info: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"user": info.get("user", ""), "client": info.get("client", "")}
    if info.get("conn_info"):
        out["conn_info"] = info["conn_info"]
    if info.get("chan_info"):
        out["chan_info"] = info["chan_info"]
    return out
