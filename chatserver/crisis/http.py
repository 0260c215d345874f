"""HTTP API of crisis response (API key). Actions take an optional ``actor`` (who acts, for
the audit log; default ``"api"``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.routing import Route

from chatserver.api import ApiError, api_route, json_body
from chatserver.crisis.conversations import conversation_view
from chatserver.moderation.audit import Actor
from chatserver.moderation.http import call_action
from rooms.model import Room
from rooms.private import is_private_name

if TYPE_CHECKING:
    from chatserver.crisis.cases import CaseService
    from chatserver.crisis.conversations import Conversations


def routes(cases: CaseService, conversations: Conversations) -> list[Route]:
    ext = cases.ext

    def community_of(request: Request) -> str:
        name = request.path_params["community"]
        if name not in ext.catalog.communities:
            raise ApiError(404, "not_found", f"no community {name}")
        return str(name)

    def actor_of(body: dict[str, Any]) -> Actor:
        who = body.get("actor", "api")
        if not isinstance(who, str) or not who or len(who) > 128:
            raise ApiError(400, "bad_request", "actor must be a non-empty string")
        return Actor(who, who, "api", "api")

    def room_named(community: str, name: Any, private: bool) -> Room:
        room = ext.catalog.room(community, str(name)) if isinstance(name, str) else None
        if room is None or is_private_name(room.name) != private:
            raise ApiError(404, "not_found", f"no {'conversation' if private else 'room'} {name!r}")
        return room

    base = "/api/communities/{community}"

    @api_route(ext.settings, base + "/crisis/cases", ["GET"])
    async def list_cases(request: Request) -> Any:
        community = community_of(request)
        limit = request.query_params.get("limit", "100")
        which = request.query_params.get("state", "active")
        cases_ = await call_action(cases.list(community, which, int(limit) if limit.isdigit() else limit))
        return {"community": community, "cases": cases_}

    @api_route(ext.settings, base + "/crisis/cases/{case}", ["GET"])
    async def get_case(request: Request) -> Any:
        return await call_action(cases.get(community_of(request), request.path_params["case"]))

    @api_route(ext.settings, base + "/crisis/cases/{case}/{action}", ["POST"])
    async def act(request: Request) -> Any:
        community = community_of(request)
        body = await json_body(request)
        actor = actor_of(body)
        case_id = request.path_params["case"]
        action = request.path_params["action"]
        if action == "ack":
            return await call_action(cases.ack(actor, community, case_id))
        if action == "contact":
            return await call_action(cases.contact(actor, community, case_id, body.get("note")))
        if action == "close":
            case = await call_action(cases.close(actor, community, case_id, body.get("outcome"), body.get("note")))
            if body.get("close_conversation", True):
                await call_action(conversations.close_for_case(actor, case))
            return case
        raise ApiError(404, "not_found", f"no action {action} (ack, contact, close)")

    @api_route(ext.settings, base + "/crisis/mark", ["POST"])
    async def mark(request: Request) -> Any:
        community = community_of(request)
        body = await json_body(request)
        room = room_named(community, body.get("room"), private=False)
        return await call_action(cases.mark(actor_of(body), room, body))

    @api_route(ext.settings, base + "/support", ["GET", "POST"])
    async def support(request: Request) -> Any:
        community = community_of(request)
        if request.method == "GET":
            rooms = [r for r in ext.catalog.rooms_of(community) if is_private_name(r.name)]
            return {"community": community, "conversations": [conversation_view(r) for r in rooms]}
        body = await json_body(request)
        view = await call_action(
            conversations.open(
                actor_of(body), community, user=body.get("user"), case_id=body.get("case"),
                name=body.get("name"), hosts=body.get("hosts"),
            )
        )
        return (200 if view.get("existing") else 201), view

    @api_route(ext.settings, base + "/support/{room}/{action}", ["POST"])
    async def support_action(request: Request) -> Any:
        community = community_of(request)
        body = await json_body(request)
        room = room_named(community, request.path_params["room"], private=True)
        action = request.path_params["action"]
        if action == "invite":
            return await call_action(conversations.invite(actor_of(body), room, body.get("user")))
        if action == "close":
            return await call_action(conversations.close(actor_of(body), room))
        raise ApiError(404, "not_found", f"no action {action} (invite, close)")

    return [list_cases, get_case, act, mark, support, support_action]
