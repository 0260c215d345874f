"""Live Q&A, the domain: sessions hosted by healthcare professionals inside a room.

Contract: frozen dataclasses and pure functions, no I/O and no clock (``now`` is passed in).
- ``decide(board, command, settings, now)`` -> ``Decision(board, events)`` or ``Denied``
  (``create_session`` starts a board). A command that changes nothing returns no events.
- ``apply_vote(board, voters, command, now)``: one vote per member per question, withdrawable.
- ``views``: what clients see. An anonymous question's asker appears in no view except
  ``trace_view``, which the server offers to moderators and admins only, and audits.
``chatserver.qa`` stores boards in Redis, publishes the events and serves the RPCs.
"""

from rooms.qa.commands import (
    AnswerQuestion,
    AskQuestion,
    CastVote,
    CreateSession,
    DismissQuestion,
    EndSession,
    MarkAnswered,
    MarkAnswering,
    PinQuestion,
    ReopenQuestion,
    ScreenQuestion,
    SetStage,
    StartSession,
    WithdrawVote,
)
from rooms.qa.decide import (
    Decision,
    create_session,
    decide,
    may_post_in_stage,
    may_run,
    may_trace,
    next_question_at,
)
from rooms.qa.model import (
    ANSWER_NOTICE,
    Actor,
    Answer,
    Board,
    Person,
    Question,
    QuestionState,
    Session,
    SessionState,
    Settings,
)
from rooms.qa.votes import VoteDecision, apply_vote, vote_denied

__all__ = [
    "ANSWER_NOTICE",
    "Actor",
    "Answer",
    "AnswerQuestion",
    "AskQuestion",
    "Board",
    "CastVote",
    "CreateSession",
    "Decision",
    "DismissQuestion",
    "EndSession",
    "MarkAnswered",
    "MarkAnswering",
    "Person",
    "PinQuestion",
    "Question",
    "QuestionState",
    "ReopenQuestion",
    "ScreenQuestion",
    "Session",
    "SessionState",
    "SetStage",
    "Settings",
    "StartSession",
    "VoteDecision",
    "WithdrawVote",
    "apply_vote",
    "create_session",
    "decide",
    "may_post_in_stage",
    "may_run",
    "may_trace",
    "next_question_at",
    "vote_denied",
]
