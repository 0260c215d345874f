"""Upvotes: one per member per question, withdrawable, only while the question is open.

The ledger of one question is the frozenset of its voters; the server keeps the same thing
as a Redis set changed atomically (``chatserver/lua/qa_vote.lua``), using ``vote_denied`` for
the rules around it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from rooms.policy import Denied
from rooms.qa.commands import CastVote, WithdrawVote
from rooms.qa.events import VoteCast, VoteEvent, VoteWithdrawn
from rooms.qa.model import BAD_REQUEST, CONFLICT, VOTABLE, Board, Question, Session, SessionState


@dataclass(frozen=True, slots=True)
class VoteDecision:
    board: Board
    voters: frozenset[str]
    events: tuple[VoteEvent, ...] = ()


def vote_denied(session: Session, question: Question | None) -> Denied | None:
    if question is None:
        return Denied(BAD_REQUEST, f"no such question in session {session.id}")
    if session.state is SessionState.ENDED:
        return Denied(CONFLICT, "the session has ended; votes are closed")
    if question.state not in VOTABLE:
        return Denied(CONFLICT, f"question {question.id} is {question.state.value}: votes are closed")
    return None


def apply_vote(
    board: Board, voters: frozenset[str], cmd: CastVote | WithdrawVote, now: float
) -> VoteDecision | Denied:
    """Cast or withdraw ``cmd.actor``'s vote; a repeated cast or withdrawal changes nothing."""
    question = board.question(cmd.question_id)
    denied = vote_denied(board.session, question)
    if denied:
        return denied
    assert question is not None
    user = cmd.actor.user
    cast = isinstance(cmd, CastVote)
    if (user in voters) == cast:
        return VoteDecision(board, voters)
    new_voters = voters | {user} if cast else voters - {user}
    counted = replace(question, votes=len(new_voters))
    event: VoteEvent = (
        VoteCast(board.session.id, question.id, len(new_voters))
        if cast
        else VoteWithdrawn(board.session.id, question.id, len(new_voters))
    )
    return VoteDecision(board.with_question(counted), new_voters, (event,))
