"""RPC methods of crisis response. ``crisis.*`` and ``support.invite`` / ``support.close``:
moderators and admins of the community; ``support.open``: moderators, admins and hosts;
``support.conversations`` and ``support.resources``: anyone (their own). A refused call gets 103 and is
written to the audit log (action ``denied``; repeats summarised per actor, ``denied.summary``)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from chatserver.errors import ReplyError
from chatserver.moderation.audit import Actor
from chatserver.moderation.errors import bad_request
from chatserver.moderation.service import actor_of
from chatserver.protocol import codes
from rooms.channels import ChannelKind
from rooms.model import Member, Room
from rooms.policy import Denied, may_moderate, may_open_private

if TYPE_CHECKING:
    from chatserver.crisis.cases import CaseService
    from chatserver.crisis.conversations import Conversations
    from chatserver.registry import Registry

Handler = Callable[[Actor, str, "Room | None", dict[str, Any]], Awaitable[Any]]
Check = Callable[[Member, str], "Denied | None"]


class CrisisRpc:
    def __init__(self, cases: CaseService, conversations: Conversations) -> None:
        self.cases = cases
        self.conversations = conversations
        self.ext = cases.ext

    def register(self, registry: Registry) -> None:
        c = self.cases
        v = self.conversations
        staff: dict[str, Handler] = {
            "crisis.list": lambda actor, k, room, d: self._list(k, d),
            "crisis.get": lambda actor, k, room, d: c.get(k, d.get("id")),
            "crisis.ack": lambda actor, k, room, d: c.ack(actor, k, d.get("id")),
            "crisis.contact": lambda actor, k, room, d: c.contact(actor, k, d.get("id"), d.get("note")),
            "crisis.close": lambda actor, k, room, d: self._close(actor, k, d),
            "crisis.mark": lambda actor, k, room, d: c.mark(actor, _room(room), d),
            "support.invite": lambda actor, k, room, d: v.invite(actor, _room(room), d.get("user")),
            "support.close": lambda actor, k, room, d: v.close(actor, _room(room)),
        }
        for name, handler in staff.items():
            registry.register_rpc(name, self._guard(name, handler, may_moderate))
        registry.register_rpc(
            "support.open",
            self._guard(
                "support.open",
                lambda actor, k, room, d: v.open(actor, k, user=d.get("user"), case_id=d.get("case"), name=d.get("name"), hosts=d.get("hosts")),
                may_open_private,
            ),
        )
        registry.register_rpc("support.conversations", self._listing)

    async def _list(self, community: str, data: dict[str, Any]) -> dict[str, Any]:
        return {"cases": await self.cases.list(community, data.get("state", "active"), data.get("limit", 100))}

    async def _close(self, actor: Actor, community: str, data: dict[str, Any]) -> dict[str, Any]:
        case = await self.cases.close(
            actor, community, data.get("id"), data.get("outcome"), data.get("note"), data.get("holds"), data.get("reject_reason")
        )
        if data.get("close_conversation", True):
            await self.conversations.close_for_case(actor, case)
        return case

    def _scope(self, data: Any) -> tuple[str, Room | None]:
        if not isinstance(data, dict):
            raise bad_request('expected an object like {"community": "<community>", ...}')
        channel = data.get("channel")
        if channel is not None:
            spec = self.ext.resolver.resolve(channel) if isinstance(channel, str) else None
            if spec is None or spec.kind is not ChannelKind.ROOM or spec.room is None:
                raise ReplyError(codes.UNKNOWN_CHANNEL, f"unknown room {channel}")
            return spec.room.community, spec.room
        community = data.get("community")
        if not isinstance(community, str) or community not in self.ext.catalog.communities:
            raise ReplyError(codes.UNKNOWN_CHANNEL, f"unknown community {community!r}")
        return community, None

    def _guard(self, method: str, handler: Handler, check: Check) -> Callable[[Any, Any], Awaitable[Any]]:
        async def call(conn: Any, data: Any) -> Any:
            member = conn.identity.member
            community, room = self._scope(data)
            actor = actor_of(member, community)
            denied = check(member, community)
            if denied is not None:
                # Counted per actor and summarised like refused mod.* calls (issue 12).
                await self.cases.moderation.denied.refuse(
                    community, actor, method, {"channel": room.channel if room else ""}, denied.reason
                )
                raise ReplyError(codes.PERMISSION_DENIED, f"permission denied: {denied.reason}")
            return await handler(actor, community, room, data)

        return call

    async def _listing(self, conn: Any, data: Any) -> dict[str, Any]:
        community = data.get("community") if isinstance(data, dict) else None
        if community is not None and not isinstance(community, str):
            raise bad_request("community must be a string")
        return {"conversations": self.conversations.listing(conn.identity.member, community)}


def _room(room: Room | None) -> Room:
    if room is None:
        raise bad_request("channel is required")
    return room
