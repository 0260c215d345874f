"""Webhook delivery against a real HTTP receiver on 127.0.0.1: signatures, retries after a
500, a receiver that is down for a while, a slow receiver that never slows the chat, the
delivery log; and server-side posting through the one submit path."""

from __future__ import annotations

import asyncio
import time

import pytest

from tests.harness import ServerProcess, unique
from tests.moderation_support import eventually, joined, next_event, send
from tests.webhook_receiver import Receiver

SECRET = "another-webhook-secret-98765"


@pytest.fixture(scope="module")
def hook_server(valkey, tmp_path_factory):
    path = tmp_path_factory.mktemp("webhooks") / "webhooks.toml"
    path.write_text('[moderation]\npipeline = ["crisis", "pii"]\n')
    server = ServerProcess(valkey.url, name="webhooks", args=["--config", str(path)])
    server.wait_ready()
    yield server
    server.stop()


def add_hook(server: ServerProcess, receiver: Receiver, community: str, **extra) -> str:
    body = {"url": receiver.url, "events": ["member.muted"], "secret": SECRET, "communities": [community],
            "retry_base": 0.2, "retry_max": 0.5, "timeout": 5, **extra}
    r = server.api("POST", "/api/webhooks", body)
    assert r.status_code == 201, r.text
    assert r.json()["secret"] == SECRET and "secret" not in server.api("GET", f"/api/webhooks/{r.json()['id']}").json()
    return r.json()["id"]


def mute(server: ServerProcess, community: str, user: str) -> None:
    r = server.api("PUT", f"/api/communities/{community}/mutes/{user}", {"duration": 60, "reason": "test"})
    assert r.status_code == 200, r.text


def muted_users(receiver: Receiver, community: str) -> list[str]:
    return [e["data"]["target"]["user"] for e in receiver.events("member.muted") if e["community"] == community]


async def test_500_is_retried_and_the_delivery_log_shows_it(hook_server):
    receiver = Receiver(SECRET)
    try:
        community = unique("wh")
        hook_server.make_room(community, "r")
        hook = add_hook(hook_server, receiver, community)
        receiver.statuses = [500, 500]
        mute(hook_server, community, "alice")
        await eventually(lambda: muted_users(receiver, community) == ["alice"], timeout=10)
        assert len(receiver.attempts) == 3 and all(receiver.verify(a) for a in receiver.attempts)
        # One delivery id across its attempts; the log lists every attempt, newest first.
        assert len({a["headers"]["x-chat-delivery"] for a in receiver.attempts}) == 1
        log = await eventually(
            lambda: (d := hook_server.api("GET", f"/api/webhooks/{hook}/deliveries").json()["deliveries"]) and len(d) == 3 and d
        )
        assert [d["outcome"] for d in log] == ["delivered", "retry", "retry"]
        assert [d["status"] for d in log] == [200, 500, 500] and [d["attempt"] for d in log] == [3, 2, 1]
    finally:
        receiver.stop()


async def test_a_receiver_down_for_a_while_gets_everything_once_back(hook_server):
    receiver = Receiver(SECRET)
    try:
        community = unique("wh")
        hook_server.make_room(community, "r")
        add_hook(hook_server, receiver, community)
        receiver.stop()
        for user in ("u1", "u2", "u3"):
            mute(hook_server, community, user)
        await asyncio.sleep(1.5)  # several failed attempts each (connection refused)
        receiver.start()
        await eventually(lambda: sorted(muted_users(receiver, community)) == ["u1", "u2", "u3"], timeout=10)
        await asyncio.sleep(1.0)
        assert sorted(muted_users(receiver, community)) == ["u1", "u2", "u3"]  # once each
        assert all(receiver.verify(r) for r in receiver.received)
    finally:
        receiver.stop()


async def test_a_slow_receiver_never_slows_the_chat(hook_server, clients):
    receiver = Receiver(SECRET)
    try:
        community = unique("wh")
        room = hook_server.make_room(community, "r")
        add_hook(hook_server, receiver, community, events=["member.muted", "hold.created"])
        receiver.delay = 3.0
        sender = await joined(clients, hook_server.ws_url, unique("s"), {community: "member"}, room)
        for n in range(20):
            mute(hook_server, community, f"slow{n}")  # 20 deliveries, each answered after 3 s
        latencies = []
        for n in range(20):
            started = time.perf_counter()
            result = await send(sender, room, f"message {n}")
            latencies.append(time.perf_counter() - started)
            assert result["status"] == "published", result
        held_started = time.perf_counter()
        held = await send(sender, room, "I have a plan and I'm going to do it this weekend")
        latencies.append(time.perf_counter() - held_started)
        assert held["status"] == "held"  # a hold.created webhook queued on the post path
        print(f"chat.send with 20 slow webhook deliveries in flight: median {sorted(latencies)[10] * 1000:.1f} ms, max {max(latencies) * 1000:.1f} ms")
        assert max(latencies) < 0.5, latencies
        await eventually(lambda: len(muted_users(receiver, community)) == 20, timeout=20)
    finally:
        receiver.delay = 0
        receiver.stop()


async def test_server_side_post_goes_through_the_one_submit_path(hook_server, clients):
    community = unique("wh")
    room = hook_server.make_room(community, "news")
    name = room.split(":")[1]
    member = await joined(clients, hook_server.ws_url, unique("m"), {community: "member"}, room)
    r = hook_server.api("POST", f"/api/communities/{community}/rooms/{name}/messages",
                        {"text": "Meeting moved to 6pm, write to host@example.com", "client_msg_id": "a1"})
    assert r.status_code == 201, r.text
    posted = r.json()
    assert posted["status"] == "redacted" and posted["hidden"] == ["email"]  # the pipeline applied
    event = await next_event(member, room, "message")
    assert event["platform"] is True and event["user"] == "platform" and "host@example.com" not in event["text"]
    again = hook_server.api("POST", f"/api/communities/{community}/rooms/{name}/messages",
                            {"text": "Meeting moved to 6pm, write to host@example.com", "client_msg_id": "a1"})
    assert again.status_code == 200 and again.json()["offset"] == posted["offset"]  # idempotent
    system = hook_server.api("POST", f"/api/communities/{community}/rooms/{name}/messages",
                             {"text": "Contact: host@example.com", "system": True})
    assert system.status_code == 201 and system.json()["status"] == "published"
    event = await next_event(member, room, "message")
    assert event["system"] is True and event["text"] == "Contact: host@example.com"
    refused = hook_server.api("POST", f"/api/communities/{community}/rooms/{name}/messages",
                              {"text": "I have a plan and I'm going to do it this weekend"})
    assert refused.status_code == 422
    history = hook_server.api("GET", f"/api/communities/{community}/rooms/{name}/history").json()["publications"]
    assert [p["data"].get("platform") for p in history] == [True, True]
    assert hook_server.api("POST", f"/api/communities/{community}/rooms/nope/messages", {"text": "x"}).status_code == 404
    assert hook_server.api("POST", f"/api/communities/{community}/rooms/{name}/messages", {"text": "x"}, key=None).status_code == 401


async def test_the_outbox_survives_a_restart(valkey, tmp_path_factory):
    receiver = Receiver(SECRET)
    path = tmp_path_factory.mktemp("restart") / "restart.toml"
    path.write_text('[moderation]\npipeline = ["pii"]\n')
    first = ServerProcess(valkey.url, name="wh-restart-1", args=["--config", str(path)])
    second = None
    try:
        first.wait_ready()
        community = unique("wh")
        first.make_room(community, "r")
        add_hook(first, receiver, community)
        receiver.stop()
        for user in ("r1", "r2"):
            mute(first, community, user)
        await asyncio.sleep(0.8)  # failed attempts: the deliveries wait for their retry in Redis
        first.kill()
        second = ServerProcess(valkey.url, name="wh-restart-2", args=["--config", str(path)])
        second.wait_ready()
        receiver.start()
        await eventually(lambda: sorted(muted_users(receiver, community)) == ["r1", "r2"], timeout=15)
    finally:
        receiver.stop()
        first.stop()
        if second is not None:
            second.stop()
