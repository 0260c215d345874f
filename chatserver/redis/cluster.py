"""The Redis Cluster side of the engine: the slot map, a pipelined command connection per
master (``ClusterRouter``, what ``CommandPipeline`` is on one server) and sharded pub/sub
(``ShardedPubSub``: one SSUBSCRIBE connection per shard, ``engine.Subscriptions``).

Routing: a command goes to the master owning its key's slot (``CLUSTER SLOTS``); ``MOVED``
updates that slot and refreshes the map in the background, then the command is sent again
(a redirected command did not run); ``ASK`` sends ``ASKING`` + the command to the named node;
``TRYAGAIN``/``CLUSTERDOWN`` are retried briefly. A lost connection refreshes the map and
fails the commands in flight (they may or may not have run: the caller answers error 100
and the client retries with its idempotency key). Nothing is read from replicas.

Sharded pub/sub: a channel is subscribed on the master owning its slot. When the server
drops it (``sunsubscribe`` push on failover or slot migration, MOVED to the SSUBSCRIBE) or
the shard's connection is lost, the map is refreshed, every channel whose owner changed is
subscribed at the new owner, and ``on_reset`` tells the hub to fill the gap from history.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from typing import Any

from redis.crc import key_slot

from chatserver.redis.pipeline import CommandPipeline
from chatserver.redis.pubsub import PubSub
from chatserver.redis.resp import RespError
from chatserver.redis.urls import RedisAddress

log = logging.getLogger("chatserver.redis.cluster")

SLOTS = 16384
REDIRECTS = 5
_KEYLESS = {b"PING", b"INFO", b"CLUSTER", b"SCRIPT", b"TIME", b"ROLE"}
_EVAL = {b"EVAL", b"EVALSHA", b"EVAL_RO", b"EVALSHA_RO", b"FCALL", b"FCALL_RO"}


class ClusterError(ConnectionError):
    """The cluster cannot serve a command now (no owner for a slot, nodes unreachable)."""


def _b(value: bytes | str | int) -> bytes:
    return value if isinstance(value, bytes) else str(value).encode()


def command_slot(args: Sequence[bytes | str | int]) -> int | None:
    """The slot a command's first key hashes to (None: a command without keys)."""
    name = _b(args[0]).upper()
    if name in _EVAL:
        return key_slot(_b(args[3])) if len(args) > 3 and int(args[2]) > 0 else None
    if name in _KEYLESS or len(args) < 2:
        return None
    return key_slot(_b(args[1]))


class SlotMap:
    """Which master owns each slot, from ``CLUSTER SLOTS`` of any reachable node."""

    def __init__(self, seeds: Sequence[RedisAddress]) -> None:
        self.seeds = tuple(seeds)
        self.owners: list[RedisAddress | None] = [None] * SLOTS
        self.version = 0

    def masters(self) -> list[RedisAddress]:
        return list(dict.fromkeys(o for o in self.owners if o is not None))

    def load(self, reply: Any, asked: RedisAddress) -> int:
        """Apply one ``CLUSTER SLOTS`` reply; returns the number of slots without owner."""
        owners: list[RedisAddress | None] = [None] * SLOTS
        for row in reply:
            start, end, master = int(row[0]), int(row[1]), row[2]
            host = master[0].decode() if master[0] else asked.host
            node = asked.at(host, int(master[1]))
            for slot in range(start, end + 1):
                owners[slot] = node
        if owners != self.owners:
            self.owners = owners
            self.version += 1
        return owners.count(None)


class ClusterRouter:
    """``CommandPipeline``'s interface (``execute``, ``execute_many``) over a cluster."""

    publish_command = b"SPUBLISH"

    def __init__(self, seeds: Sequence[RedisAddress], name: str = "chatserver-publish") -> None:
        self.map = SlotMap(seeds)
        self.name = name
        self._pipes: dict[RedisAddress, CommandPipeline] = {}
        self._refreshing: asyncio.Future[None] | None = None
        self.redirects = 0
        self.refreshes = 0

    def pipe(self, node: RedisAddress) -> CommandPipeline:
        pipe = self._pipes.get(node)
        if pipe is None:
            pipe = self._pipes[node] = CommandPipeline(node, self.name)
        return pipe

    def owner(self, slot: int) -> RedisAddress | None:
        return self.map.owners[slot]

    # ---- the map ---------------------------------------------------------------------

    def refresh_soon(self) -> None:
        if self._refreshing is None or self._refreshing.done():
            self._refreshing = asyncio.ensure_future(self._refresh())
            self._refreshing.add_done_callback(lambda f: f.cancelled() or f.exception())

    async def refresh(self) -> None:
        """Reload the slot map (concurrent calls share one reload)."""
        self.refresh_soon()
        assert self._refreshing is not None
        await asyncio.shield(self._refreshing)

    async def _refresh(self) -> None:
        self.refreshes += 1
        errors = []
        for node in dict.fromkeys([*self.map.masters(), *self.map.seeds]):
            try:
                reply = await asyncio.wait_for(self.pipe(node).execute(b"CLUSTER", b"SLOTS"), 3)
            except (OSError, TimeoutError, RespError) as exc:
                errors.append(f"{node.label}: {exc}")
                continue
            missing = self.map.load(reply, node)
            if missing:
                log.warning("cluster slot map from %s: %d slots have no master", node.label, missing)
            for stale in set(self._pipes) - set(self.map.masters()) - set(self.map.seeds):
                self._pipes.pop(stale).close()
            return
        raise ClusterError("no cluster node answered CLUSTER SLOTS: " + "; ".join(errors))

    # ---- commands --------------------------------------------------------------------

    async def execute(self, *args: bytes | str | int) -> object:
        slot = command_slot(args)
        node: RedisAddress | None = None
        asking = False
        for attempt in range(REDIRECTS + 1):
            if node is None:
                node = self._node_for(slot)
                if node is None:
                    await self.refresh()
                    node = self._node_for(slot)
                    if node is None:
                        raise ClusterError(f"CLUSTERDOWN: slot {slot} has no master")
            pipe = self.pipe(node)
            try:
                if asking:
                    reply = (await pipe.execute_many([(b"ASKING",), args]))[1]
                    if isinstance(reply, RespError):
                        raise reply
                    return reply
                return await pipe.execute(*args)
            except RespError as exc:
                text = str(exc)
                if attempt == REDIRECTS:
                    raise
                if text.startswith(("MOVED ", "ASK ")):
                    self.redirects += 1
                    kind, moved_slot, where = text.split()[:3]
                    host, _, port = where.rpartition(":")
                    node = node.at(host or node.host, int(port))
                    asking = kind == "ASK"
                    if not asking:
                        self.map.owners[int(moved_slot)] = node
                        self.refresh_soon()
                    continue
                if text.startswith(("TRYAGAIN", "CLUSTERDOWN")):
                    await asyncio.sleep(0.05 * (attempt + 1))
                    with contextlib.suppress(ClusterError):
                        await self.refresh()
                    node, asking = None, False
                    continue
                raise
            except (OSError, TimeoutError):
                self.refresh_soon()
                raise
        raise AssertionError("unreachable")

    def _node_for(self, slot: int | None) -> RedisAddress | None:
        if slot is not None:
            return self.map.owners[slot]
        masters = self.map.masters()
        return masters[0] if masters else None

    async def execute_many(self, commands: list[tuple[bytes | str | int, ...]]) -> list[object]:
        """Each command to its slot's master, all started in this loop turn; error replies
        come back in place (like ``CommandPipeline.execute_many``); a lost connection raises."""
        results = await asyncio.gather(*(self.execute(*args) for args in commands), return_exceptions=True)
        for result in results:
            if isinstance(result, BaseException) and not isinstance(result, RespError):
                raise result
        return list(results)

    def close(self) -> None:
        for pipe in self._pipes.values():
            pipe.close()
        self._pipes.clear()


class ShardedPubSub:
    """``engine.Subscriptions`` on a cluster: one sharded ``PubSub`` per master."""

    def __init__(
        self,
        router: ClusterRouter,
        on_message: Callable[[bytes, bytes], None],
        on_reset: Callable[..., None] | None = None,  # (channels that may have missed messages)
        subscribe_timeout: float = 20.0,
    ) -> None:
        self.router = router
        self.on_message = on_message
        self.on_reset = on_reset
        self.subscribe_timeout = subscribe_timeout
        self._nodes: dict[RedisAddress, PubSub] = {}
        self._closing: set[asyncio.Future[Any]] = set()
        self._where: dict[bytes, RedisAddress] = {}
        self._wanted: set[bytes] = set()
        self._rebalancing: asyncio.Task[None] | None = None
        self._closing = False
        self.resets = 0

    async def start(self, timeout: float = 10.0) -> None:
        await asyncio.wait_for(self.router.refresh(), timeout)

    async def close(self) -> None:
        self._closing = True
        if self._rebalancing is not None:
            self._rebalancing.cancel()
        for pubsub in list(self._nodes.values()):
            await pubsub.close()
        self._nodes.clear()

    def _node(self, address: RedisAddress) -> PubSub:
        pubsub = self._nodes.get(address)
        if pubsub is None:
            pubsub = PubSub(
                address,
                self.on_message,
                on_reset=lambda: self._node_reset(address),
                sharded=True,
                on_dropped=self._dropped,
                on_lost=self._trouble,
            )
            self._nodes[address] = pubsub
            pubsub.run()
        return pubsub

    async def subscribe(self, channel: bytes) -> None:
        self._wanted.add(channel)
        try:
            await self._place(channel)
        except BaseException:
            self._wanted.discard(channel)
            raise

    async def _place(self, channel: bytes) -> None:
        """Subscribe at the channel's owner, following the map until it holds."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.subscribe_timeout
        slot = key_slot(channel)
        while True:
            node = self.router.owner(slot)
            if node is None:
                await self.router.refresh()
                node = self.router.owner(slot)
            if node is not None:
                pubsub = self._node(node)
                self._where[channel] = node
                try:
                    await asyncio.wait_for(pubsub.subscribe(channel), 2.0)
                    return
                except (RespError, ConnectionError, TimeoutError) as exc:
                    pubsub.forget(channel)
                    log.warning("SSUBSCRIBE %r at %s failed: %s", channel, node.label, exc)
            if channel not in self._wanted:
                return
            if loop.time() > deadline:
                raise ClusterError(f"could not subscribe to {channel!r}: no master answered for slot {slot}")
            with contextlib.suppress(ClusterError, OSError, TimeoutError):
                await self.router.refresh()
            await asyncio.sleep(0.2)

    def unsubscribe(self, channel: bytes) -> None:
        self._wanted.discard(channel)
        node = self._where.pop(channel, None)
        pubsub = self._nodes.get(node) if node is not None else None
        if pubsub is not None:
            pubsub.unsubscribe(channel)

    # ---- failover and slot moves -----------------------------------------------------

    def _node_reset(self, address: RedisAddress) -> None:
        """A shard's connection came back (same node): messages of its channels (only
        those: the other shards' went on) may have been missed."""
        self.resets += 1
        if self.on_reset is not None:
            self.on_reset({ch for ch, node in self._where.items() if node == address})

    def _dropped(self, channel: bytes) -> None:
        self._trouble()

    def _trouble(self) -> None:
        if self._closing:
            return
        if self._rebalancing is None or self._rebalancing.done():
            self._rebalancing = asyncio.ensure_future(self._rebalance())

    async def _rebalance(self) -> None:
        """Until every wanted channel is subscribed at its slot's (reachable) master: reload
        the map, move the channels whose owner changed, then let the hub repair gaps."""
        moved: set[bytes] = set()
        while not self._closing:
            await asyncio.sleep(0.1)
            try:
                await self.router.refresh()
            except (ClusterError, OSError, TimeoutError) as exc:
                log.warning("cluster map refresh failed: %s", exc)
                await asyncio.sleep(0.5)
                continue
            moving = []
            settled = True
            for channel in list(self._wanted):
                owner = self.router.owner(key_slot(channel))
                current = self._where.get(channel)
                pubsub = self._nodes.get(current) if current is not None else None
                if owner is None:
                    settled = False
                elif owner != current or pubsub is None or channel not in pubsub.channels:
                    if pubsub is not None:
                        pubsub.forget(channel)
                    moving.append(channel)
                elif not pubsub.connected:
                    settled = False  # the owner is unreachable and nobody replaced it yet
            if moving:
                log.warning("resubscribing %d sharded channels at their new owners", len(moving))
                results = await asyncio.gather(*(self._place(ch) for ch in moving), return_exceptions=True)
                moved.update(moving)
                settled = settled and not any(isinstance(r, BaseException) for r in results)
            self._drop_idle()
            if settled:
                break
            # Look again soon: a replica taking over shows in the map at once, and every
            # moment before the move is a moment its room's messages wait (a repair).
            await asyncio.sleep(0.15)
        if moved:
            self.resets += 1
            if self.on_reset is not None:
                self.on_reset(moved)  # only the moved channels can have missed messages

    def _drop_idle(self) -> None:
        """Close shard connections no channel uses and whose node is no longer a master."""
        masters = set(self.router.map.masters())
        in_use = set(self._where.values())
        for node in list(self._nodes):
            if node not in masters and node not in in_use:
                pubsub = self._nodes.pop(node)
                closing = asyncio.ensure_future(pubsub.close())
                self._closing.add(closing)  # kept until done (not collected mid-close)
                closing.add_done_callback(self._closing.discard)
