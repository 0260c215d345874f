"""The write side of a connection: a bounded outbox of ready bytes, coalesced into frames.

Every reply and push is appended as encoded bytes; the node flushes dirty outboxes once per
event-loop turn, so several pending messages leave as one WebSocket message
(newline-joined JSON, or concatenated varint-delimited Protobuf), up to
``max_frame_bytes``. Writes go straight to the uvicorn transport (``DirectSend``) and wait
for ``resume_writing`` when it is paused; under another ASGI server a writer task uses
``websocket.send``. An outbox that grows past ``send_queue_bytes`` means the client is not
reading: the connection is closed with 3008 (slow) and recovers when it reconnects.

Replies are exempt from that limit, because a reading client may ask for more than it at
once (a ``history`` of 300 messages of 4 KB, a subscribe that recovers 1,000): the limit
counts only pushes, and the connection reads its next command only once what is queued for
it (outbox plus the transport's buffer) is back under the limit (``drained``). So a client
that does not read holds at most one reply plus ``send_queue_bytes`` of pushes, and the
limit cuts clients that leave pushes unread, not a reading client that asked for a lot.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from chatserver.protocol import codes
from chatserver.stats import Stats

if TYPE_CHECKING:
    from chatserver.protocol.codec import Codec
    from chatserver.ws_protocol import DirectSend

log = logging.getLogger("chatserver.connection")


class _JoinCache:
    """The last outbox joined into a frame (see ``Outbox._take_frames``)."""

    __slots__ = ("items", "join", "joined")

    def __init__(self) -> None:
        self.items: list[bytes] = []
        self.join: Any = None
        self.joined = b""


_LAST_JOIN = _JoinCache()


class Outbox:
    """A connection's write side. ``schedule`` queues it for the next flush round (the
    node's ``schedule_flush``); ``stats`` counts slow closes and disconnect codes."""

    __slots__ = (
        "_asgi_send",
        "_closer",
        "_direct",
        "_drain_waiter",
        "_exempt",
        "_flush_scheduled",
        "_max_frame",
        "_max_queue",
        "_out",
        "_out_bytes",
        "_schedule",
        "_stats",
        "_writer",
        "_writer_wake",
        "binary",
        "close_reason",
        "closed",
        "codec",
    )

    def __init__(
        self,
        codec: Codec,
        *,
        max_queue: int,
        max_frame: int,
        schedule: Callable[[Outbox], None],
        stats: Stats,
        direct: DirectSend | None = None,
        asgi_send: Any = None,
    ) -> None:
        self.codec = codec
        self.binary = codec.binary
        self.closed = False
        self.close_reason: codes.Disconnect | None = None
        self._out: list[bytes] = []
        self._out_bytes = 0
        self._exempt = 0  # bytes of replies in _out (not counted against the limit)
        self._drain_waiter: asyncio.Future[None] | None = None
        self._flush_scheduled = False
        self._max_queue = max_queue
        self._max_frame = max_frame
        self._schedule = schedule
        self._stats = stats
        self._direct = direct
        self._asgi_send = asgi_send
        self._writer: asyncio.Task[None] | None = None
        self._writer_wake: asyncio.Future[None] | None = None
        self._closer: asyncio.Task[None] | None = None
        if direct is not None:
            direct.on_writable = self._on_writable

    @property
    def direct(self) -> DirectSend | None:
        """The uvicorn connection's direct-send extension (None under another server)."""
        return self._direct

    @property
    def pending_bytes(self) -> int:
        return self._out_bytes

    def reading_behind(self) -> bool:
        """The server has not handled everything the client sent yet (see
        ``DirectSend.reading_behind``); False without the direct extension."""
        direct = self._direct
        return direct is not None and direct.reading_behind()

    def push_bytes(self, data: bytes, *, reply: bool = False) -> None:
        """Queue one encoded push (or a reply). Never blocks; pushes beyond the limit close
        the connection; replies are bounded by ``drained`` instead."""
        if self.closed:
            return
        size = self._out_bytes + len(data)
        if reply:
            self._exempt += len(data)
        elif size - self._exempt > self._max_queue:
            self._stats.slow_closes += 1
            self.close(codes.SLOW, flush=False)
            return
        self._out.append(data)
        self._out_bytes = size
        if not self._flush_scheduled:
            self._flush_scheduled = True
            self._schedule(self)

    def send_reply(self, reply: dict[str, Any]) -> None:
        self.push_bytes(self.codec.encode(reply), reply=True)

    def backlog(self) -> int:
        """Bytes written for this client and not yet taken by the kernel."""
        direct = self._direct
        return self._out_bytes + (direct.buffered() if direct is not None else 0)

    def must_drain(self) -> bool:
        """True while the client has more than the limit unread (read no further commands)."""
        direct = self._direct
        return (
            direct is not None
            and direct.paused
            and not self.closed
            and self._out_bytes + direct.buffered() > self._max_queue
        )

    async def drained(self) -> None:
        """Wait until ``must_drain`` is false (the socket drained, or the connection closed).
        Called between commands, so a client that asks for large replies and does not read
        them stops being read (TCP pushes back) instead of growing the server's memory."""
        loop = asyncio.get_running_loop()
        while self.must_drain():
            assert self._direct is not None
            if not self._direct.is_open():
                return
            waiter = self._drain_waiter = loop.create_future()
            # resume_writing wakes us; a lost socket never resumes, hence the timeout.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(waiter, 1.0)
            self._drain_waiter = None

    def unread(self) -> int:
        """Bytes written for this client that it has not taken yet, the kernel's send queue
        included (a large reply may sit there for seconds on a slow link): while this
        shrinks the client is reading, even if its pong is still behind what it reads."""
        direct = self._direct
        if direct is None:
            return self._out_bytes
        return self._out_bytes + direct.buffered() + direct.unsent()

    def _wake_drained(self) -> None:
        waiter = self._drain_waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _take_frames(self) -> list[bytes]:
        items = self._out
        total = self._out_bytes
        self._out = []
        self._out_bytes = 0
        self._exempt = 0
        join = self.codec.join
        if total <= self._max_frame or len(items) == 1:
            # Members of one room usually have the same pending pushes (the same bytes
            # objects): reuse the previous connection's joined frame when that is so, which
            # also lets the transport reuse its framed bytes.
            last = _LAST_JOIN
            if last.join is join and last.items == items:
                return [last.joined]
            joined = join(items)
            last.items = items
            last.join = join
            last.joined = joined
            return [joined]
        frames: list[bytes] = []
        chunk: list[bytes] = []
        chunk_size = 0
        for item in items:
            if chunk and chunk_size + len(item) > self._max_frame:
                frames.append(join(chunk))
                chunk = []
                chunk_size = 0
            chunk.append(item)
            chunk_size += len(item)
        if chunk:
            frames.append(join(chunk))
        return frames

    def flush(self) -> None:
        self._flush_scheduled = False
        out = self._out
        if not out:
            return
        direct = self._direct
        if direct is not None:
            if direct.paused:
                return  # resume_writing -> _on_writable flushes again
            if len(out) == 1:
                self._out = []
                self._out_bytes = 0
                self._exempt = 0
                direct.send(out[0], self.binary)
                return
            for frame in self._take_frames():
                if not direct.send(frame, self.binary):
                    self._out.clear()
                    self._out_bytes = 0
                    self._exempt = 0
                    return
            return
        wake = self._writer_wake
        if wake is not None and not wake.done():
            wake.set_result(None)
        if self._writer is None:
            self._writer = asyncio.ensure_future(self._asgi_writer())

    def _on_writable(self) -> None:
        self._wake_drained()
        if self._out and not self._flush_scheduled:
            self._flush_scheduled = True
            self._schedule(self)

    async def _asgi_writer(self) -> None:
        """Fallback writer for ASGI servers without the direct-send extension."""
        loop = asyncio.get_running_loop()
        try:
            while not self.closed or self._out:
                if not self._out:
                    self._writer_wake = loop.create_future()
                    await self._writer_wake
                    continue
                for frame in self._take_frames():
                    if self.binary:
                        await self._asgi_send({"type": "websocket.send", "bytes": frame})
                    else:
                        await self._asgi_send({"type": "websocket.send", "text": frame.decode()})
        except Exception:  # the socket is gone; reading side cleans up
            log.debug("asgi writer stopped", exc_info=True)

    # ------------------------------------------------------------------ closing

    def gone(self) -> None:
        """The socket closed without us closing it (the client left)."""
        if not self.closed:
            self.closed = True
            self._stats.count_disconnect(codes.CONNECTION_CLOSED.code)
            self._wake_drained()

    def close(self, disconnect: codes.Disconnect, *, flush: bool = True) -> None:
        """Close with a protocol close code. Pending output is flushed first unless slow."""
        if self.closed:
            return
        self.closed = True
        self.close_reason = disconnect
        self._wake_drained()
        self._stats.count_disconnect(disconnect.code)
        reason = disconnect.reason.encode()[:120].decode(errors="ignore")
        if flush and self._out:
            if self._direct is not None and self._direct.writable():
                for frame in self._take_frames():
                    self._direct.send(frame, self.binary)
        else:
            self._out.clear()
            self._out_bytes = 0
            self._exempt = 0
        if self._direct is not None:
            self._direct.close(disconnect.code, reason)
            return
        if self._writer_wake is not None and not self._writer_wake.done():
            self._writer_wake.set_result(None)
        self._closer = asyncio.ensure_future(self._send_close(disconnect.code, reason))

    async def _send_close(self, code: int, reason: str) -> None:
        """ASGI fallback only: let the writer drain (at most 2 s), then send the close frame.
        The task is kept in ``_closer``; the writer logs its own failures."""
        if self._writer is not None:
            try:
                await asyncio.wait_for(asyncio.shield(self._writer), 2)
            except TimeoutError:
                log.debug("writer still busy after 2 s; closing anyway")
        try:
            await self._asgi_send({"type": "websocket.close", "code": code, "reason": reason})
        except Exception:
            log.debug("close frame not sent", exc_info=True)
