"""Support reactions: the RPC ``chat.react`` (rooms/reactions.py has the rules).

``chat.react {channel, id, offset, reaction, on?}`` gives (``on: true``, the default) or
takes back one of the fixed reactions on the message ``id`` published at ``offset``. The
caller must be subscribed to the room and allowed to post in it; registered gates (the
moderation extension's: muted or banned) may refuse. The change and its announcement, a
``message.reactions`` event with the message's new counts in the room's stream, happen in
one Lua call, so counts are exact under concurrency and every member (live, in history,
after recovery) gets them. Answers ``{id, reaction, on, changed, counts}``.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from chatserver.channels import ChannelResolver, ChannelSpec
from chatserver.engine import HistoryOptions
from chatserver.errors import ReplyError
from chatserver.protocol import codes
from chatserver.protocol.codec import json_dumps
from chatserver.records import ReactionChange
from chatserver.registry import Registry
from rooms.capabilities import Action
from rooms.channels import ChannelKind
from rooms.model import Room
from rooms.policy import may
from rooms.reactions import (
    RATE,
    WINDOW,
    InvalidReaction,
    counts_view,
    parse_request,
    reaction_event,
)

Gate = Callable[[Any, ChannelSpec], "str | None"]
# What the store answers (react.lua).
CHANGED, UNCHANGED, NO_MESSAGE, TOO_MANY = 1, 0, -1, -2
REFUSALS = {"muted": (codes.MUTED, "muted: reactions wait until the mute ends"), "banned": (codes.BANNED, "banned from this community")}




class Reacted(Protocol):
    status: int
    counts: dict[str, int]
    offset: int
    retry_ms: int


class ReactionStore(Protocol):
    async def react(self, change: ReactionChange, history: HistoryOptions, rate: tuple[int, int]) -> Reacted: ...


class ReactionService:
    def __init__(self, resolver: ChannelResolver, store: ReactionStore, rate: tuple[int, int] = (RATE, WINDOW)) -> None:
        self.resolver = resolver
        self.store = store
        self.rate = rate
        self._gates: list[Gate] = []
        # async (conn, room, message id, on) after a reaction changed (chatserver.peer)
        self._observers: list[Callable[[Any, Room, str, bool], Awaitable[None]]] = []

    def add_observer(self, observer: Callable[[Any, Room, str, bool], Awaitable[None]]) -> None:
        self._observers.append(observer)

    def add_gate(self, gate: Gate) -> None:
        """``gate(conn, spec)`` -> a refusal ("muted", "banned") or None."""
        self._gates.append(gate)

    async def react(self, conn: Any, data: Any) -> dict[str, Any]:
        spec = self._room(conn, data)
        try:
            request = parse_request(data)
        except InvalidReaction as exc:
            raise ReplyError(codes.BAD_REQUEST, f"bad request: {exc}") from None
        assert conn.identity is not None
        user = conn.identity.member.user
        now_ms = int(time.time() * 1000)
        event = json_dumps(reaction_event(request, user, now_ms))
        change = ReactionChange(spec.name, request, user, event[:-1] + b',"counts":', now_ms)
        result = await self.store.react(change, spec.history, self.rate)
        if result.status == NO_MESSAGE:
            raise ReplyError(codes.BAD_REQUEST, "bad request: no such message at that offset (removed, or too old)")
        if result.status == TOO_MANY:
            seconds = max(1, round(result.retry_ms / 1000))
            raise ReplyError(codes.TOO_MANY_REQUESTS, f"too many requests: too many reactions; try again in {seconds} s")
        if result.status == CHANGED and spec.room is not None:
            for observer in self._observers:
                await observer(conn, spec.room, request.message_id, request.on)
        return {
            "id": request.message_id,
            "reaction": request.reaction,
            "on": request.on,
            "changed": result.status == CHANGED,
            "counts": counts_view(result.counts),
        }

    def _room(self, conn: Any, data: Any) -> ChannelSpec:
        channel = data.get("channel") if isinstance(data, dict) else None
        if not isinstance(channel, str) or not channel:
            raise ReplyError(codes.BAD_REQUEST, "bad request: channel required")
        spec = self.resolver.resolve(channel)
        if spec is None:
            raise ReplyError(codes.UNKNOWN_CHANNEL, f"unknown channel {channel}")
        if spec.kind is not ChannelKind.ROOM or spec.room is None:
            raise ReplyError(codes.NOT_AVAILABLE, "not available: reactions are for room messages")
        if spec.name not in conn.subs:
            raise ReplyError(codes.PERMISSION_DENIED, "permission denied: subscribe to the room first")
        assert conn.identity is not None
        denied = may(conn.identity.member, Action.REACT, spec.parsed, spec.room)
        if denied is not None:
            raise ReplyError(denied.code, f"permission denied: {denied.reason}")
        for gate in self._gates:
            refusal = gate(conn, spec)
            if refusal is not None:
                code, words = REFUSALS.get(refusal, (codes.PERMISSION_DENIED, f"permission denied: {refusal}"))
                raise ReplyError(code, words)
        return spec


def install(registry: Registry, resolver: ChannelResolver, store: ReactionStore) -> ReactionService:
    service = ReactionService(resolver, store)
    registry.register_rpc("chat.react", service.react)
    return service
