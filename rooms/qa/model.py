"""Plain data of a live Q&A: sessions, questions, answers, and the board that holds them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from types import MappingProxyType

from rooms.model import Role
from rooms.policy import BAD_REQUEST as BAD_REQUEST  # refusal codes, defined once there
from rooms.policy import PERMISSION_DENIED as PERMISSION_DENIED

# The marker every text answer carries (shown by clients next to the answer).
ANSWER_NOTICE = "General information, not medical advice."

# Codes for refusals; they double as protocol error codes (docs/protocol.md).
TOO_SOON = 1101  # one question per interval per member: the reason says when the next is allowed
CONFLICT = 1102  # the session or question is not in a state that allows this action


class SessionState(StrEnum):
    SCHEDULED = "scheduled"
    LIVE = "live"
    ENDED = "ended"


class QuestionState(StrEnum):
    SCREENING = "screening"  # waiting for a moderator or host (pre-moderation)
    PUBLISHED = "published"  # on the board, open for votes
    ANSWERING = "answering"  # the host is answering it now (one at a time per session)
    ANSWERED = "answered"
    DISMISSED = "dismissed"


# States in which a question is on the board members see.
ON_BOARD = frozenset({QuestionState.PUBLISHED, QuestionState.ANSWERING, QuestionState.ANSWERED})
# States in which members may vote for a question.
VOTABLE = frozenset({QuestionState.PUBLISHED, QuestionState.ANSWERING})


@dataclass(frozen=True, slots=True)
class Person:
    """Someone shown by name on the board: a host (verified professional) or a co-host."""

    user: str
    name: str


@dataclass(frozen=True, slots=True)
class Actor:
    """Who issues a command: from the verified token, ``role`` in the session's community."""

    user: str
    name: str
    role: Role


@dataclass(frozen=True, slots=True)
class Settings:
    """Defaults for new sessions and limits (the server's ``[qa]`` config section)."""

    question_interval: float = 60.0  # seconds between two questions of one member
    premoderation: bool = True  # questions wait in screening until published
    max_question_length: int = 1000
    max_answer_length: int = 4000
    max_title_length: int = 200
    max_questions: int = 2000  # per session
    max_people: int = 20  # hosts and co-hosts each

    def __post_init__(self) -> None:
        if not 0 <= self.question_interval <= 24 * 3600:
            raise ValueError("question_interval must be between 0 and 86400 seconds")
        for name in ("max_question_length", "max_answer_length", "max_title_length", "max_questions", "max_people"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1")


@dataclass(frozen=True, slots=True)
class Answer:
    text: str
    by: Person
    at: float
    redacted: tuple[str, ...] = ()
    notice: str = ANSWER_NOTICE


@dataclass(frozen=True, slots=True)
class Question:
    id: str
    number: int  # 1, 2, ... in order of asking within the session
    text: str
    asker: str  # user id: never shown for anonymous questions (see rooms.qa.views)
    asker_name: str
    anonymous: bool
    asked_at: float
    state: QuestionState
    pinned: bool = False
    votes: int = 0
    redacted: tuple[str, ...] = ()  # what moderation hid from the text, e.g. ("phone",)
    published_at: float | None = None
    answered_at: float | None = None
    answer: Answer | None = None

    def moved(self, state: QuestionState, **changes: object) -> Question:
        return replace(self, state=state, **changes)  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True)
class Session:
    id: str
    community: str
    room: str
    title: str
    state: SessionState
    created_at: float
    created_by: str
    hosts: tuple[Person, ...]
    cohosts: tuple[Person, ...] = ()  # co-hosting moderators
    scheduled_at: float | None = None
    started_at: float | None = None
    ended_at: float | None = None
    stage: bool = False  # only hosts and moderators post in the room; members ask on the board
    premoderation: bool = True
    question_interval: float = 60.0
    answering: str | None = None  # id of the question being answered now
    asked: int = 0  # questions asked so far (numbers them)
    version: int = 0  # bumped by every change; storage compares it on write
    last_asked: Mapping[str, float] = field(default_factory=lambda: MappingProxyType({}))

    @property
    def board_channel(self) -> str:
        return f"{self.community}:{self.room}/qa"

    def is_host(self, user: str) -> bool:
        return any(p.user == user for p in self.hosts)


@dataclass(frozen=True, slots=True)
class Board:
    """One session and its questions: the state every command is decided against."""

    session: Session
    questions: Mapping[str, Question] = field(default_factory=lambda: MappingProxyType({}))
    live_session: str | None = None  # the room's live session, if any (one at a time)

    def question(self, question_id: str) -> Question | None:
        return self.questions.get(question_id)

    def with_question(self, question: Question) -> Board:
        questions = dict(self.questions)
        questions[question.id] = question
        return replace(self, questions=MappingProxyType(questions))
