"""Presence across real server processes sharing one Valkey: members on two processes see
each other, tabs coalesce per user, a SIGKILLed process's members leave within the expiry
and the survivors hear each leave exactly once, a stopping process leaves at once."""

from __future__ import annotations

import asyncio
import time

import orjson

from tests.harness import token, unique
from tests.presence_helpers import (
    drain,
    eventually,
    join_leave_pushes,
    member,
    presence_push,
    rpc_result,
)

SHORT_TTL = 5


def conn_info_of(info: dict) -> dict:
    raw = info["conn_info"]
    return orjson.loads(raw) if isinstance(raw, (bytes, str)) else raw


async def test_two_members_on_two_processes_see_each_other(server, spawn, valkey, clients, fmt):
    pb = fmt == "protobuf"
    other = spawn(valkey.url, name="presence-second")
    community = unique("pres")
    channel = server.make_room(community, "two")
    alice = await clients(server.ws_url, protobuf_mode=pb)
    bob = await clients(other.ws_url, protobuf_mode=pb)
    await alice.connect(token("alice", {community: "member"}, name="Alice"))
    await bob.connect(token("bob", {community: "moderator"}, name="Bob"))
    await alice.call("subscribe", {"channel": channel})
    await bob.call("subscribe", {"channel": channel})
    for viewer in (alice, bob):
        presence = (await viewer.call("presence", {"channel": channel}))["presence"]["presence"]
        users = sorted(info["user"] for info in presence.values())
        assert users == ["alice", "bob"]
        names = sorted(conn_info_of(info)["name"] for info in presence.values())
        assert names == ["Alice", "Bob"]
        for client_id, info in presence.items():
            assert info["client"] == client_id
        stats = (await viewer.call("presence_stats", {"channel": channel}))["presence_stats"]
        assert stats == {"num_clients": 2, "num_users": 2}
        online = await rpc_result(viewer, "presence.members", {"channel": channel})
        assert [(m["user"], m["role"], m["name"]) for m in online["members"]] == [
            ("bob", "moderator", "Bob"),
            ("alice", "member", "Alice"),
        ]
        assert online["users"] == 2 and online["clients"] == 2 and online["moderators"] == 1
        assert online["hosts"] == 0 and online["host_online"] is False and online["complete"] is True
        counts = await rpc_result(viewer, "presence.counts", {"channel": channel})
        assert (counts["users"], counts["clients"], counts["moderators"]) == (2, 2, 1)


async def test_two_connections_of_one_member_appear_once_and_leave_once(server, spawn, valkey, clients):
    other = spawn(valkey.url, name="presence-tabs")
    community = unique("pres")
    channel = server.make_room(community, "tabs", join_leave=True)
    carol = await member(clients, server.ws_url, "carol", community, channel=channel)
    tab1 = await member(clients, server.ws_url, "dave", community, channel=channel)
    assert join_leave_pushes([await carol.next_push(where=presence_push("join"))]) == [("join", "dave")]
    tab2 = await member(clients, other.ws_url, "dave", community, channel=channel)  # another device
    marker = await member(clients, server.ws_url, "eve", community, channel=channel)
    # The next join carol hears is eve's: dave's second connection announced nothing.
    assert join_leave_pushes([await carol.next_push(where=presence_push("join"))]) == [("join", "eve")]
    online = await rpc_result(carol, "presence.members", {"channel": channel})
    assert sorted(m["user"] for m in online["members"]) == ["carol", "dave", "eve"]
    assert online["users"] == 3 and online["clients"] == 4
    stats = (await carol.call("presence_stats", {"channel": channel}))["presence_stats"]
    assert stats == {"num_clients": 4, "num_users": 3}

    await tab1.close()  # one tab closes: dave is still online, nobody hears a leave
    async def clients_down_to_three():
        s = (await carol.call("presence_stats", {"channel": channel}))["presence_stats"]
        return s["num_clients"] == 3 and s
    assert (await eventually(clients_down_to_three))["num_users"] == 3
    online = await rpc_result(carol, "presence.members", {"channel": channel})
    assert "dave" in [m["user"] for m in online["members"]]
    await marker.close()
    assert join_leave_pushes([await carol.next_push(where=presence_push("leave"))]) == [("leave", "eve")]

    await tab2.close()  # the last connection closes: exactly one leave
    got = await carol.next_push(timeout=10, where=presence_push("leave"))
    assert join_leave_pushes([got]) == [("leave", "dave")]
    later = await drain(carol, 1.5)
    assert join_leave_pushes(later) == []
    online = await rpc_result(carol, "presence.members", {"channel": channel})
    assert [m["user"] for m in online["members"]] == ["carol"]


async def test_sigkilled_process_members_leave_within_the_expiry_exactly_once(spawn, valkey, clients):
    env = {"CHATSERVER_PRESENCE_TTL": str(SHORT_TTL)}
    survivor = spawn(valkey.url, env=env, name="presence-survivor")
    witness = spawn(valkey.url, env=env, name="presence-witness")
    victim = spawn(valkey.url, env=env, name="presence-victim")
    community = unique("pres")
    channel = survivor.make_room(community, "kill", join_leave=True)
    alice = await member(clients, survivor.ws_url, "alice", community, channel=channel)
    dan = await member(clients, witness.ws_url, "dan", community, channel=channel)
    await member(clients, victim.ws_url, "bob", community, channel=channel)
    await member(clients, victim.ws_url, "bob", community, channel=channel)  # bob's second tab
    await member(clients, victim.ws_url, "carol", community, channel=channel)
    stats = (await alice.call("presence_stats", {"channel": channel}))["presence_stats"]
    assert stats == {"num_clients": 5, "num_users": 4}
    status = survivor.api("POST", "/api/presence/status", {"users": ["bob", "carol", "alice"]}).json()
    assert all(v["online"] for v in status["users"].values())
    await drain(alice, 0.5)
    await drain(dan, 0.5)

    killed_at = time.monotonic()
    await asyncio.to_thread(victim.kill)
    leaves = []
    while len(leaves) < 2:
        push = await alice.next_push(timeout=SHORT_TTL + 5, where=presence_push("leave"))
        leaves += join_leave_pushes([push])
    elapsed = time.monotonic() - killed_at
    assert sorted(leaves) == [("leave", "bob"), ("leave", "carol")]
    # Within the configured expiry (plus a little for a loaded test machine).
    assert elapsed <= SHORT_TTL + 1, elapsed
    # The other survivor heard the same leaves; nobody hears them twice.
    dan_leaves = []
    while len(dan_leaves) < 2:
        dan_leaves += join_leave_pushes([await dan.next_push(timeout=5, where=presence_push("leave"))])
    assert sorted(dan_leaves) == [("leave", "bob"), ("leave", "carol")]
    assert join_leave_pushes(await drain(alice, SHORT_TTL / 2)) == []
    assert join_leave_pushes(await drain(dan, 0.2)) == []
    stats = (await alice.call("presence_stats", {"channel": channel}))["presence_stats"]
    assert stats == {"num_clients": 2, "num_users": 2}
    online = await rpc_result(dan, "presence.members", {"channel": channel})
    assert sorted(m["user"] for m in online["members"]) == ["alice", "dan"]
    status = survivor.api("POST", "/api/presence/status", {"users": ["bob", "carol", "alice"]}).json()
    assert status["users"] == {"bob": {"online": False}, "carol": {"online": False}, "alice": {"online": True}}


async def test_stopping_process_members_leave_at_once(server, valkey, clients, spawn):
    other = spawn(valkey.url, name="presence-stopping")  # default presence_ttl: 30 s
    community = unique("pres")
    channel = server.make_room(community, "stop", join_leave=True)
    alice = await member(clients, server.ws_url, "alice", community, channel=channel)
    await member(clients, other.ws_url, "bob", community, channel=channel)
    assert join_leave_pushes([await alice.next_push(where=presence_push("join"))]) == [("join", "bob")]
    started = time.monotonic()
    await asyncio.to_thread(other.stop)
    push = await alice.next_push(timeout=10, where=presence_push("leave"))
    assert join_leave_pushes([push]) == [("leave", "bob")]
    assert time.monotonic() - started < 10  # not the 30 s expiry
    assert join_leave_pushes(await drain(alice, 1.0)) == []


async def test_a_process_whose_entries_were_lost_adds_them_again(spawn, valkey, clients):
    """A process taken for dead while alive (its entries swept) heals on its next beat."""
    import redis.asyncio as aioredis

    s = spawn(valkey.url, env={"CHATSERVER_PRESENCE_TTL": "4"}, name="presence-heal")
    community = unique("pres")
    channel = s.make_room(community, "heal")
    alice = await member(clients, s.ws_url, "alice", community, channel=channel)
    assert (await alice.call("presence_stats", {"channel": channel}))["presence_stats"]["num_users"] == 1
    r = aioredis.from_url(valkey.url)
    try:
        suffixes = ("pr", "pk", "pm", "ps", "pc", "pn", "pl", "pq")
        await r.delete(*[f"chat:{{{channel}}}:{x}" for x in suffixes])
        stats = (await alice.call("presence_stats", {"channel": channel}))["presence_stats"]
        assert stats.get("num_users", 0) == 0  # gone, as after a wrong sweep

        async def back():
            got = (await alice.call("presence_stats", {"channel": channel}))["presence_stats"]
            return got.get("num_users") == 1 and got
        assert await eventually(back, timeout=5)
    finally:
        await r.aclose()
