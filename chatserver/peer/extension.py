"""Installing peer support (see the package docstring)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from chatserver.peer.blocks import Blocks
from chatserver.peer.notes import Notes
from chatserver.peer.notifications import Notifications
from chatserver.peer.waiting import Waiting

if TYPE_CHECKING:
    from chatserver.extension import ExtensionContext
    from chatserver.moderation.service import ModerationService


def install(
    ext: ExtensionContext, moderation: ModerationService, reactions: Any, presence: Any, webhooks: Any
) -> tuple[Blocks, Waiting, Notifications]:
    """``moderation``: its audit log (``post.unanswered`` for webhooks) and directory of
    members (mentions); ``reactions``: the reaction service (a reaction may count as a
    reply); ``presence``: the presence service (who is online); ``webhooks``: the webhook
    service or None (``member.notify``)."""
    store = ext.stores.peer()
    section = ext.settings.sections.get("peer") or {}
    blocks = Blocks(store, ext.control, ext.local_users)
    waiting = Waiting(store, moderation.audit, ext.notifier, ext.catalog, float(section.get("sweep_interval", 1.0)), ext.streams)
    notifications = Notifications(ext, store, moderation.mstore, presence, webhooks)
    reg = ext.registry
    notes = Notes(ext, store)
    reg.register_rpc("peer.note", notes.rpc_note)
    reg.register_rpc("peer.notes", notes.rpc_list)
    reg.register_rpc("peer.note_prefs", notes.rpc_prefs)
    reg.register_rpc("peer.mute", notifications.rpc_mute)
    reg.register_rpc("peer.settings", notifications.rpc_settings)
    ext.poster.add_observer(notifications.observe)
    reg.connect_hooks.append(blocks.on_connect)
    reg.connect_hooks.append(waiting.on_connect)
    reg.on_control("peer.blocks", blocks.on_control)
    reg.private_open_checks.append(blocks.may_open)
    reg.register_rpc("peer.block", blocks.block)
    reg.register_rpc("peer.unblock", blocks.unblock)
    reg.register_rpc("peer.blocks", blocks.list)
    reg.register_rpc("peer.waiting", waiting.rpc_waiting)
    reg.register_rpc("peer.take", waiting.rpc_take)
    ext.poster.add_observer(waiting.observe)
    reactions.add_observer(waiting.on_reaction)

    async def start() -> None:
        waiting.start()

    reg.startup_hooks.append(start)
    reg.shutdown_hooks.append(waiting.stop)
    reg.metric_collectors.append(waiting.metrics)
    reg.metric_sources.append(
        lambda: {
            "peer_block_changes": float(blocks.changes),
            "peer_notifications": float(notifications.sent),
            "peer_notifications_offline": float(notifications.pushed),
            "peer_content_notes": float(notes.marked),
        }
    )
    return blocks, waiting, notifications


__all__ = ["install"]
