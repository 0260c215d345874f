"""Where Q&A's sensitive actions are recorded (tracing an anonymous asker).

``ModFeedAudit`` publishes each entry on the community's moderator feed ``<community>/mod``
(moderators and admins only, kept in history for 14 days), so every moderator sees who
traced which question and why.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from chatserver.notify import Notifier


class ModFeedAudit:
    def __init__(self, notifier: Notifier) -> None:
        self.notifier = notifier

    async def __call__(self, entry: dict[str, Any]) -> None:
        await self.notifier.publish_event(f"{entry['community']}/mod", {"type": "audit", **entry})
