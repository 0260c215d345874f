"""Load that spreads again: gateways compare their open connections (through
``NodeLoads``, a small shared hash) and one carrying more than its fair share asks the
excess to reconnect with 3001 at a bounded rate; behind a least-connections balancer
(deploy/nginx) they land on the gateways with fewer. After a rolling restart the gateway
restarted last starts empty and fills up within a few rounds.

``POST /api/node/rebalance`` (API key) asks a share of this process's clients to
reconnect now, over a window, for an operator's drain before maintenance.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
from typing import TYPE_CHECKING, Any, Protocol

from starlette.requests import Request
from starlette.routing import Route

from chatserver.api import ApiError, api_route, json_body
from chatserver.config import Settings
from chatserver.protocol import codes
from chatserver.tasks import Tasks

if TYPE_CHECKING:
    from chatserver.node import Node

log = logging.getLogger("chatserver.balance")

REBALANCE = codes.Disconnect(3001, "rebalance")  # reconnect (to another gateway)
MIN_EXCESS = 2  # connections: less is noise, not imbalance


class NodeLoads(Protocol):
    async def report(self, node_id: str, count: int, ttl: float) -> dict[str, int]: ...

    async def forget(self, node_id: str) -> None: ...


def excess(loads: dict[str, int], node_id: str, tolerance: float) -> int:
    """How many of ``node_id``'s connections are above the fair share, when it carries
    more than ``(1 + tolerance)`` times that share; else 0."""
    own = loads.get(node_id, 0)
    if len(loads) < 2:
        return 0
    fair = sum(loads.values()) / len(loads)
    if own <= fair * (1 + tolerance) or own - fair < MIN_EXCESS:
        return 0
    return int(own - fair)


class Balancer:
    def __init__(self, settings: Settings, node: Node, loads: NodeLoads, node_id: str, tasks: Tasks) -> None:
        self.settings = settings
        self.node = node
        self.loads = loads
        self.node_id = node_id
        # Its entry among the loads: unique per process (``--workers N`` processes share
        # the node name; each carries, and sheds, its own connections).
        self.key = f"{node_id}~{os.getpid()}"
        self.tasks = tasks
        self.shed_total = 0
        self._pending: set[asyncio.TimerHandle] = set()

    def start(self) -> None:
        if self.settings.rebalance_interval > 0:
            self.tasks.spawn(self._run(), "rebalance")

    async def stop(self) -> None:
        for handle in self._pending:
            handle.cancel()
        self._pending.clear()
        if self.settings.rebalance_interval > 0:
            try:
                await asyncio.wait_for(self.loads.forget(self.key), 2)
            except Exception as exc:
                log.info("could not remove this node's load entry: %s", exc or type(exc).__name__)

    async def _run(self) -> None:
        interval = self.settings.rebalance_interval
        while True:
            await asyncio.sleep(interval * (0.75 + 0.5 * random.random()))
            try:
                loads = await self.loads.report(self.key, len(self.node.connections), interval * 3 + 1)
            except Exception:
                self.tasks.log_failure(log, "could not compare loads with the other gateways")
                continue
            over = excess(loads, self.key, self.settings.rebalance_tolerance)
            if over:
                window = max(interval, over / self.settings.rebalance_rate)
                asked = self.shed(over, window)
                log.info(
                    "rebalance: %d connections here, %d gateways carry %d; asked %d to reconnect over %.1fs",
                    loads.get(self.key, 0), len(loads), sum(loads.values()), asked, window,
                )
                # The others' counts are up to one interval old: look again only after the
                # moved clients have arrived and been reported (no overshoot).
                await asyncio.sleep(window + 2 * interval)

    def shed(self, count: int, window: float) -> int:
        """Ask ``count`` connected clients (at random) to reconnect, spread over ``window``
        seconds and at most ``rebalance_rate`` per second. Returns how many."""
        count = min(count, int(self.settings.rebalance_rate * max(window, 0.001)) or 1)
        candidates = [c for c in self.node.connections.values() if not c.closed]
        chosen = random.sample(candidates, min(count, len(candidates)))
        loop = asyncio.get_running_loop()
        now = loop.time()
        self._pending = {h for h in self._pending if h.when() > now}
        for conn in chosen:
            self._pending.add(loop.call_later(random.random() * window, _ask_to_reconnect, conn))
        self.shed_total += len(chosen)
        return len(chosen)


def _ask_to_reconnect(conn: Any) -> None:
    if not conn.closed:
        conn.close(REBALANCE)


def routes(settings: Settings, balancer: Balancer) -> list[Route]:
    @api_route(settings, "/api/node/rebalance", ["POST"])
    async def rebalance(request: Request) -> Any:
        body = await json_body(request)
        share = body.get("share", 0.5)
        window = body.get("window", 10)
        if not isinstance(share, int | float) or isinstance(share, bool) or not 0 < share <= 1:
            raise ApiError(400, "bad_request", "share must be a number in (0, 1]")
        if not isinstance(window, int | float) or isinstance(window, bool) or not 0 <= window <= 600:
            raise ApiError(400, "bad_request", "window must be 0-600 seconds")
        connected = len(balancer.node.connections)
        asked = balancer.shed(int(connected * share), max(float(window), connected * share / settings.rebalance_rate))
        return {"node": balancer.node_id, "connected": connected, "asked": asked}

    return [rebalance]
