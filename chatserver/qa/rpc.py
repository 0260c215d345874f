"""The ``qa.*`` RPC methods: parse and check input, then hand over to the service.

Every method takes ``channel`` (the board ``<community>:<room>/qa``; the room channel is
accepted too) and, where it acts on a session, ``session`` (default: the room's live
session, else its newest scheduled one). Errors: 102 unknown board, 103 not allowed,
107 bad input, 1001 moderation, 1101 question too soon, 1102 wrong state.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from chatserver.errors import ReplyError
from chatserver.posting import Held, Placed, Published, Rejected, Submission, from_sender
from chatserver.protocol import codes
from chatserver.qa.asking import ask
from chatserver.qa.service import QaService, check_id, refused
from chatserver.qa.votes import VOTABLE_STATES, VOTING_SESSIONS, VoteBatcher
from rooms.capabilities import Action
from rooms.qa import (
    Actor,
    AnswerQuestion,
    CreateSession,
    DismissQuestion,
    EndSession,
    MarkAnswered,
    MarkAnswering,
    Person,
    PinQuestion,
    ReopenQuestion,
    ScreenQuestion,
    SetStage,
    StartSession,
    may_run,
    may_trace,
)
from rooms.qa.commands import BoardCommand
from rooms.qa.model import ON_BOARD, QuestionState
from rooms.qa.views import Order, question_view, session_view, sort_questions, trace_view

if TYPE_CHECKING:
    from chatserver.connection import Connection
    from chatserver.registry import Registry

QuestionCommand = Callable[[Actor, str, dict[str, Any]], BoardCommand]


def _obj(data: Any) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise ReplyError(codes.BAD_REQUEST, 'bad request: expected an object like {"channel": "<community>:<room>/qa", ...}')
    return data


def _text(d: dict[str, Any], key: str) -> str:
    value = d.get(key)
    if not isinstance(value, str) or not value.strip():
        raise ReplyError(codes.BAD_REQUEST, f'bad request: "{key}" must be a non-empty string')
    return value.strip()


def _flag(d: dict[str, Any], key: str, default: bool | None) -> bool | None:
    value = d.get(key, default)
    if value is not None and not isinstance(value, bool):
        raise ReplyError(codes.BAD_REQUEST, f'bad request: "{key}" must be true or false')
    return value


def _number(d: dict[str, Any], key: str) -> float | None:
    value = d.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ReplyError(codes.BAD_REQUEST, f'bad request: "{key}" must be a number')
    return float(value)


def _people(d: dict[str, Any], key: str) -> tuple[Person, ...]:
    value = d.get(key, [])
    if not isinstance(value, list) or len(value) > 50:
        raise ReplyError(codes.BAD_REQUEST, f'bad request: "{key}" must be a list of {{"user": ..., "name": ...}}')
    out = []
    for item in value:
        if not isinstance(item, dict) or not isinstance(item.get("user"), str):
            raise ReplyError(codes.BAD_REQUEST, f'bad request: each of "{key}" needs "user" (and "name")')
        name = item.get("name", item["user"])
        if not isinstance(name, str):
            raise ReplyError(codes.BAD_REQUEST, f'bad request: "name" in "{key}" must be a string')
        out.append(Person(item["user"], name))
    return tuple(out)


class QaRpc:
    def __init__(self, svc: QaService, votes: VoteBatcher) -> None:
        self.svc = svc
        self.votes = votes

    def register(self, registry: Registry) -> None:
        methods: dict[str, Callable[[Connection, Any], Any]] = {
            "qa.create": self.create,
            "qa.sessions": self.sessions,
            "qa.start": self._session_action(lambda a, d: StartSession(a)),
            "qa.end": self.end,
            "qa.stage": self._session_action(lambda a, d: SetStage(a, bool(_flag(d, "on", None)) if "on" in d else _missing("on"))),
            "qa.ask": self.ask,
            "qa.vote": self.vote,
            "qa.unvote": self.unvote,
            "qa.screen": self._question_action(self._screen),
            "qa.answering": self._question_action(lambda a, q, d: MarkAnswering(a, q)),
            "qa.answer": self.answer,
            "qa.mark_answered": self._question_action(lambda a, q, d: MarkAnswered(a, q)),
            "qa.dismiss": self._question_action(lambda a, q, d: DismissQuestion(a, q)),
            "qa.pin": self._question_action(lambda a, q, d: PinQuestion(a, q, bool(_flag(d, "pinned", True)))),
            "qa.reopen": self._question_action(lambda a, q, d: ReopenQuestion(a, q)),
            "qa.board": self.board,
            "qa.trace": self.trace,
        }
        for name, handler in methods.items():
            registry.register_rpc(name, handler)

    # ------------------------------------------------------------------ sessions

    async def create(self, conn: Connection, data: Any) -> dict[str, Any]:
        d = _obj(data)
        spec, room = self.svc.board_of(d.get("channel"))
        actor = self.svc.actor(conn, spec, Action.RUN_QA)
        scheduled = _number(d, "scheduled_at")
        cmd = CreateSession(
            actor=actor,
            session_id=self.svc.new_id(8),
            community=room.community,
            room=room.name,
            title=_text(d, "title"),
            hosts=_people(d, "hosts"),
            cohosts=_people(d, "cohosts"),
            scheduled_at=None if scheduled is None else scheduled / 1000,
            premoderation=_flag(d, "premoderation", None),
            question_interval=_number(d, "question_interval"),
        )
        board = await self.svc.create(spec, cmd)
        return {"session": session_view(board.session)}

    async def sessions(self, conn: Connection, data: Any) -> dict[str, Any]:
        d = _obj(data)
        spec, _ = self.svc.board_of(d.get("channel"))
        self.svc.actor(conn, spec)
        sessions = await self.svc.store.sessions(spec.name)
        return {"sessions": [session_view(s) for s in sessions]}

    def _session_action(self, build: Callable[[Actor, dict[str, Any]], BoardCommand]) -> Callable[[Connection, Any], Any]:
        async def handler(conn: Connection, data: Any) -> dict[str, Any]:
            d = _obj(data)
            spec, _ = self.svc.board_of(d.get("channel"))
            actor = self.svc.actor(conn, spec, Action.RUN_QA)
            sid = await self.svc.session_id(spec.name, d.get("session"))
            cmd = build(actor, d)
            board, _ = await self.svc.run(spec.name, sid, lambda b: cmd)
            return {"session": session_view(board.session)}

        return handler

    async def end(self, conn: Connection, data: Any) -> dict[str, Any]:
        d = _obj(data)
        spec, _ = self.svc.board_of(d.get("channel"))
        actor = self.svc.actor(conn, spec, Action.RUN_QA)
        sid = await self.svc.session_id(spec.name, d.get("session"))
        session = await self.svc.session(spec.name, sid)
        denied = may_run(session, actor)
        if denied:
            raise refused(denied)
        # Final counts reach the board before the end event.
        await self.votes.flush_now(spec.name, sid)
        board, _ = await self.svc.run(spec.name, sid, lambda b: EndSession(actor))
        return {"session": session_view(board.session)}

    # ------------------------------------------------------------------ questions

    async def ask(self, conn: Connection, data: Any) -> dict[str, Any]:
        d = _obj(data)
        spec, room = self.svc.board_of(d.get("channel"))
        actor = self.svc.actor(conn, spec, Action.ASK)
        text = _text(d, "text")
        limit = self.svc.rules.max_question_length
        if len(text) > limit:
            raise ReplyError(codes.BAD_REQUEST, f"bad request: a question has at most {limit} characters (this one has {len(text)})")
        anonymous = bool(_flag(d, "anonymous", False))
        sid = await self.svc.session_id(spec.name, d.get("session"))
        return await ask(self.svc, conn, spec.name, room, actor, sid, text, anonymous)

    @staticmethod
    def _screen(actor: Actor, qid: str, d: dict[str, Any]) -> BoardCommand:
        action = d.get("action")
        if action not in ("publish", "dismiss"):
            raise ReplyError(codes.BAD_REQUEST, 'bad request: "action" must be "publish" or "dismiss"')
        return ScreenQuestion(actor, qid, action == "publish")

    def _question_action(self, build: QuestionCommand) -> Callable[[Connection, Any], Any]:
        async def handler(conn: Connection, data: Any) -> dict[str, Any]:
            d = _obj(data)
            spec, _ = self.svc.board_of(d.get("channel"))
            actor = self.svc.actor(conn, spec, Action.RUN_QA)
            sid = await self.svc.session_id(spec.name, d.get("session"))
            qid = check_id(d.get("question"), "question")
            cmd = build(actor, qid, d)
            board, _ = await self.svc.run(spec.name, sid, lambda b: cmd)
            return {"session": sid, "question": question_view(board.questions[qid])}

        return handler

    async def answer(self, conn: Connection, data: Any) -> dict[str, Any]:
        d = _obj(data)
        spec, room = self.svc.board_of(d.get("channel"))
        actor = self.svc.actor(conn, spec, Action.RUN_QA)
        sid = await self.svc.session_id(spec.name, d.get("session"))
        qid = check_id(d.get("question"), "question")
        text = _text(d, "text")
        limit = self.svc.rules.max_answer_length
        if len(text) > limit:
            raise ReplyError(codes.BAD_REQUEST, f"bad request: an answer has at most {limit} characters")
        session = await self.svc.session(spec.name, sid)
        denied = may_run(session, actor)
        if denied:
            raise refused(denied)

        async def to_board(sub: Submission, item_id: str, accepted: str, hidden: tuple[str, ...]) -> Placed:
            board, _ = await self.svc.run(spec.name, sid, lambda b: AnswerQuestion(actor, qid, accepted, hidden))
            return Placed(detail=board)

        # Answers skip the posting gates (a host is not slowed by slow mode) and are never
        # held: a hold verdict refuses the answer and the host rewrites it.
        outcome = await self.svc.poster.submit(
            from_sender(
                conn, room, text, to_board, kind="answer", item_id=qid, holdable=False, counts_as_post=False,
                extra={"session": sid, "question": qid, "channel": spec.name},
            )
        )
        match outcome:
            case Rejected(reason=reason):
                raise ReplyError(codes.MODERATION_REJECTED, f"answer not posted: {reason}")
            case Held():
                raise AssertionError("answers are not holdable")
            case Published(hidden=hidden, detail=board):
                result: dict[str, Any] = {"session": sid, "question": question_view(board.questions[qid])}
                if hidden:
                    result["hidden"] = list(hidden)
                return result

    # ------------------------------------------------------------------ votes

    async def vote(self, conn: Connection, data: Any) -> dict[str, Any]:
        return await self._vote(conn, data, cast=True)

    async def unvote(self, conn: Connection, data: Any) -> dict[str, Any]:
        return await self._vote(conn, data, cast=False)

    async def _vote(self, conn: Connection, data: Any, *, cast: bool) -> dict[str, Any]:
        d = _obj(data)
        spec, _ = self.svc.board_of(d.get("channel"))
        actor = self.svc.actor(conn, spec, Action.VOTE)
        sid = await self.svc.session_id(spec.name, d.get("session"))
        qid = check_id(d.get("question"), "question")
        result = await self.svc.store.vote(
            spec.name, sid, qid, actor.user, cast, votable=VOTABLE_STATES, voting=VOTING_SESSIONS
        )
        if result.closed:
            if not result.session_state:
                raise ReplyError(codes.BAD_REQUEST, f"bad request: no Q&A session {sid} in {spec.name}")
            if not result.question_state:
                raise ReplyError(codes.BAD_REQUEST, f"bad request: no question {qid} in session {sid}")
            if result.session_state == "ended":
                raise ReplyError(codes.QA_CONFLICT, "the session has ended; votes are closed")
            raise ReplyError(codes.QA_CONFLICT, f"question {qid} is {result.question_state}: votes are closed")
        if result.changed:
            self.votes.votes += 1
            self.votes.touch(spec.name, sid)
        return {"session": sid, "question": qid, "votes": result.votes, "voted": cast, "changed": result.changed}

    # ------------------------------------------------------------------ reading

    async def board(self, conn: Connection, data: Any) -> dict[str, Any]:
        d = _obj(data)
        spec, _ = self.svc.board_of(d.get("channel"))
        actor = self.svc.actor(conn, spec)
        sid = await self.svc.session_id(spec.name, d.get("session"), ended=True)
        try:
            order = Order(d.get("sort", "popular"))
        except ValueError:
            raise ReplyError(codes.BAD_REQUEST, 'bad request: "sort" is "popular" or "recent"') from None
        loaded = await self.svc.load(spec.name, sid)
        board = loaded.board
        assert board is not None
        counts = loaded.counts
        public = [q for q in board.questions.values() if q.state in ON_BOARD]
        ordered = sort_questions(public, order, counts)
        voted = await self.svc.store.voted(spec.name, sid, actor.user, [q.id for q in public])
        result: dict[str, Any] = {
            "session": session_view(board.session),
            "sort": order.value,
            "questions": [question_view(q, counts.get(q.id, 0)) for q in ordered],
            "voted": sorted(voted),
            "offset": loaded.offset,
            "epoch": loaded.epoch,
        }
        if may_run(board.session, actor) is None:
            by_number = sorted(board.questions.values(), key=lambda q: q.number)
            result["screening"] = [question_view(q) for q in by_number if q.state is QuestionState.SCREENING]
            result["dismissed"] = [question_view(q, counts.get(q.id, 0)) for q in by_number if q.state is QuestionState.DISMISSED]
        return result

    async def trace(self, conn: Connection, data: Any) -> dict[str, Any]:
        d = _obj(data)
        spec, room = self.svc.board_of(d.get("channel"))
        actor = self.svc.actor(conn, spec, Action.RUN_QA)
        denied = may_trace(actor)
        if denied:
            raise refused(denied)
        sid = await self.svc.session_id(spec.name, d.get("session"))
        qid = check_id(d.get("question"), "question")
        reason = d.get("reason", "")
        if not isinstance(reason, str) or len(reason) > 500:
            raise ReplyError(codes.BAD_REQUEST, 'bad request: "reason" must be a string of up to 500 characters')
        loaded = await self.svc.load(spec.name, sid)
        assert loaded.board is not None
        question = loaded.board.question(qid)
        if question is None:
            raise ReplyError(codes.BAD_REQUEST, f"bad request: no question {qid} in session {sid}")
        found = trace_view(question)
        await self.svc.audit(
            {
                "action": "qa.trace",
                "community": room.community,
                "room": room.channel,
                "actor": {"user": actor.user, "name": actor.name, "role": actor.role.value},
                "session": sid,
                "question": qid,
                "number": question.number,
                "target": question.asker,
                "reason": reason.strip(),
                "ts": int(time.time() * 1000),
            }
        )
        return {"session": sid, **found}


def _missing(key: str) -> bool:
    raise ReplyError(codes.BAD_REQUEST, f'bad request: "{key}" (true or false) is required')
