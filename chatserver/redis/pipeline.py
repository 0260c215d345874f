"""A pipelined Redis command connection for the publish path.

Every ``execute`` writes its command at once and awaits its own reply; replies come back in
the order the commands were written, so concurrent publishers share one socket without
waiting for each other (Redis pipelining) and a command costs one write and one future
instead of a trip through a connection pool. Commands from one caller run in the order it
issued them, which keeps one member's messages in order.

The connection opens on first use and again after it is lost. Commands pending when it is
lost fail with ``ConnectionError``; nothing is retried here, because a publish may or may
not have happened (the idempotency key of the message is what makes a retry safe).
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque

from chatserver.redis.connect import AddressSource, handshake, open_connection, resolve
from chatserver.redis.resp import RespError, RespReader, encode_command

log = logging.getLogger("chatserver.redis.pipeline")

CONNECT_TIMEOUT = 5.0


class _Protocol(asyncio.Protocol):
    def __init__(self) -> None:
        self.reader = RespReader()
        self.pending: deque[asyncio.Future[object]] = deque()
        self.transport: asyncio.Transport | None = None
        self.closed = False
        # Commands written in one event-loop turn leave in one write (one syscall).
        self._wbuf: list[bytes] = []
        self._flush_scheduled = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.reader.feed(data)
        try:
            values = self.reader.values()
        except (RespError, ValueError) as exc:
            log.error("bad reply on the publish connection: %s", exc)
            if self.transport is not None:
                self.transport.close()
            return
        pending = self.pending
        for value in values:
            if not pending:
                log.error("reply with no command waiting for it; closing the publish connection")
                if self.transport is not None:
                    self.transport.close()
                return
            fut = pending.popleft()
            if not fut.done():
                fut.set_result(value)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        pending = self.pending
        while pending:
            fut = pending.popleft()
            if not fut.done():
                fut.set_exception(ConnectionError(f"Redis connection lost: {exc or 'closed'}"))

    def send(self, command: bytes) -> asyncio.Future[object]:
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[object] = loop.create_future()
        self.pending.append(fut)
        self._wbuf.append(command)
        if not self._flush_scheduled:
            self._flush_scheduled = True
            loop.call_soon(self._flush)
        return fut

    def _flush(self) -> None:
        self._flush_scheduled = False
        buf = self._wbuf
        if not buf:
            return
        self._wbuf = []
        if self.transport is None or self.closed:
            return  # connection_lost fails the pending futures
        self.transport.write(buf[0] if len(buf) == 1 else b"".join(buf))


class CommandPipeline:
    """One lazily (re)opened, pipelined Redis connection. ``address`` may be a lookup run
    before each connect (Sentinel); a ``READONLY`` reply (the server is no longer the
    master) closes the connection, so the next command looks the master up again."""

    publish_command = b"PUBLISH"  # the cluster router's is SPUBLISH

    def __init__(self, address: AddressSource, name: str = "chatserver-publish") -> None:
        self.address = address
        self.name = name
        self._proto: _Protocol | None = None
        self._opening: asyncio.Future[_Protocol] | None = None

    async def execute(self, *args: bytes | str | int) -> object:
        """Run one command; raises ``RespError`` for an error reply."""
        proto = self._proto
        if proto is None or proto.closed:
            proto = await self._connected()
        result = await proto.send(encode_command(*args))
        if isinstance(result, RespError):
            if str(result).startswith("READONLY") and self._proto is proto:
                self.close()
            raise result
        return result

    async def execute_many(self, commands: list[tuple[bytes | str | int, ...]]) -> list[object]:
        """Run several commands in one write; error replies come back in place as
        ``RespError`` values (not raised), so a caller can tell which one failed."""
        proto = self._proto
        if proto is None or proto.closed:
            proto = await self._connected()
        if not commands:
            return []
        futures = [proto.send(encode_command(*args)) for args in commands]
        # Replies come in the order the commands went, and a lost connection fails every
        # pending one at once: when the last is done, all are (no gather needed).
        try:
            await futures[-1]
        finally:
            for fut in futures:
                if fut.done() and not fut.cancelled():
                    fut.exception()  # retrieved (the first error is raised below)
        return [fut.result() for fut in futures]

    async def _connected(self) -> _Protocol:
        if self._opening is None or self._opening.done():
            self._opening = asyncio.ensure_future(self._open())
        opening = self._opening
        try:
            return await asyncio.shield(opening)
        finally:
            if opening.done() and self._opening is opening:
                self._opening = None

    async def _open(self) -> _Protocol:
        address = await asyncio.wait_for(resolve(self.address), CONNECT_TIMEOUT)
        proto = await asyncio.wait_for(open_connection(address, _Protocol), CONNECT_TIMEOUT)
        try:
            replies = [proto.send(encode_command(*args)) for args in handshake(address, self.name)]
            for reply in await asyncio.wait_for(asyncio.gather(*replies), CONNECT_TIMEOUT):
                if isinstance(reply, RespError):
                    raise reply
        except BaseException:
            if proto.transport is not None:
                proto.transport.close()
            raise
        self._proto = proto
        return proto

    def close(self) -> None:
        proto = self._proto
        self._proto = None
        if proto is not None and proto.transport is not None:
            proto.transport.close()
