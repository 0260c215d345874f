"""chat.sanctions against a real server: a member asks for their own mute and ban (the web
client does when a page opens, so a muted member sees until when at once)."""

from __future__ import annotations

from tests.harness import token, unique
from tests.presence_helpers import member, rpc_result


async def test_a_member_can_ask_for_their_own_mute_and_ban(server, clients):
    """chat.sanctions: the caller's own standing (the web client asks when a page opens)."""
    community = unique("own")
    channel = server.make_room(community, "lobby")
    ann = await member(clients, server.ws_url, "ann", community, channel=channel)
    mo = await member(clients, server.ws_url, "mo", community, "moderator", channel=channel)
    assert await rpc_result(ann, "chat.sanctions", {"community": community}) == {"community": community, "muted": None, "banned": None}
    await rpc_result(mo, "mod.mute", {"community": community, "user": "ann", "duration": 600, "reason": "a pause"})
    own = await rpc_result(ann, "chat.sanctions", {"community": community})
    assert own["muted"]["until"].endswith("Z") and own["muted"]["reason"] == "a pause" and own["banned"] is None
    await rpc_result(mo, "mod.unmute", {"community": community, "user": "ann"})
    assert (await rpc_result(ann, "chat.sanctions", {"community": community}))["muted"] is None
    # Only one's own, only in one's communities.
    stranger = await clients(server.ws_url)
    await stranger.connect(token("zed", {unique("other"): "member"}))
    assert (await stranger.rpc("chat.sanctions", {"community": community}))["error"]["code"] == 103
    assert (await ann.rpc("chat.sanctions", {"community": "no-such-community"}))["error"]["code"] == 102
