"""Blocks between members (docs/peer-support.md "Blocks") through two real server processes:
neither member sees the other's messages, reactions, typing or presence, live, in history
and in recovery; moderators still see everything; unblocking restores it; a host cannot open
a private conversation across a block; the block list is in the member's export and goes
with their erasure."""

from __future__ import annotations

import orjson

from tests import own_store
from tests.harness import token, unique
from tests.presence_helpers import collect_until, drain, member, rpc_result

# This module's own store: blocks, mutes and note preferences stay off the shared one.
server = own_store.server
valkey = own_store.valkey



def data_of(pub: dict) -> dict:
    raw = pub["data"]
    return orjson.loads(raw) if isinstance(raw, (bytes, str)) else raw


def pub_events(pushes: list[dict]) -> list[dict]:
    return [data_of(p["push"]["pub"]) for p in pushes if "pub" in p.get("push", {})]


def texts(pushes: list[dict]) -> list[str]:
    return [e["text"] for e in pub_events(pushes) if e.get("type") == "message"]


async def send(c, channel: str, text: str) -> dict:
    result = await rpc_result(c, "chat.send", {"channel": channel, "text": text})
    assert result["status"] == "published", result
    return result


async def test_a_block_hides_both_ways_across_processes_live_history_and_recovery(server, spawn, valkey, clients):
    other = spawn(valkey.url, name="peer-blocks")
    community = unique("blk")
    channel = server.make_room(community, "lobby", join_leave=True)
    ann = await member(clients, server.ws_url, "ann", community, channel=channel)
    mod = await member(clients, server.ws_url, "mo", community, role="moderator", channel=channel)
    ben = await member(clients, other.ws_url, "ben", community, channel=channel)
    cat = await member(clients, other.ws_url, "cat", community, channel=channel)

    result = await rpc_result(ann, "peer.block", {"user": "ben"})
    assert result == {"user": "ben", "blocked": True, "changed": True}
    assert (await rpc_result(ann, "peer.block", {"user": "ben"}))["changed"] is False
    assert await rpc_result(ann, "peer.blocks", {}) == {"blocks": ["ben"]}
    assert (await ann.rpc("peer.block", {"user": "ann"}))["error"]["code"] == 107

    # Live, both ways, on both processes: Ben's message, typing and reaction never reach Ann;
    # Ann's never reach Ben; Cat and the moderator get everything.
    from_ben = await send(ben, channel, "ben speaks")
    await rpc_result(ben, "chat.typing", {"channel": channel})
    from_ann = await send(ann, channel, "ann speaks")
    await rpc_result(ben, "chat.react", {"channel": channel, "id": from_ann["id"], "offset": from_ann["offset"], "reaction": "hug"})
    await rpc_result(cat, "chat.react", {"channel": channel, "id": from_ben["id"], "offset": from_ben["offset"], "reaction": "heart"})
    await send(cat, channel, "cat last")
    seen = {}
    for name, c in (("ann", ann), ("ben", ben), ("cat", cat), ("mo", mod)):
        # Everything above comes before Cat's last message (one room, one order).
        pushes = await collect_until(c, lambda p: any(e.get("text") == "cat last" for e in pub_events([p])))
        seen[name] = pub_events(pushes + await drain(c, 0.2))
    assert [e["text"] for e in seen["ann"] if e.get("type") == "message"] == ["ann speaks", "cat last"]
    assert not any(e.get("user") == "ben" for e in seen["ann"])
    assert [e["text"] for e in seen["ben"] if e.get("type") == "message"] == ["ben speaks", "cat last"]
    assert not any(e.get("user") == "ann" for e in seen["ben"])
    for name in ("cat", "mo"):
        assert [e["text"] for e in seen[name] if e.get("type") == "message"] == ["ben speaks", "ann speaks", "cat last"]
        assert any(e.get("type") == "typing" and e.get("user") == "ben" for e in seen[name])
        assert any(e.get("type") == "message.reactions" and e.get("user") == "ben" for e in seen[name])
    # Cat's reaction to Ben's message is Cat's: Ann sees it.
    assert any(e.get("type") == "message.reactions" and e.get("user") == "cat" for e in seen["ann"])

    # Presence: neither lists the other; the moderator lists both.
    def users(reply: dict) -> set[str]:
        return {info["user"] for info in reply["presence"]["presence"].values()}

    assert users(await ann.call("presence", {"channel": channel})) == {"ann", "mo", "cat"}
    assert users(await ben.call("presence", {"channel": channel})) == {"ben", "mo", "cat"}
    assert users(await mod.call("presence", {"channel": channel})) == {"ann", "ben", "mo", "cat"}
    listed = await rpc_result(ben, "presence.members", {"channel": channel})
    assert "ann" not in {m["user"] for m in listed["members"]}

    # History, on both processes.
    def history_texts(reply: dict) -> list[str]:
        return [e["text"] for e in (data_of(p) for p in reply["history"].get("publications", [])) if e.get("type") == "message"]

    assert history_texts(await ann.call("history", {"channel": channel, "limit": 50})) == ["ann speaks", "cat last"]
    assert history_texts(await ben.call("history", {"channel": channel, "limit": 50})) == ["ben speaks", "cat last"]
    assert history_texts(await mod.call("history", {"channel": channel, "limit": 50})) == ["ben speaks", "ann speaks", "cat last"]

    # Recovery: Ann leaves, Ben and Cat post; Ann comes back on the other process and
    # recovers only Cat's message.
    position = (await ann.call("history", {"channel": channel, "limit": 0}))["history"]
    await ann.close()
    await send(ben, channel, "while ann was away 1")
    await send(cat, channel, "cat while ann was away")
    last = await send(ben, channel, "while ann was away 2")
    back = await clients(other.ws_url)
    await back.connect(token("ann", {community: "member"}, name="Ann"))
    sub = (await back.call("subscribe", {"channel": channel, "recover": True, "epoch": position["epoch"], "offset": position.get("offset", 0)}))["subscribe"]
    assert sub["recovered"] is True
    assert [data_of(p)["text"] for p in sub["publications"]] == ["cat while ann was away"]
    # Live delivery continues after the hidden ones, without duplicates.
    after = await send(cat, channel, "cat after")
    assert after["offset"] == last["offset"] + 1
    push = await back.next_push(where=lambda p: "pub" in p.get("push", {}))
    assert push["push"]["pub"]["offset"] == after["offset"]

    # Unblocking restores both directions (Ann is now on Ben's process).
    assert (await rpc_result(back, "peer.unblock", {"user": "ben"}))["changed"] is True
    await send(ben, channel, "hello again")
    got = await collect_until(back, lambda p: texts([p]) == ["hello again"])
    assert texts(got) == ["hello again"]
    await send(back, channel, "hi ben")
    assert texts(await collect_until(ben, lambda p: texts([p]) == ["hi ben"]))[-1] == "hi ben"
    assert await rpc_result(back, "peer.blocks", {}) == {"blocks": []}


async def test_the_blocked_member_is_hidden_from_a_member_on_any_process_until_either_unblocks(server, spawn, valkey, clients):
    # Ben blocks Ann from the second process; Ann (on the first) stops seeing Ben at once.
    other = spawn(valkey.url, name="peer-blocks-2")
    community = unique("blk")
    channel = server.make_room(community, "lobby")
    ann = await member(clients, server.ws_url, "ann", community, channel=channel)
    ben = await member(clients, other.ws_url, "ben", community, channel=channel)
    await rpc_result(ben, "peer.block", {"user": "ann"})
    await send(ben, channel, "not for ann")
    await send(ann, channel, "not for ben")
    await send(ben, channel, "ben again")
    await send(ann, channel, "ann again")
    # Each sees only their own, in order, whatever arrives.
    assert texts(await collect_until(ann, lambda p: texts([p]) == ["ann again"])) == ["not for ben", "ann again"]
    assert texts(await collect_until(ben, lambda p: texts([p]) == ["ben again"])) == ["not for ann", "ben again"]


async def test_a_host_cannot_open_a_private_conversation_across_a_block_but_a_moderator_can(server, clients):
    community = unique("blk")
    server.make_room(community, "lobby")
    host = await member(clients, server.ws_url, "hal", community, role="host")
    mod = await member(clients, server.ws_url, "mo", community, role="moderator")
    ann = await member(clients, server.ws_url, "ann", community)
    await rpc_result(ann, "peer.block", {"user": "hal"})
    refused = await host.rpc("support.open", {"community": community, "user": "ann"})
    assert refused["error"]["code"] == 103 and "blocked" in refused["error"]["message"], refused
    await rpc_result(ann, "peer.unblock", {"user": "hal"})
    opened = await rpc_result(host, "support.open", {"community": community, "user": "ann"})
    assert opened["channel"].startswith(f"{community}:dm-")
    # A block does not stop a moderator.
    await rpc_result(ann, "peer.block", {"user": "mo"})
    again = await rpc_result(mod, "support.open", {"community": community, "user": "ann"})
    assert again["channel"] == opened["channel"]


async def test_the_block_list_is_in_the_export_and_goes_with_the_erasure(server, clients):
    community = unique("blk")
    channel = server.make_room(community, "lobby")
    dee, eli, fay = (unique(n) for n in ("dee", "eli", "fay"))
    d = await member(clients, server.ws_url, dee, community, channel=channel)
    e = await member(clients, server.ws_url, eli, community, channel=channel)
    f = await member(clients, server.ws_url, fay, community, channel=channel)
    await rpc_result(d, "peer.block", {"user": eli})
    await rpc_result(d, "peer.block", {"user": fay})
    await rpc_result(e, "peer.block", {"user": dee})
    doc = server.api("GET", f"/api/users/{dee}/export")
    assert doc.status_code == 200, doc.text
    assert doc.json()["blocks"] == sorted([eli, fay])
    # Who blocks Dee is Eli's data, not Dee's.
    assert server.api("GET", f"/api/users/{eli}/export").json()["blocks"] == [dee]

    erased = server.api("POST", f"/api/users/{dee}/erase", {"actor": "dpo@example.org"})
    assert erased.status_code == 200, erased.text
    removed = erased.json()["removed"]
    assert removed["blocks"] == 2 and removed["blocked_by"] == 1
    # Nothing about Dee is left in anyone's block list.
    assert await rpc_result(e, "peer.blocks", {}) == {"blocks": []}
    assert await rpc_result(f, "peer.blocks", {}) == {"blocks": []}
