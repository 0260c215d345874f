"""The node: this process's client connections. Keeps the open connections (by client id and
by user), flushes their outboxes in paced rounds, ticks them once a second (pings,
expiry), runs the connection lifecycle hooks and applies the disconnect/unsubscribe control
messages to local connections. It holds no services: the composition root
(``chatserver.app``) gives it what it uses.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING, Any, Protocol

from chatserver.config import Settings
from chatserver.protocol import codes
from chatserver.registry import Registry
from chatserver.stats import Stats
from chatserver.tasks import Tasks

if TYPE_CHECKING:
    from chatserver.connection import Connection
    from chatserver.outbox import Outbox
    from chatserver.subscription import Sub

log = logging.getLogger("chatserver.node")

VERSION = "0.1.0"

# Flush pacing and slicing (see Node.schedule_flush): waits shorter than the minimum are
# not worth a timer; the maximum bounds the latency pacing can add; a slice is how long one
# loop turn may spend writing before other I/O gets its turn.
FLUSH_MIN_WAIT = 0.0005
FLUSH_MAX_WAIT = 0.020
FLUSH_SLICE = 0.001
TICK = 1.0  # seconds between connection ticks (pings, pong deadlines, expiry)
LATE_TICK = 0.25  # a tick later than this ran behind a lagging loop


class Detach(Protocol):
    def detach(self, channel: str, sub: Any) -> None: ...


class NodePresence(Protocol):
    """What the node needs from presence (``PresenceService``)."""

    def user_changed(self, user: str) -> None: ...

    async def on_subscribed(self, conn: Connection, sub: Sub) -> None: ...

    async def on_unsubscribed(self, conn: Connection, sub: Sub) -> None: ...


class Node:
    def __init__(
        self,
        settings: Settings,
        stats: Stats,
        registry: Registry,
        hub: Detach,
        presence: NodePresence,
        users: dict[str, set[Connection]],
        tasks: Tasks,
    ) -> None:
        self.settings = settings
        self.stats = stats
        self.registry = registry
        self.hub = hub
        self.presence = presence
        self.tasks = tasks
        self.open: set[Connection] = set()
        self.connections: dict[str, Connection] = {}
        self.users = users
        self._dirty: list[Outbox] = []
        self._flush_pending = False
        self._flush_cost = 0.0  # seconds the last flush round took (all its slices)
        self._flushed_at = 0.0  # perf_counter() when it ended
        self._round: list[Outbox] | None = None  # the round being flushed, in slices
        self._round_pos = 0
        self._round_cost = 0.0
        self._loop: asyncio.AbstractEventLoop | None = None
        registry.on_control("disconnect", self._on_control_disconnect)
        registry.on_control("unsubscribe", self._on_control_unsubscribe)

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self.tasks.spawn(self._ticker(), "connection ticker")

    def close_all(self) -> None:
        for conn in list(self.open):
            conn.close(codes.SHUTDOWN)

    # ------------------------------------------------------------------ connections

    def accept(self, conn: Connection) -> None:
        self.open.add(conn)

    def register(self, conn: Connection) -> None:
        self.connections[conn.client_id] = conn
        peers = self.users.setdefault(conn.user, set())
        peers.add(conn)
        if len(peers) == 1:
            self.presence.user_changed(conn.user)  # first connection of this user here

    async def release(self, conn: Connection) -> None:
        """The socket is gone: forget the connection and undo its subscriptions."""
        self.open.discard(conn)
        conn.out.gone()
        if self.connections.pop(conn.client_id, None) is None:
            return
        peers = self.users.get(conn.user)
        if peers is not None:
            peers.discard(conn)
            if not peers:
                del self.users[conn.user]
                self.presence.user_changed(conn.user)  # their last connection here closed
        subs = list(conn.subs.values())
        for sub in subs:
            conn.subs.pop(sub.spec.name, None)
            self.stats.subscriptions -= 1
            self.hub.detach(sub.spec.name, conn)
        for sub in subs:
            try:
                await self.on_unsubscribed(conn, sub)
            except Exception:
                log.exception("cleanup of %s failed", sub.spec.name)
        for hook in self.registry.disconnect_hooks:
            try:
                await hook(conn)
            except Exception:
                log.exception("disconnect hook failed")

    def schedule_flush(self, conn: Outbox) -> None:
        """Queue ``conn`` for the next flush round of dirty outboxes.

        A round normally starts on the next loop turn. Two things keep a big room under load
        cheap and responsive:
        - pacing: when a round was expensive (one write per member), the next one starts no
          sooner than as long after it as it took, so at most about half the time goes to
          writing and messages that arrive meanwhile leave together, several per frame
          (capped at ``FLUSH_MAX_WAIT``; small rounds start on the next turn as before);
        - slicing: a round writes for at most ``FLUSH_SLICE`` seconds per loop turn, so
          Redis replies and client commands are served between slices instead of waiting
          for a whole room to be written.
        """
        self._dirty.append(conn)
        if not self._flush_pending and self._round is None:
            self._start_round_soon()

    def _start_round_soon(self) -> None:
        self._flush_pending = True
        loop = self._loop or asyncio.get_running_loop()
        wait = self._flush_cost - (time.perf_counter() - self._flushed_at)
        if wait > FLUSH_MIN_WAIT:
            loop.call_later(min(wait, FLUSH_MAX_WAIT), self._flush_all)
        else:
            loop.call_soon(self._flush_all)

    def _flush_all(self) -> None:
        self._flush_pending = False
        if self._round is None:
            self._round = self._dirty
            self._round_pos = 0
            self._round_cost = 0.0
            self._dirty = []
        batch = self._round
        pos = self._round_pos
        count = len(batch)
        start = time.perf_counter()
        deadline = start + FLUSH_SLICE
        now = start
        while pos < count:
            stop = min(pos + 32, count)
            while pos < stop:
                batch[pos].flush()
                pos += 1
            now = time.perf_counter()
            if now > deadline:
                break
        self._round_cost += now - start
        if pos < count:
            self._round_pos = pos
            self._flush_pending = True
            (self._loop or asyncio.get_running_loop()).call_soon(self._flush_all)
            return
        self._round = None
        self._flushed_at = now
        self._flush_cost = self._round_cost
        if self._dirty:
            self._start_round_soon()

    async def _ticker(self) -> None:
        last = time.monotonic()
        while True:
            await asyncio.sleep(TICK)
            now = time.monotonic()
            wall = time.time()
            # A tick that comes late ran before the loop read what arrived meanwhile (timers
            # run before I/O in a loop iteration): no pong deadline is enforced on it.
            late = now - last > TICK + LATE_TICK
            last = now
            for conn in list(self.open):
                try:
                    conn.tick(now, wall, late)
                except Exception:
                    log.exception("tick failed")

    # ------------------------------------------------------------------ hooks from Connection

    async def on_subscribed(self, conn: Connection, sub: Sub) -> None:
        await self.presence.on_subscribed(conn, sub)
        for hook in self.registry.subscribe_hooks:
            await hook(conn, sub)

    async def on_unsubscribed(self, conn: Connection, sub: Sub) -> None:
        await self.presence.on_unsubscribed(conn, sub)
        for hook in self.registry.unsubscribe_hooks:
            await hook(conn, sub)

    async def on_send(self, conn: Connection, data: Any) -> None:
        for handler in self.registry.send_handlers:
            await handler(conn, data)

    # ------------------------------------------------------------------ control messages

    def _on_control_disconnect(self, msg: dict[str, Any]) -> None:
        for conn in list(self.users.get(msg.get("user", ""), ())):
            conn.close(codes.Disconnect(int(msg.get("code", 3503)), str(msg.get("reason", ""))))

    def _on_control_unsubscribe(self, msg: dict[str, Any]) -> None:
        channel = str(msg.get("channel", ""))
        for conn in list(self.users.get(msg.get("user", ""), ())):
            conn.server_unsubscribe(channel, int(msg.get("code", 2000)), str(msg.get("reason", "")))
