"""Q&A and the moderation extension (``chatserver.moderation``, required).

- Questions are submitted with kind ``question`` (``Poster.submit``): the room's own pipeline,
  the same gates (ban, mute), notices (``moderation.redacted``, ``moderation.held``,
  ``moderation.support`` with crisis resources), moderator alerts and audit entries as room
  messages. A held question waits in the room's hold queue; approving it (kind
  ``question``, registered here) puts it on the board, skipping screening.
- Hosts' answers go through the room's pipeline too; non-allow verdicts are audited and a
  redaction is told to the host like a room message's.
- ``qa.trace`` is written to the community's audit log (action ``qa.trace``).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from chatserver.errors import ReplyError
from rooms.model import Role
from rooms.qa import Actor, AskQuestion

if TYPE_CHECKING:
    from chatserver.moderation.service import ModerationService
    from chatserver.qa.service import QaService

log = logging.getLogger("chatserver.qa.moderated")

HOLD_KIND = "question"


class HeldQuestions:
    """Publishes a question a moderator approved from the hold queue."""

    def __init__(self, svc: QaService) -> None:
        self.svc = svc

    async def on_approve(self, hold: Any, text: str, actor: Any) -> dict[str, Any]:
        payload = hold.payload
        board, session_id, question_id = payload["board"], payload["session"], payload["question"]
        role = Role(hold.role) if hold.role in {r.value for r in Role} else Role.MEMBER
        asker = Actor(hold.user, hold.name, role)
        hidden: tuple[str, ...] = ()
        if hold.spans and text == hold.redacted_text:
            hidden = tuple(sorted({label for _, _, label in hold.spans}))
        try:
            await self.svc.run(
                board,
                session_id,
                lambda b: AskQuestion(asker, question_id, text, bool(payload.get("anonymous")), hidden, reviewed=True),
            )
        except ReplyError:
            loaded = await self.svc.store.load(board, session_id)
            if loaded.board is None or loaded.board.question(question_id) is None:
                raise
            # Approved twice (a retry after a failure): the question is on the board already.
        return {"message_id": question_id, "channel": board, "session": session_id}


async def audit_trace(mod: Any, entry: dict[str, Any]) -> None:
    from chatserver.moderation.audit import Actor as AuditActor

    who = entry["actor"]
    await mod.audit.append(
        entry["community"],
        "qa.trace",
        AuditActor(who["user"], who["name"], who["role"], "rpc"),
        target={"user": entry["target"], "channel": entry["room"], "message_id": entry["question"]},
        reason=entry.get("reason", ""),
        details={"session": entry["session"], "number": entry["number"], "board": entry["room"] + "/qa"},
    )


def link(svc: QaService, mod: ModerationService) -> None:
    """Questions held by moderation are put on the board when approved; ``qa.trace`` entries
    go to the community's audit log first."""
    mod.register_hold_kind(HOLD_KIND, HeldQuestions(svc).on_approve)

    async def sink(entry: dict[str, Any]) -> None:
        await audit_trace(mod, entry)

    svc.audit_sinks.insert(0, sink)
