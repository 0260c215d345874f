"""Moderate crisis risk posted for peer support (``moderate_risk = "post"``), end to end.

The crisis hook grades risk; with the community policy "post", a moderate-risk message is
published so peers can respond, while the sender privately gets support resources at once
and moderators get a high-priority alert (escalated to the community's moderators when none
of the room's is online). High risk is held whatever the policy.
"""

from __future__ import annotations

import pytest

from tests.harness import ServerProcess, unique
from tests.moderation_support import audit, eventually, joined, next_event, no_event, send

CONFIG = """
[moderation]
pipeline = ["crisis", "pii"]

[moderation.hooks.crisis]
moderate_risk = "post"
"""

MODERATE = "everyone would be better off if I wasn't around"
HIGH = "I have a plan and I'm going to do it this weekend"


@pytest.fixture(scope="module")
def support_server(valkey, tmp_path_factory):
    config = tmp_path_factory.mktemp("support") / "support.toml"
    config.write_text(CONFIG)
    server = ServerProcess(valkey.url, name="support", args=["--config", str(config)])
    server.wait_ready()
    yield server
    server.stop()


async def test_moderate_risk_is_posted_with_private_support_and_a_moderator_alert(support_server, clients):
    server = support_server
    community = unique("sup")
    channel = server.make_room(community, "r")
    user = unique("u")
    moderator = await joined(clients, server.ws_url, unique("m"), {community: "moderator"}, channel + "/mod")
    peer = await joined(clients, server.ws_url, unique("p"), {community: "member"}, channel)
    sender = await joined(clients, server.ws_url, user, {community: "member"}, channel)

    result = await send(sender, channel, MODERATE, client_msg_id="cm-1")
    assert result["status"] == "published", result
    # Peers see it as written, so they can respond.
    message = await next_event(peer, channel, "message")
    assert message["text"] == MODERATE and message["id"] == result["id"]
    # The sender gets resources privately, naming the message that went out.
    support = await next_event(sender, f"user#{user}", "moderation.support")
    assert support["resources"] and support["message"] and support["message_id"] == result["id"]
    # Moderators are alerted at high priority with where the message is.
    alert = await next_event(moderator, channel + "/mod", "crisis.alert")
    assert alert["priority"] == "high" and alert["posted"] is True and alert["user"] == user
    assert alert["message_id"] == result["id"] and alert["offset"] == result["offset"]
    assert "moderate risk" in alert["reason"]
    # Nothing is held.
    await no_event(moderator, channel + "/mod", "hold.created")
    # A retry of the same client message id posts nothing more and alerts nobody again.
    again = await send(sender, channel, MODERATE, client_msg_id="cm-1")
    assert again["status"] == "published" and again.get("duplicate") is True
    await no_event(moderator, channel + "/mod", "crisis.alert")
    entries = await eventually(
        lambda: [e for e in audit(server, community) if e["action"] in ("verdict.support", "crisis.alert")]
    )
    actions = sorted(e["action"] for e in entries)
    assert actions == ["crisis.alert", "verdict.support"], actions


async def test_moderate_risk_alert_escalates_when_no_room_moderator_is_online(support_server, clients):
    server = support_server
    community = unique("sup")
    channel = server.make_room(community, "r")
    community_mod = await joined(clients, server.ws_url, unique("m"), {community: "moderator"}, f"{community}/mod")
    sender = await joined(clients, server.ws_url, unique("u"), {community: "member"}, channel)
    result = await send(sender, channel, MODERATE)
    assert result["status"] == "published", result
    alert = await next_event(community_mod, f"{community}/mod", "crisis.alert")
    assert alert["escalated"] is True and alert["channel"] == channel and alert["message_id"] == result["id"]


async def test_high_risk_is_held_even_when_moderate_risk_is_posted(support_server, clients):
    server = support_server
    community = unique("sup")
    channel = server.make_room(community, "r")
    user = unique("u")
    moderator = await joined(clients, server.ws_url, unique("m"), {community: "moderator"}, channel + "/mod")
    peer = await joined(clients, server.ws_url, unique("p"), {community: "member"}, channel)
    sender = await joined(clients, server.ws_url, user, {community: "member"}, channel)
    result = await send(sender, channel, HIGH)
    assert result["status"] == "held", result
    hold = (await next_event(moderator, channel + "/mod", "hold.created"))["hold"]
    assert hold["category"] == "crisis" and hold["priority"] == "high"
    assert (await next_event(sender, f"user#{user}", "moderation.support"))["resources"]
    await no_event(peer, channel, "message")


async def test_supported_message_with_a_phone_number_is_published_redacted(support_server, clients):
    server = support_server
    community = unique("sup")
    channel = server.make_room(community, "r")
    user = unique("u")
    peer = await joined(clients, server.ws_url, unique("p"), {community: "member"}, channel)
    sender = await joined(clients, server.ws_url, user, {community: "member"}, channel)
    result = await send(sender, channel, MODERATE + ", call me on 07700 900123")
    assert result["status"] == "redacted" and result["hidden"] == ["phone"], result
    message = await next_event(peer, channel, "message")
    assert "07700" not in message["text"] and "[phone hidden]" in message["text"]
    assert (await next_event(sender, f"user#{user}", "moderation.support"))["message_id"] == result["id"]
