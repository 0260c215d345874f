"""Installing the moderation extension (see the package docstring)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from chatserver.config import ConfigError
from moderation_hooks import ModerationConfigError, parse_config
from moderation_hooks.loading import HookLoadError
from moderation_hooks.pipeline import THREADS

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
        await svc.denied.start()

    async def stop() -> None:
        await svc.denied.stop()
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
        "moderation_refused_calls": svc.denied.refused,
        "moderation_refused_calls_summarised": svc.denied.summarised,
        "moderation_hook_failures": sum(svc.pipelines.failure_counts.values()),
        "moderation_hook_threads_stuck": THREADS.stuck,
    }
    return out


__all__ = ["install"]
