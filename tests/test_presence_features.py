"""Presence features against a real server: the size threshold (counts instead of per-member
pushes), invisibility, typing indicators, user status over HTTP, bad input."""

from __future__ import annotations

import asyncio

import pytest

from tests.harness import token, unique
from tests.presence_helpers import (
    collect_until,
    drain,
    event_of,
    eventually,
    join_leave_pushes,
    member,
    presence_push,
    room_event,
    rpc_result,
)


async def test_above_the_threshold_joins_push_only_counts(server, clients):
    community = unique("pres")
    channel = server.make_room(community, "big", join_leave=True, extra={"presence_threshold": 3})
    watcher = await member(clients, server.ws_url, "watcher", community, channel=channel)
    early = [await member(clients, server.ws_url, f"early{i}", community, channel=channel) for i in range(2)]
    late = [await member(clients, server.ws_url, f"late{i}", community, channel=channel) for i in range(5)]
    # 8 users online now; the watcher heard the first two joins (3 online), then counts only.
    pushes = await collect_until(watcher, room_event("presence.counts", users=8))
    assert join_leave_pushes(pushes) == [("join", "early0"), ("join", "early1")]
    event = pushes[-1]
    data = event_of(event)
    assert data["lists"] is False and data["clients"] == 8
    assert "offset" not in event["push"]["pub"]  # ephemeral: not part of the room's stream
    assert len([p for p in pushes if room_event("presence.counts")(p)]) <= 2  # coalesced
    pushes = await drain(watcher, 2.5)
    assert join_leave_pushes(pushes) == []
    assert [p for p in pushes if room_event("presence.counts")(p)] == []
    stats = (await watcher.call("presence_stats", {"channel": channel}))["presence_stats"]
    assert stats == {"num_clients": 8, "num_users": 8}
    counts = await rpc_result(watcher, "presence.counts", {"channel": channel})
    assert counts["users"] == 8 and counts["lists"] is False
    # A late joiner above the threshold hears no joins either.
    assert join_leave_pushes(await drain(late[-1], 0.3)) == []
    # Leaving above the threshold: no per-member leave, a count event instead.
    await late[0].close()
    event = await watcher.next_push(timeout=10, where=room_event("presence.counts", users=7))
    assert join_leave_pushes(await drain(watcher, 0.3)) == []
    assert early and event_of(event)["lists"] is False
    history = (await watcher.call("history", {"channel": channel, "limit": 100}))["history"]
    assert not history.get("publications")  # counts never enter history


async def test_below_the_threshold_the_watcher_hears_every_member(server, clients):
    community = unique("pres")
    channel = server.make_room(community, "small", join_leave=True, extra={"presence_threshold": 3})
    watcher = await member(clients, server.ws_url, "watcher", community, channel=channel)
    others = [await member(clients, server.ws_url, f"m{i}", community, channel=channel) for i in range(2)]
    got = [join_leave_pushes([await watcher.next_push(where=presence_push("join"))])[0] for _ in range(2)]
    assert got == [("join", "m0"), ("join", "m1")]
    await others[0].close()
    leave = await watcher.next_push(timeout=10, where=presence_push("leave"))
    assert join_leave_pushes([leave]) == [("leave", "m0")]


async def test_rooms_without_join_leave_push_nothing(server, clients):
    community = unique("pres")
    channel = server.make_room(community, "quiet")  # join_leave defaults to off
    watcher = await member(clients, server.ws_url, "watcher", community, channel=channel)
    await member(clients, server.ws_url, "someone", community, channel=channel)
    assert join_leave_pushes(await drain(watcher, 0.5)) == []
    counts = await rpc_result(watcher, "presence.counts", {"channel": channel})
    assert counts["users"] == 2


async def test_invisible_member_is_hidden_from_members_and_shown_to_moderators(server, clients):
    community = unique("pres")
    channel = server.make_room(community, "inv", join_leave=True)
    plain = await member(clients, server.ws_url, "plain", community, channel=channel)
    mod = await member(clients, server.ws_url, "mod", community, role="moderator", channel=channel)
    assert join_leave_pushes([await plain.next_push(where=presence_push("join"))]) == [("join", "mod")]
    shy = await member(clients, server.ws_url, "shy", community, channel=channel, invisible=True)
    ghost_mod = await member(clients, server.ws_url, "ghostmod", community, role="moderator",
                             channel=channel, invisible=True)
    marker = await member(clients, server.ws_url, "marker", community, channel=channel)
    # The member hears the marker's join but never the invisible ones.
    assert join_leave_pushes([await plain.next_push(where=presence_push("join"))]) == [("join", "marker")]
    # The moderator hears all three, in order.
    mod_joins = [join_leave_pushes([await mod.next_push(where=presence_push("join"))])[0] for _ in range(3)]
    assert mod_joins == [("join", "shy"), ("join", "ghostmod"), ("join", "marker")]

    seen = (await plain.call("presence", {"channel": channel}))["presence"]["presence"]
    assert sorted(i["user"] for i in seen.values()) == ["marker", "mod", "plain"]
    listed = await rpc_result(plain, "presence.members", {"channel": channel})
    assert sorted(m["user"] for m in listed["members"]) == ["marker", "mod", "plain"]
    assert listed["users"] == 5  # counted in totals
    assert listed["moderators"] == 1  # the invisible moderator is not singled out
    assert "invisible" not in listed and all("invisible" not in m for m in listed["members"])
    stats = (await plain.call("presence_stats", {"channel": channel}))["presence_stats"]
    assert stats == {"num_clients": 5, "num_users": 5}

    staff_seen = (await mod.call("presence", {"channel": channel}))["presence"]["presence"]
    assert sorted(i["user"] for i in staff_seen.values()) == ["ghostmod", "marker", "mod", "plain", "shy"]
    staff_list = await rpc_result(mod, "presence.members", {"channel": channel})
    flagged = {m["user"]: m.get("invisible", False) for m in staff_list["members"]}
    assert flagged == {"ghostmod": True, "mod": False, "shy": True, "marker": False, "plain": False}
    assert staff_list["invisible"] == 2 and staff_list["moderators"] == 2

    # The invisible member sees themselves.
    own = await rpc_result(shy, "presence.members", {"channel": channel})
    assert "shy" in [m["user"] for m in own["members"]]

    await shy.close()
    await ghost_mod.close()
    await marker.close()
    assert join_leave_pushes([await plain.next_push(timeout=10, where=presence_push("leave"))]) == [("leave", "marker")]
    mod_leaves = [join_leave_pushes([await mod.next_push(timeout=10, where=presence_push("leave"))])[0] for _ in range(3)]
    assert sorted(mod_leaves) == [("leave", "ghostmod"), ("leave", "marker"), ("leave", "shy")]


async def test_typing_reaches_others_is_not_in_history_and_expires(spawn, valkey, clients):
    s = spawn(valkey.url, env={"CHATSERVER_TYPING_INTERVAL": "1", "CHATSERVER_TYPING_EXPIRY": "2"})
    community = unique("pres")
    channel = s.make_room(community, "typing")
    alice = await member(clients, s.ws_url, "alice", community, channel=channel)
    bob = await member(clients, s.ws_url, "bob", community, channel=channel)
    sent = await rpc_result(alice, "chat.typing", {"channel": channel})
    assert sent == {"sent": True, "expires_in_ms": 2000}
    push = await bob.next_push(where=room_event("typing", user="alice"))
    event = event_of(push)
    assert event["typing"] is True and event["name"] == "Alice" and event["expires_in_ms"] == 2000
    assert "offset" not in push["push"]["pub"]
    # Rate limited: a second report right away sends nothing.
    again = await rpc_result(alice, "chat.typing", {"channel": channel})
    assert again["sent"] is False and 0 < again["retry_in_ms"] <= 1000
    # Nothing of it is in the room's history.
    history = (await bob.call("history", {"channel": channel, "limit": 100}))["history"]
    assert not history.get("publications")
    # Without a refresh it lapses on its own: bob hears it stop.
    stop = await bob.next_push(timeout=6, where=room_event("typing", user="alice", typing=False))
    assert event_of(stop)["reason"] == "expired"
    assert [p for p in await drain(bob, 0.5) if room_event("typing")(p)] == []
    # Typing then stopping explicitly: one start, one stop.
    await asyncio.sleep(1.0)
    assert (await rpc_result(alice, "chat.typing", {"channel": channel}))["sent"] is True
    await bob.next_push(where=room_event("typing", user="alice", typing=True))
    assert (await rpc_result(alice, "chat.typing", {"channel": channel, "typing": False}))["sent"] is True
    stop = await bob.next_push(where=room_event("typing", user="alice", typing=False))
    assert event_of(stop)["reason"] == "stopped"
    assert [p for p in await drain(bob, 2.5) if room_event("typing")(p)] == []  # no expiry after a stop


async def test_typing_and_presence_rpcs_refuse_bad_input(server, clients):
    community = unique("pres")
    channel = server.make_room(community, "bad")
    locked = server.make_room(community, "locked", locked=True)
    c = await member(clients, server.ws_url, "x", community)
    reply = await c.rpc("chat.typing", {"channel": channel})
    assert reply["error"]["code"] == 103  # not subscribed
    await c.call("subscribe", {"channel": channel})
    await c.call("subscribe", {"channel": locked})
    assert (await c.rpc("chat.typing", {"channel": locked}))["error"]["code"] == 1004  # a locked room: the named code, as for posts (issue 23)
    assert (await c.rpc("chat.typing", {"channel": channel, "typing": "yes"}))["error"]["code"] == 107
    assert (await c.rpc("chat.typing", {"channel": "nope:nope"}))["error"]["code"] == 102
    assert (await c.rpc("chat.typing", "not an object"))["error"]["code"] == 107
    assert (await c.rpc("presence.members", {"channel": channel, "limit": 0}))["error"]["code"] == 107
    assert (await c.rpc("presence.members", {}))["error"]["code"] == 107
    assert (await c.rpc("presence.counts", {"channel": "user#x"}))["error"]["code"] == 108
    outsider = await clients(server.ws_url)
    await outsider.connect(token("outsider", {}))
    assert (await outsider.rpc("presence.members", {"channel": channel}))["error"]["code"] == 103
    # The connection survived all of it.
    assert (await rpc_result(c, "presence.counts", {"channel": channel}))["users"] == 1


async def test_presence_off_room_answers_108(server, clients):
    community = unique("pres")
    channel = server.make_room(community, "nopres", presence=False)
    c = await member(clients, server.ws_url, "x", community, channel=channel)
    assert (await c.call("presence", {"channel": channel}))["error"]["code"] == 108
    assert (await c.rpc("presence.members", {"channel": channel}))["error"]["code"] == 108


async def test_presence_list_is_capped_for_big_rooms(spawn, valkey, clients):
    s = spawn(valkey.url, env={"CHATSERVER_PRESENCE_LIST_MAX": "2"})
    community = unique("pres")
    channel = s.make_room(community, "capped")
    a = await member(clients, s.ws_url, "a", community, channel=channel)
    await member(clients, s.ws_url, "b", community, channel=channel)
    assert len((await a.call("presence", {"channel": channel}))["presence"]["presence"]) == 2
    await member(clients, s.ws_url, "c", community, channel=channel)
    reply = await a.call("presence", {"channel": channel})
    assert reply["error"]["code"] == 106 and "presence.members" in reply["error"]["message"]
    assert (await a.call("presence_stats", {"channel": channel}))["presence_stats"]["num_users"] == 3


async def test_members_list_limit_reports_incomplete(server, clients):
    community = unique("pres")
    channel = server.make_room(community, "limit")
    a = await member(clients, server.ws_url, "a", community, channel=channel)
    for user in ("b", "c", "d"):
        await member(clients, server.ws_url, user, community, channel=channel)
    await member(clients, server.ws_url, "host", community, role="host", channel=channel)
    listed = await rpc_result(a, "presence.members", {"channel": channel, "limit": 2})
    assert listed["users"] == 5 and listed["complete"] is False
    assert listed["hosts"] == 1 and listed["host_online"] is True
    assert "host" in [m["user"] for m in listed["members"]]  # staff and hosts are always listed
    full = await rpc_result(a, "presence.members", {"channel": channel, "limit": 10})
    assert full["complete"] is True and len(full["members"]) == 5


async def test_user_status_api(server, clients):
    community = unique("pres")
    user = unique("u")
    shy = unique("shy")
    c = await member(clients, server.ws_url, user, community)
    await member(clients, server.ws_url, shy, community, invisible=True)

    async def status(*users):
        r = server.api("POST", "/api/presence/status", {"users": list(users)})
        assert r.status_code == 200, r.text
        return r.json()["users"]

    async def online_now():
        got = await status(user, shy, "nobody-" + user)
        return got[user]["online"] and got[shy]["online"] and got
    got = await eventually(online_now)
    assert got["nobody-" + user] == {"online": False}
    await c.close()

    async def offline_now():
        return not (await status(user))[user]["online"]
    await eventually(offline_now)
    assert server.api("POST", "/api/presence/status", {"users": "alice"}).status_code == 400
    assert server.api("POST", "/api/presence/status", {"users": ["x"] * 1001}).status_code == 400
    assert server.api("POST", "/api/presence/status", {"users": ["x"]}, key="wrong").status_code == 401


async def test_room_presence_counts_api(server, clients):
    community = unique("pres")
    channel = server.make_room(community, "api")
    await member(clients, server.ws_url, "a", community, channel=channel)
    await member(clients, server.ws_url, "b", community, channel=channel, invisible=True)
    r = server.api("GET", f"/api/communities/{community}/rooms/api/presence")
    assert r.status_code == 200
    assert r.json() == {"channel": channel, "users": 2, "clients": 2, "moderators": 0, "hosts": 0,
                        "host_online": False, "invisible": 1}
    assert server.api("GET", f"/api/communities/{community}/rooms/none/presence").status_code == 404


@pytest.mark.parametrize("count", [40])
async def test_concurrent_joins_count_exactly(server, clients, count):
    """A burst of joins to one room (batched into few Lua calls) still counts exactly."""
    community = unique("pres")
    channel = server.make_room(community, "burst", join_leave=True, extra={"presence_threshold": 10})
    conns = []
    for i in range(count):
        c = await clients(server.ws_url)
        await c.connect(token(f"u{i % 30}", {community: "member"}))
        conns.append(c)
    replies = await asyncio.gather(*(c.call("subscribe", {"channel": channel}) for c in conns))
    assert all("subscribe" in r for r in replies)
    stats = (await conns[0].call("presence_stats", {"channel": channel}))["presence_stats"]
    assert stats == {"num_clients": count, "num_users": 30}
    await asyncio.gather(*(c.close() for c in conns[:20]))

    async def settled():
        s = (await conns[-1].call("presence_stats", {"channel": channel}))["presence_stats"]
        return s == {"num_clients": 20, "num_users": 20} and s
    await eventually(settled)
