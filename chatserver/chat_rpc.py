"""Members' messages from clients: the protocol's ``publish`` into a room and the RPC methods
``chat.send`` (post with a result) and ``chat.rooms`` (rooms the caller may join)."""

from __future__ import annotations

from typing import Any

from chatserver.channels import ChannelResolver, ChannelSpec
from chatserver.engine import Catalog
from chatserver.errors import ReplyError
from chatserver.posting import Outcome, Poster, Sender, outcome_dict
from chatserver.protocol import codes
from chatserver.registry import Registry
from rooms.channels import ChannelKind
from rooms.private import is_private_name


class ChatRpc:
    def __init__(self, poster: Poster, resolver: ChannelResolver, catalog: Catalog) -> None:
        self.poster = poster
        self.resolver = resolver
        self.catalog = catalog

    async def publish_from_client(self, conn: Sender, spec: ChannelSpec, data: Any) -> Outcome:
        if spec.kind is not ChannelKind.ROOM or spec.room is None:
            raise ReplyError(codes.PERMISSION_DENIED, "permission denied: only rooms take messages from clients")
        return await self.poster.post(conn, spec.room, data)

    async def send(self, conn: Sender, data: Any) -> dict[str, Any]:
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

    async def rooms(self, conn: Sender, data: Any) -> dict[str, Any]:
        """``chat.rooms {community?}``: rooms the caller may join."""
        assert conn.identity is not None
        member = conn.identity.member
        wanted = data.get("community") if isinstance(data, dict) else None
        rooms = []
        for room in sorted(self.catalog.rooms.values(), key=lambda r: r.channel):
            if (wanted and room.community != wanted) or is_private_name(room.name):
                continue  # private conversations are never listed (support.conversations)
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


def install(registry: Registry, poster: Poster, resolver: ChannelResolver, catalog: Catalog) -> ChatRpc:
    chat = ChatRpc(poster, resolver, catalog)
    registry.register_rpc("chat.send", chat.send)
    registry.register_rpc("chat.rooms", chat.rooms)
    return chat
