"""Asking a question: checks, the room's moderation, then screening or the board.

Questions are submitted like room messages (``Poster.submit``, kind ``question``): the
gates for questions (ban 1003, mute 1002, slow mode), the room's own pipeline, notices and
audit entries as room messages. The verdict decides:
- allow: the question enters screening (pre-moderation) or the board;
- redact: the redacted text is used; moderation tells the asker privately what was hidden
  (``moderation.redacted``, ``id`` = the question id) and the RPC answer lists it;
- hold: the question waits in the room's hold queue (kind ``question``); the asker gets the
  ``moderation.held`` notice (and ``moderation.support`` resources for crisis language), and
  approving it puts it on the board (``chatserver.qa.moderated``);
- reject: error 1001 with the reason.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from chatserver.errors import ReplyError
from chatserver.posting import Held, Placed, Published, Rejected, Submission, from_sender
from chatserver.protocol import codes
from chatserver.qa.service import QaService, refused
from rooms.model import Room
from rooms.policy import Denied
from rooms.qa import Actor, AskQuestion, Session, SessionState, next_question_at
from rooms.qa.model import CONFLICT, TOO_SOON
from rooms.qa.views import question_view

if TYPE_CHECKING:
    from chatserver.connection import Connection


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
) -> dict[str, Any]:
    session = await svc.session(board, session_id)
    denied = precheck(session, actor, time.time())
    if denied:
        raise refused(denied)
    question_id = svc.new_id()

    async def to_board(sub: Submission, item_id: str, accepted: str, hidden: tuple[str, ...]) -> Placed:
        new_board, _ = await svc.run(
            board,
            session_id,
            lambda b: AskQuestion(actor, question_id, accepted, anonymous, hidden),
        )
        return Placed(detail=new_board)

    outcome = await svc.poster.submit(
        from_sender(
            conn,
            room,
            text,
            to_board,
            kind="question",
            item_id=question_id,
            payload={"board": board, "session": session_id, "question": question_id, "anonymous": anonymous},
        )
    )
    match outcome:
        case Rejected(reason=reason):
            raise ReplyError(codes.MODERATION_REJECTED, f"not posted: {reason}")
        case Held():
            return {"status": "held", "session": session_id, "reason": outcome.reason, "hold": {"id": outcome.id}}
        case Published(hidden=hidden, detail=new_board):
            question = new_board.questions[question_id]
    result: dict[str, Any] = {
        "status": question.state.value,  # "screening" or "published"
        "session": session_id,
        "question": question_view(question),
    }
    if hidden:
        result["hidden"] = list(hidden)
    return result
