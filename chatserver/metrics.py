"""Prometheus metrics, read from the node's plain counters at scrape time.

The hot path only bumps integers; this collector turns them into metric families when
``/metrics`` is scraped, so fan-out pays nothing for observability.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import TYPE_CHECKING, Protocol

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.registry import Collector

from chatserver.limits import REFUSED

if TYPE_CHECKING:
    from chatserver.hub import Hub
    from chatserver.node import Node
    from chatserver.registry import Registry


class EngineCounters(Protocol):
    commands: int  # Redis round trips
    latency_sum: float  # seconds spent in them


class NodeCollector(Collector):
    def __init__(self, node: Node, hub: Hub, engine: EngineCounters, registry: Registry) -> None:
        self.node = node
        self.hub = hub
        self.engine = engine
        self.registry = registry

    def collect(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily | HistogramMetricFamily]:
        n = self.node
        s = n.stats
        yield GaugeMetricFamily("chat_connections", "Open client connections", value=len(n.connections))
        yield GaugeMetricFamily(
            "chat_users", "Distinct users connected to this process", value=len(n.users)
        )
        yield GaugeMetricFamily(
            "chat_subscriptions", "Client subscriptions on this process", value=s.subscriptions
        )
        yield GaugeMetricFamily(
            "chat_redis_channel_subscriptions",
            "Redis pub/sub channels this process subscribes to (one per active room)",
            value=self.hub.channel_count(),
        )
        yield GaugeMetricFamily(
            "chat_channels_lingering",
            "Of those, channels kept subscribed for channel_linger after their last local subscriber left",
            value=self.hub.lingering(),
        )
        yield CounterMetricFamily(
            "chat_pubsub_resets",
            "Pub/sub connections to Redis lost and made again (the channels' gaps are repaired from history)",
            value=self.hub.pubsub_resets,
        )
        yield CounterMetricFamily(
            "chat_positions_known",
            "Subscribe positions and recoveries answered from the position this process knows (no Redis read)",
            value=self.hub.known_answers,
        )
        c = CounterMetricFamily("chat_commands", "Client commands handled", labels=["method"])
        for method, count in sorted(s.commands.items()):
            c.add_metric([method], count)
        yield c
        e = CounterMetricFamily("chat_errors", "Error replies sent", labels=["code"])
        for code, count in sorted(s.errors.items()):
            e.add_metric([str(code)], count)
        yield e
        d = CounterMetricFamily("chat_disconnects", "Disconnects by close code", labels=["code"])
        for code, count in sorted(s.disconnects.items()):
            d.add_metric([str(code)], count)
        yield d
        yield CounterMetricFamily(
            "chat_messages_in", "Messages received from Redis pub/sub", value=self.hub.messages_in
        )
        yield CounterMetricFamily(
            "chat_messages_out", "Messages queued to client connections", value=self.hub.deliveries
        )
        yield CounterMetricFamily("chat_published", "Messages accepted and published", value=s.published)
        yield CounterMetricFamily(
            "chat_send_queue_drops", "Connections closed because their send queue overflowed", value=s.slow_closes
        )
        yield GaugeMetricFamily(
            "chat_send_queue_bytes",
            "Bytes waiting in client outboxes (bounded by send_queue_bytes per connection)",
            value=sum(c.out.pending_bytes for c in n.open),
        )
        yield GaugeMetricFamily(
            "chat_asyncio_tasks",
            "asyncio tasks alive in this process (a leak shows as growth under steady load)",
            value=_task_count(),
        )
        yield CounterMetricFamily(
            "chat_offset_gaps", "Pub/sub gaps (repaired from history by the hub)", value=self.hub.gaps
        )
        yield CounterMetricFamily(
            "chat_offset_gaps_unrepaired",
            "Gaps history could not fill (subscribers resubscribed and recovered)",
            value=self.hub.repairs_failed,
        )
        yield CounterMetricFamily("chat_redis_commands", "Redis round trips", value=self.engine.commands)
        yield CounterMetricFamily(
            "chat_redis_seconds", "Total time spent in Redis round trips", value=self.engine.latency_sum
        )
        yield GaugeMetricFamily(
            "chat_redis_ping_seconds", "Latency of the last Redis PING", value=s.redis_ping
        )
        yield CounterMetricFamily(
            "chat_redis_errors",
            "Redis round trips and health pings that failed (connection lost, timeout, error reply)",
            value=getattr(self.engine, "errors", 0) + s.redis_errors,
        )
        yield HistogramMetricFamily(
            "chat_post_seconds",
            "A member's post (publish, chat.send): command received to its answer, moderation included",
            buckets=s.post_seconds.buckets(),
            sum_value=s.post_seconds.sum,
        )
        refused = CounterMetricFamily(
            "chat_connections_refused",
            "WebSocket connections refused over a limit (429: max_connections_per_ip, 503: max_connections)",
            labels=["status"],
        )
        for status in (429, 503):
            refused.add_metric([str(status)], REFUSED.get(status, 0))
        yield refused
        for name, value in sorted(self.registry.extra_metrics().items()):
            yield GaugeMetricFamily(f"chat_{name}", name.replace("_", " "), value=value)


def _task_count() -> int:
    try:
        return len(asyncio.all_tasks())
    except RuntimeError:  # collected outside the event loop
        return 0


def render(collector: NodeCollector) -> bytes:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector)
    for extra in collector.registry.metric_collectors:
        registry.register(extra)
    return generate_latest(registry)
