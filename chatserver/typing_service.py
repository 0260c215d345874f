"""Typing indicators: ``chat.typing {channel, typing}`` -> an ephemeral event to the room
(published without an offset, never kept in history).

Rate limit per member per room: a local check first (``presence.typing`` rules, so a chatty
client costs no Redis call), then ``typing.lua`` with a SET NX mark that holds across every
process (two tabs on two processes still send one event per interval). An indicator that is
not refreshed lapses: the process that published it checks at its expiry and publishes the
stop event, once, whoever checks first.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import orjson

from chatserver.config import Settings
from chatserver.engine import PresenceStore
from chatserver.publication import pack_payload
from chatserver.registry import Registry
from chatserver.tasks import Tasks
from presence.typing import TypingPolicy, TypingSlot, decide_typing, typing_stale, typing_stopped

if TYPE_CHECKING:
    from chatserver.channels import ChannelSpec
    from chatserver.connection import Connection

log = logging.getLogger("chatserver.typing")

_Key = tuple[str, str]  # (room, user)


def typing_event(user: str, name: str, typing: bool, expires_in: float = 0.0, reason: str = "") -> dict[str, Any]:
    event: dict[str, Any] = {"type": "typing", "user": user, "name": name, "typing": typing}
    if typing:
        event["expires_in_ms"] = int(expires_in * 1000)
    if reason:
        event["reason"] = reason
    return event


class TypingService:
    def __init__(self, settings: Settings, store: PresenceStore, tasks: Tasks) -> None:
        self.store = store
        self.tasks = tasks
        self.policy = TypingPolicy(settings.typing_interval, settings.typing_expiry)
        self.slots: dict[_Key, TypingSlot] = {}
        self.timers: dict[_Key, asyncio.TimerHandle] = {}
        self.events = 0
        self.throttled = 0
        # Extra checks before a typing report is published, e.g. moderation refusing muted or
        # banned members: ``gate(conn, spec) -> str | None`` (a reason refuses, quietly).
        self._gates: list[Callable[[Connection, ChannelSpec], str | None]] = []

    def add_gate(self, gate: Callable[[Connection, ChannelSpec], str | None]) -> None:
        self._gates.append(gate)

    def metrics(self) -> dict[str, float]:
        return {"typing_events": self.events, "typing_throttled": self.throttled, "typing_slots": len(self.slots)}

    def stop(self) -> None:
        for timer in self.timers.values():
            timer.cancel()
        self.timers.clear()

    async def report(self, conn: Connection, spec: ChannelSpec, typing: bool) -> dict[str, Any]:
        assert conn.identity is not None
        if typing:
            for gate in self._gates:
                reason = gate(conn, spec)
                if reason:
                    return {"sent": False, "reason": reason}
        key = (spec.name, conn.user)
        now = time.time()
        slot = self.slots.get(key, TypingSlot())
        store = self.store
        name = conn.identity.member.name
        if not typing:
            _, self.slots[key] = typing_stopped(slot, now)
            timer = self.timers.pop(key, None)
            if timer is not None:
                timer.cancel()
            message = self._message(conn.user, name, False, "stopped", conn.client_info())
            sent = await store.typing(spec.name, conn.user, "stop", message, now=now)
            self.events += sent > 0
            return {"sent": sent > 0}
        decision = decide_typing(slot, now, self.policy)
        if not decision.send:
            self.throttled += 1
            return {"sent": False, "retry_in_ms": max(1, int(decision.retry_in * 1000))}
        message = self._message(conn.user, name, True, "", conn.client_info())
        assert decision.expires_at is not None
        sent = await store.typing(
            spec.name,
            conn.user,
            "start",
            message,
            expires_at=decision.expires_at,
            interval=self.policy.interval,
            now=now,
        )
        if sent < 0:  # another process (another tab) sent one moments ago
            self.throttled += 1
            wait = -sent / 1000
            self.slots[key] = TypingSlot(last_sent=now + wait - self.policy.interval, expires_at=slot.expires_at)
            return {"sent": False, "retry_in_ms": -sent}
        self.events += 1
        self.slots[key] = decision.slot
        self._arm(key, name, decision.expires_at - now)
        return {"sent": True, "expires_in_ms": int(self.policy.expiry * 1000)}

    def _message(self, user: str, name: str, typing: bool, reason: str, info: dict[str, Any] | None) -> bytes:
        event = typing_event(user, name, typing, self.policy.expiry, reason)
        return pack_payload(orjson.dumps(event), info=info, time_ms=int(time.time() * 1000))

    def _arm(self, key: _Key, name: str, delay: float) -> None:
        old = self.timers.pop(key, None)
        if old is not None:
            old.cancel()
        loop = asyncio.get_running_loop()
        self.timers[key] = loop.call_later(
            max(0.0, delay) + 0.05, lambda: self.tasks.spawn(self._expire(key, name), "typing expiry")
        )

    async def _expire(self, key: _Key, name: str) -> None:
        """The indicator was not refreshed through this process: tell the room it lapsed
        (the script publishes only if nobody refreshed it anywhere and nobody did already)."""
        self.timers.pop(key, None)
        room, user = key
        now = time.time()
        try:
            message = self._message(user, name, False, "expired", None)
            sent = await self.store.typing(room, user, "expire", message, now=now)
            self.events += sent > 0
        except Exception:
            log.exception("typing expiry for %s in %s failed", user, room)
        slot = self.slots.get(key)
        if slot is not None and typing_stale(slot, now, self.policy):
            del self.slots[key]


def install(settings: Settings, registry: Registry, store: PresenceStore, tasks: Tasks) -> TypingService:
    """Build the typing service (its RPC is in ``presence_api``) and register its metrics."""
    typing = TypingService(settings, store, tasks)
    registry.metric_sources.append(typing.metrics)
    return typing
