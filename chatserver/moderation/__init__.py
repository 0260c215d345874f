"""Moderation extension: per-room hook pipelines, the hold queue, live moderator actions,
member reports and the audit log. ``install(ext)`` wires it in and returns the running
``ModerationService`` (the composition root, ``chatserver.app``, hands it to Q&A).

Contract:
- Every member message passes the room's pipeline (``[moderation]`` config, layered per
  community and room, adjustable through the HTTP API) after the gates (ban 1003, mute 1002,
  kick block 103, slow mode 1005). Allow/redact publish; hold stores the message in the
  room's hold queue; reject answers 1001. The sender is always told what happened.
- Held items carry a ``kind``; what publishes an approved item is registered per kind
  (``register_hold_kind(kind, on_approve)``). Other extensions run their items through the
  same path: ``Poster.submit`` with their ``kind`` (the moderation gates apply to kinds
  ``message`` and ``question``).
- Moderator actions (RPC ``mod.*`` and the HTTP API) need the moderator or admin role in the
  community; every action and every non-allow verdict is appended to the community's audit
  log.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from chatserver.config import ConfigError
from moderation_hooks import ModerationConfigError, parse_config
from moderation_hooks.loading import HookLoadError

if TYPE_CHECKING:
    from chatserver.extension import ExtensionContext
    from chatserver.moderation.service import ModerationService

def install(ext: ExtensionContext) -> ModerationService:
    """Build the moderation service, plug it into the poster, the typing gates, the
    subscribe checks and the registry (RPC, routes, hooks, metrics); return it."""
    from chatserver.moderation.http import routes
    from chatserver.moderation.rpc import ModerationRpc
    from chatserver.moderation.service import ModerationService
    from chatserver.moderation.subscribe import install_checks

    try:
        config = parse_config(ext.settings.sections.get("moderation"))
        svc = ModerationService(ext, config)
    except (ModerationConfigError, HookLoadError) as exc:
        raise ConfigError(f"[moderation]: {exc}") from None
    svc.attach()
    install_checks(svc)
    ModerationRpc(svc).install()
    ext.registry.routes.extend(routes(svc))
    ext.registry.subscribe_hooks.append(svc.watchers.on_subscribed)
    ext.registry.unsubscribe_hooks.append(svc.watchers.on_unsubscribed)

    async def start() -> None:
        await svc.sanctions.start()
        await svc.watchers.start()
        await svc.holds.start()

    async def stop() -> None:
        await svc.holds.stop()
        await svc.watchers.stop()
        await svc.sanctions.stop()

    ext.registry.startup_hooks.append(start)
    ext.registry.shutdown_hooks.append(stop)
    ext.registry.metric_sources.append(lambda: metrics(svc))
    return svc


def metrics(svc: ModerationService) -> dict[str, float]:
    out: dict[str, float] = {
        "moderation_holds_created": svc.holds.created,
        "moderation_holds_expired": svc.holds.expired,
        "moderation_messages_deleted": svc.actions.deleted,
        "moderation_reports": svc.reports.received,
        "moderation_crisis_alerts": svc.crisis_alerts,
        "moderation_audit_entries": svc.audit.appended,
        "moderation_hook_failures": sum(svc.pipelines.failure_counts.values()),
    }
    return out


__all__ = ["install"]
