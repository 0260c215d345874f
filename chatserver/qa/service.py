"""QaService: runs Q&A commands against Redis and publishes what they change.

One command: load the session (``qa_load.lua``), ``rooms.qa.decide`` it, then write the new
state and publish the board events in one Lua call that succeeds only if the session's
version is unchanged (``qa_commit.lua``); on a conflict, reload and decide again. Events for
the screening feed (moderators and hosts) follow right after the commit.
"""

from __future__ import annotations

import asyncio
import logging
import random
import re
import secrets
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import orjson

from chatserver.channels import ChannelSpec
from chatserver.errors import ReplyError
from chatserver.protocol import codes
from chatserver.publication import pack_payload
from chatserver.qa.config import QaConfig
from chatserver.qa.stage import StageCache
from chatserver.stores import Committed, Conflict, Loaded
from rooms.channels import ChannelKind
from rooms.model import Room
from rooms.policy import Denied
from rooms.qa import Actor, Board, CreateSession, Session, SessionState, create_session, decide
from rooms.qa.commands import BoardCommand
from rooms.qa.events import BoardEvent, QuestionDismissed
from rooms.qa.views import Audience, event_views
from rooms.retention import setting

if TYPE_CHECKING:
    from chatserver.connection import Connection
    from chatserver.extension import ExtensionContext
    from chatserver.moderation.service import ModerationService

log = logging.getLogger("chatserver.qa")

ID_RE = re.compile(r"^[0-9a-f]{4,32}$")
MAX_ATTEMPTS = 60

CommandFor = Callable[[Board], BoardCommand]
AuditSink = Callable[[dict[str, Any]], Awaitable[None]]


def refused(denied: Denied) -> ReplyError:
    return ReplyError(denied.code, denied.reason)


def _room_of_board(board: str) -> str:
    return board.removesuffix("/qa")


def check_id(value: Any, what: str) -> str:
    if not isinstance(value, str) or not ID_RE.match(value):
        raise ReplyError(codes.BAD_REQUEST, f"bad request: {what} must be an id as returned by the server")
    return value


class QaService:
    def __init__(self, ext: ExtensionContext, config: QaConfig, moderation: ModerationService) -> None:
        self.ext = ext
        self.config = config
        self.rules = config.rules
        self.store = ext.stores.qa(ext.resolver.side_history[ChannelKind.QA], config.retention, self._qa_ttl)
        self.stage = StageCache(self.store, ext.control, moderation.safety_net)
        self.audit_sinks: list[AuditSink] = []
        self.moderation = moderation
        self.poster = ext.poster
        self.conflicts = 0  # version conflicts retried (metrics)

    def _qa_ttl(self, board: str) -> int:
        """Seconds a board's sessions, questions and transcript outlive their last change:
        the room's or community's ``qa_ttl``, else ``[qa] retention_days``."""
        catalog = self.ext.catalog
        room = catalog.rooms.get(_room_of_board(board))
        community = catalog.communities.get(board.partition(":")[0])
        return setting(community, room, "qa_ttl", self.config.retention)

    # ------------------------------------------------------------------ who and where

    def board_of(self, channel: Any) -> tuple[ChannelSpec, Room]:
        """The board channel's spec for ``<c>:<r>/qa`` (or the room channel ``<c>:<r>``)."""
        if not isinstance(channel, str) or not channel:
            raise ReplyError(codes.BAD_REQUEST, 'bad request: "channel" (the board, "<community>:<room>/qa") is required')
        if "/" not in channel:
            channel += "/qa"
        spec = self.ext.resolver.resolve(channel)
        if spec is None or spec.kind is not ChannelKind.QA or spec.room is None:
            raise ReplyError(codes.UNKNOWN_CHANNEL, f"unknown channel {channel}: a Q&A board is <community>:<room>/qa")
        return spec, spec.room

    def actor(self, conn: Connection, spec: ChannelSpec) -> Actor:
        """The caller, if they may see the board (a member of the community with the room's
        minimum role)."""
        assert conn.identity is not None
        member = conn.identity.member
        denied = self.ext.resolver.check_subscribe(member, spec)
        if denied is not None:
            raise refused(denied)
        role = member.role_in(spec.parsed.community)
        assert role is not None
        return Actor(member.user, member.name, role)

    async def session_id(self, board: str, given: Any, *, ended: bool = False) -> str:
        """``given``, or the room's live session, or its newest scheduled one (or, with
        ``ended``, for reading: its newest session of any state)."""
        if given is not None:
            return check_id(given, "session")
        live = await self.store.live_session(board)
        if live:
            return live
        sessions = await self.store.sessions(board, limit=20)
        for session in sessions:
            if session.state is SessionState.SCHEDULED:
                return session.id
        if ended and sessions:
            return sessions[0].id
        raise ReplyError(codes.BAD_REQUEST, f"bad request: no live or scheduled Q&A session in {board}; pass \"session\"")

    async def load(self, board: str, session_id: str, *, questions: bool = True) -> Loaded:
        loaded = await self.store.load(board, session_id, questions=questions)
        if loaded.board is None:
            raise ReplyError(codes.BAD_REQUEST, f"bad request: no Q&A session {session_id} in {board}")
        return loaded

    # ------------------------------------------------------------------ commands

    async def create(self, spec: ChannelSpec, cmd: CreateSession) -> Board:
        decision = create_session(cmd, self.rules, time.time())
        if isinstance(decision, Denied):
            raise refused(decision)
        result = await self._commit(spec.name, None, decision.board, decision.events, expected=0)
        if isinstance(result, Conflict):
            raise ReplyError(codes.INTERNAL, "could not create the session; try again", temporary=True)
        return decision.board

    async def run(
        self, board: str, session_id: str, command_for: CommandFor
    ) -> tuple[Board, tuple[BoardEvent, ...]]:
        """Decide and apply one command; returns the new board and the events published."""
        for attempt in range(1, MAX_ATTEMPTS + 1):
            loaded = await self.load(board, session_id)
            old = loaded.board
            assert old is not None
            decision = decide(old, command_for(old), self.rules, time.time())
            if isinstance(decision, Denied):
                raise refused(decision)
            if not decision.changed:
                return decision.board, ()
            result = await self._commit(board, old, decision.board, decision.events, expected=old.session.version)
            if isinstance(result, Conflict):
                if result.what == "live":
                    raise ReplyError(codes.QA_CONFLICT, f"another session ({result.value}) is live in this room; end it first")
                self.conflicts += 1
                # Spread out competing writers (many members asking at once).
                await asyncio.sleep(random.uniform(0, min(0.002 * attempt, 0.05)))
                continue
            return decision.board, decision.events
        raise ReplyError(codes.INTERNAL, "the session is busy; try again", temporary=True)

    async def _commit(
        self, board: str, old: Board | None, new: Board, events: tuple[BoardEvent, ...], *, expected: int
    ) -> Committed | Conflict:
        now_ms = int(time.time() * 1000)
        board_payloads: list[bytes] = []
        screening: list[dict[str, Any]] = []
        for event in events:
            for audience, body in event_views(event):
                if audience is Audience.BOARD:
                    # info=None: board events never carry a ClientInfo (anonymity).
                    board_payloads.append(pack_payload(orjson.dumps(body), time_ms=now_ms))
                else:
                    screening.append(body)
        old_questions = old.questions if old is not None else {}
        changed = [q for qid, q in new.questions.items() if old_questions.get(qid) is not q]
        live = ""
        stage = ""
        if old is not None and old.live_session != new.live_session:
            live = "start" if new.live_session == new.session.id else "end"
        if old is not None and old.session.stage != new.session.stage:
            stage = "on" if new.session.stage else "off"
        result = await self.store.commit(
            board, expected, new.session, changed, board_payloads, live=live, stage=stage
        )
        if isinstance(result, Conflict):
            return result
        session = new.session
        room = f"{session.community}:{session.room}"
        for body in screening:
            try:
                await self.ext.notifier.publish_event(f"{room}/screening", body)
            except Exception:
                log.exception("screening feed publish failed for %s", room)
        for event in events:
            if isinstance(event, QuestionDismissed):
                await self._tell_dismissed(board, event)
        if stage:
            await self.stage.changed(room, session.id if session.stage else None, broadcast=True)
        return result

    async def _tell_dismissed(self, board: str, event: QuestionDismissed) -> None:
        """The asker learns privately that their question will not be answered."""
        q = event.question
        try:
            await self.ext.notifier.notify_user(
                q.asker,
                {
                    "type": "qa.question.dismissed",
                    "channel": board,
                    "session": event.session_id,
                    "question": q.id,
                    "text": q.text,
                },
            )
        except Exception:
            log.exception("could not tell %s about a dismissed question", q.asker)

    # ------------------------------------------------------------------ audit

    async def audit(self, entry: dict[str, Any]) -> None:
        """Record a sensitive action (tracing an anonymous asker). Every sink must succeed:
        a failure is an internal error, so nothing is revealed without a record."""
        for sink in self.audit_sinks:
            await sink(entry)

    def new_id(self, nbytes: int = 6) -> str:
        return secrets.token_hex(nbytes)

    async def session(self, board: str, session_id: str) -> Session:
        loaded = await self.load(board, session_id, questions=False)
        assert loaded.board is not None
        return loaded.board.session
