"""Refused ``mod.*`` calls, summarised per actor (issue 12, item 6).

Every refused call used to append an audit entry, so a few members could grow the log as
fast as they could send. Now the first refusal of an actor in a community is written at once
(``denied``, as before: a moderator sees the attempt promptly) and opens a window of
``denied_window`` seconds; further refusals in the window are only counted, and when it
ends they are written as one ``denied.summary`` entry (how many, which methods, since when).
A window that saw refusals is followed by another one, so an actor who keeps trying adds one
entry per window; after a quiet window the next refusal is written at once again.
The counts live in this process (each process summarises its own connections).

Issue 23: the same for what members can repeat as fast as they can send: posts refused by
moderation (``verdict.reject`` then ``verdict.reject.summary``; a flood refusal's text is
never kept), reports (``report`` then ``report.summary``) and refused joins of private
conversations (``support.denied`` then ``denied.summary``).
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from typing import Any

from chatserver.moderation.audit import Actor, AuditLog

log = logging.getLogger("chatserver.moderation")


@dataclass(slots=True)
class _Tally:
    actor: Actor
    since_ms: int
    summary: str = "denied.summary"  # the audit action of this tally's summaries
    count: int = 0  # refusals not yet written
    methods: dict[str, int] = field(default_factory=dict)
    channels: set[str] = field(default_factory=set)


class DeniedAttempts:
    def __init__(self, audit: AuditLog, window: float) -> None:
        self.audit = audit
        self.window = window
        self.refused = 0  # all refused calls (a metric)
        self.summarised = 0  # refusals counted into summaries instead of written one by one
        self._open: dict[tuple[str, str], _Tally] = {}
        self._task: asyncio.Task[None] | None = None

    async def refuse(
        self,
        community: str,
        actor: Actor,
        method: str,
        target: dict[str, Any],
        reason: str,
        *,
        action: str = "denied",
        summary: str = "denied.summary",
        who: str = "",
        text: str = "",
        details: dict[str, Any] | None = None,
    ) -> None:
        """Record one refused call: written at once if it opens a window, else counted.
        Other refusals summarised the same way (issue 23) name their own ``action`` (the
        first entry: ``verdict.reject``, ``report``, ``support.denied``) and ``summary``;
        ``who`` is the member the tally is kept for when ``actor`` is the system."""
        self.refused += 1
        key = (community, who or actor.user, summary)
        tally = self._open.get(key)
        if tally is not None:
            tally.count += 1
            tally.methods[method] = tally.methods.get(method, 0) + 1
            if target.get("channel"):
                tally.channels.add(target["channel"])
            self.summarised += 1
            return
        self._open[key] = _Tally(actor, int(time.time() * 1000), summary)
        await self.audit.append(
            community, action, actor, target=target, reason=reason, text=text or None, details={"method": method, **(details or {})}
        )

    async def flush(self) -> None:
        """End the current window: one summary per actor with refusals in it; actors with
        none are forgotten (their next refusal is written at once)."""
        now_ms = int(time.time() * 1000)
        for key, tally in list(self._open.items()):
            if not tally.count:
                del self._open[key]
                continue
            community = key[0]
            details = {
                "count": tally.count,
                "methods": dict(sorted(tally.methods.items())),
                "since": tally.since_ms,
                "window": self.window,
            }
            target: dict[str, Any] | None = {"channel": sorted(tally.channels)[0]} if len(tally.channels) == 1 else None
            if key[1] != tally.actor.user:
                target = {**(target or {}), "user": key[1]}
            tally.count = 0
            tally.methods = {}
            tally.channels = set()
            tally.since_ms = now_ms
            try:
                await self.audit.append(community, tally.summary, tally.actor, target=target, details=details)
            except Exception:
                log.warning("could not write a refused-calls summary for %s", key[1], exc_info=True)

    async def start(self) -> None:
        self._task = asyncio.ensure_future(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            self._task = None
        try:
            await self.flush()
        except Exception:
            log.warning("could not write refused-calls summaries on shutdown", exc_info=True)

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.window)
            try:
                await self.flush()
            except Exception:
                log.warning("refused-calls summaries failed", exc_info=True)
