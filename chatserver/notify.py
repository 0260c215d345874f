"""Server-side events: system events into any channel (with history), private notices to a
user, and telling every process to disconnect or unsubscribe a user."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import orjson

from chatserver.engine import Control, HistoryOptions, PublishResult, Streams
from chatserver.errors import ReplyError
from chatserver.protocol import codes
from chatserver.publication import pack_payload
from rooms.channels import user_channel


class Notifier:
    def __init__(
        self, streams: Streams, history_of: Callable[[str], HistoryOptions | None], control: Control
    ) -> None:
        self._streams = streams
        self._history_of = history_of
        self._control = control

    async def publish_event(
        self, channel: str, event: dict[str, Any], *, info: dict[str, Any] | None = None
    ) -> PublishResult:
        """Publish a system event (data ``event``) into any channel, with history."""
        history = self._history_of(channel)
        if history is None:
            raise ReplyError(codes.UNKNOWN_CHANNEL, f"unknown channel {channel}")
        payload = pack_payload(orjson.dumps(event), info=info, time_ms=int(time.time() * 1000))
        return await self._streams.publish(channel, payload, history)

    async def notify_user(self, user: str, event: dict[str, Any]) -> None:
        """A private notice to every connection of ``user`` (kept for recovery)."""
        await self.publish_event(user_channel(user), event)

    async def disconnect_user(self, user: str, disconnect: codes.Disconnect) -> None:
        await self._control.send("disconnect", user=user, code=disconnect.code, reason=disconnect.reason)

    async def unsubscribe_user(self, user: str, channel: str, code: int, reason: str) -> None:
        await self._control.send("unsubscribe", user=user, channel=channel, code=code, reason=reason)
