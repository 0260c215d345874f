"""HTTP API of webhooks (API key): list, add, show, remove, and each hook's delivery log.
A hook's secret is shown once, in the answer that created it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.routing import Route

from chatserver.api import ApiError, api_route, json_body
from chatserver.webhooks.config import Webhook, WebhookError

if TYPE_CHECKING:
    from chatserver.webhooks.service import WebhookService


def routes(service: WebhookService) -> list[Route]:
    settings = service.ext.settings

    def hook_of(request: Request) -> Webhook:
        hook = service.hooks.get(request.path_params["hook"])
        if hook is None:
            raise ApiError(404, "not_found", f"no webhook {request.path_params['hook']}")
        return hook

    @api_route(settings, "/api/webhooks", ["GET", "POST"])
    async def hooks(request: Request) -> Any:
        if request.method == "GET":
            await service.reload()
            return {"webhooks": [h.public() for h in sorted(service.hooks.values(), key=lambda h: h.id)]}
        try:
            hook = await service.add(await json_body(request))
        except WebhookError as exc:
            raise ApiError(400, "bad_request", str(exc)) from None
        return 201, {**hook.public(), "secret": hook.secret}

    @api_route(settings, "/api/webhooks/{hook}", ["GET", "DELETE"])
    async def one(request: Request) -> Any:
        hook = hook_of(request)
        if request.method == "GET":
            return hook.public()
        try:
            await service.remove(hook.id)
        except WebhookError as exc:
            raise ApiError(409, "conflict", str(exc)) from None
        return {"deleted": True}

    @api_route(settings, "/api/webhooks/{hook}/deliveries", ["GET"])
    async def deliveries(request: Request) -> Any:
        hook = hook_of(request)
        raw = request.query_params.get("limit", "100")
        if not raw.isdigit() or not 1 <= int(raw) <= 1000:
            raise ApiError(400, "bad_request", "limit must be 1-1000")
        return {"webhook": hook.id, "deliveries": await service.store.deliveries(hook.id, int(raw))}

    @api_route(settings, "/api/webhooks/{hook}/test", ["POST"])
    async def test(request: Request) -> Any:
        hook = hook_of(request)
        event_id = await service.emit("webhook.test", "", {"message": "a test event"}, [hook])
        return 202, {"event": event_id}

    return [hooks, one, deliveries, test]
