"""HTTP API under ``/api`` (API key), plus ``/healthz``, ``/readyz`` and ``/metrics``.

Authentication: ``Authorization: Bearer <api key>`` or ``X-API-Key: <api key>``.
Errors are JSON: ``{"error": {"code": "...", "message": "..."}}`` with a fitting status.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from chatserver.auth import make_token
from chatserver.config import Settings
from chatserver.engine import Catalog, CatalogError, Streams
from chatserver.limits import LogLimiter, held_note
from chatserver.publication import Publication
from chatserver.redis.connect import engine_unavailable
from rooms.model import Community, Role, Room, RoomSettings, valid_name
from rooms.private import is_private_name

log = logging.getLogger("chatserver.api")
_engine_down_lines = LogLimiter(60.0)


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        self.status = status
        self.code = code
        self.message = message


def error_response(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status, headers=headers)


RETRY_AFTER = "2"  # seconds a client waits before trying again after a 503
PROBE_TIMEOUT = 2.0  # seconds /readyz waits for Redis before answering 503


def unavailable_response() -> JSONResponse:
    """What every API request gets while Redis (or the shard it needs) does not answer."""
    return error_response(
        503, "unavailable", "storage is temporarily unavailable; try again shortly", {"Retry-After": RETRY_AFTER}
    )


Handler = Callable[[Request], Awaitable[Response]]


def api_route(settings: Settings, path: str, methods: list[str]) -> Callable[[Callable[..., Awaitable[Any]]], Route]:
    """Wrap a handler with API key auth, JSON errors and a JSON body parser."""

    def wrap(fn: Callable[..., Awaitable[Any]]) -> Route:
        async def endpoint(request: Request) -> Response:
            if not authorized(settings, request):
                return error_response(401, "unauthorized", "missing or wrong API key")
            try:
                result = await fn(request)
            except ApiError as exc:
                return error_response(exc.status, exc.code, exc.message)
            except (CatalogError, ValueError) as exc:
                return error_response(400, "bad_request", str(exc))
            except Exception as exc:
                # Never a plain-text 500 with a traceback: a Redis outage is a 503 the
                # client may retry; anything else a JSON 500 (logged here).
                if engine_unavailable(exc):
                    held = _engine_down_lines.allow("api")
                    if held is not None:
                        log.warning("API request answered 503: the engine is unavailable (%s)%s", exc, held_note(held))
                    return unavailable_response()
                log.exception("API request %s %s failed", request.method, request.url.path)
                return error_response(500, "internal", "internal server error")
            if isinstance(result, Response):
                return result
            status = 200
            if isinstance(result, tuple):
                status, result = result
            return Response(orjson.dumps(result), status_code=status, media_type="application/json")

        return Route(path, endpoint, methods=methods)

    return wrap


def authorized(settings: Settings, request: Request) -> bool:
    key = settings.api_key
    got = request.headers.get("x-api-key", "")
    auth = request.headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        got = auth[7:].strip()
    return bool(key) and hmac.compare_digest(got.encode(), key.encode())


async def json_body(request: Request) -> dict[str, Any]:
    body = await request.body()
    if not body:
        return {}
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise ApiError(400, "bad_request", "body is not valid JSON") from None
    if not isinstance(data, dict):
        raise ApiError(400, "bad_request", "body must be a JSON object")
    return data


def routes(
    settings: Settings,
    catalog: Catalog,
    streams: Streams,
    node_id: str,
    ready: Callable[[], bool],
    ping: Callable[[], Awaitable[float]],
    metrics_text: Callable[[], bytes],
    deep_ping: Callable[[], Awaitable[float]] | None = None,
) -> list[Route]:
    r = []

    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok", "node": node_id})

    async def readyz(request: Request) -> Response:
        """This process can serve: started, not draining, and Redis answers (a cluster: at
        least one shard; the rooms of a failed shard answer a temporary error meanwhile).
        Checked live on each request, so it follows a recovery at once."""
        if not ready():
            return JSONResponse({"status": "starting"}, status_code=503, headers={"Retry-After": RETRY_AFTER})
        try:
            latency = await asyncio.wait_for(ping(), PROBE_TIMEOUT)
        except Exception as exc:
            return JSONResponse(
                {"status": "unavailable", "redis": str(exc) or type(exc).__name__},
                status_code=503,
                headers={"Retry-After": RETRY_AFTER},
            )
        return JSONResponse({"status": "ready", "redis_ms": round(latency * 1000, 3)})

    async def readyz_deep(request: Request) -> Response:
        """For alerts, not for load balancers: every part of the deployment answers (a
        cluster: every slot has a master, every master reports cluster_state:ok)."""
        try:
            latency = await asyncio.wait_for((deep_ping or ping)(), PROBE_TIMEOUT)
        except Exception as exc:
            return JSONResponse({"status": "degraded", "redis": str(exc) or type(exc).__name__}, status_code=503)
        return JSONResponse({"status": "ok", "redis_ms": round(latency * 1000, 3), "serving": ready()})

    async def metrics(request: Request) -> Response:
        return Response(metrics_text(), media_type="text/plain; version=0.0.4; charset=utf-8")

    r += [
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
        Route("/readyz/deep", readyz_deep, methods=["GET"]),
        Route("/metrics", metrics, methods=["GET"]),
    ]

    @api_route(settings, "/api/communities", ["GET"])
    async def list_communities(request: Request) -> Any:
        await catalog.load()
        return {"communities": [c.to_dict() for c in sorted(catalog.communities.values(), key=lambda c: c.name)]}

    @api_route(settings, "/api/communities/{community}", ["PUT"])
    async def put_community(request: Request) -> Any:
        name = request.path_params["community"]
        body = await json_body(request)
        title = body.get("title", "")
        settings = body.get("settings", {})
        if not isinstance(title, str) or not isinstance(settings, dict):
            raise ApiError(400, "bad_request", "title must be a string and settings an object")
        community = Community(name, title, settings)
        existed = name in catalog.communities
        await catalog.put_community(community)
        return (200 if existed else 201), community.to_dict()

    @api_route(settings, "/api/communities/{community}/rooms", ["GET"])
    async def list_rooms(request: Request) -> Any:
        community = request.path_params["community"]
        await catalog.load()
        if community not in catalog.communities:
            raise ApiError(404, "not_found", f"no community {community}")
        private = request.query_params.get("private") in ("1", "true")
        rooms = [r for r in catalog.rooms_of(community) if private or not is_private_name(r.name)]
        return {"rooms": [room.to_dict() for room in rooms]}

    @api_route(settings, "/api/communities/{community}/rooms/{room}", ["GET"])
    async def get_room(request: Request) -> Any:
        room = catalog.room(request.path_params["community"], request.path_params["room"])
        if room is None:
            raise ApiError(404, "not_found", "no such room")
        return room.to_dict()

    @api_route(settings, "/api/communities/{community}/rooms/{room}", ["PUT"])
    async def put_room(request: Request) -> Any:
        community = request.path_params["community"]
        name = request.path_params["room"]
        if not valid_name(name):
            raise ApiError(400, "bad_request", "room names use 1-64 of a-z, 0-9, '-', '_'")
        if is_private_name(name):
            raise ApiError(400, "bad_request", "room names starting with 'dm-' are private support conversations")
        if community not in catalog.communities:  # announced changes keep the cache current
            await catalog.load()
        if community not in catalog.communities:
            raise ApiError(404, "not_found", f"no community {community}; PUT /api/communities/{community} first")
        body = await json_body(request)
        title = body.get("title", "")
        if not isinstance(title, str):
            raise ApiError(400, "bad_request", "title must be a string")
        settings_data = body.get("settings", {})
        if not isinstance(settings_data, dict):
            raise ApiError(400, "bad_request", "settings must be an object")
        room = Room(community, name, title, RoomSettings.from_dict(settings_data))
        existed = catalog.room(community, name) is not None
        await catalog.put_room(room)
        return (200 if existed else 201), room.to_dict()

    @api_route(settings, "/api/communities/{community}/rooms/{room}", ["PATCH"])
    async def patch_room(request: Request) -> Any:
        body = await json_body(request)
        try:
            room = await catalog.update_room(
                request.path_params["community"], request.path_params["room"], body
            )
        except KeyError:
            raise ApiError(404, "not_found", "no such room") from None
        return room.to_dict()

    @api_route(settings, "/api/communities/{community}/rooms/{room}", ["DELETE"])
    async def delete_room(request: Request) -> Any:
        removed = await catalog.delete_room(request.path_params["community"], request.path_params["room"])
        if not removed:
            raise ApiError(404, "not_found", "no such room")
        return {"deleted": True}

    @api_route(settings, "/api/communities/{community}/rooms/{room}/history", ["GET"])
    async def room_history(request: Request) -> Any:
        room = catalog.room(request.path_params["community"], request.path_params["room"])
        if room is None:
            raise ApiError(404, "not_found", "no such room")
        try:
            limit = int(request.query_params.get("limit", "50"))
        except ValueError:
            raise ApiError(400, "bad_request", "limit must be an integer") from None
        limit = max(0, min(limit, settings.history_max_limit))
        hist = await streams.history(room.channel, None, limit, reverse=True)
        items = []
        for entry in reversed(hist.entries):
            pub = Publication.unpack(room.channel, entry.offset, hist.epoch, entry.payload)
            items.append({"offset": entry.offset, "data": orjson.loads(pub.data)})
        return {"channel": room.channel, "epoch": hist.epoch, "offset": hist.top, "publications": items}

    @api_route(settings, "/api/tokens", ["POST"])
    async def issue_token(request: Request) -> Any:
        body = await json_body(request)
        user = body.get("user")
        if not isinstance(user, str) or not user:
            raise ApiError(400, "bad_request", "user is required")
        communities = body.get("communities") or {}
        if not isinstance(communities, dict) or not all(
            isinstance(v, str) and v in {r.value for r in Role} for v in communities.values()
        ):
            raise ApiError(400, "bad_request", "communities maps community -> member|host|moderator|admin")
        ttl = body.get("ttl", 3600)
        if not isinstance(ttl, int) or ttl < 0:
            raise ApiError(400, "bad_request", "ttl must be a non-negative integer (0: no expiry)")
        if not settings.secret:
            raise ApiError(409, "conflict", "tokens are signed by your platform (asymmetric keys configured)")
        token = make_token(
            settings.secret,
            user,
            name=body.get("name") or None,
            communities=communities,
            ttl=ttl or None,
            invisible=bool(body.get("invisible", False)),
        )
        return {"token": token}

    r += [
        list_communities,
        put_community,
        list_rooms,
        get_room,
        put_room,
        patch_room,
        delete_room,
        room_history,
        issue_token,
    ]
    return r
