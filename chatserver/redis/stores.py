"""The engine's stores for extensions, made on request: an extension asks for its store and
never sees the Redis client (``ExtensionContext.stores``, built by ``chatserver.app``)."""

from __future__ import annotations

from collections.abc import Callable

import redis.asyncio as aioredis

from chatserver.engine import Commands, Control, HistoryOptions
from chatserver.redis.crisis_store import RedisCaseStore
from chatserver.redis.moderation_store import RedisHoldStore, RedisModerationStore
from chatserver.redis.peer_store import RedisPeerStore
from chatserver.redis.privacy_store import RedisPrivacyStore
from chatserver.redis.qa_store import RedisQaStore
from chatserver.redis.webhook_store import RedisWebhookStore


class RedisStores:
    def __init__(self, client: aioredis.Redis, commands: Commands, control: Control) -> None:
        self._redis = client
        self._commands = commands
        self._control = control

    def moderation(self) -> RedisModerationStore:
        return RedisModerationStore(self._redis, self._commands, self._control)

    def holds(self) -> RedisHoldStore:
        return RedisHoldStore(self._redis, self._commands)

    def qa(
        self, board_history: HistoryOptions, retention: int, ttl_of: Callable[[str], int] | None = None
    ) -> RedisQaStore:
        return RedisQaStore(self._redis, board_history, retention, ttl_of, self._commands)

    def privacy(self) -> RedisPrivacyStore:
        return RedisPrivacyStore(self._redis)

    def crisis(self) -> RedisCaseStore:
        return RedisCaseStore(self._redis)

    def webhooks(self) -> RedisWebhookStore:
        return RedisWebhookStore(self._redis)

    def peer(self) -> RedisPeerStore:
        return RedisPeerStore(self._redis)
