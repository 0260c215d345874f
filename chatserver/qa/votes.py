"""Votes: cast and withdraw atomically in Redis, publish counts in batches.

A vote changes a Redis set and a count at once (``qa_vote.lua``, the same rules as
``rooms.qa.votes``) and marks its question dirty. The first vote on a session's board in a
quiet period schedules one flush ``vote_batch_ms`` later; the flush (``qa_votes_flush.lua``)
publishes a single ``qa.votes`` event with the exact current count of every dirty question.
Hundreds of votes a second therefore cost a handful of board events, and the last event
always carries the final counts, whichever process published it.
"""

from __future__ import annotations

import asyncio
import logging

from chatserver.stores import QaStore
from rooms.qa.model import VOTABLE, SessionState

log = logging.getLogger("chatserver.qa.votes")

VOTABLE_STATES = " " + " ".join(sorted(s.value for s in VOTABLE)) + " "
VOTING_SESSIONS = " " + " ".join((SessionState.SCHEDULED.value, SessionState.LIVE.value)) + " "


class VoteBatcher:
    def __init__(self, store: QaStore, interval_ms: int) -> None:
        self.store = store
        self.interval = interval_ms / 1000
        self._pending: dict[tuple[str, str], asyncio.TimerHandle] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self.votes = 0  # votes that changed something (metrics)
        self.flushes = 0  # count events published

    def touch(self, board: str, session_id: str) -> None:
        key = (board, session_id)
        if key in self._pending:
            return
        loop = asyncio.get_running_loop()
        self._pending[key] = loop.call_later(self.interval, self._start_flush, key)

    def _start_flush(self, key: tuple[str, str]) -> None:
        self._pending.pop(key, None)
        task = asyncio.ensure_future(self._flush(*key))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _flush(self, board: str, session_id: str) -> None:
        try:
            offset, _ = await self.store.flush_votes(board, session_id)
        except Exception:
            # The dirty set stays in Redis: the next flush (any process) publishes it.
            log.exception("vote count flush failed for %s %s", board, session_id)
            return
        if offset:
            self.flushes += 1

    async def flush_now(self, board: str, session_id: str) -> None:
        """Publish pending counts now (before a session ends)."""
        handle = self._pending.pop((board, session_id), None)
        if handle is not None:
            handle.cancel()
        await self._flush(board, session_id)

    async def close(self) -> None:
        for key, handle in list(self._pending.items()):
            handle.cancel()
            await self._flush(*key)
        self._pending.clear()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
