"""What happens to a question the pipeline holds (until the moderation hold queue takes it):
the asker is told privately, and the room's moderators get a notice on ``<c>:<r>/mod`` with
the hold's priority and reason. The question never reaches the board or the screening feed.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from chatserver.qa.review import Outcome
from chatserver.qa.service import QaService
from moderation_hooks import Hold
from rooms.model import Room
from rooms.qa import Session

if TYPE_CHECKING:
    from chatserver.connection import Connection


class NoticeHolds:
    def __init__(self, svc: QaService) -> None:
        self.svc = svc

    async def __call__(
        self, conn: Connection, room: Room, session: Session, text: str, anonymous: bool, outcome: Outcome
    ) -> dict[str, Any]:
        assert conn.identity is not None
        member = conn.identity.member
        verdict = outcome.verdict
        priority = verdict.priority.value if isinstance(verdict, Hold) else "normal"
        category = verdict.category if isinstance(verdict, Hold) else ""
        hold_id = self.svc.new_id(8)
        node = self.svc.node
        await node.publish_event(
            f"{room.channel}/mod",
            {
                "type": "qa.question.held",
                "id": hold_id,
                "channel": session.board_channel,
                "session": session.id,
                "text": text,
                "user": member.user,
                "name": member.name,
                "anonymous": anonymous,
                "reason": outcome.reason,
                "priority": priority,
                "category": category,
                "ts": int(time.time() * 1000),
            },
        )
        await node.notify_user(
            member.user,
            {
                "type": "qa.question.held",
                "id": hold_id,
                "channel": session.board_channel,
                "session": session.id,
                "text": text,
                "reason": "your question is waiting for a moderator",
            },
        )
        return {"hold": {"id": hold_id}}
