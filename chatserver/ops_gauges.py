"""Deployment-wide gauges for dashboards and alerts, read from Redis by every process every
``REFRESH_SECONDS`` (never on the scrape itself, which stays synchronous and cheap):
holds waiting for review and the webhook outbox's backlog. Plus ``chat_ready``, what
``/readyz`` answers (1: Redis answered the last health ping and the node is serving)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

log = logging.getLogger("chatserver.ops_gauges")

REFRESH_SECONDS = 5.0


class OpsGauges:
    def __init__(
        self,
        ready: Callable[[], bool],
        holds_pending: Callable[[], Awaitable[int]] | None,
        webhook_backlog: Callable[[], Awaitable[tuple[int, int]]] | None,
    ) -> None:
        self._ready = ready
        self._holds_pending = holds_pending
        self._webhook_backlog = webhook_backlog
        self.values: dict[str, float] = {}
        self._task: asyncio.Task[None] | None = None

    def metrics(self) -> dict[str, float]:
        return {"ready": 1.0 if self._ready() else 0.0, **self.values}

    async def refresh(self) -> None:
        if self._holds_pending is not None:
            self.values["moderation_holds_pending"] = float(await self._holds_pending())
        if self._webhook_backlog is not None:
            waiting, retrying = await self._webhook_backlog()
            self.values["webhook_backlog"] = float(waiting + retrying)
            self.values["webhook_retrying"] = float(retrying)

    async def start(self) -> None:
        try:
            await self.refresh()
        except Exception as exc:
            log.warning("could not read the dashboard gauges: %s", exc)
        self._task = asyncio.ensure_future(self._loop())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()

    async def _loop(self) -> None:
        failed = False
        while True:
            await asyncio.sleep(REFRESH_SECONDS)
            try:
                await self.refresh()
                failed = False
            except Exception as exc:  # Redis down: the last values stay, /readyz says why
                if not failed:
                    log.warning("could not refresh the dashboard gauges: %s", exc)
                failed = True


def install(registry: Any, ready: Callable[[], bool], moderation: Any, webhooks: Any) -> OpsGauges:
    gauges = OpsGauges(
        ready,
        moderation.store.pending_count if moderation is not None else None,
        webhooks.store.backlog if webhooks is not None else None,
    )
    registry.metric_sources.append(gauges.metrics)
    registry.startup_hooks.append(gauges.start)
    registry.shutdown_hooks.append(gauges.stop)
    return gauges
