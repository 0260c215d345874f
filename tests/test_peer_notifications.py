"""Mentions and notifications (docs/peer-support.md) through two real server processes: a
reply and an @mention reach the member's own channel (user#<id>) on whichever process they
are connected to; a member with no connection produces a member.notify webhook event
(without the text unless the community says notify_text); a muted room and a block stop
them; the notification settings are the member's own data."""

from __future__ import annotations

import asyncio

import orjson
import pytest

from tests import own_store
from tests.harness import ServerProcess, unique
from tests.presence_helpers import drain, member, rpc_result
from tests.webhook_receiver import Receiver

# This module's own store: blocks, mutes and note preferences stay off the shared one.
valkey = own_store.valkey

SECRET = "peer-notify-webhook-secret-12345"


@pytest.fixture(scope="module")
def two_servers(valkey):
    servers = [ServerProcess(valkey.url, name=f"peer-notify-{i}") for i in (1, 2)]
    for s in servers:
        s.wait_ready()
    yield servers
    for s in servers:
        s.stop()


def notices(pushes: list[dict], user: str) -> list[dict]:
    out = []
    for p in pushes:
        body = p.get("push", {})
        if body.get("channel") == f"user#{user}" and "pub" in body:
            raw = body["pub"]["data"]
            event = orjson.loads(raw) if isinstance(raw, (bytes, str)) else raw
            if event.get("type") == "notify":
                out.append(event)
    return out


async def send(c, channel: str, text: str, **extra) -> dict:
    result = await rpc_result(c, "chat.send", {"channel": channel, "text": text, **extra})
    assert result["status"] == "published", result
    return result


async def poll(check, timeout: float = 15.0):
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        value = await check() if asyncio.iscoroutinefunction(check) else check()
        if value:
            return value
        assert loop.time() < deadline, f"not met in {timeout}s: {value!r}"
        await asyncio.sleep(0.1)


def online(server: ServerProcess, user: str) -> bool:
    """Whether the server counts ``user`` as connected anywhere (the export's presence)."""
    r = server.api("GET", f"/api/users/{user}/export")
    return r.status_code == 200 and r.json()["presence"]["online"] is True


def add_hook(server: ServerProcess, receiver: Receiver, community: str) -> None:
    r = server.api("POST", "/api/webhooks", {"url": receiver.url, "events": ["member.notify"], "secret": SECRET,
                                             "communities": [community], "retry_base": 0.2, "retry_max": 0.5})
    assert r.status_code == 201, r.text


async def test_replies_and_mentions_reach_the_members_feed_and_offline_members_a_webhook(two_servers, clients):
    one, two = two_servers
    receiver = Receiver(SECRET)
    try:
        community = unique("ntf")
        channel = one.make_room(community, "lobby")
        add_hook(one, receiver, community)
        ann = await member(clients, one.ws_url, "ann", community, channel=channel)  # name "Ann"
        ben = await member(clients, two.ws_url, "ben", community, channel=channel)
        dee = await member(clients, two.ws_url, "dee", community, channel=channel)
        await poll(lambda: online(one, "ann"))  # connected members are counted online within moments

        # A mention of someone online (on the other process): their feed, no webhook.
        mention = await send(ben, channel, "thinking of you @Ann, and @nobody")
        (notice,) = notices(await drain(ann, 1.0), "ann")
        assert notice == {"type": "notify", "kind": "mention", "channel": channel, "id": mention["id"],
                          "offset": mention["offset"], "by": {"user": "ben", "name": "Ben"}}
        # A reply to Ann's message, from the other process.
        mine = await send(ann, channel, "a long day")
        reply = await send(ben, channel, "same here", reply_to=mine["id"])
        (notice,) = notices(await drain(ann, 1.0), "ann")
        assert (notice["kind"], notice["id"]) == ("reply", reply["id"])
        # Replying to oneself or naming oneself tells nobody.
        await send(ann, channel, "note to self @Ann", reply_to=mine["id"])
        assert notices(await drain(ann, 0.6), "ann") == []

        # Dee posts and leaves; a reply to her message while she has no connection: a webhook
        # event with the room, message id and kind, never the text.
        theirs = await send(dee, channel, "I will read this later")
        await dee.close()

        async def dee_gone() -> bool:
            reply = await ann.call("presence", {"channel": channel})
            return "dee" not in {i["user"] for i in reply["presence"]["presence"].values()}

        await poll(dee_gone)
        await poll(lambda: not online(one, "dee"))
        answer = await send(ann, channel, "secret words for dee", reply_to=theirs["id"])
        events = await poll(lambda: [e for e in receiver.events("member.notify") if e["community"] == community])
        assert len(events) == 1, [(e["data"], e["ts"]) for e in events]
        (event,) = events
        assert event["data"] == {"user": "dee", "kind": "reply", "channel": channel, "id": answer["id"], "by": {"user": "ann", "name": "Ann"}}
        assert "secret words" not in orjson.dumps(event).decode()
        assert all(e["data"]["user"] == "dee" for e in receiver.events("member.notify"))

        # Mute: no notifications from that room until unmuted.
        assert (await rpc_result(ann, "peer.mute", {"channel": channel, "muted": True}))["changed"] is True
        assert await rpc_result(ann, "peer.settings", {}) == {"muted": [channel]}
        await send(ben, channel, "@Ann are you there?")
        assert notices(await drain(ann, 0.8), "ann") == []
        await rpc_result(ann, "peer.mute", {"channel": channel, "muted": False})
        again = await send(ben, channel, "@Ann now?")
        assert [n["id"] for n in notices(await drain(ann, 1.0), "ann")] == [again["id"]]

        # A block stops them both ways.
        await rpc_result(ann, "peer.block", {"user": "ben"})
        await send(ben, channel, "@Ann hello?")
        assert notices(await drain(ann, 0.8), "ann") == []

        # The settings are Ann's data: exported, and erased.
        await rpc_result(ann, "peer.mute", {"channel": channel})
        doc = one.api("GET", "/api/users/ann/export").json()
        assert doc["notification_settings"] == [{"channel": channel, "muted": True}]
    finally:
        receiver.stop()


async def test_a_community_may_send_the_text_with_the_push(two_servers, clients):
    one, two = two_servers
    receiver = Receiver(SECRET)
    try:
        community = unique("ntf")
        channel = one.make_room(community, "lobby")
        r = one.api("PUT", f"/api/communities/{community}", {"title": community, "settings": {"notify_text": True}})
        assert r.status_code in (200, 201), r.text
        add_hook(one, receiver, community)
        eve = await member(clients, two.ws_url, "eve", community, channel=channel)
        theirs = await send(eve, channel, "back tomorrow")
        await eve.close()
        fay = await member(clients, one.ws_url, "fay", community, channel=channel)

        async def eve_gone() -> bool:
            reply = await fay.call("presence", {"channel": channel})
            return "eve" not in {i["user"] for i in reply["presence"]["presence"].values()}

        await poll(eve_gone)
        await poll(lambda: not online(one, "eve"))
        await send(fay, channel, "see you then", reply_to=theirs["id"])
        (event,) = await poll(lambda: [e for e in receiver.events("member.notify") if e["community"] == community])
        assert event["data"]["text"] == "see you then" and event["data"]["user"] == "eve"
    finally:
        receiver.stop()
