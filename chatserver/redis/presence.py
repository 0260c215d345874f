"""RedisPresence: who is in each room, across processes, kept exactly and swept when a
process dies. All the rules run inside Lua (``presence_lib.lua`` + a body), one atomic call
per room per batch of changes.

Per room ``c`` (hash tag ``{c}``): ``chat:{c}:pr`` entries (client id -> msgpack info),
``:pk`` connections per user, ``:pm`` members (flags digit + msgpack {n, r}), ``:pc``
counters, ``:pn`` which node holds which entry, ``:pl`` node deadlines in this room, ``:pq``
count-event-pending mark, ``:ps`` staff and hosts online; typing: ``:ty`` and ``:tl:<user>``.

Per process: ``chat:nodes`` (zset presence id -> deadline, ms) and
``chat:node:{<id>}:users`` (the users with a connection on that process; expires by
itself when the process stops refreshing it). "Is this user online anywhere" asks the live
processes' sets, so a dead process stops counting as soon as its deadline passes.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

import msgpack
import redis.asyncio as aioredis

if TYPE_CHECKING:
    from chatserver.redis.cluster import ClusterRouter
    from chatserver.redis.pipeline import CommandPipeline

from chatserver.engine import ApplyResult, JoinOp, PresenceOp, ReadResult, RoomRef, unpack_member
from chatserver.engine import pack_member as pack_member  # the entry format, named here too
from chatserver.member_data import MemberScope
from chatserver.publication import KIND_JOIN, KIND_LEAVE
from chatserver.redis.broker import pubsub_channel, register_lua, run_script
from chatserver.redis.keyspace import delete_matching, each, glob_escape, scan
from presence.model import Counts, OnlineMember
from presence.rules import Liveness

NODES_KEY = "chat:nodes"
_SUFFIXES = ("pr", "pk", "pm", "pc", "pn", "pl", "pq", "ps")


def room_keys(channel: str) -> list[str]:
    return [f"chat:{{{channel}}}:{suffix}" for suffix in _SUFFIXES]


def node_users_key(node: str) -> str:
    return f"chat:node:{{{node}}}:users"


def typing_keys(channel: str, user: str) -> list[str]:
    return [f"chat:{{{channel}}}:ty", f"chat:{{{channel}}}:tl:{user}"]


def _prefix(kind: str) -> bytes:
    """A msgpack map {k: kind, d: b"null", i: <info>} without its last value: the Lua
    scripts append the stored entry (already msgpack) to make the join/leave payload."""
    packed = msgpack.packb({"k": kind, "d": b"null", "i": None}, use_bin_type=True)
    return packed[:-1]  # drop the trailing nil


JOIN_PREFIX = _prefix(KIND_JOIN)
LEAVE_PREFIX = _prefix(KIND_LEAVE)


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _counts(flat: Sequence[Any]) -> Counts:
    """The counters hash (clients users inv staff staff_inv hosts hosts_inv) as ``Counts``."""
    raw = {_text(flat[i]): int(flat[i + 1]) for i in range(0, len(flat), 2)}
    get = raw.get
    return Counts.from_fields(
        {
            "clients": get("clients", 0),
            "users": get("users", 0),
            "visible": get("users", 0) - get("inv", 0),
            "staff": get("staff", 0),
            "staff_visible": get("staff", 0) - get("staff_inv", 0),
            "hosts": get("hosts", 0),
            "hosts_visible": get("hosts", 0) - get("hosts_inv", 0),
        }
    )


class RedisPresence:
    member_phase = 80
    def __init__(
        self,
        client: aioredis.Redis,
        liveness: Liveness,
        node: str,
        count_hold: float,
        pipeline: CommandPipeline | ClusterRouter | None = None,
    ) -> None:
        """``pipeline``: the scripts (joins, leaves, reads, typing) go over the pipelined
        command connection, one write per loop turn for every room's batch; the process
        bookkeeping (registration, users sets) stays on ``client``."""
        if "\0" in node or "\n" in node:
            raise ValueError("a presence node id must not contain NUL or newline")
        self.redis = client
        self.pipeline = pipeline
        self.liveness = liveness
        self.node = node
        self.count_hold_ms = max(1, int(count_hold * 1000))
        self._apply = register_lua(client, "presence_lib.lua", "presence_apply.lua")
        self._read = register_lua(client, "presence_lib.lua", "presence_read.lua")
        self._typing = register_lua(client, "typing.lua")
        self.calls = 0  # Redis round trips made by presence and typing

    # ------------------------------------------------------------------ rooms

    def _header(self, room: RoomRef, now: float, forced: Sequence[str]) -> list[Any]:
        return [
            self.node,
            int(now * 1000),
            int(self.liveness.deadline(now) * 1000),
            self.liveness.keys_ttl,
            room.threshold,
            "1" if room.join_leave else "0",
            self.count_hold_ms,
            pubsub_channel(room.channel),
            JOIN_PREFIX,
            LEAVE_PREFIX,
            len(forced),
            *forced,
        ]

    async def apply(
        self,
        room: RoomRef,
        ops: Sequence[PresenceOp],
        *,
        beat: bool = False,
        forced: Sequence[str] = (),
        now: float | None = None,
    ) -> ApplyResult:
        """Apply this node's joins and leaves in ``room`` in order (one atomic call); with
        ``beat`` also refresh this node's deadline there; sweep expired and ``forced`` nodes."""
        args = self._header(room, time.time() if now is None else now, forced)
        args.append("1" if beat else "0")
        for op in ops:
            if isinstance(op, JoinOp):
                args += ["j", op.client, op.user, op.member, op.entry]
            else:
                args += ["l", op.client, op.user]
        self.calls += 1
        lost, due, published, counters = await run_script(self.pipeline, self._apply, room_keys(room.channel), args)
        return ApplyResult(bool(lost), bool(due), int(published), _counts(counters))

    async def _read_call(self, room: RoomRef, mode: str, limit: int, now: float | None) -> list[Any]:
        args = self._header(room, time.time() if now is None else now, ())
        args += [mode, limit]
        self.calls += 1
        return list(await run_script(self.pipeline, self._read, room_keys(room.channel), args))

    async def counts(self, room: RoomRef, *, pending: bool = False, now: float | None = None) -> ReadResult:
        """The room's counters. ``pending``: also clear the count-event mark (the caller
        publishes the count event right after)."""
        due, published, counters = await self._read_call(room, "pending" if pending else "counts", 0, now)
        return ReadResult(bool(due), int(published), _counts(counters))

    async def entries(
        self, room: RoomRef, max_entries: int, *, now: float | None = None
    ) -> tuple[ReadResult, dict[str, dict[str, Any]] | int]:
        """Every connection in the room (client id -> info), or their number if over ``max_entries``."""
        due, published, counters, listed = await self._read_call(room, "list", max_entries, now)
        head = ReadResult(bool(due), int(published), _counts(counters))
        if isinstance(listed, int):
            return head, listed
        out: dict[str, dict[str, Any]] = {}
        for i in range(0, len(listed), 2):
            out[_text(listed[i])] = msgpack.unpackb(listed[i + 1], raw=False)
        return head, out

    async def members(
        self, room: RoomRef, limit: int, *, now: float | None = None
    ) -> tuple[ReadResult, list[OnlineMember], list[OnlineMember]]:
        """Counters, the staff and hosts online, and up to ``limit`` members (distinct users)."""
        due, published, counters, staff, members = await self._read_call(room, "members", limit, now)
        head = ReadResult(bool(due), int(published), _counts(counters))
        staff_list = [unpack_member(_text(staff[i]), staff[i + 1]) for i in range(0, len(staff), 2)]
        member_list = [unpack_member(_text(members[i]), members[i + 1]) for i in range(0, len(members), 2)]
        return head, staff_list, member_list

    # ------------------------------------------------------------------ processes and users

    async def register_node(self, users: Iterable[str] | None, *, now: float | None = None) -> bool:
        """Refresh this process's deadline and its users set's expiry. Returns False when
        the users set was gone (expired: this process was taken for dead); pass ``users``
        (every user connected here) to recreate it."""
        now = time.time() if now is None else now
        deadline_ms = int(self.liveness.deadline(now) * 1000)
        window_ms = int(self.liveness.window * 1000)
        key = node_users_key(self.node)
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.zadd(NODES_KEY, {self.node: deadline_ms})
            if users:
                pipe.sadd(key, *users)
            pipe.pexpire(key, window_ms)
            results = await pipe.execute()
        self.calls += 1
        return bool(results[-1])

    async def update_users(self, online: Sequence[str], offline: Sequence[str]) -> None:
        """Users who got their first / lost their last connection on this process."""
        key = node_users_key(self.node)
        async with self.redis.pipeline(transaction=False) as pipe:
            if online:
                pipe.sadd(key, *online)
            if offline:
                pipe.srem(key, *offline)
            pipe.pexpire(key, int(self.liveness.window * 1000))
            await pipe.execute()
        self.calls += 1

    async def dead_nodes(self, *, now: float | None = None) -> list[str]:
        """Processes whose deadline passed (and prune those long gone)."""
        now_ms = int((time.time() if now is None else now) * 1000)
        forget_ms = now_ms - int(self.liveness.ttl * 10_000)
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.zremrangebyscore(NODES_KEY, "-inf", forget_ms)
            pipe.zrangebyscore(NODES_KEY, "-inf", f"({now_ms}")
            _, dead = await pipe.execute()
        self.calls += 1
        return [_text(n) for n in dead]

    async def live_nodes(self, *, now: float | None = None) -> list[str]:
        """Processes whose deadline has not passed."""
        now_ms = int((time.time() if now is None else now) * 1000)
        return [_text(n) for n in await self.redis.zrangebyscore(NODES_KEY, now_ms, "+inf")]

    async def drop_node(self) -> None:
        """This process is stopping: forget it at once."""
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.zrem(NODES_KEY, self.node)
            pipe.delete(node_users_key(self.node))
            await pipe.execute()
        self.calls += 1

    async def online(self, users: Sequence[str], *, now: float | None = None) -> dict[str, bool]:
        """Whether each user has a connection on any live process (invisible ones included)."""
        now_ms = int((time.time() if now is None else now) * 1000)
        live = [_text(n) for n in await self.redis.zrangebyscore(NODES_KEY, now_ms, "+inf")]
        found = dict.fromkeys(users, False)
        if live and users:
            async with self.redis.pipeline(transaction=False) as pipe:
                for node in live:
                    pipe.smismember(node_users_key(node), list(users))
                rows = await pipe.execute()
            for row in rows:
                for user, hit in zip(users, row, strict=True):
                    if hit:
                        found[user] = True
        self.calls += 2
        return found

    # ------------------------------------------------------------------ typing

    async def typing(
        self,
        channel: str,
        user: str,
        action: str,
        message: bytes,
        *,
        expires_at: float = 0.0,
        interval: float = 0.0,
        now: float | None = None,
    ) -> int:
        """Run ``typing.lua``: 1 published; 0 nothing to do; negative: ms until allowed."""
        now = time.time() if now is None else now
        self.calls += 1
        result = await run_script(
            self.pipeline,
            self._typing,
            typing_keys(channel, user),
            [
                action,
                user,
                int(now * 1000),
                int(expires_at * 1000),
                max(1, int(interval * 1000)),
                pubsub_channel(channel),
                b"0::" + message,
                self.liveness.keys_ttl,
            ],
        )
        return int(result)

    # ---- member data (chatserver.member_data) -------------------------------------------------

    async def export_member(self, scope: MemberScope) -> dict[str, list[Any]]:
        online = (await self.online([scope.user])).get(scope.user, False)
        return {"presence": [{"online": online}]} if online else {}

    async def forget_member(self, scope: MemberScope) -> dict[str, int]:
        """Presence entries go when their connections close (the erasure closes them first);
        typing indicators and limits go here, and any process's record of them."""
        removed = await delete_matching(self.redis, f"chat:{{*}}:tl:{glob_escape(scope.user)}")
        async for found in scan(self.redis, "chat:{*}:ty"):
            await each(self.redis, "ZREM", [(k, scope.user) for k in found])
        async for found in scan(self.redis, "chat:node:{*}:users"):
            await each(self.redis, "SREM", [(k, scope.user) for k in found])
        return {"keys": removed}
