"""The hub: this process's local subscribers per channel, and one Redis subscription each.

A channel's Redis subscription exists while at least one local connection is subscribed.
Membership is recorded *before* awaiting SUBSCRIBE, so concurrent joiners to a new channel
all wait on the same confirmation and none is lost. Each message from Redis is decoded once
and handed to every local subscriber; encoding happens once per wire format (cached on the
Publication). Offsets are checked per channel: a gap (messages lost while the pub/sub
connection was down, or after a reconnect) is repaired here, once per channel, from the
stream's history: live messages are held back meanwhile, the missed ones are delivered in
order, then the held ones. Only when history cannot fill the gap (epoch changed, trimmed)
do the channel's local subscribers resubscribe and recover themselves.

Known positions: while a channel is subscribed, the hub knows a lower bound of its stream's
top such that every publication above it is still to arrive here live (the last offset
received, or a position read made while subscribed). A subscribe asking for the position,
or recovering from exactly that position, is answered from it without a Redis read. The
bound is dropped whenever it might be wrong: a pub/sub reset, a gap being repaired, an
epoch change.

Lingering: when the last local subscriber leaves, the Redis subscription (and the known
position) stays ``linger`` seconds longer, so a member who reconnects (a network blip, a
page reload, thousands at once after a load balancer drops them) costs no SUBSCRIBE and no
position read.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Collection, Hashable
from typing import Any, Protocol, TypeVar

import msgpack

from chatserver.engine import Subscriptions
from chatserver.publication import KIND_PUB, Publication
from chatserver.redis.broker import channel_from_pubsub, pubsub_channel
from chatserver.redis.commands import CONTROL_CHANNEL
from chatserver.tasks import Tasks

log = logging.getLogger("chatserver.hub")



class Subscriber(Protocol):
    def deliver(self, pub: Publication) -> None: ...

    def lost_position(self, channel: str) -> None: ...

    def position(self, channel: str) -> tuple[int, str] | None: ...


# (recovered, history) for a channel after an offset: ``RedisBroker.recover``.
Recover = Callable[[str, int, str, int], Awaitable[tuple[bool, Any]]]


class _Channel:
    __slots__ = ("name", "key", "subscribers", "ready", "last_offset", "epoch", "held", "known", "idle_since")

    def __init__(self, name: str) -> None:
        self.name = name
        self.key = pubsub_channel(name)
        self.subscribers: dict[Subscriber, None] = {}  # insertion-ordered set
        self.ready: asyncio.Future[None] | None = None
        self.last_offset = 0
        self.epoch = ""
        self.held: list[Publication] | None = None  # live messages held during a repair
        # (top, epoch): every publication above top is still to arrive live; None: unknown.
        self.known: tuple[int, str] | None = None
        self.idle_since: float | None = None  # monotonic time the last subscriber left


# A repair read that fails (Redis or its new master not answering yet) is tried again,
# about 9 s in all, before the subscribers are told to recover themselves.
REPAIR_ATTEMPTS = 9

ControlHandler = Callable[[dict[str, Any]], Awaitable[None] | None]

T = TypeVar("T")


class SharedReads:
    """Coalesced reads of a channel's stream (positions, recoveries) for subscribers.

    When 2,000 members reconnect to a room at once they all ask for the same thing (the
    publications after the same offset). Per key there is at most one read in flight and
    one waiting: a request joins the waiting read, or starts one at once if nothing is in
    flight. A waiting read starts when the one in flight finishes, so under a storm one
    Redis read answers everybody who asked during the previous one, and a lone request
    costs no extra wait.

    Sharing is safe because every requester's subscription is active before it asks, so it
    is active before the shared read starts: anything published after the read's snapshot
    reaches it live through the hub (and the connection drops duplicates by offset).
    """

    def __init__(self) -> None:
        self._inflight: set[Hashable] = set()
        self._waiting: dict[Hashable, tuple[asyncio.Future[Any], Callable[[], Awaitable[Any]]]] = {}
        self._reads: set[asyncio.Future[Any]] = set()  # reads in flight (kept: not collected mid-read)
        self.started = 0  # reads that went to Redis
        self.joined = 0  # requests answered by a read another request started

    async def read(self, key: Hashable, fetch: Callable[[], Awaitable[T]]) -> T:
        """``fetch()``'s result for ``key``; call only once the caller's subscription is
        active. Every ``fetch`` given for one key must be equivalent."""
        waiting = self._waiting.get(key)
        if waiting is not None:
            self.joined += 1
            return await asyncio.shield(waiting[0])  # type: ignore[no-any-return]
        fut: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        if key in self._inflight:
            self._waiting[key] = (fut, fetch)
        else:
            self._start(key, fut, fetch)
        return await asyncio.shield(fut)

    def _start(self, key: Hashable, fut: asyncio.Future[Any], fetch: Callable[[], Awaitable[Any]]) -> None:
        self._inflight.add(key)
        self.started += 1
        task = asyncio.ensure_future(fetch())
        self._reads.add(task)

        def done(t: asyncio.Future[Any]) -> None:
            self._reads.discard(t)
            self._inflight.discard(key)
            if not fut.done():
                if t.cancelled():
                    fut.cancel()
                elif t.exception() is not None:
                    fut.set_exception(t.exception())  # type: ignore[arg-type]
                else:
                    fut.set_result(t.result())
            if not fut.cancelled() and fut.done():
                fut.exception()  # retrieved: the requesters got it already
            nxt = self._waiting.pop(key, None)
            if nxt is not None:
                self._start(key, nxt[0], nxt[1])

        task.add_done_callback(done)


class Hub:
    def __init__(
        self,
        pubsub_factory: Callable[..., Subscriptions],
        recover: Recover | None = None,
        repair_limit: int = 1000,
        tasks: Tasks | None = None,
        linger: float = 0.0,
    ) -> None:
        self._channels: dict[str, _Channel] = {}
        self.linger = linger
        self._idle: dict[str, _Channel] = {}  # lingering channels, the longest idle first
        self._linger_timer: asyncio.TimerHandle | None = None
        self.resets = 0  # pub/sub resets and gaps so far (a position read across one is not trusted)
        self.known_answers = 0  # positions and recoveries answered without a Redis read
        self.pubsub_resets = 0  # pub/sub connections lost and made again
        self._by_key: dict[bytes, _Channel] = {}
        self._control: dict[str, list[ControlHandler]] = {}
        self.pubsub = pubsub_factory(on_message=self._on_message, on_reset=self._on_reset)
        self.reads = SharedReads()
        self.messages_in = 0
        self.deliveries = 0
        self.gaps = 0  # gaps seen (each repaired from history, or handed to subscribers)
        self.repairs_failed = 0  # gaps history could not fill: subscribers recover themselves
        self.recover = recover
        self.tasks = tasks if tasks is not None else Tasks("hub")
        self.repair_limit = repair_limit
        self._repairs: set[asyncio.Task[None]] = set()
        # Called when the pub/sub connection came back (control messages may have been
        # missed meanwhile: e.g. the catalog reloads).
        self.reset_listeners: list[Callable[[], None]] = []

    async def start(self) -> None:
        await self.pubsub.start()
        await self.pubsub.subscribe(CONTROL_CHANNEL)

    async def close(self) -> None:
        if self._linger_timer is not None:
            self._linger_timer.cancel()
            self._linger_timer = None
        for task in list(self._repairs):
            task.cancel()
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
        elif ch.idle_since is not None:
            ch.idle_since = None
            self._idle.pop(channel, None)
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
        if ch.subscribers or ch.idle_since is not None:
            return
        ready = ch.ready
        if self.linger > 0 and ready is not None and ready.done() and not ready.cancelled() and ready.exception() is None:
            ch.idle_since = time.monotonic()
            self._idle[channel] = ch
            if self._linger_timer is None:
                self._linger_timer = asyncio.get_running_loop().call_later(self.linger, self._end_lingering)
            return
        self._drop(ch)

    def _drop(self, ch: _Channel) -> None:
        if self._channels.get(ch.name) is ch:
            del self._channels[ch.name]
        self._by_key.pop(ch.key, None)
        if ch.ready is not None and not ch.ready.done():
            ch.ready.cancel()
        self.pubsub.unsubscribe(ch.key)

    def _end_lingering(self) -> None:
        """Unsubscribe the channels idle for ``linger`` seconds; wake again for the next."""
        self._linger_timer = None
        now = time.monotonic()
        idle = self._idle
        while idle:
            name, ch = next(iter(idle.items()))
            since = ch.idle_since
            if since is not None and since + self.linger > now:
                self._linger_timer = asyncio.get_running_loop().call_later(since + self.linger - now, self._end_lingering)
                return
            del idle[name]
            if since is not None and not ch.subscribers:
                ch.idle_since = None
                self._drop(ch)

    def lingering(self) -> int:
        return len(self._idle)

    # ---- positions -------------------------------------------------------------------

    async def read_position(self, channel: str, fetch: Callable[[], Awaitable[tuple[int, str]]]) -> tuple[int, str]:
        """The stream position (top, epoch) for a subscriber of ``channel`` (attached
        already): the known one, else ``fetch()`` (shared with concurrent requests)."""
        ch = self._channels.get(channel)
        if ch is not None and ch.held is None and ch.known is not None:
            self.known_answers += 1
            return ch.known
        mark = (ch, self.resets)
        top, epoch = await self.reads.read(("position", channel), fetch)
        self._note(channel, mark, top, epoch)
        return top, epoch

    async def read_recovery(
        self,
        channel: str,
        offset: int,
        epoch: str,
        max_count: int,
        fetch: Callable[[], Awaitable[tuple[bool, int, str, list[Publication]]]],
    ) -> tuple[bool, int, str, list[Publication]]:
        """(recovered, top, epoch, publications) after ``offset`` for a subscriber of
        ``channel`` (attached already). A subscriber that is exactly at the known position
        missed nothing: recovered without a read. Else ``fetch()``, shared by everyone
        recovering the same range."""
        ch = self._channels.get(channel)
        if ch is not None and ch.held is None and ch.known is not None and ch.known == (offset, epoch):
            self.known_answers += 1
            return True, offset, epoch, []
        mark = (ch, self.resets)
        result = await self.reads.read(("recover", channel, offset, epoch, max_count), fetch)
        self._note(channel, mark, result[1], result[2])
        return result

    def _note(self, channel: str, mark: tuple[_Channel | None, int], top: int, epoch: str) -> None:
        """A read made while ``mark`` (the channel object, the resets count) held: if both
        still hold, every publication above ``top`` is still to arrive here live."""
        ch = self._channels.get(channel)
        if ch is None or ch is not mark[0] or self.resets != mark[1] or ch.held is not None or not epoch:
            return
        known = ch.known
        if known is None or (known[1] == epoch and top > known[0]):
            ch.known = (top, epoch)
        elif known[1] != epoch:
            ch.known = None

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
            if not ch.subscribers and ch.held is None:
                # Lingering: nobody to deliver to; only follow the stream's position.
                if offset:
                    ch.last_offset, ch.epoch = offset, epoch
                    ch.known = (offset, epoch)
                return
            pub = Publication.unpack(ch.name, offset, epoch, data[second + 1 :])
        except (ValueError, msgpack.ExtraData, msgpack.FormatError, UnicodeDecodeError) as exc:
            log.error("dropping malformed message on %s: %s", ch.name, exc)
            return
        if offset:
            if ch.held is not None:
                ch.held.append(pub)  # a repair is running; it delivers these after the gap
                return
            if ch.epoch and epoch != ch.epoch:
                self._handoff(ch)
            elif ch.last_offset and offset != ch.last_offset + 1:
                if offset <= ch.last_offset:
                    return  # already delivered
                self._repair(ch, ch.last_offset, ch.epoch, pub)
                return
            ch.last_offset = offset
            ch.epoch = epoch
            ch.known = (offset, epoch)
        self._deliver(ch, pub)

    def _deliver(self, ch: _Channel, pub: Publication) -> None:
        subs = ch.subscribers
        self.deliveries += len(subs)
        for sub in list(subs) if pub.kind != KIND_PUB else tuple(subs):
            sub.deliver(pub)

    def _handoff(self, ch: _Channel) -> None:
        """History cannot fill this gap: the subscribers resubscribe and recover (or learn
        that their position is gone)."""
        self.repairs_failed += 1
        log.warning("unrecoverable gap on %s: local subscribers will resubscribe", ch.name)
        for sub in list(ch.subscribers):
            sub.lost_position(ch.name)

    def _repair(self, ch: _Channel, since: int, epoch: str, first: Publication | None = None) -> None:
        """Fill a gap after offset ``since`` from history, holding live messages meanwhile."""
        self.gaps += 1
        self.resets += 1
        ch.known = None
        if self.recover is None or not epoch:
            self._handoff(ch)
            if first is not None:
                ch.last_offset, ch.epoch = first.offset, first.epoch
                ch.known = (first.offset, first.epoch)
                self._deliver(ch, first)
            return
        ch.held = [first] if first is not None else []
        log.warning("offset gap on %s after %d: filling it from history", ch.name, since)
        task = asyncio.ensure_future(self._fill(ch, since, epoch))
        self._repairs.add(task)
        task.add_done_callback(self._repairs.discard)

    async def _fill(self, ch: _Channel, since: int, epoch: str) -> None:
        assert self.recover is not None
        ok, hist = False, None
        for attempt in range(REPAIR_ATTEMPTS):
            try:
                ok, hist = await self.recover(ch.name, since, epoch, self.repair_limit)
                break
            except Exception as exc:  # a failover still settling: try again shortly
                log.warning("gap repair on %s failed (attempt %d): %s", ch.name, attempt + 1, exc)
                if self._channels.get(ch.name) is not ch:
                    return
                await asyncio.sleep(0.2 * (attempt + 1))
        if self._channels.get(ch.name) is not ch:
            return  # everyone left meanwhile
        held = ch.held or []
        ch.held = None
        if not ok:
            ch.last_offset, ch.epoch = 0, ""
            self._handoff(ch)
            return
        last = since
        for entry in hist.entries:
            pub = Publication.unpack(ch.name, entry.offset, hist.epoch, entry.payload)
            self._deliver(ch, pub)
            last = entry.offset
        last = max(last, hist.top)  # offsets in the gap that are not in history were deleted
        for pub in held:
            if pub.offset > last and pub.epoch == hist.epoch:
                self._deliver(ch, pub)
                last = pub.offset
        ch.last_offset, ch.epoch = last, hist.epoch
        ch.known = (last, hist.epoch)

    def _on_reset(self, keys: Collection[bytes] | None = None) -> None:
        """A pub/sub connection came back: anything published meanwhile was missed, on
        every channel, or (a cluster shard's connection) only on the channels ``keys``."""
        self.resets += 1
        self.pubsub_resets += 1
        affected = list(self._channels.values())
        if keys is not None:
            affected = [ch for ch in affected if ch.key in keys]
        for ch in affected:
            ch.known = None
            if not ch.subscribers:
                ch.last_offset, ch.epoch = 0, ""  # lingering: nothing to repair
        if keys is None or CONTROL_CHANNEL in keys:
            for listener in self.reset_listeners:
                try:
                    listener()
                except Exception:
                    log.exception("a pub/sub reset listener failed")
        for ch in affected:
            if not ch.subscribers:
                continue
            since, epoch = ch.last_offset, ch.epoch
            if not since or not epoch:
                positions = [p for p in (s.position(ch.name) for s in ch.subscribers) if p]
                if not positions:
                    continue  # nobody has a position yet: their own subscribe reads cover it
                since = min(p[0] for p in positions)
                epoch = positions[0][1]
            if ch.held is None:
                self._repair(ch, since, epoch)

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
                    self.tasks.spawn(result, f"control {msg.get('t')}")
            except Exception:
                log.exception("control handler for %r failed", msg.get("t"))


__all__ = ["Hub", "SharedReads", "channel_from_pubsub"]
