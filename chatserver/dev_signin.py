"""Development sign-in for the web client: mint a connection token for a chosen name,
community and role.

Only in development mode (``settings.dev``, on when the CLI generated the token secret, or
with ``--dev``). Otherwise both routes answer 404 and mint nothing: in production your
platform signs tokens (see README, "Tokens come from your platform").

- ``GET /dev/communities`` -> ``{communities: [{name, title}]}`` (for the sign-in form)
- ``POST /dev/token {name, community, role?, user?, invisible?}``
  -> ``{token, user, name, community, role, expires_in}``

Both answer only requests addressed to this server by one of its own addresses (the
``Host`` header: the listen host, 127.0.0.1, localhost or [::1], or the local address the
request came in on, with the server's port); any other name gets 403, so a page on another
site cannot reach them through DNS rebinding. ``/dev/token`` also requires
``Content-Type: application/json`` (415 otherwise), which a cross-site form or ``no-cors``
fetch cannot send without the browser asking first (CORS preflight, which is not answered).
A body that is not JSON at all gets 400 first.
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


def own_hosts(listen_host: str, port: int, local_ip: str | None) -> set[str]:
    """The ``Host`` header values that name this server (lower case)."""
    names = {listen_host, "127.0.0.1", "localhost", "::1"}
    if local_ip:
        names.add(local_ip)
    hosts: set[str] = set()
    for name in names:
        if not name or name in ("0.0.0.0", "::"):
            continue
        shown = f"[{name}]" if ":" in name else name
        hosts.add(f"{shown}:{port}".lower())
        if port == 80:
            hosts.add(shown.lower())
    return hosts


def foreign_host(request: Request, settings: Any) -> Response | None:
    """403 unless the request's Host header is one of this server's own addresses."""
    host = request.headers.get("host", "").strip().lower()
    server = request.scope.get("server") or (None, settings.port)
    port = server[1] if server[1] else settings.port
    if host in own_hosts(settings.host, port, server[0]):
        return None
    return _error(
        403,
        "forbidden",
        f"Host {host!r} is not this server's address: development sign-in answers only "
        f"requests to http://127.0.0.1:{port}/, http://localhost:{port}/ or the address it "
        "listens on",
    )


def routes(settings: Settings, catalog: Catalog) -> list[Route]:
    async def communities(request: Request) -> Response:
        if not settings.dev:
            return _error(404, "not_found", OFF_MESSAGE)
        refused = foreign_host(request, settings)
        if refused is not None:
            return refused
        await catalog.load()
        items = [
            {"name": c.name, "title": c.title}
            for c in sorted(catalog.communities.values(), key=lambda c: c.name)
        ]
        return _json({"communities": items})

    async def token(request: Request) -> Response:
        if not settings.dev:
            return _error(404, "not_found", OFF_MESSAGE)
        refused = foreign_host(request, settings)
        if refused is not None:
            return refused
        if not settings.secret:
            return _error(409, "conflict", "no HS256 secret: tokens are signed by your platform")
        try:
            body = orjson.loads(await request.body() or b"{}")
        except orjson.JSONDecodeError:
            return _error(400, "bad_request", "body is not valid JSON")
        media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if media_type != "application/json":
            return _error(415, "unsupported_media_type", "send the body as Content-Type: application/json")
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
