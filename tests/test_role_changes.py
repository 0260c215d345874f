"""Role changes take effect on refresh (issue 12, item 5): every subscription is checked
again against the new claims; those no longer allowed end with an unsubscribe push."""

from __future__ import annotations

import asyncio
import time

import jwt as pyjwt

from tests.harness import SECRET, token, unique
from tests.moderation_support import joined, next_event, no_event, send


def _unsubscribed(channel: str):
    return lambda p: p.get("push", {}).get("channel") == channel and "unsubscribe" in p["push"]


async def test_demoted_moderator_loses_the_moderator_feed_on_refresh(modserver, clients):
    community = unique("demote")
    channel = modserver.make_room(community, "r")
    r = modserver.api("PUT", f"/api/communities/{community}/rooms/r/moderation", {"pipeline": ["keywords"]})
    assert r.status_code == 200, r.text
    user = unique("mod")
    moderator = await joined(clients, modserver.ws_url, user, {community: "moderator"}, channel, channel + "/mod")
    sender = await joined(clients, modserver.ws_url, unique("sender"), {community: "member"})
    assert (await send(sender, channel, "try this miracle cure"))["status"] == "held"
    await next_event(moderator, channel + "/mod", "hold.created")

    reply = await moderator.call("refresh", {"token": token(user, {community: "member"})})
    assert "refresh" in reply, reply
    push = await moderator.next_push(where=_unsubscribed(channel + "/mod"))
    assert push["push"]["unsubscribe"]["code"] == 2000
    assert "permission denied" in push["push"]["unsubscribe"]["reason"]

    # The room itself is still allowed; the hold feed is not.
    assert (await send(sender, channel, "another miracle cure"))["status"] == "held"
    await no_event(moderator, channel + "/mod", "hold.created", wait=1.0)
    assert (await send(sender, channel, "plain words"))["status"] == "published"
    await next_event(moderator, channel, "message")
    again = await moderator.call("subscribe", {"channel": channel + "/mod"})
    assert again["error"]["code"] == 103


async def test_refresh_without_a_token_channel_ends_that_server_side_subscription(server, clients):
    community = unique("tokch")
    channel = server.make_room(community, "r")
    c = await clients(server.ws_url)
    reply = await c.connect(token("tc", {community: "member"}, channels=[channel]))
    assert channel in reply["connect"]["subs"]
    await c.call("refresh", {"token": token("tc", {community: "member"})})
    push = await c.next_push(where=_unsubscribed(channel))
    assert push["push"]["unsubscribe"]["code"] == 2000


async def test_sub_refresh_rechecks_the_channel(server, clients):
    """A member whose room was raised to moderators only loses it at the next sub_refresh."""
    community = unique("subref")
    channel = server.make_room(community, "r")
    c = await clients(server.ws_url)
    await c.connect(token("sr", {community: "member"}))
    now = int(time.time())
    sub_token = pyjwt.encode({"sub": "sr", "channel": channel, "exp": now + 60}, SECRET, algorithm="HS256")
    assert "subscribe" in await c.call("subscribe", {"channel": channel, "token": sub_token})
    r = server.api("PUT", f"/api/communities/{community}/rooms/r", {"title": "r", "settings": {"min_role": "moderator"}})
    assert r.status_code == 200, r.text
    deadline = time.monotonic() + 5
    while True:
        reply = await c.call("sub_refresh", {"channel": channel, "token": sub_token})
        if "error" in reply or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.1)
    assert reply["error"]["code"] == 103
    push = await c.next_push(where=_unsubscribed(channel))
    assert push["push"]["unsubscribe"]["code"] == 2000
