"""Sessions and questions as stored in Redis: plain dicts packed with msgpack.

Askers of anonymous questions are stored (moderators may trace them) but never leave the
server except through ``qa.trace``.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Any

import msgpack

from rooms.qa.model import Answer, Person, Question, QuestionState, Session, SessionState


def _people(people: tuple[Person, ...]) -> list[list[str]]:
    return [[p.user, p.name] for p in people]


def _persons(raw: list[list[str]]) -> tuple[Person, ...]:
    return tuple(Person(u, n) for u, n in raw)


def pack_session(s: Session) -> bytes:
    return msgpack.packb(
        {
            "id": s.id,
            "community": s.community,
            "room": s.room,
            "title": s.title,
            "state": s.state.value,
            "created_at": s.created_at,
            "created_by": s.created_by,
            "hosts": _people(s.hosts),
            "cohosts": _people(s.cohosts),
            "scheduled_at": s.scheduled_at,
            "started_at": s.started_at,
            "ended_at": s.ended_at,
            "stage": s.stage,
            "premoderation": s.premoderation,
            "question_interval": s.question_interval,
            "answering": s.answering,
            "asked": s.asked,
            "version": s.version,
            "last_asked": dict(s.last_asked),
        },
        use_bin_type=True,
    )


def unpack_session(blob: bytes) -> Session:
    d: dict[str, Any] = msgpack.unpackb(blob, raw=False)
    return Session(
        id=d["id"],
        community=d["community"],
        room=d["room"],
        title=d["title"],
        state=SessionState(d["state"]),
        created_at=d["created_at"],
        created_by=d["created_by"],
        hosts=_persons(d["hosts"]),
        cohosts=_persons(d["cohosts"]),
        scheduled_at=d["scheduled_at"],
        started_at=d["started_at"],
        ended_at=d["ended_at"],
        stage=d["stage"],
        premoderation=d["premoderation"],
        question_interval=d["question_interval"],
        answering=d["answering"],
        asked=d["asked"],
        version=d["version"],
        last_asked=MappingProxyType(dict(d["last_asked"])),
    )


def pack_question(q: Question) -> bytes:
    answer = None
    if q.answer is not None:
        a = q.answer
        answer = {"text": a.text, "by": [a.by.user, a.by.name], "at": a.at, "redacted": list(a.redacted), "notice": a.notice}
    return msgpack.packb(
        {
            "id": q.id,
            "number": q.number,
            "text": q.text,
            "asker": q.asker,
            "asker_name": q.asker_name,
            "anonymous": q.anonymous,
            "asked_at": q.asked_at,
            "state": q.state.value,
            "pinned": q.pinned,
            "redacted": list(q.redacted),
            "published_at": q.published_at,
            "answered_at": q.answered_at,
            "answer": answer,
        },
        use_bin_type=True,
    )


def unpack_question(blob: bytes, votes: int = 0) -> Question:
    d: dict[str, Any] = msgpack.unpackb(blob, raw=False)
    answer = None
    if d.get("answer"):
        a = d["answer"]
        answer = Answer(text=a["text"], by=Person(*a["by"]), at=a["at"], redacted=tuple(a["redacted"]), notice=a["notice"])
    return Question(
        id=d["id"],
        number=d["number"],
        text=d["text"],
        asker=d["asker"],
        asker_name=d["asker_name"],
        anonymous=d["anonymous"],
        asked_at=d["asked_at"],
        state=QuestionState(d["state"]),
        pinned=d["pinned"],
        votes=votes,
        redacted=tuple(d["redacted"]),
        published_at=d["published_at"],
        answered_at=d["answered_at"],
        answer=answer,
    )
