"""Which rooms have a moderator online, across processes (for hold escalation).

A moderator is "online for a room" while one of their connections is subscribed to the
room's moderator feed ``<community>:<room>/mod``. Each process records its local feed
subscriptions in Redis (``mod:{<room>}:watch``, member ``<node>/<client>``, score = expiry),
refreshes them every ``HEARTBEAT`` seconds and removes them on unsubscribe. A process that
dies stops refreshing, and its entries stop counting after ``TTL`` seconds.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING

from rooms.channels import ChannelKind

if TYPE_CHECKING:
    from chatserver.connection import Connection, Sub
    from chatserver.extension import ExtensionContext
    from chatserver.stores import ModerationStore

log = logging.getLogger("chatserver.moderation.watchers")

TTL = 45
HEARTBEAT = 15


class ModeratorWatchers:
    def __init__(self, ext: ExtensionContext, store: ModerationStore) -> None:
        self.ext = ext
        self.store = store
        self.local: dict[tuple[str, str], None] = {}  # (room channel, member) on this process
        self._task: asyncio.Task[None] | None = None

    def _member(self, conn: Connection) -> str:
        return f"{self.ext.node_id}/{conn.client_id}"

    async def start(self) -> None:
        self._task = asyncio.ensure_future(self._heartbeat())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
        if self.local:
            try:
                await self.store.unwatch(list(self.local))
            except Exception:
                log.warning("could not remove moderator-feed entries on shutdown", exc_info=True)

    async def on_subscribed(self, conn: Connection, sub: Sub) -> None:
        if sub.spec.kind is not ChannelKind.ROOM_MOD:
            return
        room = sub.spec.parsed.room_channel
        member = self._member(conn)
        self.local[(room, member)] = None
        await self.store.watch([(room, member)], time.time() + TTL, TTL * 2)

    async def on_unsubscribed(self, conn: Connection, sub: Sub) -> None:
        if sub.spec.kind is not ChannelKind.ROOM_MOD:
            return
        room = sub.spec.parsed.room_channel
        member = self._member(conn)
        self.local.pop((room, member), None)
        await self.store.unwatch([(room, member)])

    async def online(self, room: str) -> int:
        """How many moderator-feed subscriptions of ``room`` are live (all processes)."""
        return await self.store.watchers_online(room, time.time())

    async def _heartbeat(self) -> None:
        while True:
            await asyncio.sleep(HEARTBEAT)
            if not self.local:
                continue
            try:
                await self.store.watch(list(self.local), time.time() + TTL, TTL * 2)
            except Exception:
                log.warning("moderator-feed heartbeat failed", exc_info=True)
