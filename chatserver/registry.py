"""What extensions plug into, handed to each ``install(...)`` by the composition root
(``chatserver.app``): RPC methods, HTTP routes, lifecycle and connection hooks, control
message handlers and metric sources. A plain registry: it holds no services."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

RpcHandler = Callable[[Any, Any], Awaitable[Any]]  # async (connection, data) -> result
SendHandler = Callable[[Any, Any], Awaitable[None]]  # async (connection, data)
ConnectionHook = Callable[[Any], Awaitable[None]]  # async (connection)
SubscriptionHook = Callable[[Any, Any], Awaitable[None]]  # async (connection, sub)
ControlHandler = Callable[[dict[str, Any]], Any]  # (message) -> None or an awaitable
Lifecycle = Callable[[], Awaitable[None]]


class Registry:
    def __init__(self, on_control: Callable[[str, ControlHandler], None]) -> None:
        self.rpc: dict[str, RpcHandler] = {}
        self.send_handlers: list[SendHandler] = []
        self.routes: list[Any] = []
        self.startup_hooks: list[Lifecycle] = []
        self.shutdown_hooks: list[Lifecycle] = []
        self.subscribe_hooks: list[SubscriptionHook] = []
        self.unsubscribe_hooks: list[SubscriptionHook] = []
        self.disconnect_hooks: list[ConnectionHook] = []
        # Awaited once a connection is authenticated, before its server-side subscriptions.
        self.connect_hooks: list[ConnectionHook] = []
        # Checks before a host opens a private conversation with a member:
        # async (actor user, member user, community) -> a refusal or None.
        self.private_open_checks: list[Callable[[str, str, str], Awaitable[str | None]]] = []
        self.metric_sources: list[Callable[[], dict[str, float]]] = []
        self.metric_collectors: list[Any] = []  # prometheus Collectors (histograms, labels)
        self._on_control = on_control

    def register_rpc(self, method: str, handler: RpcHandler) -> None:
        if method in self.rpc:
            raise ValueError(f"rpc method {method!r} registered twice")
        self.rpc[method] = handler

    def on_control(self, kind: str, handler: ControlHandler) -> None:
        """``handler(msg)`` for every control message of ``kind`` (from any process)."""
        self._on_control(kind, handler)

    def extra_metrics(self) -> dict[str, float]:
        out: dict[str, float] = {}
        for source in self.metric_sources:
            out.update(source())
        return out
