"""Presence and typing as clients and the platform reach them.

RPC methods (``rpc`` command):
- ``presence.members {channel, limit?}``: distinct users online with their role, and counts;
- ``presence.counts {channel}``: the counts only (one small hash read, any room size);
- ``chat.typing {channel, typing?}``: a typing indicator for the room (ephemeral).

HTTP (API key):
- ``POST /api/presence/status {users}``: is each user online anywhere;
- ``GET /api/communities/{c}/rooms/{r}/presence``: a room's counts (staff view).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from starlette.requests import Request

from chatserver.api import ApiError, api_route, json_body
from chatserver.channels import ChannelResolver
from chatserver.config import Settings
from chatserver.engine import Catalog
from chatserver.errors import ReplyError
from chatserver.presence_service import PresenceService
from chatserver.protocol import codes
from chatserver.registry import Registry
from chatserver.typing_service import TypingService
from presence.model import OnlineMember
from presence.rules import counts_view, may_see, sort_members
from rooms.capabilities import Action
from rooms.channels import ChannelKind
from rooms.policy import may

if TYPE_CHECKING:
    from chatserver.channels import ChannelSpec
    from chatserver.connection import Connection

DEFAULT_MEMBERS_LIMIT = 100
MAX_MEMBERS_LIMIT = 1000
MAX_STATUS_USERS = 1000


def install(
    registry: Registry,
    settings: Settings,
    presence: PresenceService,
    typing_service: TypingService,
    resolver: ChannelResolver,
    catalog: Catalog,
) -> None:

    def room_spec(conn: Connection, data: Any, *, need_presence: bool) -> ChannelSpec:
        if not isinstance(data, dict):
            raise ReplyError(codes.BAD_REQUEST, 'bad request: expected {"channel": ...}')
        channel = data.get("channel")
        if not isinstance(channel, str) or not channel:
            raise ReplyError(codes.BAD_REQUEST, "bad request: channel required")
        spec = resolver.resolve(channel)
        if spec is None:
            raise ReplyError(codes.UNKNOWN_CHANNEL, f"unknown channel {channel}")
        if spec.kind is not ChannelKind.ROOM:
            raise ReplyError(codes.NOT_AVAILABLE, "not available: presence and typing are for rooms")
        assert conn.identity is not None
        denied = resolver.check_subscribe(conn.identity.member, spec) or may(conn.identity.member, Action.PRESENCE, spec.parsed, spec.room)
        if denied is not None:
            raise ReplyError(denied.code, f"permission denied: {denied.reason}")
        if need_presence and not spec.presence:
            raise ReplyError(codes.NOT_AVAILABLE, "not available: presence is off for this room")
        return spec

    async def rpc_members(conn: Connection, data: Any) -> dict[str, Any]:
        """``presence.members {channel, limit?}`` -> counts and the users online."""
        spec = room_spec(conn, data, need_presence=True)
        limit = data.get("limit", DEFAULT_MEMBERS_LIMIT)
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_MEMBERS_LIMIT:
            raise ReplyError(codes.BAD_REQUEST, f"bad request: limit must be an integer from 1 to {MAX_MEMBERS_LIMIT}")
        ref = presence.room_ref(spec.name)
        read, staff, members = await presence.store.members(ref, limit)
        presence._after_read(spec.name, read.due, read.published)
        viewer_staff = presence.is_staff(conn, spec.parsed.community)
        listed: dict[str, OnlineMember] = {m.user: m for m in staff}
        for m in members:
            listed.setdefault(m.user, m)
        shown = [
            m
            for m in sort_members(listed.values())
            if may_see(viewer_is_staff=viewer_staff, viewer_user=conn.user, subject_user=m.user, subject_flags=m.flags)
            and (viewer_staff or m.user not in conn.hidden)  # blocks (chatserver.peer)
        ]
        view = counts_view(read.counts, viewer_is_staff=viewer_staff)
        return {
            "channel": spec.name,
            **view.to_dict(),
            "members": [m.to_dict(show_invisible=viewer_staff) for m in shown],
            "complete": len(listed) >= read.counts.users,
        }

    async def rpc_counts(conn: Connection, data: Any) -> dict[str, Any]:
        """``presence.counts {channel}`` -> users, clients, moderators, hosts, host_online."""
        spec = room_spec(conn, data, need_presence=True)
        counts = await presence.read_counts(spec.name)
        view = counts_view(counts, viewer_is_staff=presence.is_staff(conn, spec.parsed.community))
        threshold = presence.room_ref(spec.name).threshold
        return {"channel": spec.name, **view.to_dict(), "lists": counts.users <= threshold}

    async def rpc_typing(conn: Connection, data: Any) -> dict[str, Any]:
        """``chat.typing {channel, typing?}`` -> ``{sent, expires_in_ms? | retry_in_ms?}``."""
        spec = room_spec(conn, data, need_presence=False)
        typing = data.get("typing", True)
        if not isinstance(typing, bool):
            raise ReplyError(codes.BAD_REQUEST, "bad request: typing must be true or false")
        if spec.name not in conn.subs:
            raise ReplyError(codes.PERMISSION_DENIED, "permission denied: subscribe to the room first")
        assert conn.identity is not None and spec.room is not None
        denied = may(conn.identity.member, Action.TYPING, spec.parsed, spec.room)
        if denied is not None:
            raise ReplyError(denied.code, f"permission denied: {denied.reason}")
        return await typing_service.report(conn, spec, typing)

    registry.register_rpc("presence.members", rpc_members)
    registry.register_rpc("presence.counts", rpc_counts)
    registry.register_rpc("chat.typing", rpc_typing)

    @api_route(settings, "/api/presence/status", ["POST"])
    async def user_status(request: Request) -> Any:
        body = await json_body(request)
        users = body.get("users")
        if not isinstance(users, list) or not all(isinstance(u, str) and u for u in users):
            raise ApiError(400, "bad_request", "users must be a list of user ids")
        if len(users) > MAX_STATUS_USERS:
            raise ApiError(400, "bad_request", f"at most {MAX_STATUS_USERS} users per call")
        wanted = list(dict.fromkeys(users))
        online = await presence.users_online(wanted)
        return {"users": {user: {"online": online[user]} for user in wanted}}

    @api_route(settings, "/api/communities/{community}/rooms/{room}/presence", ["GET"])
    async def room_presence(request: Request) -> Any:
        room = catalog.room(request.path_params["community"], request.path_params["room"])
        if room is None:
            raise ApiError(404, "not_found", "no such room")
        counts = await presence.read_counts(room.channel)
        view = counts_view(counts, viewer_is_staff=True)
        return {"channel": room.channel, **view.to_dict()}

    registry.routes.extend([user_status, room_presence])
