"""Asking a question: checks, the moderation pipeline, then the board (or screening).

The verdict decides, as for room messages:
- allow: the question enters screening (pre-moderation) or the board;
- redact: the redacted text is used and the asker is told privately what was hidden;
- hold: the question stays off the board; it goes to the hold handler (``QaHolds``) and the
  asker is told privately;
- reject: error 1001 with the reason.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from chatserver.errors import MODERATION_REJECTED, ReplyError
from chatserver.qa.review import Outcome, review
from chatserver.qa.service import QaService, refused
from rooms.model import Room
from rooms.policy import Denied
from rooms.qa import Actor, AskQuestion, Session, SessionState, next_question_at
from rooms.qa.model import CONFLICT, TOO_SOON
from rooms.qa.views import question_view

if TYPE_CHECKING:
    from chatserver.connection import Connection

# (conn, room, session, text, anonymous, outcome) -> details for the asker
HoldHandler = Callable[["Connection", Room, Session, str, bool, Outcome], Awaitable[dict[str, Any]]]


def precheck(session: Session, actor: Actor, now: float) -> Denied | None:
    """Refuse early (before moderation runs) what the domain would refuse anyway."""
    if session.state is SessionState.ENDED:
        return Denied(CONFLICT, "the session has ended; questions are closed")
    allowed = next_question_at(session, actor)
    if allowed is not None and now < allowed:
        wait = max(1, int(allowed - now + 0.999))
        return Denied(TOO_SOON, f"one question every {session.question_interval:g} s: next question in {wait} s")
    return None


async def ask(
    svc: QaService,
    conn: Connection,
    board: str,
    room: Room,
    actor: Actor,
    session_id: str,
    text: str,
    anonymous: bool,
    hold: HoldHandler,
) -> dict[str, Any]:
    session = await svc.session(board, session_id)
    denied = precheck(session, actor, time.time())
    if denied:
        raise refused(denied)
    question_id = svc.new_id()
    if svc.moderation is not None:
        text, hidden, held = await _moderate(svc, conn, board, room, session_id, question_id, text, anonymous)
        if held is not None:
            return held
        told = True  # the moderation extension tells the asker about a redaction
    else:
        outcome = await review(
            svc.node, conn, room, text, kind="question",
            extra={"session": session_id, "anonymous": anonymous, "channel": board},
        )
        if outcome.status == "rejected":
            raise ReplyError(MODERATION_REJECTED, f"question not posted: {outcome.reason}")
        if outcome.status == "held":
            details = await hold(conn, room, session, text, anonymous, outcome)
            return {"status": "held", "session": session_id, "reason": outcome.reason, **details}
        text, hidden, told = outcome.text, outcome.hidden, False
    new_board, _ = await svc.run(
        board,
        session_id,
        lambda b: AskQuestion(actor, question_id, text, anonymous, hidden),
    )
    question = new_board.questions[question_id]
    result: dict[str, Any] = {
        "status": question.state.value,  # "screening" or "published"
        "session": session_id,
        "question": question_view(question),
    }
    if hidden:
        result["hidden"] = list(hidden)
    if hidden and not told:
        await svc.node.notify_user(
            actor.user,
            {
                "type": "qa.question.redacted",
                "channel": board,
                "session": session_id,
                "question": question_id,
                "hidden": list(hidden),
                "text": text,
            },
        )
    return result


async def _moderate(
    svc: QaService,
    conn: Connection,
    board: str,
    room: Room,
    session_id: str,
    question_id: str,
    text: str,
    anonymous: bool,
) -> tuple[str, tuple[str, ...], dict[str, Any] | None]:
    """The moderation extension's path: (text, hidden, None) to publish, or the answer for a
    held question. Rejections and gates (mute, ban) raise ReplyError."""
    outcome = await svc.moderation.moderate(
        conn,
        room,
        text,
        kind="question",
        item_id=question_id,
        payload={"board": board, "session": session_id, "question": question_id, "anonymous": anonymous},
    )
    if outcome.status == "held":
        record = outcome.hold
        details: dict[str, Any] = {"status": "held", "session": session_id, "reason": outcome.reason}
        if record is not None:
            details["hold"] = {"id": record.id}
        return text, (), details
    return outcome.text, tuple(outcome.hidden), None
