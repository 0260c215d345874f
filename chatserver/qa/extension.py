"""Installing the Q&A extension (see the package docstring)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from chatserver.qa import http, moderated
from chatserver.qa.audit import ModFeedAudit
from chatserver.qa.config import QaConfig
from chatserver.qa.rpc import QaRpc
from chatserver.qa.service import QaService
from chatserver.qa.stage import CONTROL_KIND
from chatserver.qa.votes import VoteBatcher

if TYPE_CHECKING:
    from chatserver.extension import ExtensionContext
    from chatserver.moderation.service import ModerationService


def install(ext: ExtensionContext, moderation: ModerationService) -> QaService:
    """Build the Q&A service on top of the moderation service (questions are held in its
    queue, ``qa.trace`` goes to its audit log); register RPC methods, the stage-mode
    posting gate, routes, the control handler and metrics; return the service."""
    config = QaConfig.from_section(ext.settings.sections.get("qa"))
    svc = QaService(ext, config, moderation)
    votes = VoteBatcher(svc.store, config.vote_batch_ms)
    svc.audit_sinks.append(ModFeedAudit(ext.notifier))
    moderated.link(svc, moderation)
    rpc = QaRpc(svc, votes)
    rpc.register(ext.registry)
    ext.poster.add_gate(svc.stage.gate, kinds=("message", "edit"))
    ext.registry.on_control(CONTROL_KIND, svc.stage.on_control)
    ext.registry.shutdown_hooks.append(votes.close)
    ext.registry.metric_sources.append(
        lambda: {
            "qa_votes": float(votes.votes),
            "qa_vote_count_events": float(votes.flushes),
            "qa_commit_conflicts": float(svc.conflicts),
        }
    )
    ext.registry.routes.extend(http.routes(ext, svc))
    return svc


__all__ = ["install"]
