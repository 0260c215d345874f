"""Where Q&A's sensitive actions are recorded (tracing an anonymous asker).

``ModFeedAudit`` publishes each entry on the community's moderator feed ``<community>/mod``
(moderators and admins only, kept in history for 14 days), so every moderator sees who
traced which question and why.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from chatserver.node import Node


class ModFeedAudit:
    def __init__(self, node: Node) -> None:
        self.node = node

    async def __call__(self, entry: dict[str, Any]) -> None:
        await self.node.publish_event(f"{entry['community']}/mod", {"type": "audit", **entry})
