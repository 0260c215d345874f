"""Development sign-in for the web client: mint a connection token for a chosen name,
community and role.

Only in development mode (``settings.dev``, on when the CLI generated the token secret, or
with ``--dev``). Otherwise both routes answer 404 and mint nothing: in production your
platform signs tokens (see README, "Tokens come from your platform").

- ``GET /dev/communities`` -> ``{communities: [{name, title}]}`` (for the sign-in form)
- ``POST /dev/token {name, community, role?, user?, invisible?}``
  -> ``{token, user, name, community, role, expires_in}``
"""

from __future__ import annotations

import ipaddress
import logging
import re
from typing import TYPE_CHECKING, Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from chatserver.auth import ROLES, make_token
from rooms.model import valid_name

if TYPE_CHECKING:
    from chatserver.config import Settings
    from chatserver.engine import Catalog
    from chatserver.registry import Registry

log = logging.getLogger("chatserver.dev_signin")

TOKEN_TTL = 3600  # seconds; the web client asks for a fresh token before it expires
MAX_NAME = 64
OFF_MESSAGE = (
    "development sign-in is off: this server is not in development mode, "
    "so connection tokens come from your platform"
)


def install(registry: Registry, settings: Settings, catalog: Catalog) -> None:
    registry.routes.extend(routes(settings, catalog))
    if settings.dev and not _is_loopback(settings.host):
        log.warning(
            "development mode on %s: anyone who can reach this address can mint tokens "
            "with any role at /dev/token",
            settings.host,
        )


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _json(data: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(data), status_code=status, media_type="application/json")


def _error(status: int, code: str, message: str) -> Response:
    return _json({"error": {"code": code, "message": message}}, status)


def user_id_for(name: str) -> str:
    """A stable development user id from a display name ("Ann Lee" -> "dev-ann-lee")."""
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:48]
    return f"dev-{slug or 'user'}"


def routes(settings: Settings, catalog: Catalog) -> list[Route]:
    async def communities(request: Request) -> Response:
        if not settings.dev:
            return _error(404, "not_found", OFF_MESSAGE)
        await catalog.load()
        items = [
            {"name": c.name, "title": c.title}
            for c in sorted(catalog.communities.values(), key=lambda c: c.name)
        ]
        return _json({"communities": items})

    async def token(request: Request) -> Response:
        if not settings.dev:
            return _error(404, "not_found", OFF_MESSAGE)
        if not settings.secret:
            return _error(409, "conflict", "no HS256 secret: tokens are signed by your platform")
        try:
            body = orjson.loads(await request.body() or b"{}")
        except orjson.JSONDecodeError:
            return _error(400, "bad_request", "body is not valid JSON")
        if not isinstance(body, dict):
            return _error(400, "bad_request", "body must be a JSON object")
        name = body.get("name")
        if not isinstance(name, str) or not name.strip() or len(name.strip()) > MAX_NAME:
            return _error(400, "bad_request", f"name: 1-{MAX_NAME} characters")
        name = name.strip()
        community = body.get("community")
        if not isinstance(community, str) or not valid_name(community):
            return _error(400, "bad_request", "community: a community name like 'demo'")
        role = body.get("role", "member")
        if role not in ROLES:
            return _error(400, "bad_request", "role: one of " + ", ".join(ROLES))
        user = body.get("user") or user_id_for(name)
        if not isinstance(user, str) or len(user) > 128 or any(c in user for c in "\n\r#"):
            return _error(400, "bad_request", "user: an id of at most 128 characters")
        await catalog.load()
        if community not in catalog.communities:
            return _error(
                404,
                "not_found",
                f"no community {community!r}; create it with PUT /api/communities/{community}",
            )
        signed = make_token(
            settings.secret,
            user,
            name=name,
            communities={community: role},
            ttl=TOKEN_TTL,
            invisible=bool(body.get("invisible", False)),
        )
        log.info("development token for %s (%s in %s)", user, role, community)
        return _json(
            {
                "token": signed,
                "user": user,
                "name": name,
                "community": community,
                "role": role,
                "expires_in": TOKEN_TTL,
            }
        )

    return [
        Route("/dev/communities", communities, methods=["GET"]),
        Route("/dev/token", token, methods=["POST"]),
    ]
