"""Waiting for a reply (docs/peer-support.md) through two real server processes: a member's
post in a support room with no reply within reply_wait enters the community's waiting list
(live to moderators on <community>/mod and to supporters on user#<id>, oldest first), is a
post.unanswered webhook event without its text, leaves the list when someone else answers;
supporters mark "I'm on it"; the metrics count it."""

from __future__ import annotations

import asyncio

import httpx
import orjson
import pytest

from tests.harness import ServerProcess, unique
from tests.presence_helpers import member, rpc_result
from tests.webhook_receiver import Receiver

SECRET = "peer-waiting-webhook-secret-12345"


@pytest.fixture(scope="module")
def peer_servers(valkey, tmp_path_factory):
    path = tmp_path_factory.mktemp("peer") / "peer.toml"
    path.write_text("[peer]\nsweep_interval = 0.2\n")
    servers = [ServerProcess(valkey.url, name=f"peer-{i}", args=["--config", str(path)]) for i in (1, 2)]
    for s in servers:
        s.wait_ready()
    yield servers
    for s in servers:
        s.stop()


def event_data(push: dict) -> dict:
    raw = push["push"]["pub"]["data"]
    return orjson.loads(raw) if isinstance(raw, (bytes, str)) else raw


def is_event(type_: str, channel: str | None = None):
    def match(p: dict) -> bool:
        body = p.get("push", {})
        if "pub" not in body or (channel is not None and body.get("channel") != channel):
            return False
        return event_data(p).get("type") == type_

    return match


async def send(c, channel: str, text: str, **extra) -> dict:
    result = await rpc_result(c, "chat.send", {"channel": channel, "text": text, **extra})
    assert result["status"] == "published", result
    return result


async def poll(check, timeout: float = 15.0):
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        value = check()
        if value:
            return value
        assert loop.time() < deadline, f"not met in {timeout}s: {value!r}"
        await asyncio.sleep(0.1)


async def test_an_unanswered_post_waits_for_a_reply_until_someone_answers(peer_servers, clients):
    one, two = peer_servers
    receiver = Receiver(SECRET)
    try:
        community = unique("sup")
        channel = one.make_room(community, "support", extra={"support": True, "reply_wait": 1})
        quiet = one.make_room(community, "chat")
        hook = one.api("POST", "/api/webhooks", {"url": receiver.url, "events": ["post.unanswered"], "secret": SECRET,
                                                 "communities": [community], "retry_base": 0.2, "retry_max": 0.5})
        assert hook.status_code == 201, hook.text
        mod = await member(clients, one.ws_url, "mo", community, role="moderator")
        assert "subscribe" in await mod.call("subscribe", {"channel": f"{community}/mod"})
        sue = await member(clients, two.ws_url, "sue", community, role="supporter")
        ann = await member(clients, one.ws_url, "ann", community, channel=channel)
        ben = await member(clients, two.ws_url, "ben", community, channel=channel)

        first = await send(ann, channel, "nobody answers this one")
        answered = await send(ben, channel, "this one gets an answer")
        await send(ann, channel, "here you go", reply_to=answered["id"])
        # The author's own follow-up is no answer; a post in an ordinary room is not tracked.
        await send(ann, channel, "anyone?", reply_to=first["id"])
        await send(ann, quiet, "not a support room")

        added = event_data(await mod.next_push(timeout=15, where=is_event("waiting.added")))
        assert added["post"]["id"] == first["id"] and added["post"]["user"] == "ann" and "text" not in added["post"]
        # The supporter hears it on their own channel (on the other process).
        heard = event_data(await sue.next_push(timeout=15, where=is_event("waiting.added", "user#sue")))
        assert heard["post"]["id"] == first["id"]
        later = await send(ann, channel, "and another thing")
        second = event_data(await mod.next_push(timeout=15, where=is_event("waiting.added")))
        assert second["post"]["id"] == later["id"]
        # Oldest first; replies (Ann's to Ben, her own follow-up) are not tracked themselves.
        listed = await rpc_result(sue, "peer.waiting", {"community": community})
        assert [p["id"] for p in listed["posts"]] == [first["id"], later["id"]]
        refused = await ben.rpc("peer.waiting", {"community": community})
        assert refused["error"]["code"] == 103

        # I'm on it: the supporter takes it; the moderator sees who; a second take is not theirs.
        took = await rpc_result(sue, "peer.take", {"community": community, "channel": channel, "id": first["id"]})
        assert took["mine"] is True and took["taken"]["user"] == "sue"
        taken = event_data(await mod.next_push(timeout=15, where=is_event("waiting.taken")))
        assert taken["id"] == first["id"] and taken["by"]["user"] == "sue"
        late = await rpc_result(mod, "peer.take", {"community": community, "channel": channel, "id": first["id"]})
        assert late["mine"] is False and late["taken"]["user"] == "sue"
        assert (await rpc_result(mod, "peer.waiting", {"community": community}))["posts"][0]["taken"]["user"] == "sue"
        # A supporter cannot moderate.
        assert (await sue.rpc("mod.mute", {"channel": channel, "user": "ann", "duration": 60}))["error"]["code"] == 103

        # Ben answers: the post leaves the list, live.
        await send(ben, channel, "I hear you", reply_to=first["id"])
        gone = event_data(await mod.next_push(timeout=15, where=is_event("waiting.answered")))
        assert gone["id"] == first["id"]
        assert [p["id"] for p in (await rpc_result(sue, "peer.waiting", {"community": community}))["posts"]] == [later["id"]]

        # The webhook event: room, message id, never the text.
        events = await poll(lambda: [e for e in receiver.events("post.unanswered") if e["community"] == community])
        assert {e["data"]["target"]["id"] for e in events} <= {first["id"], later["id"]}
        assert first["id"] in {e["data"]["target"]["id"] for e in events}
        assert "nobody answers" not in orjson.dumps(events).decode()
        # Metrics: time to first reply observed for the room; unanswered posts counted.
        text = httpx.get(one.url + "/metrics").text + httpx.get(two.url + "/metrics").text
        assert f'chat_peer_time_to_first_reply_seconds_count{{room="{channel}"}}' in text
        assert f'chat_peer_posts_unanswered_total{{room="{channel}"}}' in text
    finally:
        receiver.stop()


async def test_a_reaction_answers_where_the_room_says_so(peer_servers, clients):
    one, two = peer_servers
    community = unique("sup")
    counts = one.make_room(community, "hugs", extra={"support": True, "reply_wait": 1, "reactions_count_as_reply": True})
    plain = one.make_room(community, "words", extra={"support": True, "reply_wait": 1})
    mod = await member(clients, one.ws_url, "mo", community, role="moderator")
    assert "subscribe" in await mod.call("subscribe", {"channel": f"{community}/mod"})
    ann = await member(clients, one.ws_url, "ann", community)
    ben = await member(clients, two.ws_url, "ben", community)
    for c in (ann, ben):
        for ch in (counts, plain):
            assert "subscribe" in await c.call("subscribe", {"channel": ch})
    hugged = await send(ann, counts, "a hug is enough")
    needs_words = await send(ann, plain, "a hug is not an answer here")
    for ch, msg in ((counts, hugged), (plain, needs_words)):
        await rpc_result(ben, "chat.react", {"channel": ch, "id": msg["id"], "offset": msg["offset"], "reaction": "hug"})
    added = event_data(await mod.next_push(timeout=15, where=is_event("waiting.added")))
    assert added["post"]["id"] == needs_words["id"]
    listed = await rpc_result(mod, "peer.waiting", {"community": community})
    assert [p["id"] for p in listed["posts"]] == [needs_words["id"]]


async def test_a_removed_post_leaves_the_waiting_list_and_is_never_announced(peer_servers, clients):
    one, two = peer_servers
    community = unique("sup")
    channel = one.make_room(community, "support", extra={"support": True, "reply_wait": 1})
    mod = await member(clients, two.ws_url, "mo", community, role="moderator")
    assert "subscribe" in await mod.call("subscribe", {"channel": f"{community}/mod"})
    ann = await member(clients, one.ws_url, "ann", community, channel=channel)
    gone_early = await send(ann, channel, "I take this back")
    stays = await send(ann, channel, "still here")
    await rpc_result(ann, "chat.delete", {"channel": channel, "offset": gone_early["offset"]})
    added = event_data(await mod.next_push(timeout=15, where=is_event("waiting.added")))
    assert added["post"]["id"] == stays["id"]  # the deleted one was dropped by the sweep
    assert [p["id"] for p in (await rpc_result(mod, "peer.waiting", {"community": community}))["posts"]] == [stays["id"]]
    # Removed by a moderator after it entered the list: it leaves the list.
    await rpc_result(mod, "mod.delete", {"channel": channel, "offset": stays["offset"]})
    assert (await rpc_result(mod, "peer.waiting", {"community": community}))["posts"] == []
