"""What clients see: wire events, board views, sorting, and the transcript.

Anonymity lives here: ``question_view`` never carries the asker of an anonymous question, and
the transcript names no asker at all. Only ``trace_view`` (moderators and admins, audited by
the server) returns who asked.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

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
from rooms.qa.model import ON_BOARD, Answer, Person, Question, QuestionState, Session

HOST_BADGE = "verified_professional"


class Audience(StrEnum):
    BOARD = "board"  # everyone who may see the room's Q&A board
    SCREENING = "screening"  # moderators, admins and hosts


class Order(StrEnum):
    POPULAR = "popular"
    RECENT = "recent"


def ms(ts: float | None) -> int | None:
    return None if ts is None else int(ts * 1000)


def _drop_none(d: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if v is not None}


def person_view(person: Person, **extra: Any) -> dict[str, Any]:
    return {"user": person.user, "name": person.name, **extra}


def session_view(session: Session) -> dict[str, Any]:
    return _drop_none(
        {
            "id": session.id,
            "channel": session.board_channel,
            "room": f"{session.community}:{session.room}",
            "title": session.title,
            "state": session.state.value,
            "hosts": [person_view(p, badge=HOST_BADGE) for p in session.hosts],
            "cohosts": [person_view(p, role="moderator") for p in session.cohosts],
            "scheduled_at": ms(session.scheduled_at),
            "started_at": ms(session.started_at),
            "ended_at": ms(session.ended_at),
            "stage": session.stage,
            "premoderation": session.premoderation,
            "question_interval": session.question_interval,
            "answering": session.answering,
            "version": session.version,
        }
    )


def answer_view(answer: Answer) -> dict[str, Any]:
    out: dict[str, Any] = {
        "text": answer.text,
        "by": person_view(answer.by, badge=HOST_BADGE),
        "at": ms(answer.at),
        "notice": answer.notice,
    }
    if answer.redacted:
        out["redacted"] = list(answer.redacted)
    return out


def question_view(question: Question, votes: int | None = None) -> dict[str, Any]:
    """A question as members, hosts and the screening feed see it. An anonymous question
    carries no asker at all; ``votes`` is included only when given (live events leave it out:
    counts come from ``qa.votes``)."""
    out: dict[str, Any] = {
        "id": question.id,
        "number": question.number,
        "text": question.text,
        "state": question.state.value,
        "anonymous": question.anonymous,
        "pinned": question.pinned,
        "asked_at": ms(question.asked_at),
    }
    if not question.anonymous:
        out["asker"] = {"user": question.asker, "name": question.asker_name}
    if question.redacted:
        out["redacted"] = list(question.redacted)
    if question.published_at is not None:
        out["published_at"] = ms(question.published_at)
    if question.answered_at is not None:
        out["answered_at"] = ms(question.answered_at)
    if question.answer is not None:
        out["answer"] = answer_view(question.answer)
    if votes is not None:
        out["votes"] = votes
    return out


def trace_view(question: Question) -> dict[str, Any]:
    """Who asked: for moderators and admins only (the server audits every call)."""
    return {
        "question": question.id,
        "number": question.number,
        "user": question.asker,
        "name": question.asker_name,
        "anonymous": question.anonymous,
    }


def event_views(event: BoardEvent) -> list[tuple[Audience, dict[str, Any]]]:
    """The wire events for one domain event, with who may see each."""
    board = Audience.BOARD
    if isinstance(event, (SessionCreated, SessionStarted, SessionEnded, StageChanged)):
        kind = {
            SessionCreated: "qa.session.created",
            SessionStarted: "qa.session.started",
            SessionEnded: "qa.session.ended",
            StageChanged: "qa.session.stage",
        }[type(event)]
        return [(board, {"type": kind, "session": session_view(event.session)})]
    if isinstance(event, QuestionSubmitted):
        return [(Audience.SCREENING, _qevent("qa.question.submitted", event.session_id, event.question))]
    if isinstance(event, QuestionPublished):
        out = [(board, _qevent("qa.question.published", event.session_id, event.question))]
        if event.screened:
            out.append((Audience.SCREENING, _qevent("qa.question.screened", event.session_id, event.question, decision="published")))
        return out
    if isinstance(event, QuestionDismissed):
        if event.was_public:
            return [(board, _qevent("qa.question.dismissed", event.session_id, event.question))]
        return [(Audience.SCREENING, _qevent("qa.question.screened", event.session_id, event.question, decision="dismissed"))]
    if isinstance(event, QuestionAnswering):
        body = _qevent("qa.question.answering", event.session_id, event.question)
        if event.previous is not None:
            body["previous"] = question_view(event.previous)
        return [(board, body)]
    kinds = {
        QuestionAnswered: "qa.question.answered",
        QuestionPinned: "qa.question.pinned",
        QuestionReopened: "qa.question.reopened",
    }
    return [(board, _qevent(kinds[type(event)], event.session_id, event.question))]


def _qevent(kind: str, session_id: str, question: Question, **extra: Any) -> dict[str, Any]:
    return {"type": kind, "session": session_id, "question": question_view(question), **extra}


def sort_questions(questions: Iterable[Question], order: Order, votes: Mapping[str, int]) -> list[Question]:
    """The one being answered first, then pinned ones, then by votes (ties: asked earlier
    first) or by recency (newest first)."""

    def key(q: Question) -> tuple[int, int, int, int]:
        answering = 0 if q.state is QuestionState.ANSWERING else 1
        pinned = 0 if q.pinned else 1
        if order is Order.POPULAR:
            return (answering, pinned, -votes.get(q.id, 0), q.number)
        return (answering, pinned, -q.number, 0)

    return sorted(questions, key=key)


# ---------------------------------------------------------------- transcript


def transcript(session: Session, questions: Iterable[Question], votes: Mapping[str, int]) -> dict[str, Any]:
    """Questions that reached the board, their answers and votes, in the order asked.
    No asker is named, anonymous or not."""
    items = []
    for q in sorted((q for q in questions if q.state in ON_BOARD), key=lambda q: q.number):
        item: dict[str, Any] = {
            "number": q.number,
            "text": q.text,
            "state": q.state.value,
            "votes": votes.get(q.id, 0),
            "asked_at": ms(q.asked_at),
        }
        if q.redacted:
            item["redacted"] = list(q.redacted)
        if q.answer is not None:
            item["answer"] = answer_view(q.answer)
        items.append(item)
    view = session_view(session)
    for key in ("answering", "version", "stage", "question_interval", "premoderation"):
        view.pop(key, None)
    return {"session": view, "questions": items}


def _when(value_ms: int | None) -> str:
    if value_ms is None:
        return "-"
    return datetime.fromtimestamp(value_ms / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M UTC")


def _quote(text: str) -> str:
    return "\n".join("> " + line if line else ">" for line in text.splitlines())


def transcript_markdown(data: dict[str, Any]) -> str:
    """Render ``transcript(...)`` as Markdown."""
    s = data["session"]
    hosts = ", ".join(f"{h['name']} (verified professional)" for h in s["hosts"])
    lines = [
        f"# Q&A: {s['title']}",
        "",
        f"- Room: {s['room']}",
        f"- Hosts: {hosts}",
    ]
    if s["cohosts"]:
        lines.append("- Co-hosts: " + ", ".join(c["name"] for c in s["cohosts"]))
    lines += [
        f"- Started: {_when(s.get('started_at'))}",
        f"- Ended: {_when(s.get('ended_at'))}",
        f"- Questions: {len(data['questions'])}",
        "",
        "Askers are not named. Answers are general information, not medical advice.",
    ]
    for q in data["questions"]:
        votes = q["votes"]
        lines += [
            "",
            f"## Question {q['number']} · {votes} vote{'s' if votes != 1 else ''} · {q['state']}",
            "",
            _quote(q["text"]),
        ]
        answer = q.get("answer")
        if answer:
            lines += [
                "",
                f"**Answer from {answer['by']['name']}** (verified professional, {_when(answer['at'])}):",
                "",
                answer["text"],
                "",
                f"_{answer['notice']}_",
            ]
    return "\n".join(lines) + "\n"
