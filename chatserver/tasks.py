"""Owned background tasks: every task the server starts in the background is kept here (a
reference, so it is not collected mid-flight), its failure is logged, and shutdown cancels
whatever is still running."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any

log = logging.getLogger("chatserver.tasks")


class Tasks:
    def __init__(self, owner: str = "server") -> None:
        self.owner = owner
        self._running: set[asyncio.Task[Any]] = set()
        self.failed = 0

    def spawn(self, coro: Coroutine[Any, Any, Any], name: str) -> asyncio.Task[Any]:
        task = asyncio.ensure_future(coro)
        task.set_name(f"{self.owner}: {name}")
        self._running.add(task)
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._running.discard(task)
        if task.cancelled():
            return
        exc = task.exception()
        if exc is not None:
            self.failed += 1
            log.error("background task %r failed", task.get_name(), exc_info=exc)

    def __len__(self) -> int:
        return len(self._running)

    async def close(self, timeout: float = 5.0) -> None:
        """Cancel every task still running and wait (bounded) for them to finish."""
        running = list(self._running)
        for task in running:
            task.cancel()
        if running:
            done, pending = await asyncio.wait(running, timeout=timeout)
            for task in pending:
                log.warning("background task %r did not stop within %.0f s", task.get_name(), timeout)
