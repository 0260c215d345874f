"""Commands (imperative names): what an actor asks the Q&A to do. Checked by ``decide``."""

from __future__ import annotations

from dataclasses import dataclass

from rooms.qa.model import Actor, Person


@dataclass(frozen=True, slots=True)
class CreateSession:
    actor: Actor
    session_id: str
    community: str
    room: str
    title: str
    hosts: tuple[Person, ...] = ()  # a host who creates the session is added to these
    cohosts: tuple[Person, ...] = ()
    scheduled_at: float | None = None
    premoderation: bool | None = None  # None: the server default
    question_interval: float | None = None  # None: the server default


@dataclass(frozen=True, slots=True)
class StartSession:
    actor: Actor


@dataclass(frozen=True, slots=True)
class EndSession:
    actor: Actor


@dataclass(frozen=True, slots=True)
class SetStage:
    actor: Actor
    on: bool


@dataclass(frozen=True, slots=True)
class AskQuestion:
    """``text`` has passed moderation already; ``redacted`` lists what moderation hid.
    ``reviewed``: a moderator approved it from the hold queue, so it skips screening and the
    question interval (which was checked when it was asked)."""

    actor: Actor
    question_id: str
    text: str
    anonymous: bool = False
    redacted: tuple[str, ...] = ()
    reviewed: bool = False


@dataclass(frozen=True, slots=True)
class ScreenQuestion:
    actor: Actor
    question_id: str
    publish: bool  # True: onto the board; False: dismissed


@dataclass(frozen=True, slots=True)
class MarkAnswering:
    actor: Actor
    question_id: str


@dataclass(frozen=True, slots=True)
class AnswerQuestion:
    """A text answer (moderated already); the question becomes answered."""

    actor: Actor
    question_id: str
    text: str
    redacted: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class MarkAnswered:
    actor: Actor
    question_id: str


@dataclass(frozen=True, slots=True)
class DismissQuestion:
    actor: Actor
    question_id: str


@dataclass(frozen=True, slots=True)
class PinQuestion:
    actor: Actor
    question_id: str
    pinned: bool = True


@dataclass(frozen=True, slots=True)
class ReopenQuestion:
    actor: Actor
    question_id: str


@dataclass(frozen=True, slots=True)
class CastVote:
    actor: Actor
    question_id: str


@dataclass(frozen=True, slots=True)
class WithdrawVote:
    actor: Actor
    question_id: str


BoardCommand = (
    StartSession
    | EndSession
    | SetStage
    | AskQuestion
    | ScreenQuestion
    | MarkAnswering
    | AnswerQuestion
    | MarkAnswered
    | DismissQuestion
    | PinQuestion
    | ReopenQuestion
)
VoteCommand = CastVote | WithdrawVote
