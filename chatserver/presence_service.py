"""Presence as the gateway sees it: record subscriptions, answer presence queries, and
decide which join/leave pushes a connection gets. Rules live in ``presence/``; Redis in
``chatserver.redis.presence``.
"""

from __future__ import annotations

import asyncio
import logging
import random
from typing import TYPE_CHECKING, Any

from chatserver.publication import KIND_JOIN, KIND_LEAVE, Publication, pack_payload
from rooms.channels import ChannelKind

if TYPE_CHECKING:
    from chatserver.channels import ChannelSpec
    from chatserver.connection import Connection, Sub
    from chatserver.node import Node

log = logging.getLogger("chatserver.presence")


class PresenceService:
    def __init__(self, node: Node) -> None:
        self.node = node
        self.store = node.presence_store
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.ensure_future(self._heartbeat())

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()

    def _tracked(self, sub: Sub) -> bool:
        return sub.spec.kind is ChannelKind.ROOM and sub.spec.presence

    async def on_subscribed(self, conn: Connection, sub: Sub) -> None:
        if not self._tracked(sub):
            return
        info = conn.client_info(sub.chan_info)
        await self.store.add(sub.spec.name, conn.client_id, info)
        if sub.spec.join_leave:
            await self.node.broker.publish_ephemeral(
                sub.spec.name, pack_payload(b"null", info=info, kind=KIND_JOIN)
            )

    async def on_unsubscribed(self, conn: Connection, sub: Sub) -> None:
        if not self._tracked(sub):
            return
        await self.store.remove(sub.spec.name, conn.client_id)
        if sub.spec.join_leave:
            info = conn.client_info(sub.chan_info)
            await self.node.broker.publish_ephemeral(
                sub.spec.name, pack_payload(b"null", info=info, kind=KIND_LEAVE)
            )

    def should_push(self, conn: Connection, sub: Sub, pub: Publication) -> bool:
        """Join/leave pushes: not about oneself."""
        info = pub.info or {}
        return info.get("client") != conn.client_id

    async def presence(self, conn: Connection, spec: ChannelSpec) -> dict[str, Any]:
        entries = await self.store.get(spec.name)
        return {client: _client_info(info) for client, info in entries.items()}

    async def stats(self, conn: Connection, spec: ChannelSpec) -> tuple[int, int]:
        entries = await self.store.get(spec.name)
        users = {info.get("user") for info in entries.values()}
        return len(entries), len(users)

    async def _heartbeat(self) -> None:
        ttl = self.node.settings.presence_ttl
        while True:
            await asyncio.sleep(ttl / 3 * (0.8 + 0.4 * random.random()))
            entries = [
                (sub.spec.name, conn.client_id)
                for conn in list(self.node.connections.values())
                for sub in conn.subs.values()
                if self._tracked(sub)
            ]
            try:
                await self.store.refresh(entries)
            except Exception:
                log.exception("presence heartbeat failed")


def _client_info(info: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"user": info.get("user", ""), "client": info.get("client", "")}
    if info.get("conn_info"):
        out["conn_info"] = info["conn_info"]
    if info.get("chan_info"):
        out["chan_info"] = info["chan_info"]
    return out
