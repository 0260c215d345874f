"""The hub: this process's local subscribers per channel, and one Redis subscription each.

A channel's Redis subscription exists while at least one local connection is subscribed.
Membership is recorded *before* awaiting SUBSCRIBE, so concurrent joiners to a new channel
all wait on the same confirmation and none is lost. Each message from Redis is decoded once
and handed to every local subscriber; encoding happens once per wire format (cached on the
Publication). Offsets are checked per channel: a gap (messages lost while the pub/sub
connection was down) makes every local subscriber of that channel resubscribe and recover.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Hashable
from typing import Any, Protocol, TypeVar

import msgpack

from chatserver.publication import KIND_PUB, Publication
from chatserver.redis.broker import channel_from_pubsub, pubsub_channel
from chatserver.redis.pubsub import PubSub

log = logging.getLogger("chatserver.hub")

CONTROL_CHANNEL = b"chat:control"


class Subscriber(Protocol):
    def deliver(self, pub: Publication) -> None: ...

    def lost_position(self, channel: str) -> None: ...


class _Channel:
    __slots__ = ("name", "key", "subscribers", "ready", "last_offset", "epoch")

    def __init__(self, name: str) -> None:
        self.name = name
        self.key = pubsub_channel(name)
        self.subscribers: dict[Subscriber, None] = {}  # insertion-ordered set
        self.ready: asyncio.Future[None] | None = None
        self.last_offset = 0
        self.epoch = ""


ControlHandler = Callable[[dict[str, Any]], Awaitable[None] | None]

T = TypeVar("T")


class SharedReads:
    """Single-flight reads of a channel's stream (positions, recoveries) for subscribers.

    When 2,000 members reconnect to a room at once they all ask for the same thing (the
    publications after the same offset). One Redis read serves every subscriber whose
    subscription was active before that read started: anything published after the read's
    snapshot reaches them live through the hub (and the connection drops duplicates by
    offset), so sharing loses nothing. A subscriber that attached after an in-flight read
    began starts a new one instead of joining it.
    """

    def __init__(self) -> None:
        self._inflight: dict[Hashable, tuple[float, asyncio.Future[Any]]] = {}
        self.started = 0  # reads that went to Redis
        self.joined = 0  # reads answered by one already in flight

    async def read(self, key: Hashable, attached_at: float, fetch: Callable[[], Awaitable[T]]) -> T:
        """``fetch()``'s result for ``key``, shared with concurrent callers when safe.
        ``attached_at``: ``time.perf_counter()`` when the caller's subscription was active."""
        entry = self._inflight.get(key)
        if entry is not None and entry[0] >= attached_at and not entry[1].done():
            self.joined += 1
            return await asyncio.shield(entry[1])  # type: ignore[no-any-return]
        started = time.perf_counter()
        fut: asyncio.Future[T] = asyncio.ensure_future(fetch())
        self._inflight[key] = (started, fut)
        self.started += 1

        def forget(done: asyncio.Future[T]) -> None:
            current = self._inflight.get(key)
            if current is not None and current[1] is done:
                del self._inflight[key]
            if not done.cancelled():
                done.exception()  # retrieved: joiners got it already

        fut.add_done_callback(forget)
        return await asyncio.shield(fut)


class Hub:
    def __init__(self, pubsub_factory: Callable[..., PubSub]) -> None:
        self._channels: dict[str, _Channel] = {}
        self._by_key: dict[bytes, _Channel] = {}
        self._control: dict[str, list[ControlHandler]] = {}
        self.pubsub = pubsub_factory(on_message=self._on_message, on_reset=self._on_reset)
        self.reads = SharedReads()
        self.messages_in = 0
        self.deliveries = 0
        self.gaps = 0

    async def start(self) -> None:
        await self.pubsub.start()
        await self.pubsub.subscribe(CONTROL_CHANNEL)

    async def close(self) -> None:
        await self.pubsub.close()

    # ---- membership -------------------------------------------------------------------

    def channel_count(self) -> int:
        return len(self._channels)

    def local_subscribers(self, channel: str) -> list[Subscriber]:
        ch = self._channels.get(channel)
        return list(ch.subscribers) if ch else []

    async def attach(self, channel: str, sub: Subscriber) -> None:
        """Add ``sub`` to ``channel``; returns once the Redis subscription is active."""
        ch = self._channels.get(channel)
        if ch is None:
            ch = _Channel(channel)
            self._channels[channel] = ch
            self._by_key[ch.key] = ch
            ch.ready = asyncio.ensure_future(self.pubsub.subscribe(ch.key))
        ch.subscribers[sub] = None
        assert ch.ready is not None
        try:
            await asyncio.shield(ch.ready)
        except BaseException:
            self.detach(channel, sub)
            raise

    def detach(self, channel: str, sub: Subscriber) -> None:
        ch = self._channels.get(channel)
        if ch is None:
            return
        ch.subscribers.pop(sub, None)
        if not ch.subscribers:
            del self._channels[channel]
            self._by_key.pop(ch.key, None)
            if ch.ready is not None and not ch.ready.done():
                ch.ready.cancel()
            self.pubsub.unsubscribe(ch.key)

    # ---- control messages (low volume, every node) -----------------------------------

    def on_control(self, kind: str, handler: ControlHandler) -> None:
        self._control.setdefault(kind, []).append(handler)

    # ---- incoming ------------------------------------------------------------------------

    def _on_message(self, key: bytes, data: bytes) -> None:
        if key == CONTROL_CHANNEL:
            self._on_control(data)
            return
        ch = self._by_key.get(key)
        if ch is None:
            return  # unsubscribed while the message was in flight
        self.messages_in += 1
        try:
            first = data.index(b":")
            second = data.index(b":", first + 1)
            offset = int(data[:first])
            epoch = data[first + 1 : second].decode()
            pub = Publication.unpack(ch.name, offset, epoch, data[second + 1 :])
        except (ValueError, msgpack.ExtraData, msgpack.FormatError, UnicodeDecodeError) as exc:
            log.error("dropping malformed message on %s: %s", ch.name, exc)
            return
        if offset:
            if ch.epoch and epoch != ch.epoch:
                self._lose_position(ch)
            elif ch.last_offset and offset != ch.last_offset + 1:
                if offset <= ch.last_offset:
                    return  # already delivered
                self._lose_position(ch)
            ch.last_offset = offset
            ch.epoch = epoch
        subs = ch.subscribers
        self.deliveries += len(subs)
        for sub in list(subs) if pub.kind != KIND_PUB else tuple(subs):
            sub.deliver(pub)

    def _lose_position(self, ch: _Channel) -> None:
        self.gaps += 1
        log.warning("offset gap on %s: local subscribers will recover", ch.name)
        for sub in list(ch.subscribers):
            sub.lost_position(ch.name)

    def _on_reset(self) -> None:
        for ch in list(self._channels.values()):
            ch.last_offset = 0
            ch.epoch = ""
            self._lose_position(ch)

    def _on_control(self, data: bytes) -> None:
        try:
            msg = msgpack.unpackb(data, raw=False)
        except (ValueError, msgpack.ExtraData, msgpack.FormatError) as exc:
            log.error("dropping malformed control message: %s", exc)
            return
        if not isinstance(msg, dict):
            return
        for handler in self._control.get(msg.get("t", ""), []):
            try:
                result = handler(msg)
                if asyncio.iscoroutine(result):
                    asyncio.ensure_future(result)
            except Exception:
                log.exception("control handler for %r failed", msg.get("t"))


def pack_control(kind: str, **fields: Any) -> bytes:
    return msgpack.packb({"t": kind, **fields}, use_bin_type=True)


__all__ = ["CONTROL_CHANNEL", "Hub", "SharedReads", "pack_control", "channel_from_pubsub"]
