"""Events (past-tense names): what changed. ``rooms.qa.views`` turns them into wire events
and says who may see each one (the board, or the screening feed for moderators and hosts).
"""

from __future__ import annotations

from dataclasses import dataclass

from rooms.qa.model import Question, QuestionState, Session


@dataclass(frozen=True, slots=True)
class SessionCreated:
    session: Session


@dataclass(frozen=True, slots=True)
class SessionStarted:
    session: Session


@dataclass(frozen=True, slots=True)
class SessionEnded:
    session: Session


@dataclass(frozen=True, slots=True)
class StageChanged:
    session: Session


@dataclass(frozen=True, slots=True)
class QuestionSubmitted:
    """A question entered the screening queue (pre-moderation)."""

    session_id: str
    question: Question


@dataclass(frozen=True, slots=True)
class QuestionPublished:
    session_id: str
    question: Question
    screened: bool  # True when it came out of the screening queue


@dataclass(frozen=True, slots=True)
class QuestionDismissed:
    session_id: str
    question: Question
    previous: QuestionState  # screening: members never saw it

    @property
    def was_public(self) -> bool:
        return self.previous is not QuestionState.SCREENING


@dataclass(frozen=True, slots=True)
class QuestionAnswering:
    session_id: str
    question: Question
    previous: Question | None  # the question answered before, back to published


@dataclass(frozen=True, slots=True)
class QuestionAnswered:
    session_id: str
    question: Question  # with ``answer`` when answered in text


@dataclass(frozen=True, slots=True)
class QuestionPinned:
    session_id: str
    question: Question


@dataclass(frozen=True, slots=True)
class QuestionReopened:
    session_id: str
    question: Question


@dataclass(frozen=True, slots=True)
class VoteCast:
    session_id: str
    question_id: str
    votes: int


@dataclass(frozen=True, slots=True)
class VoteWithdrawn:
    session_id: str
    question_id: str
    votes: int


BoardEvent = (
    SessionCreated
    | SessionStarted
    | SessionEnded
    | StageChanged
    | QuestionSubmitted
    | QuestionPublished
    | QuestionDismissed
    | QuestionAnswering
    | QuestionAnswered
    | QuestionPinned
    | QuestionReopened
)
VoteEvent = VoteCast | VoteWithdrawn
