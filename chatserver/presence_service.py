"""Presence as the gateway sees it: record this process's connections per room in Redis,
keep them alive by a jittered heartbeat, sweep dead processes, answer presence queries,
publish coalesced count events, and decide which join/leave pushes a connection gets.

Rules live in ``presence/``; Redis and Lua in ``chatserver.redis.presence``.

Writes to one room go through a per-room writer that applies everything queued while the
previous call was in flight as one Lua call (group commit): a quiet room pays one call per
join, a reconnect storm pays one call per few hundred joins.
"""

from __future__ import annotations

import asyncio
import logging
import random
import secrets
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import msgpack
import orjson

from chatserver.channels import ChannelResolver
from chatserver.config import Settings
from chatserver.engine import (
    ApplyResult,
    JoinOp,
    LeaveOp,
    PresenceOp,
    PresenceStore,
    RoomRef,
    Streams,
    pack_member,
)
from chatserver.errors import ReplyError
from chatserver.protocol import codes
from chatserver.publication import Publication, pack_payload
from chatserver.registry import Registry
from chatserver.tasks import Tasks
from presence.model import Counts, MemberFlags
from presence.rules import Liveness, may_see, member_flags, room_threshold
from rooms.channels import ChannelKind
from rooms.model import Role

if TYPE_CHECKING:
    from chatserver.channels import ChannelSpec
    from chatserver.connection import Connection, Sub

log = logging.getLogger("chatserver.presence")

MAX_OPS_PER_CALL = 256


@dataclass(frozen=True, slots=True)
class _Beat:
    forced: tuple[str, ...] = ()


_Item = PresenceOp | _Beat


class _RoomWriter:
    """Serializes one room's presence writes and batches whatever queued up meanwhile."""

    def __init__(self, service: PresenceService, channel: str) -> None:
        self.service = service
        self.channel = channel
        self.queue: list[tuple[_Item, asyncio.Future[ApplyResult]]] = []
        self.running = False

    def submit(self, item: _Item) -> asyncio.Future[ApplyResult]:
        fut: asyncio.Future[ApplyResult] = asyncio.get_running_loop().create_future()
        self.queue.append((item, fut))
        if not self.running:
            self.running = True
            self.service.tasks.spawn(self._drain(), f"presence writer {self.channel}")
        return fut

    async def _drain(self) -> None:
        try:
            while self.queue:
                batch = self.queue[:MAX_OPS_PER_CALL]
                del self.queue[:MAX_OPS_PER_CALL]
                try:
                    result = await self.service._apply(self.channel, [item for item, _ in batch])
                except Exception as exc:
                    for _, fut in batch:
                        if not fut.done():
                            fut.set_exception(exc)
                            fut.exception()  # retrieved: callers may not await it
                    continue
                for _, fut in batch:
                    if not fut.done():
                        fut.set_result(result)
        finally:
            self.running = False
            self.service._writer_idle(self)


class PresenceService:
    def __init__(
        self,
        settings: Settings,
        store_of: Callable[[Liveness, str, float], PresenceStore],
        streams: Streams,
        resolver: ChannelResolver,
        users: Mapping[str, set[Connection]],
        node_id: str,
        tasks: Tasks,
    ) -> None:
        """``store_of(liveness, instance, count_hold)`` makes the engine's presence store;
        ``users`` is the node's map of the users connected here."""
        self.streams = streams
        self.resolver = resolver
        self.users = users
        self.tasks = tasks
        self.liveness = Liveness(settings.presence_ttl)
        self.threshold = settings.presence_threshold
        self.count_interval = settings.presence_count_interval
        self.list_max = settings.presence_list_max
        # A per-process id: a restarted process never inherits its previous life's entries.
        self.instance = f"{node_id}~{secrets.token_hex(4)}"
        self.store = store_of(self.liveness, self.instance, self.count_interval * 3)
        self.local: dict[str, dict[str, Connection]] = {}  # room -> client id -> connection
        self._writers: dict[str, _RoomWriter] = {}
        self._registered: set[str] = set()  # rooms where this node's entries were written
        self._resync: set[str] = set()  # rooms whose last write failed: rewrite at next beat
        self._counts_pending: set[str] = set()
        self._thresholds: dict[str, int] = {}  # room -> its threshold, as last read
        self._dead_seen: set[str] = set()
        self._status_dirty: set[str] = set()
        self._status_scheduled = False
        self._tasks: list[asyncio.Task[None]] = []
        self._stopped = False
        # metrics
        self.pushes_sent = 0  # join/leave pushes queued to connections here
        self.pushes_published = 0  # join/leave messages published by this process's calls
        self.count_events = 0
        self.sweeps = 0

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        await self.store.register_node(None)
        self._tasks.append(self.tasks.spawn(self._heartbeat(), "presence heartbeat"))
        self._tasks.append(self.tasks.spawn(self._sweeper(), "presence sweeper"))

    async def stop(self) -> None:
        """Leave every room at once (members hear the leaves now, not after the expiry)."""
        self._stopped = True
        for task in self._tasks:
            task.cancel()
        try:
            await asyncio.wait_for(self._leave_everything(), 5)
        except Exception:
            log.warning("presence: could not remove this process's entries on stop", exc_info=True)

    async def _leave_everything(self) -> None:
        rooms = list(self.local)
        self.local.clear()
        futures = [self._writer(room).submit(_Beat((self.instance,))) for room in rooms]
        await asyncio.gather(*futures, return_exceptions=True)
        await self.store.drop_node()

    def metrics(self) -> dict[str, float]:
        return {
            "presence_pushes_sent": self.pushes_sent,
            "presence_messages_published": self.pushes_published,
            "presence_count_events": self.count_events,
            "presence_sweeps": self.sweeps,
            "presence_redis_calls": self.store.calls,
            "presence_rooms": len(self.local),
        }

    # ------------------------------------------------------------------ rooms and roles

    def room_ref(self, channel: str) -> RoomRef:
        spec = self.resolver.resolve(channel)
        if spec is None or spec.room is None:
            return RoomRef(channel, False, self.threshold)
        threshold = room_threshold(self.threshold, spec.room.settings.extra)
        self._thresholds[channel] = threshold
        return RoomRef(channel, spec.join_leave, threshold)

    @staticmethod
    def role_of(conn: Connection, community: str) -> Role | None:
        return conn.identity.member.role_in(community) if conn.identity else None

    def is_staff(self, conn: Connection, community: str) -> bool:
        role = self.role_of(conn, community)
        return role is not None and role.is_staff

    @staticmethod
    def tracked(sub: Sub) -> bool:
        return sub.spec.kind is ChannelKind.ROOM and sub.spec.presence

    def _join_op(self, conn: Connection, sub: Sub) -> JoinOp:
        assert conn.identity is not None
        community = sub.spec.parsed.community
        role = self.role_of(conn, community)
        invisible = conn.identity.invisible
        flags = member_flags(
            is_staff=role is not None and role.is_staff,
            is_host=role is Role.HOST,
            invisible=invisible,
        )
        info = conn.client_info(sub.chan_info)
        if invisible:
            info["inv"] = True
        member = pack_member(flags, conn.identity.member.name, role.value if role else "member")
        return JoinOp(conn.client_id, conn.user, member, msgpack.packb(info, use_bin_type=True))

    # ------------------------------------------------------------------ subscribe / unsubscribe

    async def on_subscribed(self, conn: Connection, sub: Sub) -> None:
        if not self.tracked(sub) or self._stopped:
            return
        room = sub.spec.name
        self.local.setdefault(room, {})[conn.client_id] = conn
        try:
            await self._writer(room).submit(self._join_op(conn, sub))
        except Exception:
            self.tasks.log_failure(log, "presence: recording %s in %s failed (retried at the next beat)", conn.client_id, room)
            self._resync.add(room)

    async def on_unsubscribed(self, conn: Connection, sub: Sub) -> None:
        if not self.tracked(sub) or self._stopped:
            return
        room = sub.spec.name
        members = self.local.get(room)
        if members is not None:
            members.pop(conn.client_id, None)
            if not members:
                del self.local[room]
                self._thresholds.pop(room, None)
                self._registered.discard(room)
                self._resync.discard(room)
        try:
            await self._writer(room).submit(LeaveOp(conn.client_id, conn.user))
        except Exception:
            self.tasks.log_failure(log, "presence: removing %s from %s failed (it expires)", conn.client_id, room)

    # ------------------------------------------------------------------ writing

    def _writer(self, room: str) -> _RoomWriter:
        writer = self._writers.get(room)
        if writer is None:
            writer = self._writers[room] = _RoomWriter(self, room)
        return writer

    def _writer_idle(self, writer: _RoomWriter) -> None:
        if not writer.queue and writer.channel not in self.local:
            self._writers.pop(writer.channel, None)

    async def _apply(self, room: str, items: Sequence[_Item]) -> ApplyResult:
        ops = [item for item in items if not isinstance(item, _Beat)]
        beats = [item for item in items if isinstance(item, _Beat)]
        forced = tuple(dict.fromkeys(n for beat in beats for n in beat.forced))
        resync = room in self._resync
        if resync:
            self._resync.discard(room)
        registered = room in self._registered
        result = await self.store.apply(self.room_ref(room), ops, beat=bool(beats), forced=forced)
        self.pushes_published += result.published
        if forced:
            self.sweeps += 1
        if any(isinstance(op, JoinOp) for op in ops):
            self._registered.add(room)
        if result.due:
            self._schedule_counts(room)
        if ((result.lost and registered) or resync) and self.local.get(room) and not self._stopped:
            log.warning("presence: this process's entries in %s were lost; adding them again", room)
            self._rejoin(room)
        return result

    def _rejoin(self, room: str) -> None:
        writer = self._writer(room)
        for conn in list(self.local.get(room, {}).values()):
            sub = conn.subs.get(room)
            if sub is not None and not conn.closed:
                writer.submit(self._join_op(conn, sub))

    # ------------------------------------------------------------------ heartbeat and sweeping

    async def _heartbeat(self) -> None:
        while True:
            await asyncio.sleep(self.liveness.beat_interval(random.random()))
            try:
                await self.beat()
            except Exception:
                self.tasks.log_failure(log, "presence heartbeat failed")

    async def beat(self, forced: tuple[str, ...] = ()) -> None:
        """Refresh this process's deadline in every room it has members in (sweeping
        expired and ``forced`` processes there), then its process-wide deadline."""
        rooms = list(self.local)
        futures = [self._writer(room).submit(_Beat(forced)) for room in rooms]
        results = await asyncio.gather(*futures, return_exceptions=True)
        for room, result in zip(rooms, results, strict=True):
            if isinstance(result, BaseException):
                log.warning("presence beat for %s failed: %s", room, result)
                self._resync.add(room)
        if not await self.store.register_node(None) and self.users:
            await self.store.register_node(list(self.users))

    async def _sweeper(self) -> None:
        """Every second or so, look for processes that stopped beating and sweep them from
        the rooms this process has members in: their members leave within presence_ttl."""
        while True:
            await asyncio.sleep(self.liveness.sweep_interval(random.random()))
            try:
                dead = await self.store.dead_nodes()
            except Exception:
                self.tasks.log_failure(log, "presence sweeper failed")
                continue
            if self.instance in dead:
                log.warning("presence: this process was taken for dead; beating now")
            fresh = tuple(n for n in dead if n not in self._dead_seen and n != self.instance)
            self._dead_seen.intersection_update(dead)
            if fresh or self.instance in dead:
                if fresh:
                    log.info("presence: sweeping dead process(es) %s", ", ".join(fresh))
                try:
                    await self.beat(fresh)
                except Exception:
                    self.tasks.log_failure(log, "presence sweep failed")
                    continue
                self._dead_seen.update(fresh)

    # ------------------------------------------------------------------ count events

    def _schedule_counts(self, room: str) -> None:
        if room in self._counts_pending or self._stopped:
            return
        self._counts_pending.add(room)
        loop = asyncio.get_running_loop()
        loop.call_later(self.count_interval, lambda: self.tasks.spawn(self._publish_counts(room), "presence counts"))

    async def _publish_counts(self, room: str) -> None:
        """One count event per room per window, whatever the number of joins and leaves."""
        self._counts_pending.discard(room)
        if self._stopped:
            return
        ref = self.room_ref(room)
        try:
            read = await self.store.counts(ref, pending=True)
            event = count_event(read.counts, ref.threshold)
            payload = pack_payload(orjson.dumps(event), time_ms=int(time.time() * 1000))
            await self.streams.publish_ephemeral(room, payload)
            self.count_events += 1
        except Exception:
            self.tasks.log_failure(log, "presence: count event for %s failed", room)

    def _after_read(self, room: str, due: bool, published: int) -> None:
        self.pushes_published += published
        if due:
            self._schedule_counts(room)

    # ------------------------------------------------------------------ what connections see

    def should_push(self, conn: Connection, sub: Sub, pub: Publication) -> bool:
        """Join/leave pushes: never about oneself; about an invisible member only to staff;
        none while this process alone holds more of the room's connections than the
        threshold (a join burst: the messages were published while the room was small, but
        arrive when it no longer is; the count event covers them)."""
        info = pub.info or {}
        user = info.get("user", "")
        if user == conn.user:
            return False
        room = sub.spec.name
        if len(self.local.get(room, ())) > self._thresholds.get(room, self.threshold):
            return False
        if not info.get("inv"):  # the common case, once per delivery: keep it cheap
            self.pushes_sent += 1
            return True
        flags = MemberFlags.INVISIBLE
        if not may_see(
            viewer_is_staff=self.is_staff(conn, sub.spec.parsed.community),
            viewer_user=conn.user,
            subject_user=user,
            subject_flags=flags,
        ):
            return False
        self.pushes_sent += 1
        return True

    async def presence(self, conn: Connection, spec: ChannelSpec) -> dict[str, Any]:
        """The protocol's ``presence``: one ClientInfo per connection (invisible ones only
        for staff and themselves). Refused above ``presence_list_max`` connections."""
        read, entries = await self.store.entries(self.room_ref(spec.name), self.list_max)
        self._after_read(spec.name, read.due, read.published)
        if isinstance(entries, int):
            raise ReplyError(
                codes.LIMIT_EXCEEDED,
                f"limit exceeded: {entries} connections online; use presence_stats or presence.members",
            )
        staff = self.is_staff(conn, spec.parsed.community)
        out: dict[str, Any] = {}
        for client, info in entries.items():
            flags = MemberFlags.INVISIBLE if info.get("inv") else MemberFlags.NONE
            if may_see(viewer_is_staff=staff, viewer_user=conn.user, subject_user=info.get("user", ""), subject_flags=flags):
                out[client] = _client_info(info)
        return out

    async def stats(self, conn: Connection, spec: ChannelSpec) -> tuple[int, int]:
        """The protocol's ``presence_stats``: totals (invisible members included)."""
        counts = await self.read_counts(spec.name)
        return counts.clients, counts.users

    async def read_counts(self, room: str) -> Counts:
        read = await self.store.counts(self.room_ref(room))
        self._after_read(room, read.due, read.published)
        return read.counts

    # ------------------------------------------------------------------ users online anywhere

    def user_changed(self, user: str) -> None:
        """A user's first connection here opened or their last closed (batched to Redis)."""
        if not user or self._stopped:
            return
        self._status_dirty.add(user)
        if not self._status_scheduled:
            self._status_scheduled = True
            asyncio.get_running_loop().call_later(0.02, lambda: self.tasks.spawn(self._flush_status(), "user status"))

    async def _flush_status(self) -> None:
        self._status_scheduled = False
        dirty = self._status_dirty
        self._status_dirty = set()
        if not dirty or self._stopped:
            return
        online = [u for u in dirty if u in self.users]
        offline = [u for u in dirty if u not in self.users]
        try:
            await self.store.update_users(online, offline)
        except Exception:
            self.tasks.log_failure(log, "presence: user status update failed (retried)")
            self._status_dirty |= dirty
            if not self._status_scheduled:
                self._status_scheduled = True
                asyncio.get_running_loop().call_later(1.0, lambda: self.tasks.spawn(self._flush_status(), "user status"))

    async def users_online(self, users: Sequence[str]) -> dict[str, bool]:
        return await self.store.online(users)


def count_event(counts: Counts, threshold: int) -> dict[str, Any]:
    """The ``presence.counts`` event (what members may see: invisible members only in
    ``users``). ``lists`` false: per-member join/leave pushes are off (room too big)."""
    return {
        "type": "presence.counts",
        "users": counts.users,
        "clients": counts.clients,
        "moderators": counts.staff_visible,
        "hosts": counts.hosts_visible,
        "host_online": counts.hosts_visible > 0,
        "lists": counts.users <= threshold,
    }


def _client_info(info: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"user": info.get("user", ""), "client": info.get("client", "")}
    if info.get("conn_info"):
        out["conn_info"] = info["conn_info"]
    if info.get("chan_info"):
        out["chan_info"] = info["chan_info"]
    return out


def install(
    settings: Settings,
    registry: Registry,
    store_of: Callable[[Liveness, str, float], PresenceStore],
    streams: Streams,
    resolver: ChannelResolver,
    users: Mapping[str, set[Connection]],
    node_id: str,
    tasks: Tasks,
) -> PresenceService:
    """Build this process's presence service and register its metrics; return it."""
    presence = PresenceService(settings, store_of, streams, resolver, users, node_id, tasks)
    registry.metric_sources.append(presence.metrics)
    return presence
