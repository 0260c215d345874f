"""Live Q&A sessions in a room's board channel ``<community>:<room>/qa``.

Contract: ``install(node)`` registers the ``qa.*`` RPC methods, the stage-mode posting gate,
the transcript HTTP routes, and a control-message handler; it exposes the service as
``node.qa``. All state lives in Redis (``chatserver.qa.store``); every change is decided by
the pure domain ``rooms.qa`` and published on the board channel in the order it happened
(recoverable). Questions pass the room's moderation (``chatserver.moderation``, required)
like room messages. Frames
about anonymous questions carry no asker: event data names nobody, and board publications
carry no ClientInfo. See docs/qa.md.
"""

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
    from chatserver.node import Node


def install(node: Node) -> None:
    config = QaConfig.from_section(node.settings.sections.get("qa"))
    svc = QaService(node, config)
    svc.stage.node = node
    votes = VoteBatcher(svc.store, config.vote_batch_ms)
    svc.audit_sinks.append(ModFeedAudit(node))
    rpc = QaRpc(svc, votes)
    rpc.register(node)
    node.poster.add_gate(svc.stage.gate, kinds=("message",))
    node.hub.on_control(CONTROL_KIND, svc.stage.on_control)
    node.shutdown_hooks.append(votes.close)
    node.metric_sources.append(
        lambda: {
            "qa_votes": float(votes.votes),
            "qa_vote_count_events": float(votes.flushes),
            "qa_commit_conflicts": float(svc.conflicts),
        }
    )
    node.extension_routes.extend(http.routes(node, svc))

    async def link_moderation() -> None:
        if not moderated.link(svc):
            raise RuntimeError(
                "chatserver.qa needs the chatserver.moderation extension: questions pass the "
                "room's moderation pipeline and hold queue (add it to EXTENSIONS)"
            )

    node.startup_hooks.append(link_moderation)
    node.qa = svc  # type: ignore[attr-defined]


__all__ = ["install"]
