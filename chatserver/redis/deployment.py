"""What ``--redis-url`` points at, found out once, and the engine's connections for it.

``build_engine(url)`` (called by the composition root, nowhere else) returns an
``EngineParts``: the redis-py client the stores use, the pipelined command connection of
the hot path and the factory of the fan-out subscriptions, for one of three deployments:

- one server: ``CommandPipeline`` + ``PubSub`` (SUBSCRIBE/PUBLISH), redis-py ``Redis``;
- a Redis/Valkey Cluster (``INFO cluster`` says ``cluster_enabled:1`` on the seed nodes):
  ``ClusterRouter`` + ``ShardedPubSub`` (SSUBSCRIBE/SPUBLISH), redis-py ``RedisCluster``;
- Sentinel: the single-server parts, their address looked up from the sentinels before
  each connect, dropped on ``+switch-master`` (and on ``READONLY``), redis-py's
  Sentinel-managed client.

Nothing else in the server knows which one it got. Bad input (seed nodes that disagree,
slots without a master, a Sentinel that names no master) is a clear startup error.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

import redis
import redis.asyncio as aioredis
from redis.asyncio.cluster import ClusterNode, RedisCluster
from redis.asyncio.sentinel import Sentinel

from chatserver.engine import Subscriptions
from chatserver.redis.broker import make_client
from chatserver.redis.cluster import ClusterError, ClusterRouter, ShardedPubSub
from chatserver.redis.pipeline import CommandPipeline
from chatserver.redis.pubsub import PubSub
from chatserver.redis.urls import RedisAddress, RedisUrl, parse_url

log = logging.getLogger("chatserver.redis.deployment")


class EngineError(RuntimeError):
    """The Redis deployment cannot be used as given (a startup error, said plainly)."""


@dataclass
class EngineParts:
    kind: str  # "single" | "cluster" | "sentinel"
    redis: Any  # redis-py client for the stores (Redis or RedisCluster)
    pipeline: CommandPipeline | ClusterRouter
    subscriptions: Callable[..., Subscriptions]
    check: Callable[[], Awaitable[None]]  # raises while the deployment cannot serve
    watchers: list[Callable[[], Coroutine[Any, Any, None]]] = field(default_factory=list)
    # Raises only while no part of the deployment answers (a cluster with one shard down
    # still serves the rooms of the others); None: the same as ``check``.
    serving: Callable[[], Awaitable[None]] | None = None

    async def start(self) -> None:
        """Fail clearly when the deployment cannot serve (cluster down, no master)."""
        await self.check()

    async def ping(self) -> float:
        loop = asyncio.get_running_loop()
        start = loop.time()
        await self.check()
        return loop.time() - start

    async def shallow_ping(self) -> float:
        """Seconds a readiness check took: this process can serve (some shard answers)."""
        loop = asyncio.get_running_loop()
        start = loop.time()
        await (self.serving or self.check)()
        return loop.time() - start


def build_engine(url: str) -> EngineParts:
    parsed = parse_url(url)
    if parsed.sentinel:
        return _sentinel(parsed)
    if detect_cluster(parsed):
        return _cluster(parsed)
    return _single(url, parsed.nodes[0])


# ---------------------------------------------------------------------------- detection


def _sync_client(node: RedisAddress) -> redis.Redis:
    return redis.Redis(
        host=node.host,
        port=node.port,
        username=node.username or None,
        password=node.password or None,
        ssl=node.tls,
        socket_timeout=3,
        socket_connect_timeout=3,
    )


def detect_cluster(url: RedisUrl) -> bool:
    """Whether the seed nodes are cluster nodes (``INFO cluster``), checking that they
    agree: all cluster nodes of one cluster, or one plain server."""
    nodes = url.nodes
    if nodes[0].path:
        return False
    answers: dict[RedisAddress, tuple[bool, str, set[str]]] = {}
    errors = []
    for node in nodes:
        try:
            with _sync_client(node) as client:
                enabled = int(client.info("cluster").get("cluster_enabled", 0)) == 1
                myid, known = "", set()
                if enabled:
                    myid = _text(client.execute_command("CLUSTER", "MYID"))
                    known = {line.split()[0] for line in _text(client.execute_command("CLUSTER", "NODES")).splitlines() if line}
                answers[node] = (enabled, myid, known)
        except redis.RedisError as exc:
            errors.append(f"{node.label}: {exc}")
    if not answers:
        if len(nodes) == 1:
            return False  # unreachable now: the server's start reports it as before
        raise EngineError("none of the Redis nodes in the URL answered: " + "; ".join(errors))
    for error in errors:
        log.warning("seed node not answering: %s", error)
    kinds = {enabled for enabled, _, _ in answers.values()}
    if len(kinds) > 1:
        plain = [n.label for n, a in answers.items() if not a[0]]
        raise EngineError(f"the Redis nodes in the URL disagree: {', '.join(plain)} is not a cluster node, others are")
    if not kinds.pop():
        if len(nodes) > 1:
            raise EngineError(
                "several Redis nodes given, but they are not cluster nodes (cluster_enabled:0); "
                "give one URL for a single server"
            )
        return False
    ids = {myid for _, myid, _ in answers.values()}
    for node, (_, _, known) in answers.items():
        if not ids <= known:
            raise EngineError(
                f"the Redis nodes in the URL disagree: {node.label} does not know the other seed "
                "nodes (they belong to different clusters)"
            )
    return True


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


# ---------------------------------------------------------------------------- the three kinds


def _single(url: str, address: RedisAddress) -> EngineParts:
    client = make_client(url)
    pipeline = CommandPipeline(address)

    async def check() -> None:
        await client.ping()

    return EngineParts("single", client, pipeline, lambda **kw: PubSub(address, **kw), check)


class WaitingRedisCluster(RedisCluster):
    """redis-py's cluster client, but a command waits for a free connection (as the single
    server's ``BlockingConnectionPool`` does) instead of raising ``MaxConnectionsError``
    when many run at once: at most ``concurrency`` commands are in flight, well under the
    per-node limit, which leaves room for the stores' pipelines."""

    def __init__(self, *args: Any, concurrency: int = 128, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._in_flight = asyncio.Semaphore(concurrency)

    async def execute_command(self, *args: Any, **kwargs: Any) -> Any:
        async with self._in_flight:
            return await super().execute_command(*args, **kwargs)


def _cluster(url: RedisUrl) -> EngineParts:
    first = url.nodes[0]
    client = WaitingRedisCluster(
        startup_nodes=[ClusterNode(n.host, n.port) for n in url.nodes],
        username=first.username or None,
        password=first.password or None,
        ssl=first.tls,
        max_connections=512,
        concurrency=128,
    )
    router = ClusterRouter(url.nodes)

    async def check() -> None:
        """Every slot has a master and every master says cluster_state:ok."""
        await router.refresh()
        missing = router.map.owners.count(None)
        if missing:
            raise ClusterError(f"CLUSTERDOWN: {missing} hash slots have no master")
        for node in router.map.masters():
            info = _text(await router.pipe(node).execute(b"CLUSTER", b"INFO"))
            if "cluster_state:ok" not in info:
                raise ClusterError(f"CLUSTERDOWN: {node.label} reports cluster_state other than ok")

    async def serving() -> None:
        """Some master answers PING (the rooms of the others are served meanwhile)."""
        failures = []
        for node in router.map.masters():
            try:
                await asyncio.wait_for(router.pipe(node).execute(b"PING"), 1.0)
                return
            except Exception as exc:
                failures.append(f"{node.label}: {exc or type(exc).__name__}")
        router.refresh_soon()
        raise ClusterError("no master answers: " + "; ".join(failures or ["no masters known"]))

    return EngineParts("cluster", client, router, lambda **kw: ShardedPubSub(router, **kw), check, serving=serving)


# Sentinel events of a failover in progress (published by the leading sentinel only, hence
# a subscription on every sentinel), the end of one (switch or abort), and the switch.
FAILOVER_STARTS = (b"+failover-state-select-slave", b"+selected-slave", b"+failover-state-send-slaveof-noone")
FAILOVER_ABORTS = (
    b"-failover-abort-not-elected",
    b"-failover-abort-no-good-slave",
    b"-failover-abort-slave-timeout",
    b"-failover-abort-master-is-not-primary",
)
SWITCH = b"+switch-master"
FENCE_LIMIT = 30.0  # seconds a fence lasts without a switch or an abort


class SentinelMaster:
    """The current master of a Sentinel service: looked up before each connect of the raw
    connections, **fenced** while a failover is in progress, followed after the switch.

    Sentinel promotes a replica without stopping the old master, which keeps accepting
    writes until Sentinel reconfigures it; a write it acknowledges after the promotion is
    lost. So as soon as any sentinel announces that it started a failover of our service
    (``+failover-state-select-slave``, ~100 ms before it promotes), the process stops
    writing: the command connections are dropped and lookups fail (error 100, clients
    retry) until ``+switch-master`` names the new master (or the failover is aborted)."""

    def __init__(self, url: RedisUrl) -> None:
        self.url = url
        self.template = url.nodes[0]
        sentinel_kwargs = {"password": url.sentinel_password} if url.sentinel_password else {}
        self.sentinel = Sentinel(
            [(n.host, n.port) for n in url.nodes],
            sentinel_kwargs={**sentinel_kwargs, "socket_timeout": 2, "socket_connect_timeout": 2},
            username=self.template.username or None,
            password=self.template.password or None,
            ssl=self.template.tls,
            socket_timeout=5,
        )
        self.on_fence: list[Callable[[], None]] = []
        self.on_switch: list[Callable[[], None]] = []
        self.switches = 0
        self.fences = 0
        self._fenced_until = 0.0

    @property
    def fenced(self) -> bool:
        return asyncio.get_running_loop().time() < self._fenced_until

    async def __call__(self) -> RedisAddress:
        if self.fenced:
            raise ConnectionError(f"a Sentinel failover of {self.url.service!r} is in progress")
        try:
            host, port = await self.sentinel.discover_master(self.url.service)
        except redis.RedisError as exc:
            raise ConnectionError(f"Sentinel names no master for {self.url.service!r}: {exc}") from None
        return self.template.at(str(host), int(port))

    def _sentinel_address(self, node: RedisAddress) -> RedisAddress:
        return RedisAddress(host=node.host, port=node.port, password=self.url.sentinel_password, tls=node.tls)

    def _service_of(self, channel: bytes, parts: list[str]) -> str:
        """The master name an event is about: ``+switch-master <name> ...``, or
        ``<type> <name> <ip> <port> [@ <master name> <ip> <port>]``."""
        if channel == SWITCH:
            return parts[0] if parts else ""
        if "@" in parts:
            at = parts.index("@")
            return parts[at + 1] if len(parts) > at + 1 else ""
        return parts[1] if len(parts) > 1 else ""

    def _on_event(self, channel: bytes, data: bytes) -> None:
        parts = data.decode(errors="replace").split()
        if self._service_of(channel, parts) != self.url.service:
            return
        loop = asyncio.get_running_loop()
        if channel in FAILOVER_STARTS:
            if not self.fenced:
                self.fences += 1
                log.warning("Sentinel: failover of %s started; writes wait for the new master", self.url.service)
            self._fenced_until = loop.time() + FENCE_LIMIT
            for callback in self.on_fence:
                callback()
        elif channel in FAILOVER_ABORTS:
            self._fenced_until = 0.0
        elif channel == SWITCH:
            self._fenced_until = 0.0
            self.switches += 1
            log.warning("Sentinel: master of %s switched to %s", self.url.service, " ".join(parts[3:5]))
            for callback in self.on_switch:
                callback()

    async def watch(self) -> None:
        """Subscribe to the failover events on every sentinel (only the leader of a
        failover announces its steps); each subscription reconnects by itself."""
        subscriptions = [PubSub(self._sentinel_address(node), self._on_event, reconnect_delay=0.5) for node in self.url.nodes]
        pending = []
        try:
            for pubsub in subscriptions:
                pubsub.run()
                pending += [
                    asyncio.ensure_future(pubsub.subscribe(event)) for event in (*FAILOVER_STARTS, *FAILOVER_ABORTS, SWITCH)
                ]
            await asyncio.Event().wait()
        finally:
            for task in pending:
                task.cancel()
            for pubsub in subscriptions:
                await pubsub.close()


def _sentinel(url: RedisUrl) -> EngineParts:
    master = SentinelMaster(url)
    client = master.sentinel.master_for(url.service, redis_class=aioredis.Redis, db=master.template.db)
    pipeline = CommandPipeline(master)
    subscriptions: list[PubSub] = []

    def make_subscriptions(**kw: Any) -> Subscriptions:
        pubsub = PubSub(master, **kw)
        subscriptions.append(pubsub)
        return pubsub

    disconnecting: set[asyncio.Future[Any]] = set()  # kept until done (not collected mid-call)

    def fenced() -> None:
        pipeline.close()  # commands in flight fail (error 100); no new one until the switch
        with contextlib.suppress(RuntimeError):
            task = asyncio.ensure_future(client.connection_pool.disconnect(inuse_connections=False))
            disconnecting.add(task)
            task.add_done_callback(disconnecting.discard)

    def switched() -> None:
        fenced()
        for pubsub in subscriptions:
            pubsub.reconnect()  # resubscribes at the new master, then the hub repairs gaps

    master.on_fence.append(fenced)
    master.on_switch.append(switched)

    async def check() -> None:
        await master()
        await client.ping()

    return EngineParts("sentinel", client, pipeline, make_subscriptions, check, [master.watch])
