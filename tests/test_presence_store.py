"""The presence Lua scripts against real Valkey, checked step by step against the pure
reference model (presence.RoomPresence): same counters, same members, and the same
join/leave messages on the room's pub/sub channel, in the same order."""

from __future__ import annotations

import asyncio
import random

import msgpack
import redis.asyncio as aioredis

from chatserver.engine import JoinOp, LeaveOp, RoomRef
from chatserver.publication import Publication
from chatserver.redis.broker import pubsub_channel
from chatserver.redis.presence import RedisPresence, pack_member, room_keys
from presence import Liveness, MemberFlags, MemberJoined, MemberLeft, RoomPresence, RoomRules
from tests.harness import unique

LIVE = Liveness(10)


def entry(client: str, user: str, flags: MemberFlags) -> bytes:
    info = {"user": user, "client": client, "conn_info": b'{"name":"%s"}' % user.encode()}
    if flags & MemberFlags.INVISIBLE:
        info["inv"] = True
    return msgpack.packb(info, use_bin_type=True)


def join_op(client: str, user: str, flags: MemberFlags) -> JoinOp:
    return JoinOp(client, user, pack_member(flags, user.upper(), "member"), entry(client, user, flags))


class Listener:
    """Collects join/leave messages published on a room's channel."""

    def __init__(self, client: aioredis.Redis, channel: str) -> None:
        self.pubsub = client.pubsub()
        self.channel = channel
        self.got: list[tuple[str, str]] = []

    async def start(self) -> None:
        await self.pubsub.subscribe(pubsub_channel(self.channel))
        await self.pubsub.get_message(timeout=1)  # the subscribe confirmation

    async def collect(self, expected: int, timeout: float = 10) -> list[tuple[str, str]]:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while len(self.got) < expected and loop.time() < deadline:
            msg = await self.pubsub.get_message(ignore_subscribe_messages=True, timeout=0.5)
            if msg and msg["type"] == "message":
                payload = msg["data"][3:]  # b"0::" + payload
                pub = Publication.unpack(self.channel, 0, "", payload)
                self.got.append((pub.kind, (pub.info or {}).get("user", "")))
        return self.got

    async def close(self) -> None:
        await self.pubsub.aclose()


def model_messages(events) -> list[tuple[str, str]]:
    out = []
    for e in events:
        if isinstance(e, MemberJoined):
            out.append(("join", e.user))
        elif isinstance(e, MemberLeft):
            out.append(("leave", e.user))
    return out


async def test_lua_matches_the_reference_model_on_random_operations(valkey):
    client = aioredis.from_url(valkey.url)
    channel = f"{unique('lua')}:room"
    rules = RoomRules(join_leave=True, threshold=3)
    room = RoomRef(channel, rules.join_leave, rules.threshold)
    nodes = {name: RedisPresence(client, LIVE, name, count_hold=0.5) for name in ("n1", "n2", "n3")}
    listener = Listener(client, channel)
    await listener.start()
    rng = random.Random(4)
    model = RoomPresence()
    expected: list[tuple[str, str]] = []
    now = 1_000_000
    owner: dict[str, str] = {}  # client -> node
    users_of: dict[str, str] = {}
    try:
        for step in range(300):
            now += rng.choice([0, 1, 1, 2, 3])
            node = rng.choice(list(nodes))
            roll = rng.random()
            model, ev = model.sweep(now, rules=rules)
            expected += model_messages(ev)
            mine = [c for c, n in owner.items() if n == node and c in model.entries]
            if roll < 0.5 or not mine:
                client_id = f"c{step:04d}"
                user = f"u{rng.randrange(7)}"
                flags = MemberFlags(rng.choice([0, 0, 0, 1, 2, 4, 5]))
                model, ev = model.join(node, client_id, user, flags, deadline=LIVE.deadline(now), rules=rules)
                ops = [join_op(client_id, user, flags)]
                owner[client_id] = node
                users_of[client_id] = user
                beat = False
            elif roll < 0.85:
                client_id = rng.choice(mine)
                model, ev = model.leave(client_id, rules=rules)
                ops = [LeaveOp(client_id, users_of[client_id])]
                beat = False
            else:
                ops, ev, beat = [], [], True
                model = model.beat(node, LIVE.deadline(now))
            expected += model_messages(ev)
            result = await nodes[node].apply(room, ops, beat=beat, now=now)
            assert result.counts == model.counts(), f"step {step}"
        read, staff, members = await nodes["n1"].members(room, 1000, now=now)
        model, ev = model.sweep(now, rules=rules)
        expected += model_messages(ev)
        assert read.counts == model.counts()
        assert {m.user: m.flags for m in members} == {u: s.flags for u, s in model.users.items()}
        assert {m.user for m in staff} == {
            u for u, s in model.users.items() if s.flags & (MemberFlags.STAFF | MemberFlags.HOST)
        }
        got = await listener.collect(len(expected))
        assert got == expected
        assert len(expected) > 40  # the sequence exercised joins, leaves and sweeps
        assert any(kind == "leave" for kind, _ in expected)
    finally:
        await listener.close()
        await client.aclose()


async def test_a_dead_node_is_swept_once_with_its_leaves(valkey):
    client = aioredis.from_url(valkey.url)
    channel = f"{unique('lua')}:room"
    room = RoomRef(channel, True, 200)
    dead = RedisPresence(client, LIVE, "dead", count_hold=0.5)
    live = RedisPresence(client, LIVE, "live", count_hold=0.5)
    listener = Listener(client, channel)
    await listener.start()
    try:
        now = 2_000_000
        await dead.apply(room, [join_op("a1", "alice", MemberFlags.NONE), join_op("a2", "alice", MemberFlags.NONE)], now=now)
        await dead.apply(room, [join_op("b1", "bob", MemberFlags.NONE)], now=now)
        await live.apply(room, [join_op("b2", "bob", MemberFlags.NONE), join_op("c1", "carol", MemberFlags.NONE)], now=now)
        await live.apply(room, [], beat=True, now=now + 8)  # live keeps beating, dead does not
        # Before the deadline nothing happens; after it, whoever looks first sweeps.
        before = await live.counts(room, now=now + 8)
        assert before.counts.users == 3 and before.counts.clients == 5
        swept = await live.counts(room, now=now + 10)
        assert swept.published == 1  # alice's leave; bob is still online through "live"
        assert (swept.counts.users, swept.counts.clients) == (2, 2)
        again = await live.apply(room, [], beat=True, now=now + 11)
        assert again.published == 0
        got = await listener.collect(4)
        assert got == [("join", "alice"), ("join", "bob"), ("join", "carol"), ("leave", "alice")]
        # The dead node comes back (it was only slow): its next call reports it lost.
        back = await dead.apply(room, [], beat=True, now=now + 11)
        assert back.lost
        keys = room_keys(channel)
        assert await client.zscore(keys[5], "dead") is None
    finally:
        await listener.close()
        await client.aclose()


async def test_forced_sweep_and_leaving_everything(valkey):
    client = aioredis.from_url(valkey.url)
    channel = f"{unique('lua')}:room"
    room = RoomRef(channel, False, 200)
    a = RedisPresence(client, LIVE, "a", count_hold=0.5)
    b = RedisPresence(client, LIVE, "b", count_hold=0.5)
    try:
        now = 3_000_000
        await a.apply(room, [join_op("x1", "x", MemberFlags.STAFF)], now=now)
        await b.apply(room, [join_op("y1", "y", MemberFlags.HOST | MemberFlags.INVISIBLE)], now=now)
        result = await b.apply(room, [], beat=True, forced=["a"], now=now + 1)
        assert result.counts.users == 1 and result.counts.staff == 0
        assert result.counts.hosts == 1 and result.counts.hosts_visible == 0
        result = await b.apply(room, [], beat=True, forced=["b"], now=now + 1)  # b stops
        assert result.counts.users == 0 and result.counts.clients == 0
        keys = room_keys(channel)
        assert await client.exists(*keys) == 0  # nothing left behind
    finally:
        await client.aclose()


async def test_bad_operations_are_refused_before_any_write(valkey):
    client = aioredis.from_url(valkey.url)
    channel = f"{unique('lua')}:room"
    node = RedisPresence(client, LIVE, "n", count_hold=0.5)
    try:
        keys = room_keys(channel)
        args = node._header(RoomRef(channel, True, 200), 1_000, ()) + ["0", "j", "c1", "u1", b"0", b"x", "z"]
        try:
            await node._apply(keys=keys, args=args)
        except aioredis.ResponseError as exc:
            assert "unknown presence operation" in str(exc)
        else:
            raise AssertionError("the script accepted an unknown operation")
        assert await client.exists(*keys) == 0
    finally:
        await client.aclose()


async def test_users_online_anywhere_follows_live_processes(valkey):
    client = aioredis.from_url(valkey.url)
    tag = unique("st")
    a = RedisPresence(client, LIVE, f"{tag}-a", count_hold=0.5)
    b = RedisPresence(client, LIVE, f"{tag}-b", count_hold=0.5)
    try:
        import time

        now = time.time()
        await a.register_node(None, now=now)
        await b.register_node(None, now=now - 20)  # b stopped beating 20 s ago
        await a.update_users([f"{tag}-alice"], [])
        await b.update_users([f"{tag}-bob"], [])
        got = await a.online([f"{tag}-alice", f"{tag}-bob", f"{tag}-nobody"], now=now)
        assert got == {f"{tag}-alice": True, f"{tag}-bob": False, f"{tag}-nobody": False}
        await a.update_users([], [f"{tag}-alice"])
        assert await a.online([f"{tag}-alice"], now=now) == {f"{tag}-alice": False}
        assert f"{tag}-b" in await a.dead_nodes(now=now)
        await b.drop_node()
        assert f"{tag}-b" not in await a.dead_nodes(now=now)
    finally:
        await client.aclose()
