"""The node: one server process's runtime. Owns the hub, the broker, the catalog, the
connections, and the registries extensions plug into (RPC methods, posting gates, moderation
pipeline, control messages, HTTP routes).
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import socket
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import orjson
import redis.asyncio as aioredis

from chatserver import gc_policy, presence_api
from chatserver.auth import TokenVerifier
from chatserver.channels import ChannelResolver, ChannelSpec
from chatserver.config import Settings
from chatserver.engine import HistoryOptions
from chatserver.errors import ReplyError
from chatserver.hub import Hub
from chatserver.posting import Outcome, Poster, outcome_dict
from chatserver.presence_service import PresenceService
from chatserver.protocol import codes
from chatserver.publication import Publication, pack_payload
from chatserver.redis.broker import PublishResult, RedisBroker, make_client
from chatserver.redis.catalog import RedisCatalog
from chatserver.redis.commands import RedisCommands, RedisControl
from chatserver.redis.pubsub import PubSub
from chatserver.redis.urls import parse_redis_url
from chatserver.stats import Stats
from chatserver.typing_service import TypingService
from rooms.channels import ChannelKind, user_channel

if TYPE_CHECKING:
    from chatserver.connection import Connection, Sub
    from chatserver.outbox import Outbox

log = logging.getLogger("chatserver.node")

VERSION = "0.1.0"

# Flush pacing and slicing (see Node.schedule_flush): waits shorter than the minimum are
# not worth a timer; the maximum bounds the latency pacing can add; a slice is how long one
# loop turn may spend writing before other I/O gets its turn.
FLUSH_MIN_WAIT = 0.0005
FLUSH_MAX_WAIT = 0.020
FLUSH_SLICE = 0.001

RpcHandler = Callable[["Connection", Any], Awaitable[Any]]
SendHandler = Callable[["Connection", Any], Awaitable[None]]


class Node:
    def __init__(self, settings: Settings) -> None:
        if not settings.redis_url:
            raise ValueError("Node needs a redis_url (the CLI starts an embedded Valkey)")
        self.settings = settings
        self.stats = Stats()
        self.version = VERSION
        self.node_id = settings.node_name or f"{socket.gethostname()}-{os.getpid()}"
        self.redis: aioredis.Redis = make_client(settings.redis_url)
        self.verifier = TokenVerifier(
            settings.secret,
            tuple(settings.token_algorithms),
            settings.token_public_key or None,
        )
        address = parse_redis_url(settings.redis_url)
        self.broker = RedisBroker(self.redis, settings.history_meta_ttl, address)
        self.catalog = RedisCatalog(self.redis)
        self.resolver = ChannelResolver(self.catalog, settings.history_meta_ttl)
        self.hub = Hub(
            lambda **kw: PubSub(address, **kw),
            recover=self.broker.recover,
            repair_limit=settings.history_max_limit,
        )
        self.redis_commands = RedisCommands(self.redis, self.broker.pipeline)
        self.control = RedisControl(self.redis)
        self.poster = Poster(self.broker, self._history_of, self.stats, settings.idempotency_ttl)
        self.rpc: dict[str, RpcHandler] = {}
        self.send_handlers: list[SendHandler] = []
        self.personal_channel = True
        self.open: set[Connection] = set()
        self.connections: dict[str, Connection] = {}
        self.users: dict[str, set[Connection]] = {}
        self.started_at = time.time()
        self.ready = False
        self.extension_routes: list[Any] = []
        self.startup_hooks: list[Callable[[], Awaitable[None]]] = []
        self.shutdown_hooks: list[Callable[[], Awaitable[None]]] = []
        self.subscribe_hooks: list[Callable[[Connection, Sub], Awaitable[None]]] = []
        self.unsubscribe_hooks: list[Callable[[Connection, Sub], Awaitable[None]]] = []
        self.disconnect_hooks: list[Callable[[Connection], Awaitable[None]]] = []
        self.metric_sources: list[Callable[[], dict[str, float]]] = []
        self._dirty: list[Outbox] = []
        self._flush_pending = False
        self._flush_cost = 0.0  # seconds the last flush round took (all its slices)
        self._flushed_at = 0.0  # perf_counter() when it ended
        self._round: list[Outbox] | None = None  # the round being flushed, in slices
        self._round_pos = 0
        self._round_cost = 0.0
        self._tasks: list[asyncio.Task[None]] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self.register_rpc("chat.send", self._rpc_send)
        self.register_rpc("chat.rooms", self._rpc_rooms)
        # Presence (members online, join/leave, counts) and typing: see docs/presence.md.
        self.presence = PresenceService(self)
        self.typing = TypingService(self)
        self.metric_sources.append(self.typing.metrics)
        presence_api.install(self)

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        await self.redis.ping()
        self.hub.on_control("catalog", self._on_catalog_changed)
        self.hub.on_control("disconnect", self._on_control_disconnect)
        self.hub.on_control("unsubscribe", self._on_control_unsubscribe)
        await self.hub.start()
        created = await self.catalog.seed(
            self.settings.communities, self.settings.rooms, self.settings.seed_demo
        )
        for item in created:
            log.info("created %s", item)
        await self.catalog.load()
        for hook in self.startup_hooks:
            await hook()
        await self.presence.start()
        self._tasks.append(asyncio.ensure_future(self._ticker()))
        self._tasks.append(asyncio.ensure_future(self._redis_watch()))
        gc_policy.apply()
        self.ready = True
        log.info(
            "node %s ready: %d communities, %d rooms",
            self.node_id,
            len(self.catalog.communities),
            len(self.catalog.rooms),
        )

    async def stop(self) -> None:
        self.ready = False
        for conn in list(self.open):
            conn.close(codes.SHUTDOWN)
        for hook in reversed(self.shutdown_hooks):
            try:
                await hook()
            except Exception:
                log.exception("shutdown hook failed")
        self.typing.stop()
        await self.presence.stop()
        for task in self._tasks:
            task.cancel()
        await self.hub.close()
        self.broker.close()
        await self.redis.aclose()

    # ------------------------------------------------------------------ Redis commands

    async def command(self, *args: bytes | str | int) -> Any:
        return await self.redis_commands.command(*args)

    async def commands(self, commands: list[tuple[bytes | str | int, ...]]) -> list[Any]:
        return await self.redis_commands.commands(commands)

    # ------------------------------------------------------------------ registries

    def register_rpc(self, method: str, handler: RpcHandler) -> None:
        if method in self.rpc:
            raise ValueError(f"rpc method {method!r} registered twice")
        self.rpc[method] = handler

    def jitter(self) -> float:
        return random.random()

    def extra_metrics(self) -> dict[str, float]:
        out: dict[str, float] = {}
        for source in self.metric_sources:
            out.update(source())
        return out

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
        for hook in self.disconnect_hooks:
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
        while True:
            await asyncio.sleep(1.0)
            now = time.monotonic()
            wall = time.time()
            for conn in list(self.open):
                try:
                    conn.tick(now, wall)
                except Exception:
                    log.exception("tick failed")

    async def _redis_watch(self) -> None:
        while True:
            try:
                self.stats.redis_ping = await self.broker.ping()
                self.ready = True
            except Exception as exc:
                log.error("Redis is not answering: %s", exc)
                self.ready = False
            await asyncio.sleep(5)

    # ------------------------------------------------------------------ hooks from Connection

    async def on_subscribed(self, conn: Connection, sub: Sub) -> None:
        await self.presence.on_subscribed(conn, sub)
        for hook in self.subscribe_hooks:
            await hook(conn, sub)

    async def on_unsubscribed(self, conn: Connection, sub: Sub) -> None:
        await self.presence.on_unsubscribed(conn, sub)
        for hook in self.unsubscribe_hooks:
            await hook(conn, sub)

    def should_push_presence(self, conn: Connection, sub: Sub, pub: Publication) -> bool:
        return self.presence.should_push(conn, sub, pub)

    async def presence_of(self, conn: Connection, spec: ChannelSpec) -> dict[str, Any]:
        return await self.presence.presence(conn, spec)

    async def presence_stats_of(self, conn: Connection, spec: ChannelSpec) -> tuple[int, int]:
        return await self.presence.stats(conn, spec)

    async def on_send(self, conn: Connection, data: Any) -> None:
        for handler in self.send_handlers:
            await handler(conn, data)

    def _history_of(self, channel: str) -> HistoryOptions | None:
        spec = self.resolver.resolve(channel)
        return spec.history if spec is not None else None

    async def publish_from_client(self, conn: Connection, spec: ChannelSpec, data: Any) -> Outcome:
        if spec.kind is not ChannelKind.ROOM or spec.room is None:
            raise ReplyError(codes.PERMISSION_DENIED, "permission denied: only rooms take messages from clients")
        return await self.poster.post(conn, spec.room, data)

    # ------------------------------------------------------------------ RPC: chat.*

    async def _rpc_send(self, conn: Connection, data: Any) -> dict[str, Any]:
        """``chat.send {channel, text, client_msg_id?}`` -> ``{status, id, offset?, ...}``."""
        if not isinstance(data, dict):
            raise ReplyError(codes.BAD_REQUEST, 'bad request: expected {"channel": ..., "text": ...}')
        channel = data.get("channel")
        if not isinstance(channel, str):
            raise ReplyError(codes.BAD_REQUEST, "bad request: channel required")
        spec = self.resolver.resolve(channel)
        if spec is None:
            raise ReplyError(codes.UNKNOWN_CHANNEL, f"unknown channel {channel}")
        body = {k: v for k, v in data.items() if k != "channel"}
        return outcome_dict(await self.publish_from_client(conn, spec, body))

    async def _rpc_rooms(self, conn: Connection, data: Any) -> dict[str, Any]:
        """``chat.rooms {community?}``: rooms the caller may join."""
        assert conn.identity is not None
        member = conn.identity.member
        wanted = data.get("community") if isinstance(data, dict) else None
        rooms = []
        for room in sorted(self.catalog.rooms.values(), key=lambda r: r.channel):
            if wanted and room.community != wanted:
                continue
            spec = self.resolver.resolve(room.channel)
            if spec is None or self.resolver.check_subscribe(member, spec) is not None:
                continue
            rooms.append(
                {
                    "channel": room.channel,
                    "community": room.community,
                    "name": room.name,
                    "title": room.title,
                    "slow_mode": room.settings.slow_mode,
                    "locked": room.settings.locked,
                }
            )
        return {"rooms": rooms}

    # ------------------------------------------------------------------ server-side publishing

    async def publish_event(
        self,
        channel: str,
        event: dict[str, Any],
        *,
        info: dict[str, Any] | None = None,
    ) -> PublishResult:
        """Publish a system event (data ``event``) into any channel, with history."""
        spec = self.resolver.resolve(channel)
        if spec is None:
            raise ReplyError(codes.UNKNOWN_CHANNEL, f"unknown channel {channel}")
        payload = pack_payload(orjson.dumps(event), info=info, time_ms=int(time.time() * 1000))
        return await self.broker.publish(channel, payload, spec.history)

    async def notify_user(self, user: str, event: dict[str, Any]) -> None:
        """A private notice to every connection of ``user`` (kept for recovery)."""
        await self.publish_event(user_channel(user), event)

    async def disconnect_user(self, user: str, disconnect: codes.Disconnect) -> None:
        await self.control.send("disconnect", user=user, code=disconnect.code, reason=disconnect.reason)

    async def unsubscribe_user(self, user: str, channel: str, code: int, reason: str) -> None:
        await self.control.send("unsubscribe", user=user, channel=channel, code=code, reason=reason)

    # ------------------------------------------------------------------ control messages

    async def _on_catalog_changed(self, msg: dict[str, Any]) -> None:
        await self.catalog.load()

    def _on_control_disconnect(self, msg: dict[str, Any]) -> None:
        for conn in list(self.users.get(msg.get("user", ""), ())):
            conn.close(codes.Disconnect(int(msg.get("code", 3503)), str(msg.get("reason", ""))))

    def _on_control_unsubscribe(self, msg: dict[str, Any]) -> None:
        channel = str(msg.get("channel", ""))
        for conn in list(self.users.get(msg.get("user", ""), ())):
            conn.server_unsubscribe(channel, int(msg.get("code", 2000)), str(msg.get("reason", "")))
