"""A dedicated RESP pub/sub connection: SUBSCRIBE with confirmation, and reconnects.

Why not redis-py's PubSub: the fan-out path wants one cheap callback per message and needs to
know exactly when a SUBSCRIBE is active (a subscriber reads history only after that) and
when the connection was lost (messages in between are gone; subscribers must recover).

Contract:
- ``await subscribe(ch)`` returns once Redis confirmed the subscription.
- ``on_message(channel: bytes, data: bytes)`` is called for each message, in order.
- ``on_reset()`` is called after a reconnect, once every channel is subscribed again; any
  message published while disconnected was missed.

Sharded mode (``sharded=True``, one instance per cluster shard, driven by
``chatserver.redis.cluster.ShardedPubSub``): SSUBSCRIBE/SUNSUBSCRIBE/``smessage``, one
channel per command (a multi-channel SSUBSCRIBE must stay in one slot), and two more
signals: ``on_dropped(channel)`` when the server dropped a channel (a ``sunsubscribe`` push
after a failover or a slot move, or an error reply such as MOVED to its SSUBSCRIBE), and
``on_lost()`` when the connection is lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Callable

from chatserver.redis.connect import AddressSource, handshake, open_connection, resolve
from chatserver.redis.resp import RespError, RespReader
from chatserver.redis.resp import encode_command as _encode_command
from chatserver.redis.urls import RedisAddress

log = logging.getLogger("chatserver.redis.pubsub")


class _Protocol(asyncio.Protocol):
    def __init__(self, owner: PubSub) -> None:
        self.owner = owner
        self.parser = RespReader()
        self.kind = owner.message_kind
        self.transport: asyncio.Transport | None = None
        self.lost = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.parser.feed(data)
        try:
            values = self.parser.values()
        except (RespError, ValueError) as exc:
            log.error("bad reply on pub/sub connection: %s", exc)
            if self.transport:
                self.transport.close()
            return
        on_message = self.owner.on_message
        on_value = self.owner._on_value
        kind = self.kind
        for value in values:
            # The fan-out hot path: ["message", channel, data] straight to the hub.
            if type(value) is list and len(value) == 3 and value[0] == kind:
                on_message(value[1], value[2])
            else:
                on_value(value)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.lost.done():
            self.lost.set_result(exc)


class PubSub:
    def __init__(
        self,
        address: AddressSource,
        on_message: Callable[[bytes, bytes], None],
        on_reset: Callable[[], None] | None = None,
        reconnect_delay: float = 0.5,
        *,
        sharded: bool = False,
        on_dropped: Callable[[bytes], None] | None = None,
        on_lost: Callable[[], None] | None = None,
    ) -> None:
        self.address = address
        self.on_message = on_message
        self.on_reset = on_reset
        self.reconnect_delay = reconnect_delay
        self.sharded = sharded
        self.on_dropped = on_dropped
        self.on_lost = on_lost
        prefix = b"s" if sharded else b""
        self.message_kind = prefix + b"message"
        self._subscribe_cmd = prefix.upper() + b"SUBSCRIBE"
        self._unsubscribe_cmd = prefix.upper() + b"UNSUBSCRIBE"
        self._confirm_kind = prefix + b"subscribe"
        self._unsubscribed_kind = prefix + b"unsubscribe"
        # Sharded: channels whose SSUBSCRIBE awaits its reply, in order (an error reply
        # names no channel).
        self._inflight: deque[bytes] = deque()
        self._proto: _Protocol | None = None
        self._channels: set[bytes] = set()
        # SUBSCRIBE commands sent / confirmed per channel on the current connection; a waiter
        # is released once the confirmations reach the count at the time it sent its own.
        self._sent: dict[bytes, int] = {}
        self._confirmed: dict[bytes, int] = {}
        self._waiters: dict[bytes, list[tuple[int, asyncio.Future[None]]]] = {}
        self._handshake: deque[asyncio.Future[object]] = deque()
        self._connected = asyncio.Event()
        self._runner: asyncio.Task[None] | None = None
        self._closing = False
        self.connected_once = asyncio.Event()
        self.resets = 0

    async def start(self, timeout: float = 10.0) -> None:
        self.run()
        await asyncio.wait_for(self.connected_once.wait(), timeout)

    def run(self) -> None:
        """Start connecting (and reconnecting) in the background."""
        if self._runner is None:
            self._runner = asyncio.create_task(self._run(), name="redis-pubsub")

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    def reconnect(self) -> None:
        """Drop the connection (the server is no longer the one to use); the run loop
        connects again (looking the address up again) and subscribers recover."""
        if self._proto is not None and self._proto.transport is not None:
            self._proto.transport.close()

    def forget(self, channel: bytes, exc: BaseException | None = None) -> None:
        """Stop tracking ``channel`` here (it moved to another shard); waiters fail."""
        self._channels.discard(channel)
        for _, fut in self._waiters.pop(channel, []):
            if not fut.done():
                fut.set_exception(exc or ConnectionError("channel moved to another shard"))
        if self.connected:
            self.unsubscribe(channel)

    async def close(self) -> None:
        self._closing = True
        if self._proto and self._proto.transport:
            self._proto.transport.close()
        if self._runner:
            self._runner.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._runner

    @property
    def channels(self) -> frozenset[bytes]:
        return frozenset(self._channels)

    async def _open(self) -> tuple[_Protocol, RedisAddress]:
        address = await resolve(self.address)
        return await open_connection(address, lambda: _Protocol(self)), address

    async def _command(self, proto: _Protocol, *args: bytes | str | int) -> object:
        fut: asyncio.Future[object] = asyncio.get_running_loop().create_future()
        self._handshake.append(fut)
        assert proto.transport is not None
        proto.transport.write(_encode_command(*args))
        result = await asyncio.wait_for(fut, 10)
        if isinstance(result, RespError):
            raise result
        return result

    async def _run(self) -> None:
        first = True
        while not self._closing:
            try:
                proto, address = await self._open()
            except (OSError, RespError, TimeoutError) as error:
                log.warning("pub/sub connect to Redis failed: %s; retrying", error)
                await asyncio.sleep(self.reconnect_delay)
                continue
            try:
                for args in handshake(address, "chatserver-pubsub"):
                    await self._command(proto, *args)
            except (TimeoutError, RespError, OSError) as exc:
                log.error("pub/sub handshake failed: %s", exc)
                if proto.transport:
                    proto.transport.close()
                await asyncio.sleep(self.reconnect_delay)
                continue
            self._proto = proto
            # Re-subscribe everything we had; the pending futures stay pending until confirmed.
            self._sent.clear()
            self._confirmed.clear()
            wanted = self._channels | set(self._waiters)
            self._inflight.clear()
            if wanted:
                assert proto.transport is not None
                if self.sharded:
                    for ch in sorted(wanted):
                        proto.transport.write(_encode_command(self._subscribe_cmd, ch))
                        self._inflight.append(ch)
                else:
                    proto.transport.write(_encode_command(self._subscribe_cmd, *sorted(wanted)))
                for ch in wanted:
                    self._sent[ch] = 1
                # Waiters from before the reconnect are released by the bulk SUBSCRIBE.
                for ch, waiters in self._waiters.items():
                    self._waiters[ch] = [(1, fut) for _, fut in waiters]
            self._connected.set()
            self.connected_once.set()
            if not first:
                self.resets += 1
                log.warning("pub/sub connection re-established; subscribers will recover")
                if self.on_reset:
                    self.on_reset()
            first = False
            exc = await proto.lost
            self._connected.clear()
            self._proto = None
            for fut in self._handshake:
                if not fut.done():
                    fut.set_exception(ConnectionError("pub/sub connection lost"))
            self._handshake.clear()
            self._inflight.clear()
            if self.on_lost is not None and not self._closing:
                self.on_lost()
            if not self._closing:
                log.warning("pub/sub connection to Redis lost (%s); reconnecting", exc)
                await asyncio.sleep(self.reconnect_delay)

    def _on_value(self, value: object) -> None:
        if isinstance(value, list) and value and isinstance(value[0], bytes):
            kind = value[0]
            if kind == self.message_kind and len(value) == 3:
                self.on_message(value[1], value[2])  # type: ignore[arg-type]
                return
            if kind == self._confirm_kind:
                ch: bytes = value[1]  # type: ignore[assignment]
                if self._inflight:
                    self._inflight.popleft()
                done = self._confirmed.get(ch, 0) + 1
                self._confirmed[ch] = done
                waiters = self._waiters.get(ch)
                if waiters:
                    keep = []
                    for target, fut in waiters:
                        if target <= done:
                            if not fut.done():
                                fut.set_result(None)
                        else:
                            keep.append((target, fut))
                    if keep:
                        self._waiters[ch] = keep
                    else:
                        del self._waiters[ch]
                return
            if kind == self._unsubscribed_kind:
                dropped = value[1]
                if self.sharded and isinstance(dropped, bytes) and dropped in self._channels:
                    # Not asked for: the server dropped it (failover, slot moved).
                    self._channels.discard(dropped)
                    if self.on_dropped is not None:
                        self.on_dropped(dropped)
                elif isinstance(dropped, bytes):
                    self._forget(dropped)
                return
            if kind == b"pong":
                return
        if isinstance(value, RespError) and self._inflight and not self._handshake:
            # An SSUBSCRIBE refused (MOVED, CLUSTERDOWN...): its waiters fail.
            refused = self._inflight.popleft()
            log.warning("SSUBSCRIBE %r refused: %s", refused, value)
            self._channels.discard(refused)
            for _, waiter in self._waiters.pop(refused, []):
                if not waiter.done():
                    waiter.set_exception(value)
            if self.on_dropped is not None:
                self.on_dropped(refused)
            return
        if self._handshake:
            fut = self._handshake.popleft()
            if not fut.done():
                fut.set_result(value)

    def _forget(self, channel: bytes) -> None:
        """An UNSUBSCRIBE was confirmed: drop the channel's counters once nothing about it
        is pending (not subscribed again since, every SUBSCRIBE confirmed, nobody waiting),
        so a process that saw a million distinct channels does not keep a million entries."""
        if channel in self._channels or channel in self._waiters:
            return
        if self._sent.get(channel) == self._confirmed.get(channel):
            self._sent.pop(channel, None)
            self._confirmed.pop(channel, None)

    async def subscribe(self, channel: bytes) -> None:
        """Subscribe and wait for Redis to confirm (or for the next reconnect to)."""
        await self._connected.wait()
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._channels.add(channel)
        target = self._sent.get(channel, 0) + 1
        self._sent[channel] = target
        self._waiters.setdefault(channel, []).append((target, fut))
        assert self._proto is not None and self._proto.transport is not None
        self._proto.transport.write(_encode_command(self._subscribe_cmd, channel))
        if self.sharded:
            self._inflight.append(channel)
        await fut

    def unsubscribe(self, channel: bytes) -> None:
        self._channels.discard(channel)
        if self._proto and self._proto.transport and not self._proto.transport.is_closing():
            self._proto.transport.write(_encode_command(self._unsubscribe_cmd, channel))
