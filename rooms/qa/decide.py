"""``decide``: a command against a board at ``now`` -> the new board and its events, or Denied.

Pure: no clock, no I/O. A command that changes nothing returns the same board and no events
(so retries are harmless). Every change bumps ``session.version``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from types import MappingProxyType
from typing import Any

from rooms.model import Role
from rooms.policy import Denied
from rooms.qa.commands import (
    AnswerQuestion,
    AskQuestion,
    BoardCommand,
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
)
from rooms.qa.events import (
    BoardEvent,
    QuestionAnswered,
    QuestionAnswering,
    QuestionDismissed,
    QuestionPinned,
    QuestionPublished,
    QuestionReopened,
    QuestionSubmitted,
    SessionCreated,
    SessionEnded,
    SessionStarted,
    StageChanged,
)
from rooms.qa.model import (
    BAD_REQUEST,
    CONFLICT,
    ON_BOARD,
    PERMISSION_DENIED,
    TOO_SOON,
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


@dataclass(frozen=True, slots=True)
class Decision:
    board: Board
    events: tuple[BoardEvent, ...] = ()

    @property
    def changed(self) -> bool:
        return bool(self.events)


def may_run(session: Session, actor: Actor) -> Denied | None:
    """Session actions (start, end, stage, screening, answers): its hosts, and the
    community's moderators and admins (co-hosts)."""
    if actor.role.is_staff:
        return None
    if actor.role is Role.HOST and session.is_host(actor.user):
        return None
    return Denied(PERMISSION_DENIED, "only this session's hosts and the community's moderators")


def may_trace(actor: Actor) -> Denied | None:
    """Who may see an anonymous question's asker: moderators and admins, never hosts."""
    if actor.role.is_staff:
        return None
    return Denied(PERMISSION_DENIED, "only moderators and admins may trace an anonymous question")


def may_post_in_stage(role: Role) -> bool:
    """In stage mode only hosts, moderators and admins post in the room."""
    return role is Role.HOST or role.is_staff


def _people(people: tuple[Person, ...], limit: int, what: str) -> tuple[Person, ...] | Denied:
    seen: dict[str, Person] = {}
    for person in people:
        if not person.user or len(person.user) > 128 or len(person.name) > 100:
            return Denied(BAD_REQUEST, f"each of {what} needs a user id (1-128 characters) and a name (up to 100)")
        seen.setdefault(person.user, person)
    if len(seen) > limit:
        return Denied(BAD_REQUEST, f"at most {limit} {what}")
    return tuple(seen.values())


def create_session(cmd: CreateSession, settings: Settings, now: float) -> Decision | Denied:
    actor = cmd.actor
    if not (actor.role is Role.HOST or actor.role.is_staff):
        return Denied(PERMISSION_DENIED, "only hosts, moderators and admins create Q&A sessions")
    title = cmd.title.strip()
    if not title or len(title) > settings.max_title_length:
        return Denied(BAD_REQUEST, f"title must be 1-{settings.max_title_length} characters")
    hosts_in = cmd.hosts
    if actor.role is Role.HOST:
        hosts_in = (Person(actor.user, actor.name), *hosts_in)
    hosts = _people(hosts_in, settings.max_people, "hosts")
    if isinstance(hosts, Denied):
        return hosts
    if not hosts:
        return Denied(BAD_REQUEST, "a session needs at least one host (hosts: [{user, name}])")
    cohosts = _people(cmd.cohosts, settings.max_people, "co-hosts")
    if isinstance(cohosts, Denied):
        return cohosts
    if cmd.scheduled_at is not None and cmd.scheduled_at < 0:
        return Denied(BAD_REQUEST, "scheduled_at must be a unix time in seconds")
    interval = settings.question_interval if cmd.question_interval is None else cmd.question_interval
    if not 0 <= interval <= 24 * 3600:
        return Denied(BAD_REQUEST, "question_interval must be between 0 and 86400 seconds")
    session = Session(
        id=cmd.session_id,
        community=cmd.community,
        room=cmd.room,
        title=title,
        state=SessionState.SCHEDULED,
        created_at=now,
        created_by=actor.user,
        hosts=hosts,
        cohosts=cohosts,
        scheduled_at=cmd.scheduled_at,
        premoderation=settings.premoderation if cmd.premoderation is None else cmd.premoderation,
        question_interval=interval,
        version=1,
    )
    return Decision(Board(session), (SessionCreated(session),))


def decide(board: Board, cmd: BoardCommand, settings: Settings, now: float) -> Decision | Denied:
    handler = _HANDLERS.get(type(cmd))
    if handler is None:
        return Denied(BAD_REQUEST, f"unknown command {type(cmd).__name__}")
    return handler(board, cmd, settings, now)


# ---------------------------------------------------------------- helpers


def _bump(board: Board, session: Session) -> Board:
    return replace(board, session=replace(session, version=board.session.version + 1))


def _question(board: Board, question_id: str) -> Question | Denied:
    question = board.question(question_id)
    if question is None:
        return Denied(BAD_REQUEST, f"no question {question_id} in session {board.session.id}")
    return question


def _conflict(question: Question, action: str) -> Denied:
    return Denied(CONFLICT, f"cannot {action} question {question.id}: it is {question.state.value}")


def _guarded(board: Board, actor: Actor, question_id: str) -> Question | Denied:
    denied = may_run(board.session, actor)
    if denied:
        return denied
    return _question(board, question_id)


def _clear_answering(session: Session, question_id: str) -> Session:
    return replace(session, answering=None) if session.answering == question_id else session


# ---------------------------------------------------------------- session commands


def _start(board: Board, cmd: StartSession, settings: Settings, now: float) -> Decision | Denied:
    session = board.session
    denied = may_run(session, cmd.actor)
    if denied:
        return denied
    if session.state is SessionState.LIVE:
        return Decision(board)
    if session.state is SessionState.ENDED:
        return Denied(CONFLICT, "the session has ended; create a new one")
    if board.live_session not in (None, session.id):
        return Denied(CONFLICT, f"another session ({board.live_session}) is live in this room; end it first")
    started = replace(session, state=SessionState.LIVE, started_at=now)
    new = replace(_bump(board, started), live_session=session.id)
    return Decision(new, (SessionStarted(new.session),))


def _end(board: Board, cmd: EndSession, settings: Settings, now: float) -> Decision | Denied:
    session = board.session
    denied = may_run(session, cmd.actor)
    if denied:
        return denied
    if session.state is SessionState.ENDED:
        return Decision(board)
    events: list[BoardEvent] = []
    new = board
    if session.answering:
        current = board.question(session.answering)
        if current is not None and current.state is QuestionState.ANSWERING:
            reopened = current.moved(QuestionState.PUBLISHED)
            new = new.with_question(reopened)
            events.append(QuestionReopened(session.id, reopened))
    ended = replace(session, state=SessionState.ENDED, ended_at=now, stage=False, answering=None)
    new = replace(_bump(new, ended), live_session=None if board.live_session == session.id else board.live_session)
    events.append(SessionEnded(new.session))
    return Decision(new, tuple(events))


def _stage(board: Board, cmd: SetStage, settings: Settings, now: float) -> Decision | Denied:
    session = board.session
    denied = may_run(session, cmd.actor)
    if denied:
        return denied
    if session.stage == cmd.on:
        return Decision(board)
    if cmd.on and session.state is not SessionState.LIVE:
        return Denied(CONFLICT, f"stage mode needs a live session; this one is {session.state.value}")
    new = _bump(board, replace(session, stage=cmd.on))
    return Decision(new, (StageChanged(new.session),))


# ---------------------------------------------------------------- questions


def next_question_at(session: Session, actor: Actor) -> float | None:
    """When ``actor`` may ask again (None: now). Staff are not limited."""
    if actor.role.is_staff:
        return None
    last = session.last_asked.get(actor.user)
    if last is None:
        return None
    allowed = last + session.question_interval
    return allowed


def _ask(board: Board, cmd: AskQuestion, settings: Settings, now: float) -> Decision | Denied:
    session = board.session
    if session.state is SessionState.ENDED:
        return Denied(CONFLICT, "the session has ended; questions are closed")
    allowed = None if cmd.reviewed else next_question_at(session, cmd.actor)
    if allowed is not None and now < allowed:
        wait = max(1, int(allowed - now + 0.999))
        return Denied(TOO_SOON, f"one question every {session.question_interval:g} s: next question in {wait} s")
    text = cmd.text.strip()
    if not text or len(text) > settings.max_question_length:
        return Denied(BAD_REQUEST, f"a question has 1-{settings.max_question_length} characters")
    if cmd.question_id in board.questions:
        return Denied(CONFLICT, f"question {cmd.question_id} exists")
    if session.asked >= settings.max_questions:
        return Denied(CONFLICT, f"this session has reached its limit of {settings.max_questions} questions")
    screening = session.premoderation and not cmd.reviewed
    question = Question(
        id=cmd.question_id,
        number=session.asked + 1,
        text=text,
        asker=cmd.actor.user,
        asker_name=cmd.actor.name,
        anonymous=cmd.anonymous,
        asked_at=now,
        state=QuestionState.SCREENING if screening else QuestionState.PUBLISHED,
        redacted=cmd.redacted,
        published_at=None if screening else now,
    )
    last_asked = dict(session.last_asked)
    last_asked[cmd.actor.user] = now
    new_session = replace(session, asked=session.asked + 1, last_asked=MappingProxyType(last_asked))
    new = _bump(board, new_session).with_question(question)
    event: BoardEvent = (
        QuestionSubmitted(session.id, question)
        if screening
        else QuestionPublished(session.id, question, screened=False)
    )
    return Decision(new, (event,))


def _screen(board: Board, cmd: ScreenQuestion, settings: Settings, now: float) -> Decision | Denied:
    question = _guarded(board, cmd.actor, cmd.question_id)
    if isinstance(question, Denied):
        return question
    if question.state is not QuestionState.SCREENING:
        if (cmd.publish and question.state in ON_BOARD) or (
            not cmd.publish and question.state is QuestionState.DISMISSED
        ):
            return Decision(board)  # already decided the same way
        return _conflict(question, "screen")
    if cmd.publish:
        moved = question.moved(QuestionState.PUBLISHED, published_at=now)
        new = _bump(board, board.session).with_question(moved)
        return Decision(new, (QuestionPublished(board.session.id, moved, screened=True),))
    moved = question.moved(QuestionState.DISMISSED)
    new = _bump(board, board.session).with_question(moved)
    return Decision(new, (QuestionDismissed(board.session.id, moved, QuestionState.SCREENING),))


def _answering(board: Board, cmd: MarkAnswering, settings: Settings, now: float) -> Decision | Denied:
    question = _guarded(board, cmd.actor, cmd.question_id)
    if isinstance(question, Denied):
        return question
    session = board.session
    if session.state is not SessionState.LIVE:
        return Denied(CONFLICT, f"answering now needs a live session; this one is {session.state.value}")
    if question.state is QuestionState.ANSWERING:
        return Decision(board)
    if question.state is not QuestionState.PUBLISHED:
        return _conflict(question, "answer now")
    new = board
    previous: Question | None = None
    if session.answering and session.answering != question.id:
        current = board.question(session.answering)
        if current is not None and current.state is QuestionState.ANSWERING:
            previous = current.moved(QuestionState.PUBLISHED)
            new = new.with_question(previous)
    moved = question.moved(QuestionState.ANSWERING)
    new = _bump(new, replace(session, answering=question.id)).with_question(moved)
    return Decision(new, (QuestionAnswering(session.id, moved, previous),))


def _answer(board: Board, cmd: AnswerQuestion, settings: Settings, now: float) -> Decision | Denied:
    question = _guarded(board, cmd.actor, cmd.question_id)
    if isinstance(question, Denied):
        return question
    if board.session.state is SessionState.SCHEDULED:
        return Denied(CONFLICT, "the session has not started")
    if question.state not in ON_BOARD:
        return _conflict(question, "answer")
    text = cmd.text.strip()
    if not text or len(text) > settings.max_answer_length:
        return Denied(BAD_REQUEST, f"an answer has 1-{settings.max_answer_length} characters")
    answer = Answer(text=text, by=Person(cmd.actor.user, cmd.actor.name), at=now, redacted=cmd.redacted)
    moved = question.moved(QuestionState.ANSWERED, answered_at=now, answer=answer)
    session = _clear_answering(board.session, question.id)
    new = _bump(board, session).with_question(moved)
    return Decision(new, (QuestionAnswered(board.session.id, moved),))


def _answered(board: Board, cmd: MarkAnswered, settings: Settings, now: float) -> Decision | Denied:
    question = _guarded(board, cmd.actor, cmd.question_id)
    if isinstance(question, Denied):
        return question
    if question.state is QuestionState.ANSWERED:
        return Decision(board)
    if question.state not in (QuestionState.PUBLISHED, QuestionState.ANSWERING):
        return _conflict(question, "mark answered")
    moved = question.moved(QuestionState.ANSWERED, answered_at=now)
    session = _clear_answering(board.session, question.id)
    new = _bump(board, session).with_question(moved)
    return Decision(new, (QuestionAnswered(board.session.id, moved),))


def _dismiss(board: Board, cmd: DismissQuestion, settings: Settings, now: float) -> Decision | Denied:
    question = _guarded(board, cmd.actor, cmd.question_id)
    if isinstance(question, Denied):
        return question
    if question.state is QuestionState.DISMISSED:
        return Decision(board)
    moved = question.moved(QuestionState.DISMISSED)
    session = _clear_answering(board.session, question.id)
    new = _bump(board, session).with_question(moved)
    return Decision(new, (QuestionDismissed(board.session.id, moved, question.state),))


def _pin(board: Board, cmd: PinQuestion, settings: Settings, now: float) -> Decision | Denied:
    question = _guarded(board, cmd.actor, cmd.question_id)
    if isinstance(question, Denied):
        return question
    if question.state not in ON_BOARD:
        return _conflict(question, "pin")
    if question.pinned == cmd.pinned:
        return Decision(board)
    moved = replace(question, pinned=cmd.pinned)
    new = _bump(board, board.session).with_question(moved)
    return Decision(new, (QuestionPinned(board.session.id, moved),))


def _reopen(board: Board, cmd: ReopenQuestion, settings: Settings, now: float) -> Decision | Denied:
    question = _guarded(board, cmd.actor, cmd.question_id)
    if isinstance(question, Denied):
        return question
    if question.state is QuestionState.PUBLISHED:
        return Decision(board)
    if question.state not in (QuestionState.ANSWERED, QuestionState.DISMISSED):
        return _conflict(question, "reopen")
    moved = question.moved(QuestionState.PUBLISHED, published_at=question.published_at or now)
    new = _bump(board, board.session).with_question(moved)
    return Decision(new, (QuestionReopened(board.session.id, moved),))


_HANDLERS: dict[type, Callable[[Board, Any, Settings, float], Decision | Denied]] = {
    StartSession: _start,
    EndSession: _end,
    SetStage: _stage,
    AskQuestion: _ask,
    ScreenQuestion: _screen,
    MarkAnswering: _answering,
    AnswerQuestion: _answer,
    MarkAnswered: _answered,
    DismissQuestion: _dismiss,
    PinQuestion: _pin,
    ReopenQuestion: _reopen,
}
