"""Stage mode: while a live session holds its room in stage mode, only hosts, moderators and
admins post in the room; a member's post is refused with 1006, pointing to the board.

Every process caches which rooms are in stage mode for ``TTL`` seconds; a change is applied
at once by the process that made it and announced to the others with a control message, so
the cache is exact except after a lost control message (then for at most ``TTL``, like the
sanctions' reload). A miss is one read over the pipelined connection, shared by every post
of the room waiting for it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from chatserver.errors import ReplyError
from chatserver.posting import Sender
from chatserver.protocol import codes
from rooms.messages import Draft
from rooms.model import Role, Room
from rooms.qa import may_post_in_stage

if TYPE_CHECKING:
    from chatserver.engine import Control
    from chatserver.stores import QaStore

SafetyNet = Callable[[Sender, Room, Draft], Awaitable[None]]

CONTROL_KIND = "qa.stage"
TTL = 30.0  # a safety net for a lost control message (sanctions reload as often)


class StageCache:
    def __init__(self, store: QaStore, control: Control, safety_net: SafetyNet | None = None) -> None:
        """``safety_net(sender, room, draft)``: moderation's crisis net for a refused post."""
        self.store = store
        self.control = control
        self.safety_net = safety_net
        self._rooms: dict[str, tuple[str | None, float]] = {}
        self._reading: dict[str, asyncio.Future[str | None]] = {}

    async def session_in_stage(self, room: str) -> str | None:
        cached = self._rooms.get(room)
        now = time.monotonic()
        if cached is not None and cached[1] > now:
            return cached[0]
        pending = self._reading.get(room)
        if pending is not None:
            return await asyncio.shield(pending)
        fut: asyncio.Future[str | None] = asyncio.get_running_loop().create_future()
        self._reading[room] = fut
        try:
            value = await self.store.stage_session(f"{room}/qa")
        except BaseException as exc:
            fut.set_exception(exc if isinstance(exc, Exception) else RuntimeError("stage read cancelled"))
            fut.exception()  # retrieved: waiters re-raise it, nobody else needs to
            raise
        finally:
            self._reading.pop(room, None)
        current = self._rooms.get(room)
        if current is None or current[1] <= now:  # a control message meanwhile wins
            self._rooms[room] = (value, now + TTL)
        else:
            value = current[0]
        fut.set_result(value)
        return value

    async def changed(self, room: str, session_id: str | None, *, broadcast: bool) -> None:
        self._rooms[room] = (session_id, time.monotonic() + TTL)
        if broadcast:
            await self.control.send(CONTROL_KIND, room=room, session=session_id or "")

    async def on_control(self, msg: dict[str, Any]) -> None:
        room = str(msg.get("room", ""))
        if room:
            self._rooms[room] = (str(msg.get("session", "")) or None, time.monotonic() + TTL)

    async def gate(self, conn: Sender, room: Room, draft: Draft) -> None:
        """A posting gate for room messages (``Poster.add_gate``)."""
        assert conn.identity is not None
        role = conn.identity.member.role_in(room.community) or Role.MEMBER
        if may_post_in_stage(role):
            return
        session = await self.session_in_stage(room.channel)
        if session:
            if self.safety_net is not None:
                await self.safety_net(conn, room, draft)
            raise ReplyError(
                codes.STAGE_MODE,
                f"this room is in Q&A stage mode: only hosts and moderators post here. "
                f"Ask your question on the Q&A board {room.channel}/qa (rpc qa.ask)",
            )
