"""A member's own messages: ``chat.delete`` and ``chat.edit`` (docs/protocol.md).

- ``chat.delete {channel, offset}``: the author removes their message the way a moderator
  does (``Streams.delete``: gone from history, ``message.deleted`` with the next offset for
  live and recovering clients, recovery stays exact). Someone else's message: 103.
- ``chat.edit {channel, offset, text}``: within the room's ``edit_window`` seconds (default
  900) the edit is a ``Submission`` of kind ``edit`` through ``Poster.submit``: the gates
  for edits (bans, mutes), the room's pipeline (a redaction applies; a hold holds the edit
  and the old text stays visible until a moderator approves it), then ``Poster.edit_in_room``
  replaces the text in place and publishes ``message.edited``. After the window: 110 naming
  the window.
"""

from __future__ import annotations

import time
from typing import Any

import orjson

from chatserver.channels import ChannelResolver
from chatserver.engine import Catalog, Streams
from chatserver.errors import ReplyError
from chatserver.posting import Poster, Rejected, Sender, from_sender, outcome_dict
from chatserver.protocol import codes
from chatserver.publication import Publication, pack_payload
from chatserver.registry import Registry
from rooms.capabilities import Action
from rooms.messages import InvalidMessage, parse_draft
from rooms.model import Room
from rooms.policy import may
from rooms.retention import EDIT_WINDOW, setting


class OwnMessages:
    def __init__(self, poster: Poster, streams: Streams, resolver: ChannelResolver, catalog: Catalog) -> None:
        self.poster = poster
        self.streams = streams
        self.resolver = resolver
        self.catalog = catalog
        self.deleted = 0
        self.edited = 0

    def _room(self, conn: Sender, data: Any, action: Action) -> tuple[Room, int]:
        if not isinstance(data, dict):
            raise ReplyError(codes.BAD_REQUEST, 'bad request: expected {"channel": ..., "offset": ...}')
        channel, offset = data.get("channel"), data.get("offset")
        if not isinstance(channel, str):
            raise ReplyError(codes.BAD_REQUEST, "bad request: channel required")
        if isinstance(offset, bool) or not isinstance(offset, int) or offset < 1:
            raise ReplyError(codes.BAD_REQUEST, "bad request: offset (a positive integer) required")
        spec = self.resolver.resolve(channel)
        if spec is None or spec.room is None or spec.room.channel != channel:
            raise ReplyError(codes.UNKNOWN_CHANNEL, f"unknown channel {channel}")
        assert conn.identity is not None
        denied = may(conn.identity.member, action, spec.parsed, spec.room)
        if denied is not None:
            raise ReplyError(denied.code, f"permission denied: {denied.reason}")
        return spec.room, offset

    async def _own(self, conn: Sender, room: Room, offset: int) -> dict[str, Any]:
        """The message event at ``offset`` if the caller wrote it (103 otherwise)."""
        entry = await self.streams.entry(room.channel, offset)
        if entry is None:
            raise ReplyError(codes.NOT_AVAILABLE, f"not available: no message {offset} in {room.channel} (removed or too old)")
        event = orjson.loads(Publication.unpack(room.channel, offset, "", entry.payload).data)
        if not isinstance(event, dict) or event.get("type") != "message":
            raise ReplyError(codes.BAD_REQUEST, f"bad request: publication {offset} is not a message")
        if event.get("user") != conn.user:
            raise ReplyError(codes.PERMISSION_DENIED, "permission denied: you can only change your own messages")
        return event

    async def delete(self, conn: Sender, data: Any) -> dict[str, Any]:
        room, offset = self._room(conn, data, Action.DELETE)
        event = await self._own(conn, room, offset)
        spec = self.resolver.resolve(room.channel)
        assert spec is not None
        now_ms = int(time.time() * 1000)
        deleted = {"type": "message.deleted", "id": event.get("id", ""), "offset": offset, "by": "author", "ts": now_ms}
        removed, event_offset = await self.streams.delete(
            room.channel, offset, pack_payload(orjson.dumps(deleted), time_ms=now_ms), spec.history
        )
        if not removed:
            raise ReplyError(codes.NOT_AVAILABLE, f"not available: message {offset} was already removed")
        self.deleted += 1
        return {"deleted": True, "channel": room.channel, "id": deleted["id"], "offset": offset, "event_offset": event_offset}

    async def edit(self, conn: Sender, data: Any) -> dict[str, Any]:
        room, offset = self._room(conn, data, Action.EDIT)
        try:
            draft = parse_draft({"text": data.get("text")}, room)
        except InvalidMessage as exc:
            raise ReplyError(codes.BAD_REQUEST, f"bad request: {exc}") from None
        event = await self._own(conn, room, offset)
        window = setting(self.catalog.communities.get(room.community), room, "edit_window", EDIT_WINDOW)
        age = time.time() - int(event.get("ts", 0)) / 1000
        if age > window:
            raise ReplyError(
                codes.EXPIRED, f"expired: messages can be edited for {window} s after posting (edit_window); this one is {int(age)} s old"
            )
        outcome = await self.poster.submit(
            from_sender(
                conn,
                room,
                draft.text,
                self.poster.edit_to(offset),
                kind="edit",
                payload={"offset": offset, "message_id": event.get("id", "")},
                counts_as_post=False,
            )
        )
        if isinstance(outcome, Rejected):
            raise ReplyError(codes.MODERATION_REJECTED, f"edit not posted: {outcome.notice}")
        self.edited += 1
        result = outcome_dict(outcome)
        result.update({"channel": room.channel, "message_offset": offset})
        return result


def install(registry: Registry, poster: Poster, streams: Streams, resolver: ChannelResolver, catalog: Catalog) -> OwnMessages:
    own = OwnMessages(poster, streams, resolver, catalog)
    registry.register_rpc("chat.delete", own.delete)
    registry.register_rpc("chat.edit", own.edit)
    return own
