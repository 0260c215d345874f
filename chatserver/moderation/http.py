"""HTTP API of moderation (API key): config per community and room, the hold queue,
moderator actions, reports, sanctions and the audit log. Actions take an optional
``actor`` (who is acting, for the audit log; default ``"api"``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.routing import Route

from chatserver.api import ApiError, api_route, json_body
from chatserver.errors import ReplyError
from chatserver.moderation.audit import Actor
from chatserver.moderation.errors import HTTP_STATUS, ModerationError
from chatserver.moderation.pipelines import API_KEY
from chatserver.moderation.rpc import audit_filter, sanctions_listing
from moderation_hooks import ModerationConfigError
from moderation_hooks.loading import HookLoadError
from rooms.model import Community, Room

if TYPE_CHECKING:
    from chatserver.moderation.service import ModerationService


def _status(err: ReplyError) -> int:
    if isinstance(err, ModerationError):
        return err.status
    return HTTP_STATUS.get(err.code, 409)


async def _call(awaitable: Awaitable[Any]) -> Any:
    try:
        return await awaitable
    except ReplyError as err:
        raise ApiError(_status(err), "bad_request" if _status(err) == 400 else _code(_status(err)), err.message) from None


call_action = _call  # for other extensions' routes: a ReplyError becomes a JSON API error


def _code(status: int) -> str:
    return {403: "forbidden", 404: "not_found", 409: "conflict"}.get(status, "bad_request")


def routes(service: ModerationService) -> list[Route]:
    ext = service.ext
    a = service.actions

    def community_of(request: Request) -> Community:
        name = request.path_params["community"]
        community = ext.catalog.communities.get(name)
        if community is None:
            raise ApiError(404, "not_found", f"no community {name}")
        return community

    def room_of(request: Request) -> Room:
        room = ext.catalog.room(request.path_params["community"], request.path_params["room"])
        if room is None:
            raise ApiError(404, "not_found", "no such room")
        return room

    def actor_of(body: dict[str, Any]) -> Actor:
        who = body.get("actor", "api")
        if not isinstance(who, str) or not who or len(who) > 128:
            raise ApiError(400, "bad_request", "actor must be a non-empty string")
        return Actor(who, who, "api", "api")

    def check_layer(raw: Any, where: str) -> dict[str, Any]:
        if not isinstance(raw, dict):
            raise ApiError(400, "bad_request", "body must be a JSON object of moderation settings")
        try:
            layer = service.pipelines.api_layer(raw, where)
            # Build it once with the other layers, so hook settings errors show up now.
            service.pipelines.build([layer])
        except (ModerationConfigError, HookLoadError) as exc:
            raise ApiError(400, "bad_request", str(exc)) from None
        return layer.to_dict()

    def route(path: str, methods: list[str]) -> Callable[[Callable[[Request], Awaitable[Any]]], Route]:
        return api_route(ext.settings, path, methods)

    base = "/api/communities/{community}"
    room_base = base + "/rooms/{room}"
    out: list[Route] = []

    # ---- configuration -------------------------------------------------------------------

    @route(base + "/moderation", ["GET", "PUT"])
    async def community_config(request: Request) -> Any:
        community = community_of(request)
        if request.method == "PUT":
            layer = check_layer(await json_body(request), f"community {community.name}")
            settings = {**community.settings, API_KEY: layer}
            await ext.catalog.put_community(Community(community.name, community.title, settings))
            community = ext.catalog.communities[community.name]
        file_layer = service.config.communities.get(community.name)
        return {
            "community": community.name,
            "overrides": community.settings.get(API_KEY, {}),
            "file": file_layer.to_dict() if file_layer else {},
        }

    @route(room_base + "/moderation", ["GET", "PUT"])
    async def room_config(request: Request) -> Any:
        room = room_of(request)
        if request.method == "PUT":
            layer = check_layer(await json_body(request), f"room {room.channel}")
            room = await ext.catalog.update_room(room.community, room.name, {"settings": {"extra": {API_KEY: layer}}})
        file_layer = service.config.rooms.get(room.channel)
        return {
            "channel": room.channel,
            "overrides": room.settings.extra.get(API_KEY, {}),
            "file": file_layer.to_dict() if file_layer else {},
            "effective": service.pipelines.describe(room),
        }

    # ---- holds ------------------------------------------------------------------------------

    @route(room_base + "/holds", ["GET"])
    async def list_holds(request: Request) -> Any:
        room = room_of(request)
        holds = await service.store.pending(room.channel, 1000)
        return {"channel": room.channel, "holds": [h.public() for h in holds]}

    @route(room_base + "/holds/{hold}", ["GET"])
    async def get_hold(request: Request) -> Any:
        room = room_of(request)
        record = await service.store.get(room.channel, request.path_params["hold"])
        if record is None:
            raise ApiError(404, "not_found", "no such hold")
        return record.public()

    @route(room_base + "/holds/{hold}/approve", ["POST"])
    async def approve(request: Request) -> Any:
        room = room_of(request)
        body = await json_body(request)
        return await _call(service.holds.approve(actor_of(body), room.channel, request.path_params["hold"], body.get("text")))

    @route(room_base + "/holds/{hold}/reject", ["POST"])
    async def reject(request: Request) -> Any:
        room = room_of(request)
        body = await json_body(request)
        return await _call(service.holds.reject(actor_of(body), room.channel, request.path_params["hold"], body.get("reason"), body.get("reason_code")))

    # ---- actions ---------------------------------------------------------------------------------

    @route(room_base + "/messages/{offset:int}", ["DELETE"])
    async def delete_message(request: Request) -> Any:
        room = room_of(request)
        body = await json_body(request)
        return await _call(a.delete_message(actor_of(body), room, offset=request.path_params["offset"], reason=body.get("reason")))

    @route(base + "/members/{user}/remove-messages", ["POST"])
    async def remove_recent(request: Request) -> Any:
        community = community_of(request)
        body = await json_body(request)
        room = None
        if body.get("room") is not None:
            room = ext.catalog.room(community.name, str(body["room"]))
            if room is None:
                raise ApiError(404, "not_found", "no such room")
        return await _call(
            a.remove_recent(
                actor_of(body), community.name, request.path_params["user"], room=room,
                seconds=body.get("seconds"), limit=body.get("limit"), reason=body.get("reason"),
            )
        )

    @route(base + "/mutes", ["GET"])
    async def list_sanctions(request: Request) -> Any:
        return sanctions_listing(service, community_of(request).name)

    @route(base + "/bans", ["GET"])
    async def list_bans(request: Request) -> Any:
        return {"bans": sanctions_listing(service, community_of(request).name)["bans"]}

    @route(base + "/mutes/{user}", ["PUT", "DELETE"])
    async def mute(request: Request) -> Any:
        community = community_of(request)
        body = await json_body(request)
        user = request.path_params["user"]
        if request.method == "DELETE":
            return await _call(a.unmute(actor_of(body), community.name, user, body.get("reason")))
        return await _call(
            a.mute(actor_of(body), community.name, user, duration=body.get("duration"),
                   until_lifted=body.get("until_lifted", False), reason=body.get("reason"))
        )

    @route(base + "/bans/{user}", ["PUT", "DELETE"])
    async def ban(request: Request) -> Any:
        community = community_of(request)
        body = await json_body(request)
        user = request.path_params["user"]
        if request.method == "DELETE":
            return await _call(a.unban(actor_of(body), community.name, user, body.get("reason")))
        return await _call(a.ban(actor_of(body), community.name, user, duration=body.get("duration"), reason=body.get("reason")))

    @route(room_base + "/kicks/{user}", ["POST"])
    async def kick(request: Request) -> Any:
        room = room_of(request)
        body = await json_body(request)
        return await _call(a.kick(actor_of(body), room, request.path_params["user"], body.get("reason")))

    @route(room_base + "/slow-mode", ["PUT"])
    async def slow_mode(request: Request) -> Any:
        room = room_of(request)
        body = await json_body(request)
        return await _call(a.slow_mode(actor_of(body), room, body.get("seconds"), body.get("reason")))

    @route(room_base + "/lock", ["POST", "DELETE"])
    async def lock(request: Request) -> Any:
        room = room_of(request)
        body = await json_body(request)
        return await _call(a.lock(actor_of(body), room, request.method == "POST", body.get("reason")))

    # ---- reports and audit ---------------------------------------------------------------------

    @route(room_base + "/reports", ["GET"])
    async def reports(request: Request) -> Any:
        room = room_of(request)
        return {"channel": room.channel, "reports": await service.reports.open_reports(room)}

    @route(room_base + "/reports/{offset:int}", ["DELETE"])
    async def dismiss(request: Request) -> Any:
        room = room_of(request)
        body = await json_body(request)
        return await _call(service.reports.dismiss(actor_of(body), room, request.path_params["offset"], body.get("reason")))

    @route(base + "/audit", ["GET"])
    async def audit(request: Request) -> Any:
        community = community_of(request)
        try:
            flt = audit_filter(dict(request.query_params))
        except ReplyError as err:
            raise ApiError(400, "bad_request", err.message) from None
        return {"community": community.name, "entries": await service.audit.read(community.name, flt)}

    out += [
        community_config, room_config, list_holds, get_hold, approve, reject, delete_message, remove_recent,
        list_sanctions, list_bans, mute, ban, kick, slow_mode, lock, reports, dismiss, audit,
    ]
    return out
