"""Support reactions against a real server over real WebSockets (chat.react,
docs/protocol.md "Reactions"): one of each per member per message, counts live to every
subscriber, in history and recovery, exact under concurrency, refused where posting is, and
rate-limited per member."""

from __future__ import annotations

import asyncio

import orjson
import pytest
import redis

from rooms.reactions import RATE, InvalidReaction, counts_view, parse_request
from tests.harness import token, unique
from tests.presence_helpers import drain, event_of, member, room_event, rpc_result


def data_of(pub: dict) -> dict:
    raw = pub["data"]
    return orjson.loads(raw) if isinstance(raw, (bytes, str)) else raw


async def posted(c, channel: str, text: str) -> dict:
    result = await rpc_result(c, "chat.send", {"channel": channel, "text": text})
    assert result["status"] == "published", result
    return result


async def react(c, channel: str, message: dict, reaction: str, on: bool = True) -> dict:
    return await c.rpc("chat.react", {"channel": channel, "id": message["id"], "offset": message["offset"], "reaction": reaction, "on": on})


async def test_reactions_are_counted_once_per_member_and_reach_every_subscriber_live(server, clients, fmt):
    pb = fmt == "protobuf"
    community = unique("react")
    channel = server.make_room(community, "lobby")
    ann, ben, cat = [
        await member(lambda url: clients(url, protobuf_mode=pb), server.ws_url, name, community, channel=channel)
        for name in ("ann", "ben", "cat")
    ]
    message = await posted(ann, channel, "A hard week; the new dose makes me so tired.")
    await drain(cat, 0.3)

    first = (await react(ben, channel, message, "hug"))["result"]
    assert first == {"id": message["id"], "reaction": "hug", "on": True, "changed": True, "counts": {"hug": 1}}
    event = event_of(await cat.next_push(where=room_event("message.reactions")))
    assert event["counts"] == {"hug": 1} and event["user"] == "ben" and event["reaction"] == "hug" and event["on"] is True
    assert event["message_id"] == message["id"] and event["offset"] == message["offset"]

    # One of each per member: the same reaction again changes nothing and publishes nothing.
    again = (await react(ben, channel, message, "hug"))["result"]
    assert again["changed"] is False and again["counts"] == {"hug": 1}
    assert [p for p in await drain(cat, 0.4) if room_event("message.reactions")(p)] == []

    # Other reactions and other members add up; taking one back counts down.
    await react(ben, channel, message, "heart")
    await react(cat, channel, message, "hug")
    await react(ann, channel, message, "same")
    back = (await react(ben, channel, message, "hug", on=False))["result"]
    assert back["changed"] is True and back["counts"] == {"heart": 1, "hug": 1, "same": 1}
    events = [event_of(p) for p in await drain(ann, 0.5) if room_event("message.reactions")(p)]
    assert [e["counts"] for e in events][-1] == {"heart": 1, "hug": 1, "same": 1}
    # Taking back what one never gave changes nothing.
    assert (await react(ben, channel, message, "thanks", on=False))["result"]["changed"] is False


async def test_counts_come_back_with_history_and_recovery(server, clients):
    community = unique("react")
    channel = server.make_room(community, "lobby")
    ann = await member(clients, server.ws_url, "ann", community, channel=channel)
    ben = await member(clients, server.ws_url, "ben", community, channel=channel)
    message = await posted(ann, channel, "Thank you all for listening yesterday.")
    position = (await ben.call("history", {"channel": channel, "limit": 0}))["history"]
    await ben.close()
    # While Ben is away: three reactions.
    for name in ("cat", "dan", "eve"):
        c = await member(clients, server.ws_url, name, community, channel=channel)
        assert (await react(c, channel, message, "heart"))["result"]["changed"] is True

    # Ben recovers from where he was: exactly the reaction events, the last with the counts.
    ben2 = await clients(server.ws_url)
    await ben2.connect(token("ben", {community: "member"}))
    sub = (await ben2.call("subscribe", {"channel": channel, "recover": True, "epoch": position["epoch"], "offset": position["offset"]}))["subscribe"]
    assert sub["recovered"] is True
    recovered = [data_of(p) for p in sub["publications"]]
    assert [e["type"] for e in recovered] == ["message.reactions"] * 3
    assert recovered[-1]["counts"] == {"heart": 3}
    # Someone new reads history: the message, then its reaction events.
    history = (await ben2.call("history", {"channel": channel, "limit": 10}))["history"]["publications"]
    events = [data_of(p) for p in history]
    assert events[0]["type"] == "message"
    assert [e["counts"] for e in events[1:]] == [{"heart": 1}, {"heart": 2}, {"heart": 3}]


async def test_concurrent_reactions_are_exact(server, clients):
    community = unique("react")
    channel = server.make_room(community, "lobby")
    ann = await member(clients, server.ws_url, "ann", community, channel=channel)
    message = await posted(ann, channel, "Made it to the pool today.")
    people = [await member(clients, server.ws_url, f"m{i}", community, channel=channel) for i in range(15)]
    results = await asyncio.gather(*(react(p, channel, message, kind) for p in people for kind in ("heart", "thanks")))
    assert all(r["result"]["changed"] for r in results)
    history = (await ann.call("history", {"channel": channel, "limit": 100}))["history"]["publications"]
    events = [data_of(p) for p in history if data_of(p)["type"] == "message.reactions"]
    assert len(events) == 30
    # In stream order the counts only grow, and the last event has them all.
    totals = [sum(e["counts"].values()) for e in events]
    assert totals == sorted(totals) and totals[-1] == 30
    assert events[-1]["counts"] == {"heart": 15, "thanks": 15}


async def test_reactions_are_refused_where_posting_is_and_rate_limited(server, clients):
    community = unique("react")
    channel = server.make_room(community, "lobby")
    other = server.make_room(community, "other")
    ann = await member(clients, server.ws_url, "ann", community, channel=channel)
    mo = await member(clients, server.ws_url, "mo", community, "moderator", channel=channel)
    message = await posted(ann, channel, "hello")

    async def code(c, data):
        reply = await c.rpc("chat.react", data)
        assert "error" in reply, reply
        return reply["error"]["code"]

    base = {"channel": channel, "id": message["id"], "offset": message["offset"]}
    assert await code(ann, {**base, "reaction": "thumbs_down"}) == 107
    assert await code(ann, {**base, "reaction": "heart", "on": "yes"}) == 107
    assert await code(ann, {**base, "offset": message["offset"] + 5, "reaction": "heart"}) == 107
    assert await code(ann, {**base, "id": "not-this-one", "reaction": "heart"}) == 107
    assert await code(ann, {**base, "channel": f"{community}:nowhere", "reaction": "heart"}) == 102
    # Not subscribed to that room.
    assert await code(ann, {**base, "channel": other, "reaction": "heart"}) == 103
    # A stranger to the community cannot subscribe, so cannot react.
    outsider = await clients(server.ws_url)
    await outsider.connect(token("zed", {unique("elsewhere"): "member"}))
    assert await code(outsider, {**base, "reaction": "heart"}) == 103

    # Muted: 1002 (the moderation extension's gate); lifted: allowed again.
    ben = await member(clients, server.ws_url, "ben", community, channel=channel)
    await rpc_result(mo, "mod.mute", {"community": community, "user": "ben", "duration": 600})
    assert await code(ben, {**base, "reaction": "heart"}) == 1002
    await rpc_result(mo, "mod.unmute", {"community": community, "user": "ben"})
    assert (await react(ben, channel, message, "heart"))["result"]["changed"] is True

    # A locked room: members may not react (moderators may).
    await rpc_result(mo, "mod.lock", {"channel": channel})
    assert await code(ann, {**base, "reaction": "hug"}) == 103
    assert (await react(mo, channel, message, "hug"))["result"]["changed"] is True
    await rpc_result(mo, "mod.unlock", {"channel": channel})

    # Rate: RATE changes per member per window; then 111 naming when to try again.
    for i in range(RATE):
        reply = await react(ann, channel, message, "thanks", on=i % 2 == 0)
        assert reply["result"]["changed"] is True, (i, reply)
    reply = await ann.rpc("chat.react", {**base, "reaction": "thanks", "on": True})
    assert reply["error"]["code"] == 111 and "try again in" in reply["error"]["message"]
    # Unchanged requests do not count against the limit and still answer.
    assert (await react(ann, channel, message, "thanks", on=False))["result"]["changed"] is False

    # A deleted message takes no more reactions.
    await rpc_result(mo, "mod.delete", {"channel": channel, "id": message["id"]})
    assert await code(mo, {**base, "reaction": "same"}) == 107


async def test_a_deleted_message_takes_its_reactions_with_it(server, valkey, clients):
    """Who reacted to a message (other members' ids) does not outlive the message."""
    community = unique("react-del")
    channel = server.make_room(community, "lobby")
    ann, ben = [await member(clients, server.ws_url, name, community, channel=channel) for name in ("ann", "ben")]
    message = await posted(ann, channel, "a message to be taken back")
    assert "result" in await react(ben, channel, message, "hug")
    store = redis.Redis.from_url(valkey.url)
    try:
        keys = [f"chat:{{{channel}}}:r:{message['id']}", f"chat:{{{channel}}}:rc:{message['id']}"]
        assert store.exists(*keys) == 2
        await rpc_result(ann, "chat.delete", {"channel": channel, "offset": message["offset"]})
        assert store.exists(*keys) == 0
    finally:
        store.close()


def test_parse_request_names_what_is_wrong():
    ok = parse_request({"id": "m1", "offset": 3, "reaction": "same"})
    assert (ok.message_id, ok.offset, ok.reaction, ok.on) == ("m1", 3, "same", True)
    for bad, words in (
        ({"offset": 3, "reaction": "same"}, "id"),
        ({"id": "m1", "offset": 0, "reaction": "same"}, "offset"),
        ({"id": "m1", "offset": True, "reaction": "same"}, "offset"),
        ({"id": "m1", "offset": 3, "reaction": "wow"}, "heart, hug, same, thanks"),
        ({"id": "m1", "offset": 3, "reaction": "hug", "on": 1}, "on"),
        ("hug", "expected"),
    ):
        with pytest.raises(InvalidReaction, match=words):
            parse_request(bad)
    assert counts_view({"thanks": 2, "heart": 1, "hug": 0}) == {"heart": 1, "thanks": 2}
