"""Installing crisis response (see the package docstring)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from chatserver.crisis.cases import CaseService
from chatserver.crisis.config import CrisisConfig
from chatserver.crisis.conversations import Conversations
from chatserver.crisis.http import routes
from chatserver.crisis.member import MemberSupport
from chatserver.crisis.resources import CommunityResources
from chatserver.crisis.rpc import CrisisRpc

if TYPE_CHECKING:
    from chatserver.extension import ExtensionContext
    from chatserver.moderation.service import ModerationService


def install(ext: ExtensionContext, moderation: ModerationService) -> CaseService:
    """Cases open from moderation's crisis signals; RPC methods, routes, the escalation
    sweep, the audit of refused private joins, and metrics; return the case service."""
    config = CrisisConfig.from_section(ext.settings.sections.get("crisis"))
    cases = CaseService(ext, config, moderation, ext.stores.crisis())
    conversations = Conversations(cases)
    moderation.on_crisis(cases.on_signal)
    # [[communities.resources]]: a member's resources in her language and region; their
    # numbers are never redacted as a member's personal details.
    resources = CommunityResources.from_communities(ext.settings.communities)
    moderation.use_resources(resources.localize, resources.numbers)
    moderation.on_concern(cases.on_concern)
    ext.registry.register_rpc("support.resources", MemberSupport(cases, resources).call)
    ext.resolver.on_denied(conversations.on_denied)
    CrisisRpc(cases, conversations).register(ext.registry)
    ext.registry.routes.extend(routes(cases, conversations))
    ext.registry.startup_hooks.append(cases.start)
    ext.registry.shutdown_hooks.append(cases.stop)
    ext.registry.metric_collectors.append(cases.metrics)
    ext.registry.metric_sources.append(
        lambda: {
            "crisis_cases_opened": float(cases.metrics.opened),
            "crisis_cases_escalated": float(cases.metrics.escalated),
            "crisis_private_denied": float(conversations.denied),
        }
    )
    return cases


__all__ = ["install"]
