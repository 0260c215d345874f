"""The engine's stores for extensions, made on request: an extension asks for its store and
never sees the Redis client (``ExtensionContext.stores``, built by ``chatserver.app``).
Every store made is remembered (the first of each kind), so the composition root can hand
them all to privacy as member data (``chatserver.member_data``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import redis.asyncio as aioredis

from chatserver.engine import Commands, Control, HistoryOptions
from chatserver.redis.crisis_store import RedisCaseStore
from chatserver.redis.moderation_store import RedisHoldStore, RedisModerationStore
from chatserver.redis.peer_store import RedisPeerStore
from chatserver.redis.privacy_store import RedisPrivacyStore
from chatserver.redis.qa_store import RedisQaStore
from chatserver.redis.webhook_store import RedisWebhookStore

T = TypeVar("T")


class RedisStores:
    def __init__(self, client: aioredis.Redis, commands: Commands, control: Control) -> None:
        self._redis = client
        self._commands = commands
        self._control = control
        self._made: dict[type, Any] = {}

    def _keep(self, store: T) -> T:
        self._made.setdefault(type(store), store)
        return store

    def made(self) -> list[Any]:
        """The first store of each kind made so far."""
        return list(self._made.values())

    def moderation(self) -> RedisModerationStore:
        return self._keep(RedisModerationStore(self._redis, self._commands, self._control))

    def holds(self) -> RedisHoldStore:
        return self._keep(RedisHoldStore(self._redis, self._commands))

    def qa(
        self, board_history: HistoryOptions, retention: int, ttl_of: Callable[[str], int] | None = None
    ) -> RedisQaStore:
        return self._keep(RedisQaStore(self._redis, board_history, retention, ttl_of, self._commands))

    def privacy(self) -> RedisPrivacyStore:
        return self._keep(RedisPrivacyStore(self._redis, self._commands))

    def crisis(self) -> RedisCaseStore:
        return self._keep(RedisCaseStore(self._redis))

    def webhooks(self) -> RedisWebhookStore:
        return self._keep(RedisWebhookStore(self._redis))

    def peer(self) -> RedisPeerStore:
        return self._keep(RedisPeerStore(self._redis, self._commands))
