"""Installing peer support (see the package docstring)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from chatserver.peer.blocks import Blocks

if TYPE_CHECKING:
    from chatserver.extension import ExtensionContext


def install(ext: ExtensionContext) -> Blocks:
    blocks = Blocks(ext.stores.peer(), ext.control, ext.local_users)
    reg = ext.registry
    reg.connect_hooks.append(blocks.on_connect)
    reg.on_control("peer.blocks", blocks.on_control)
    reg.private_open_checks.append(blocks.may_open)
    reg.register_rpc("peer.block", blocks.block)
    reg.register_rpc("peer.unblock", blocks.unblock)
    reg.register_rpc("peer.blocks", blocks.list)
    reg.metric_sources.append(lambda: {"peer_block_changes": float(blocks.changes)})
    return blocks


__all__ = ["install"]
