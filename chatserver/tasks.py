"""Owned background tasks: every task the server starts in the background is kept here (a
reference, so it is not collected mid-flight), its failure is logged, and shutdown cancels
whatever is still running."""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Callable, Coroutine
from typing import Any

from chatserver.limits import LogLimiter, held_note

log = logging.getLogger("chatserver.tasks")

OUTAGE_LOG_INTERVAL = 60.0  # seconds: one line per failing background step while the engine is down


class Tasks:
    def __init__(self, owner: str = "server", unavailable: Callable[[BaseException], bool] | None = None) -> None:
        """``unavailable(exc)``: whether an exception means the engine is unreachable or not
        ready (a restart, a failover): background steps failing with it log one line a
        minute instead of a traceback each (``log_failure``)."""
        self.owner = owner
        self._running: set[asyncio.Task[Any]] = set()
        self.failed = 0
        self.unavailable = unavailable or (lambda exc: False)
        self._outage_lines = LogLimiter(OUTAGE_LOG_INTERVAL)

    def log_failure(self, logger: logging.Logger, message: str, *args: Any) -> None:
        """Log the exception being handled by a background step (a heartbeat, a sweep, a
        presence write): with its traceback when it is a bug; while the engine is
        unavailable, one warning per ``message`` a minute, with how many were held back."""
        exc = sys.exc_info()[1]
        if exc is None or not self.unavailable(exc):
            logger.error(message, *args, exc_info=exc is not None)
            return
        held = self._outage_lines.allow(message)
        if held is not None:
            logger.warning(message + ": the engine is unavailable (%s)%s", *args, exc, held_note(held))

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
