"""Crisis response end to end: cases, escalation with a signed webhook, private support
conversations. Real server processes (two, sharing Valkey), raw WebSocket clients and a
real HTTP receiver on 127.0.0.1."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

from tests.harness import ServerProcess, Valkey, unique
from tests.moderation_support import audit, eventually, joined, mod, next_event, no_event, send
from tests.webhook_receiver import Receiver

SECRET = "test-webhook-secret-0123456789"
HIGH = "I have a plan and I'm going to do it this weekend"
ALSO_HIGH = "I want to kill myself tonight"


def config(receiver: Receiver) -> str:
    return f"""
[moderation]
pipeline = ["crisis", "pii"]

[crisis]
ack_timeout = 2
sweep_interval = 0.2

[[webhooks]]
id = "platform"
url = "{receiver.url}"
events = ["crisis.opened", "crisis.unacknowledged", "crisis.closed", "hold.created"]
secret = "{SECRET}"
retry_base = 0.2
retry_max = 1
timeout = 2
"""


@pytest.fixture(scope="module")
def receiver():
    r = Receiver(SECRET)
    yield r
    r.stop()


@pytest.fixture(scope="module")
def crisis_valkey():
    """A Valkey of this module's own: every process on a Redis sweeps its crisis cases, so a
    process of another test (without these webhooks) could be the one that escalates."""
    v = Valkey()
    yield v
    v.stop()


@pytest.fixture(scope="module")
def crisis_servers(crisis_valkey, receiver, tmp_path_factory):
    valkey = crisis_valkey
    path = tmp_path_factory.mktemp("crisis") / "crisis.toml"
    path.write_text(config(receiver))
    servers = [ServerProcess(valkey.url, name=f"crisis-{n}", args=["--config", str(path)]) for n in (1, 2)]
    for s in servers:
        s.wait_ready()
    yield servers
    for s in servers:
        s.stop()


async def member_and_moderator(clients, community: str, room: str, member_server, moderator_server):
    """(user id, member client in ``room``, moderator client on ``<community>/mod``)."""
    user = unique("u")
    member = await joined(clients, member_server.ws_url, user, {community: "member"}, room)
    moderator = await joined(clients, moderator_server.ws_url, unique("m"), {community: "moderator"}, f"{community}/mod")
    return user, member, moderator


def setup_community(server: ServerProcess) -> tuple[str, str, str]:
    community = unique("cr")
    room = server.make_room(community, "r")
    other = server.make_room(community, "other")
    # A longer ack timeout for this community (per-community setting): no escalation here.
    r = server.api("PUT", f"/api/communities/{community}", {"title": community, "settings": {"crisis": {"ack_timeout": 600}}})
    assert r.status_code == 200, r.text
    return community, room, other


async def test_crisis_message_opens_a_case_a_moderator_in_another_room_sees_at_once(crisis_servers, clients):
    first, second = crisis_servers
    community, room, other = setup_community(first)
    user = unique("u")
    # The moderator is in another room, on the other process, watching the community feed.
    moderator = await joined(clients, second.ws_url, unique("m"), {community: "moderator"}, other, f"{community}/mod")
    member = await joined(clients, first.ws_url, user, {community: "member"}, room)

    started = time.perf_counter()
    held = await send(member, room, HIGH)
    assert held["status"] == "held", held
    event = await next_event(moderator, f"{community}/mod", "crisis.case")
    print(f"crisis message -> case on the other process's moderator: {(time.perf_counter() - started) * 1000:.1f} ms")
    case = event["case"]
    assert event["change"] == "opened" and case["user"] == user and case["state"] == "open"
    assert case["items"][0]["text"] == HIGH and case["items"][0]["source"] == "hold"
    assert case["items"][0]["hold_id"] == held["id"] and case["channel"] == room

    # A second crisis message joins the open case (one open case per member).
    await send(member, room, ALSO_HIGH)
    joined_event = await next_event(moderator, f"{community}/mod", "crisis.case")
    assert joined_event["change"] == "joined" and joined_event["case"]["id"] == case["id"]
    assert joined_event["case"]["count"] == 2
    listed = await mod(moderator, "crisis.list", community=community)
    assert [c["id"] for c in listed["cases"]] == [case["id"]]

    # Acknowledge, twice: the second is refused with a clear error.
    acked = await mod(moderator, "crisis.ack", community=community, id=case["id"])
    assert acked["state"] == "acknowledged" and acked["ack_by"]["role"] == "moderator"
    again = await mod(moderator, "crisis.ack", community=community, id=case["id"])
    assert again["error"]["code"] == 107 and "already acknowledged" in again["error"]["message"]
    contact = await mod(moderator, "crisis.contact", community=community, id=case["id"], note="called")
    assert contact["state"] == "in_contact"
    bad = await mod(moderator, "crisis.close", community=community, id=case["id"], outcome="whatever")
    assert bad["error"]["code"] == 107 and "outcome" in bad["error"]["message"]
    # Its two held messages still wait: closing asks what becomes of them.
    unsaid = await mod(moderator, "crisis.close", community=community, id=case["id"], outcome="referred")
    assert unsaid["error"]["code"] == 107 and "holds" in unsaid["error"]["message"]
    closed = await mod(moderator, "crisis.close", community=community, id=case["id"], outcome="referred", holds="keep")
    assert closed["state"] == "closed" and closed["outcome"] == "referred"
    assert len(closed["holds"]["kept"]) == 2
    changes = []
    while len(changes) < 3:
        changes.append((await next_event(moderator, f"{community}/mod", "crisis.case"))["change"])
    assert changes == ["acknowledged", "in_contact", "closed"]
    await no_event(moderator, f"{community}/mod", "crisis.escalated")

    # A member may not list cases (103, audited); a new crisis message opens a new case.
    refused = await mod(member, "crisis.list", community=community)
    assert refused["error"]["code"] == 103
    await send(member, room, HIGH + " again")
    fresh = await next_event(moderator, f"{community}/mod", "crisis.case")
    assert fresh["change"] == "opened" and fresh["case"]["id"] != case["id"]
    actions = [e["action"] for e in reversed(audit(first, community, action="crisis"))]
    assert actions == ["crisis.open", "crisis.join", "crisis.ack", "crisis.contact", "crisis.close", "crisis.open"]
    assert any(e["action"] == "denied" and e["details"]["method"] == "crisis.list" for e in audit(first, community))
    metrics = httpx.get(second.url + "/metrics").text
    assert "chat_crisis_time_to_ack_seconds_bucket" in metrics and "chat_crisis_time_to_contact_seconds_count 1.0" in metrics


async def test_unacknowledged_case_escalates_once_with_a_signed_webhook(crisis_servers, receiver, clients):
    first, second = crisis_servers
    community = unique("cr")
    room = first.make_room(community, "r")
    other = first.make_room(community, "quiet")
    user = unique("u")
    room_moderator = await joined(clients, second.ws_url, unique("m"), {community: "moderator"}, other + "/mod")
    member = await joined(clients, first.ws_url, user, {community: "member"}, room)
    started = time.perf_counter()
    await send(member, room, HIGH)
    # Nobody acknowledges within 2 s: moderators everywhere are alerted (a room feed here).
    escalated = await next_event(room_moderator, other + "/mod", "crisis.escalated", timeout=8)
    print(f"crisis message -> escalation with ack_timeout 2 s: {time.perf_counter() - started:.2f} s")
    case = escalated["case"]
    assert case["user"] == user and case["escalated"] is True and escalated["priority"] == "high"

    def webhook(type_: str):
        return [e for e in receiver.events(type_) if e["community"] == community]

    opened = await eventually(lambda: webhook("crisis.opened"), timeout=8)
    unacked = await eventually(lambda: webhook("crisis.unacknowledged"), timeout=8)
    assert opened[0]["data"]["target"]["case"] == case["id"] and opened[0]["data"]["text"] == HIGH
    assert unacked[0]["data"]["target"]["case"] == case["id"]
    signed = [r for r in receiver.received if b'"crisis.unacknowledged"' in r["body"] and community.encode() in r["body"]]
    assert signed and all(receiver.verify(r) for r in signed)
    assert signed[0]["headers"]["x-chat-event"] == "crisis.unacknowledged"
    # Two processes sweep; exactly one escalated and each event was delivered once.
    await asyncio.sleep(1.0)
    assert len(webhook("crisis.unacknowledged")) == 1 and len(webhook("crisis.opened")) == 1
    assert len([e for e in audit(first, community) if e["action"] == "crisis.escalate"]) == 1
    tampered = dict(signed[0], body=signed[0]["body"].replace(b"crisis", b"crisiz"))
    assert not receiver.verify(tampered)


async def test_private_conversation_reaches_the_member_live_and_nobody_else(crisis_servers, clients):
    first, second = crisis_servers
    community, room, _ = setup_community(first)
    user, member, moderator = await member_and_moderator(clients, community, room, first, second)
    other_member = await joined(clients, first.ws_url, unique("o"), {community: "member"}, room)
    await send(member, room, HIGH)
    case = (await next_event(moderator, f"{community}/mod", "crisis.case"))["case"]

    opened = await mod(moderator, "support.open", community=community, case=case["id"])
    channel = opened["channel"]
    assert channel.startswith(f"{community}:dm-") and opened["member"] == user and opened["case"] == case["id"]
    # The member is told at once, privately.
    notice = await next_event(member, f"user#{user}", "support.conversation")
    assert notice["channel"] == channel and notice["state"] == "open"
    linked = await next_event(moderator, f"{community}/mod", "crisis.case")
    assert linked["change"] == "conversation" and linked["case"]["conversation"] == channel

    for c in (member, moderator):
        r = await c.call("subscribe", {"channel": channel})
        assert "subscribe" in r, r
    hello = await send(moderator, channel, "Hi, I'm here. Do you want to talk?")
    assert hello["status"] == "published"
    assert (await next_event(member, channel, "message"))["text"].startswith("Hi, I'm here")
    # The moderator may ask the direct question: posted as written, no case for them.
    asked = await send(moderator, channel, "Are you thinking about killing yourself?")
    assert asked["status"] == "published" and not asked.get("hidden"), asked
    await no_event(moderator, f"{community}/mod", "crisis.case")
    # PII redaction stays on; crisis words reach the moderator (posted) and join the case.
    reply = await send(member, channel, "mail me at someone@example.com")
    assert reply["status"] == "redacted", reply
    words = await send(member, channel, ALSO_HIGH)
    assert words["status"] == "published", words
    seen = await next_event(moderator, channel, "message")
    while seen["id"] != words["id"]:
        seen = await next_event(moderator, channel, "message")
    assert seen["text"] == ALSO_HIGH
    joined_case = await next_event(moderator, f"{community}/mod", "crisis.case")
    assert joined_case["change"] == "joined" and joined_case["case"]["id"] == case["id"]

    # A third member can neither find nor join it (103, audited).
    rooms = (await other_member.rpc("chat.rooms", {"community": community}))["result"]["rooms"]
    assert channel not in [r["channel"] for r in rooms]
    assert (await other_member.rpc("support.conversations", {"community": community}))["result"]["conversations"] == []
    denied = await other_member.call("subscribe", {"channel": channel})
    assert denied["error"]["code"] == 103, denied
    denied_post = await send(other_member, channel, "let me in")
    assert denied_post["error"]["code"] == 103
    own = (await member.rpc("support.conversations", {"community": community}))["result"]["conversations"]
    assert [c["channel"] for c in own] == [channel]
    entries = await eventually(lambda: [e for e in audit(first, community) if e["action"] == "support.denied"])
    assert entries[0]["target"]["channel"] == channel
    listing = first.api("GET", f"/api/communities/{community}/rooms").json()["rooms"]
    assert channel not in [r["channel"] for r in listing]

    # Closing the case closes the conversation: the member is told; history is kept.
    closed = await mod(moderator, "crisis.close", community=community, id=case["id"], outcome="resources_given", holds="keep")
    assert closed["state"] == "closed"
    ended = await next_event(member, f"user#{user}", "support.conversation")
    assert ended["state"] == "closed" and ended["closed"] is True
    late = await send(member, channel, "thank you")
    assert late["error"]["code"] in (103, 1004)
    history = first.api("GET", f"/api/communities/{community}/rooms/{channel.split(':')[1]}/history").json()
    assert any(p["data"].get("text", "").startswith("Hi, I'm here") for p in history["publications"])


async def test_bad_input_gets_clear_errors(crisis_servers, clients):
    first, _ = crisis_servers
    community, room, _ = setup_community(first)
    moderator = await joined(clients, first.ws_url, unique("m"), {community: "moderator"})
    member = await joined(clients, first.ws_url, unique("u"), {community: "member"}, room)
    r = first.api("POST", "/api/webhooks", {"url": "ftp://example.com/x", "events": ["crisis.opened"], "secret": SECRET})
    assert r.status_code == 400 and "http:// or https://" in r.json()["error"]["message"]
    r = first.api("POST", "/api/webhooks", {"url": "http://127.0.0.1:9/x", "events": ["nope"], "secret": SECRET})
    assert r.status_code == 400 and "unknown events" in r.json()["error"]["message"]
    stranger = await mod(moderator, "support.open", community=community, user="nobody-" + unique())
    assert stranger["error"]["code"] == 107 and "not a member" in stranger["error"]["message"]
    r = first.api("POST", f"/api/communities/{community}/support", {"user": "nobody-here"})
    assert r.status_code == 400
    refused = await mod(member, "support.open", community=community, user="x")
    assert refused["error"]["code"] == 103
    missing = await mod(moderator, "crisis.ack", community=community, id="nope")
    assert missing["error"]["code"] == 107 and "no case" in missing["error"]["message"]
    r = first.api("PUT", f"/api/communities/{community}/rooms/dm-mine", {"title": "x"})
    assert r.status_code == 400 and "private" in r.json()["error"]["message"]


async def test_moderator_marks_a_reported_message_as_crisis(crisis_servers, clients):
    first, _ = crisis_servers
    community, room, _ = setup_community(first)
    user, member, moderator = await member_and_moderator(clients, community, room, first, first)
    posted = await send(member, room, "nothing matters any more, honestly")
    assert posted["status"] == "published", posted
    marked = await mod(moderator, "crisis.mark", channel=room, offset=posted["offset"], report=True)
    assert marked["created"] is True and marked["case"]["user"] == user
    assert marked["case"]["items"][0]["source"] == "report" and marked["case"]["opened_by"]["role"] == "moderator"
    r = first.api("POST", f"/api/communities/{community}/support", {"user": user, "actor": "clinician-1"})
    assert r.status_code == 201, r.text
    assert (await next_event(member, f"user#{user}", "support.conversation"))["channel"] == r.json()["channel"]
    again = first.api("POST", f"/api/communities/{community}/support", {"user": user})
    assert again.status_code == 200 and again.json()["channel"] == r.json()["channel"]


async def test_invited_hosts_may_join_and_a_refused_post_still_opens_a_case(crisis_servers, clients):
    first, _ = crisis_servers
    community, room, _ = setup_community(first)
    user, member, moderator = await member_and_moderator(clients, community, room, first, first)
    # A muted member's crisis words are refused (1002) but still reach a person: a case opens.
    r = first.api("PUT", f"/api/communities/{community}/mutes/{user}", {"duration": 600})
    assert r.status_code == 200, r.text
    refused = await send(member, room, HIGH)
    assert refused["error"]["code"] == 1002
    case = (await next_event(moderator, f"{community}/mod", "crisis.case"))["case"]
    assert case["user"] == user and case["items"][0]["source"] == "refused"

    host_id, other_host_id = unique("h"), unique("h")
    host = await joined(clients, first.ws_url, host_id, {community: "host"})
    other_host = await joined(clients, first.ws_url, other_host_id, {community: "host"})
    # A host may open one (and is invited to it); a host not invited may not join it.
    opened = await mod(host, "support.open", community=community, case=case["id"])
    channel = opened["channel"]
    assert opened["hosts"] == [host_id]
    assert "subscribe" in await host.call("subscribe", {"channel": channel})
    assert (await other_host.call("subscribe", {"channel": channel}))["error"]["code"] == 103
    # Hosts may not invite; moderators may. The invited host is told and may join.
    assert (await mod(host, "support.invite", channel=channel, user=other_host_id))["error"]["code"] == 103
    invited = await mod(moderator, "support.invite", channel=channel, user=other_host_id)
    assert invited["hosts"] == [host_id, other_host_id]
    notice = await next_event(other_host, f"user#{other_host_id}", "support.invited")
    assert notice["channel"] == channel
    joined_now = await other_host.call("subscribe", {"channel": channel})
    assert "subscribe" in joined_now, joined_now
    # A mute is community-wide: it holds in the private conversation too.
    assert (await send(member, channel, "hello"))["error"]["code"] == 1002


async def test_an_escalation_whose_process_died_before_announcing_it_is_announced(crisis_servers, crisis_valkey, clients):
    valkey = crisis_valkey
    import redis.asyncio as aioredis

    first, _ = crisis_servers
    community, room, other = setup_community(first)  # ack timeout 600 s: no escalation by itself
    user, member, moderator = await member_and_moderator(clients, community, room, first, first)
    await send(member, room, HIGH)
    case = (await next_event(moderator, f"{community}/mod", "crisis.case"))["case"]
    # What crisis_escalate.lua leaves when its process dies before announcing: escalated,
    # off the due index, waiting in the notify index past its grace time.
    r = aioredis.from_url(valkey.url)
    try:
        await r.hset(f"crisis:{{{community}}}:case:{case['id']}", "escalated_at", case["opened_at"] + 1)
        await r.zrem(f"crisis:{{{community}}}:due", case["id"])
        await r.zadd(f"crisis:{{{community}}}:notify", {case["id"]: 1})
        escalated = await next_event(moderator, f"{community}/mod", "crisis.case", timeout=5)
        assert escalated["change"] == "escalated" and escalated["case"]["id"] == case["id"]
        await no_event(moderator, f"{community}/mod", "crisis.case", wait=1.0)  # once
        assert await r.zcard(f"crisis:{{{community}}}:notify") == 0
    finally:
        await r.aclose()
