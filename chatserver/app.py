"""The composition root: the only place that builds services and wires them together.

``Server(settings)`` builds the engine (Redis), the hub, the node (this process's
connections), posting, presence and typing, and installs the extensions, handing each
exactly what it uses; ``start``/``stop`` run the lifecycle in order. ``create_app(settings)``
wraps a Server in an ASGI app (what tests and the CLI use); ``create_app_from_env()`` is the
factory uvicorn workers import (settings travel in ``CHATSERVER_SETTINGS_JSON``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles

from chatserver import (
    api,
    chat_rpc,
    dev_signin,
    gc_policy,
    metrics,
    ops_gauges,
    own_messages,
    platform_posts,
    presence_api,
    presence_service,
    reactions,
    typing_service,
)
from chatserver.auth import TokenVerifier
from chatserver.channels import ChannelResolver
from chatserver.config import Settings
from chatserver.connection import ConnectionContext
from chatserver.engine import HistoryOptions
from chatserver.extension import ExtensionContext, TypingGates
from chatserver.hub import Hub
from chatserver.node import VERSION, Node
from chatserver.notify import Notifier
from chatserver.posting import Poster
from chatserver.redis.broker import RedisBroker
from chatserver.redis.catalog import RedisCatalog
from chatserver.redis.commands import RedisCommands, RedisControl
from chatserver.redis.connect import engine_unavailable
from chatserver.redis.deployment import build_engine
from chatserver.redis.presence import RedisPresence
from chatserver.redis.reactions_store import RedisReactionStore
from chatserver.redis.stores import RedisStores
from chatserver.registry import Registry
from chatserver.stats import Stats
from chatserver.tasks import Tasks
from chatserver.websocket import make_endpoint

log = logging.getLogger("chatserver.app")

# Extensions installed into every server, in this order (Q&A and crisis response need
# moderation; webhooks follow moderation's audit log).
EXTENSIONS: tuple[str, ...] = (
    "chatserver.moderation",
    "chatserver.qa",
    "chatserver.crisis",
    "chatserver.webhooks",
    "chatserver.privacy",
    "chatserver.dev_signin",
)

STATIC_DIR = Path(__file__).parent / "static"


class Server:
    """Everything one server process runs, built and wired here."""

    def __init__(self, settings: Settings, extensions: Sequence[str] | None = None) -> None:
        if not settings.redis_url:
            raise ValueError("the server needs a redis_url (the CLI starts an embedded Valkey)")
        self.settings = settings
        self.node_id = settings.node_name or f"{socket.gethostname()}-{os.getpid()}"
        self.ready = False
        self.tasks = Tasks(unavailable=engine_unavailable)
        self.stats = Stats()
        # The engine: one server, a cluster or Sentinel, found out here once (the parts
        # below implement the same interfaces for all three).
        self.engine = build_engine(settings.redis_url)
        self.redis = self.engine.redis
        self.broker = RedisBroker(self.redis, settings.history_meta_ttl, self.engine.pipeline)
        self.commands = RedisCommands(self.redis, self.engine.pipeline)
        self.control = RedisControl(self.engine.pipeline)
        self.catalog = RedisCatalog(self.redis, self.control)
        self.resolver = ChannelResolver(self.catalog, settings.history_meta_ttl)
        self.hub = Hub(
            self.engine.subscriptions,
            recover=self.broker.recover,
            repair_limit=settings.history_max_limit,
            linger=settings.channel_linger,
            tasks=self.tasks,
        )
        self.registry = Registry(self.hub.on_control)
        self.registry.on_control("catalog", self._on_catalog_changed)
        # Announcements name one record; one missed while pub/sub was down is caught up here.
        self.hub.reset_listeners.append(lambda: self.tasks.spawn(self._reload_catalog(), "catalog reload after a pub/sub reset"))
        # Messages, notices, presence and typing.
        self.poster = Poster(self.broker, self._history_of, self.stats, settings.idempotency_ttl)
        self.notifier = Notifier(self.broker, self._history_of, self.control)
        users: dict[str, set[Any]] = {}
        redis = self.redis
        self.presence = presence_service.install(
            settings,
            self.registry,
            lambda liveness, instance, hold: RedisPresence(redis, liveness, instance, hold, self.engine.pipeline),
            self.broker,
            self.resolver,
            users,
            self.node_id,
            self.tasks,
        )
        self.typing = typing_service.install(settings, self.registry, self.presence.store, self.tasks)
        self.node = Node(settings, self.stats, self.registry, self.hub, self.presence, users, self.tasks)
        chat = chat_rpc.install(self.registry, self.poster, self.resolver, self.catalog)
        self.own_messages = own_messages.install(self.registry, self.poster, self.broker, self.resolver, self.catalog)
        presence_api.install(self.registry, settings, self.presence, self.typing, self.resolver, self.catalog)
        self.reactions = reactions.install(self.registry, self.resolver, RedisReactionStore(self.redis))
        self.connection_context = ConnectionContext(
            settings=settings,
            stats=self.stats,
            verifier=TokenVerifier(
                settings.secret, tuple(settings.token_algorithms), settings.token_public_key or None
            ),
            resolver=self.resolver,
            hub=self.hub,
            streams=self.broker,
            registry=self.registry,
            node=self.node,
            presence=self.presence,
            post=chat.publish_from_client,
            tasks=self.tasks,
            node_id=self.node_id,
            version=VERSION,
            unavailable=engine_unavailable,
        )
        self._install(EXTENSIONS if extensions is None else tuple(extensions), users)

    def _install(self, names: tuple[str, ...], users: dict[str, set[Any]]) -> None:
        from chatserver.crisis import extension as crisis
        from chatserver.moderation import extension as moderation
        from chatserver.qa import extension as qa
        from chatserver.webhooks import extension as webhooks

        unknown = set(names) - set(EXTENSIONS)
        if unknown:
            raise ValueError(f"unknown extensions: {sorted(unknown)}")
        ext = ExtensionContext(
            settings=self.settings,
            registry=self.registry,
            catalog=self.catalog,
            resolver=self.resolver,
            poster=self.poster,
            notifier=self.notifier,
            streams=self.broker,
            commands=self.commands,
            control=self.control,
            typing=TypingGates(self.typing.add_gate),
            local_users=users,
            node_id=self.node_id,
            tasks=self.tasks,
            stores=RedisStores(self.redis, self.commands, self.control),
        )
        self.moderation = moderation.install(ext) if "chatserver.moderation" in names else None
        if self.moderation is not None:
            # Muted or banned members do not react either (the same rule as typing).
            self.reactions.add_gate(self.moderation.typing_gate)
        self.qa = None
        if "chatserver.qa" in names:
            if self.moderation is None:
                raise ValueError(
                    "chatserver.qa needs the chatserver.moderation extension: questions pass the "
                    "room's moderation pipeline and hold queue"
                )
            self.qa = qa.install(ext, self.moderation)
        self.crisis = None
        self.webhooks = None
        for name in ("chatserver.crisis", "chatserver.webhooks"):
            if name in names and self.moderation is None:
                raise ValueError(f"{name} needs the chatserver.moderation extension (crisis signals, the audit log)")
        if "chatserver.crisis" in names:
            assert self.moderation is not None
            self.crisis = crisis.install(ext, self.moderation)
        if "chatserver.webhooks" in names:
            assert self.moderation is not None
            self.webhooks = webhooks.install(ext, self.moderation)
        self.privacy = None
        if "chatserver.privacy" in names:
            from chatserver.privacy import extension as privacy

            if self.moderation is None:
                raise ValueError("chatserver.privacy needs the chatserver.moderation extension (audit log, holds)")
            self.privacy = privacy.install(ext, self.presence.store, self.moderation.audit)
        if "chatserver.dev_signin" in names:
            dev_signin.install(self.registry, self.settings, self.catalog)
        ops_gauges.install(self.registry, self.is_ready, self.moderation, self.webhooks)

    def _history_of(self, channel: str) -> HistoryOptions | None:
        spec = self.resolver.resolve(channel)
        return spec.history if spec is not None else None

    async def _reload_catalog(self) -> None:
        """Catch up on catalog announcements missed while pub/sub was down. Right after a
        Redis restart the first attempts can fail (pooled connections that died with it):
        try again, for about a minute, until one reload succeeds."""
        delay = 0.2
        for attempt in range(12):
            try:
                await self.catalog.load()
                return
            except Exception:
                self.tasks.log_failure(log, "catalog reload after a pub/sub reset failed (attempt %d, retrying)", attempt + 1)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 10.0)
        log.error("catalog reload after a pub/sub reset kept failing; room changes made meanwhile wait for the next reset")

    async def _on_catalog_changed(self, msg: dict[str, Any]) -> None:
        await self.catalog.on_control(msg)

    def is_ready(self) -> bool:
        return self.ready

    def metrics_text(self) -> bytes:
        return metrics.render(metrics.NodeCollector(self.node, self.hub, self.broker, self.registry))

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        await self.engine.start()
        await self.hub.start()
        created = await self.catalog.seed(
            self.settings.communities, self.settings.rooms, self.settings.seed_demo
        )
        for item in created:
            log.info("created %s", item)
        await self.catalog.load()
        for hook in self.registry.startup_hooks:
            await hook()
        await self.presence.start()
        self.node.start()
        self.tasks.spawn(self._redis_watch(), "redis watch")
        for watcher in self.engine.watchers:
            self.tasks.spawn(watcher(), "engine watcher")
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
        self.node.close_all()
        for hook in reversed(self.registry.shutdown_hooks):
            try:
                await hook()
            except Exception:
                log.exception("shutdown hook failed")
        self.typing.stop()
        await self.presence.stop()
        await self.tasks.close()
        await self.hub.close()
        self.broker.close()
        await self.redis.aclose()

    async def _redis_watch(self) -> None:
        while True:
            try:
                self.stats.redis_ping = await self.engine.ping()
                self.ready = True
            except Exception as exc:
                log.error("Redis is not answering: %s", exc)
                self.ready = False
                self.stats.redis_errors += 1
            await asyncio.sleep(5)

    # ------------------------------------------------------------------ HTTP

    def routes(self) -> list[Any]:
        routes: list[Any] = [
            WebSocketRoute(
                "/connection/websocket", make_endpoint(self.connection_context, self.node, self.is_ready)
            )
        ]
        routes += api.routes(
            self.settings,
            self.catalog,
            self.broker,
            self.node_id,
            self.is_ready,
            self.engine.ping,
            self.metrics_text,
        )
        routes += platform_posts.routes(self.settings, self.poster, self.catalog)
        routes += self.registry.routes
        return routes


def create_app(settings: Settings, extensions: Sequence[str] | None = None) -> Starlette:
    server = Server(settings, extensions)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await server.start()
        try:
            yield
        finally:
            await server.stop()

    routes = server.routes()
    if (STATIC_DIR / "index.html").exists():
        routes.append(Mount("/", StaticFiles(directory=STATIC_DIR, html=True), name="static"))
    else:
        async def index(request: Any) -> Any:
            from starlette.responses import PlainTextResponse

            return PlainTextResponse(
                "chatserver is running. WebSocket: /connection/websocket  API: /api  "
                "Health: /healthz\n"
            )

        routes.append(Route("/", index))
    return Starlette(routes=routes, lifespan=lifespan)


def create_app_from_env() -> Starlette:
    from chatserver import logs

    settings = Settings.from_json(os.environ["CHATSERVER_SETTINGS_JSON"])
    logs.setup(settings.log_level, settings.log_format, settings.access_log)
    return create_app(settings)
