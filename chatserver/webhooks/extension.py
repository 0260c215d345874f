"""Installing webhooks (see the package docstring)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from chatserver.config import ConfigError
from chatserver.webhooks.config import WebhookError, from_config
from chatserver.webhooks.http import routes
from chatserver.webhooks.service import CONTROL_KIND, WebhookService

if TYPE_CHECKING:
    from chatserver.extension import ExtensionContext
    from chatserver.moderation.service import ModerationService


def install(ext: ExtensionContext, moderation: ModerationService) -> WebhookService:
    """Hooks from ``[[webhooks]]`` and Redis; events follow moderation's audit log."""
    try:
        configured = from_config(ext.settings.sections.get("webhooks"), ext.settings.webhook_private_addresses)
    except WebhookError as exc:
        raise ConfigError(str(exc)) from None
    svc = WebhookService(ext, ext.stores.webhooks(), configured)
    moderation.audit.add_listener(svc.on_audit)
    ext.registry.on_control(CONTROL_KIND, svc.reload)
    ext.registry.routes.extend(routes(svc))
    ext.registry.startup_hooks.append(svc.start)
    ext.registry.shutdown_hooks.append(svc.stop)
    ext.registry.metric_sources.append(
        lambda: {
            "webhook_deliveries_queued": float(svc.enqueued),
            "webhook_deliveries_delivered": float(svc.delivered),
            "webhook_delivery_failures": float(svc.failed_attempts),
            "webhook_deliveries_given_up": float(svc.gave_up),
            "webhook_deliveries_dropped": float(svc.dropped),
        }
    )
    return svc


__all__ = ["install"]
