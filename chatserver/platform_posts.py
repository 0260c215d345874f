"""Server-side posting: ``POST /api/communities/{c}/rooms/{r}/messages`` (API key) posts a
message as the platform (announcements, reminders, a bot) through ``Poster.submit``, the
path of every member's message: history, recovery, audit. The room's moderation pipeline
reviews it unless the request says ``"system": true``; a hold verdict refuses it (nobody
would approve a platform's post later), as does a rejection (422 with the reason).
A repeated ``client_msg_id`` answers the first result (200, ``duplicate: true``) for as long
as the WebSocket path remembers it (``idempotency_ttl``).
Members see ``"platform": true`` (and ``"system": true``) on the message event.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request
from starlette.routing import Route

from chatserver.api import ApiError, api_route, json_body
from chatserver.auth import Identity
from chatserver.config import Settings
from chatserver.engine import Catalog
from chatserver.errors import ReplyError
from chatserver.posting import Poster, Published, Rejected, Submission, outcome_dict
from rooms.messages import InvalidMessage, parse_draft
from rooms.model import Member, Role

PLATFORM_USER = "platform"


@dataclass
class PlatformSender:
    """The platform as a ``posting.Sender`` (no connection, no subscriptions)."""

    identity: Identity
    subs: dict[str, Any] = field(default_factory=dict)

    @property
    def user(self) -> str:
        return self.identity.member.user

    def client_info(self, chan_info: bytes = b"") -> dict[str, Any]:
        return {"user": self.user, "client": ""}


@dataclass
class _InFlight:
    """Platform posts of one (channel, client_msg_id) being handled on this process."""

    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    users: int = 0


def routes(settings: Settings, poster: Poster, catalog: Catalog) -> list[Route]:
    in_flight: dict[tuple[str, str], _InFlight] = {}

    @api_route(settings, "/api/communities/{community}/rooms/{room}/messages", ["POST"])
    async def post_message(request: Request) -> Any:
        room = catalog.room(request.path_params["community"], request.path_params["room"])
        if room is None:
            raise ApiError(404, "not_found", "no such room")
        body = await json_body(request)
        system = body.get("system", False)
        name = body.get("name", "Platform")
        if not isinstance(system, bool):
            raise ApiError(400, "bad_request", "system must be true or false")
        if not isinstance(name, str) or not 0 < len(name) <= 64:
            raise ApiError(400, "bad_request", "name must be 1-64 characters")
        try:
            draft = parse_draft({k: body[k] for k in ("text", "client_msg_id", "reply_to") if k in body}, room)
        except InvalidMessage as exc:
            raise ApiError(400, "bad_request", str(exc)) from None
        # Reviewed as a member's message would be (no staff exemptions) unless system.
        member = Member(PLATFORM_USER, name, {room.community: Role.ADMIN if system else Role.MEMBER})
        extra: dict[str, Any] = {"platform": True}
        if system:
            extra["system"] = True
        if not draft.client_msg_id:
            return await _submit(room, member, extra, draft)
        # Retries of one post on this process wait for the first (its review and publish),
        # then answer its result; retries on another process meet the stream's idempotency
        # key, or a refusal that a first result overrides.
        key = (room.channel, draft.client_msg_id)
        entry = in_flight.get(key)
        if entry is None:
            entry = in_flight[key] = _InFlight()
        entry.users += 1
        try:
            async with entry.lock:
                first = await poster.earlier(room, PLATFORM_USER, draft.client_msg_id)
                if first is not None:
                    return 200, {"channel": room.channel, **outcome_dict(first)}
                return await _submit(room, member, extra, draft)
        finally:
            entry.users -= 1
            if not entry.users:
                in_flight.pop(key, None)

    async def _submit(room: Any, member: Member, extra: dict[str, Any], draft: Any) -> Any:
        system = bool(extra.get("system"))
        role = member.communities[room.community]
        sender = PlatformSender(Identity(member=member, expires_at=None))
        sub = Submission(
            room=room,
            author=member,
            role=role,
            text=draft.text,
            destination=poster.to_room,
            kind="platform",
            sender=sender,
            info=sender.client_info(),
            client_msg_id=draft.client_msg_id,
            reply_to=draft.reply_to,
            holdable=False,
            counts_as_post=False,
            reviewed=system,
            event_extra=extra,
        )
        try:
            outcome = await poster.submit(sub)
        except ReplyError as err:
            raise ApiError(409, "conflict", err.message) from None
        if draft.client_msg_id and (isinstance(outcome, Rejected) or outcome.duplicate):
            # A concurrent retry (on another process) was first: answer its result.
            first = await poster.earlier(room, PLATFORM_USER, draft.client_msg_id)
            if first is not None:
                return 200, {"channel": room.channel, **outcome_dict(first)}
        if isinstance(outcome, Rejected):
            raise ApiError(422, "rejected", f"not posted: {outcome.notice}")
        assert isinstance(outcome, Published)
        return (200 if outcome.duplicate else 201), {"channel": room.channel, **outcome_dict(outcome)}

    return [post_message]
