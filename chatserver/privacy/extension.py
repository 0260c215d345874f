"""The privacy extension: ``GET /api/users/{user}/export`` and ``POST /api/users/{user}/erase``
(API key), on top of ``PrivacyService``."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from starlette.requests import Request

from chatserver.api import ApiError, api_route, json_body
from chatserver.engine import PresenceStore
from chatserver.moderation.audit import AuditLog
from chatserver.privacy.block import MemberBlock
from chatserver.privacy.service import PrivacyService

if TYPE_CHECKING:
    from chatserver.extension import ExtensionContext

MAX_USER = 128


def _user(request: Request) -> str:
    user = request.path_params["user"]
    if not user or len(user) > MAX_USER or "\n" in user:
        raise ApiError(400, "bad_request", f"user must be 1-{MAX_USER} characters without newlines")
    return str(user)


def install(
    ext: ExtensionContext,
    presence: PresenceStore,
    audit: AuditLog,
    stores: Callable[[], list[Any]],
    block: MemberBlock,
) -> PrivacyService:
    """``audit``: the moderation extension's audit log (the erasure is recorded there);
    ``stores``: every store the composition root made (each asked for member data);
    ``block``: the members being erased, checked at connect, refresh and submit."""
    svc = PrivacyService(ext, presence, audit, stores, block)
    ext.registry.on_control("privacy.block", svc.on_block)
    ext.poster.add_author_check(block.blocked)
    ext.typing.add_gate(lambda conn, spec: "this member's data is being erased" if block.blocked(conn.user) else None)

    async def start() -> None:
        await svc.reload_blocks()
        ext.tasks.spawn(svc.keep_blocks(), "erasure blocks")

    ext.registry.startup_hooks.append(start)

    @api_route(ext.settings, "/api/users/{user}/export", ["GET"])
    async def export(request: Request) -> Any:
        user = _user(request)
        document = await svc.export(user)
        if document is None:
            raise ApiError(404, "not_found", f"nothing is kept about user {user}")
        return document

    @api_route(ext.settings, "/api/users/{user}/erase", ["POST"])
    async def erase(request: Request) -> Any:
        user = _user(request)
        body = await json_body(request)
        actor = body.get("actor", "api")
        if not isinstance(actor, str) or not actor or len(actor) > MAX_USER:
            raise ApiError(400, "bad_request", "actor must be a short string (who asked, for the audit log)")
        return await svc.erase(user, actor)

    ext.registry.routes.extend([export, erase])
    return svc
