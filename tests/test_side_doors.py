"""Issue 23: the side doors into a private support conversation, closed. Each attack goes
through a real server over a real WebSocket: an uninvited host asking ``support.open`` for
a member who already has a conversation, Q&A on ``<conversation>/qa``, members subscribing
to or asking on that board, and outsiders' reports hiding the member's message. Also: edits
pass every posting gate, reserved token subjects are refused at connect."""

from __future__ import annotations

import pytest

from tests.harness import Closed, ServerProcess, token, unique
from tests.moderation_support import eventually, joined, mod, send


@pytest.fixture(scope="module")
def doors(valkey, tmp_path_factory):
    config = tmp_path_factory.mktemp("doors") / "doors.toml"
    config.write_text("[moderation]\nreport_threshold = 3\n")
    server = ServerProcess(valkey.url, name="doors", args=["--config", str(config)])
    server.wait_ready()
    yield server
    server.stop()


async def _conversation(server, clients):
    """A community with a room, a member who posted there, a moderator who opened a private
    conversation with the member, and the member's first message in it."""
    community = unique("door")
    lobby = server.make_room(community, "lobby")
    user = unique("u")
    member = await joined(clients, server.ws_url, user, {community: "member"}, lobby)
    assert (await send(member, lobby, "hello"))["status"] == "published"
    moderator = await joined(clients, server.ws_url, unique("m"), {community: "moderator"})
    opened = await mod(moderator, "support.open", community=community, user=user)
    assert "channel" in opened, opened
    dm = opened["channel"]
    r = await member.call("subscribe", {"channel": dm})
    assert "subscribe" in r, r
    first = await send(member, dm, "I need someone to talk to")
    assert first["status"] == "published", first
    return community, lobby, user, member, moderator, dm, first


def _code(reply: dict) -> int | None:
    return (reply.get("error") or {}).get("code")


async def test_uninvited_host_does_not_learn_the_conversation_from_support_open(doors, clients):
    community, _, user, _, _, dm, _ = await _conversation(doors, clients)
    host = await joined(clients, doors.ws_url, unique("h"), {community: "host"})
    again = await mod(host, "support.open", community=community, user=user)
    assert _code(again) == 103, again
    assert dm not in str(again)
    # A moderator still gets the open conversation back.
    staff = await joined(clients, doors.ws_url, unique("m"), {community: "moderator"})
    existing = await mod(staff, "support.open", community=community, user=user)
    assert existing["channel"] == dm and existing["existing"] is True


async def test_no_qa_board_of_a_private_conversation(doors, clients):
    community, _, user, member, moderator, dm, _ = await _conversation(doors, clients)
    host = await joined(clients, doors.ws_url, unique("h"), {community: "host"})
    board = dm + "/qa"
    hosts = [{"user": "x", "name": "X"}]
    for who in (host, moderator):
        created = await mod(who, "qa.create", channel=board, title="AMA", hosts=hosts)
        assert _code(created) == 102, created
        assert "private conversation" in created["error"]["message"]
        for method, extra in (("qa.start", {}), ("qa.stage", {"on": True})):
            reply = await mod(who, method, channel=board, session="abcd1234", **extra)
            assert _code(reply) == 102, (method, reply)
    # The room channel form of the board is refused the same way.
    assert _code(await mod(host, "qa.create", channel=dm, title="AMA", hosts=hosts)) == 102
    # The member still posts (no stage mode reached the conversation).
    assert (await send(member, dm, "still here"))["status"] == "published"
    # Neither the member nor another member of the community may subscribe to or ask there.
    other = await joined(clients, doors.ws_url, unique("o"), {community: "member"})
    for who in (member, other):
        sub = await who.call("subscribe", {"channel": board})
        assert sub.get("error", {}).get("code") == 102, sub
        asked = await mod(who, "qa.ask", channel=board, session="abcd1234", text="hi?")
        assert _code(asked) == 102, asked
        assert _code(await mod(who, "qa.board", channel=board)) == 102
        sub = await who.call("subscribe", {"channel": dm + "/screening"})
        assert sub.get("error", {}).get("code") == 102, sub


async def test_outsiders_cannot_report_a_private_message(doors, clients):
    community, _, _, member, moderator, dm, first = await _conversation(doors, clients)
    r = await moderator.call("subscribe", {"channel": dm})
    assert "subscribe" in r, r
    for _ in range(3):
        outsider = await joined(clients, doors.ws_url, unique("o"), {community: "member"})
        reply = await mod(outsider, "chat.report", channel=dm, offset=first["offset"], reason="spam")
        assert _code(reply) == 103, reply
    # The message is still there for the conversation.
    hist = await member.call("history", {"channel": dm, "limit": 10})
    texts = [p for p in hist["history"]["publications"]]
    assert any(p.get("offset") == first["offset"] for p in texts), hist


# ---------------------------------------------------------------------------- edits are posts


async def _posted(server, clients, **settings):
    community = unique("edit")
    channel = server.make_room(community, "r", **settings)
    user = unique("u")
    author = await joined(clients, server.ws_url, user, {community: "member"}, channel)
    posted = await send(author, channel, "first words")
    assert posted["status"] == "published", posted
    return community, channel, user, author, posted["offset"]


async def _edit(client, channel, offset, text="changed words"):
    return await mod(client, "chat.edit", channel=channel, offset=offset, text=text)


async def _room_changed(server, channel, client, offset, code):
    """Edits are refused with ``code`` once the room change reached the server."""
    async def refused():
        reply = await _edit(client, channel, offset, "probe")
        return _code(reply) == code or (_code(reply) is None and None)

    return await eventually(refused)


async def test_an_edit_after_leaving_the_community_is_refused(doors, clients):
    community, channel, user, author, offset = await _posted(doors, clients)
    # The member's new token no longer names the community.
    gone = await joined(clients, doors.ws_url, user, {})
    assert _code(await _edit(gone, channel, offset)) == 103
    assert _code(await _edit(author, channel, offset)) is None  # with the old role it is fine


async def test_an_edit_in_a_locked_room_is_refused(doors, clients):
    community, channel, user, author, offset = await _posted(doors, clients)
    r = doors.api("PATCH", f"/api/communities/{community}/rooms/r", {"settings": {"locked": True}})
    assert r.status_code == 200, r.text
    assert await _room_changed(doors, channel, author, offset, 1004)
    staff = await joined(clients, doors.ws_url, unique("m"), {community: "moderator"}, channel)
    assert (await send(staff, channel, "moderators still post"))["status"] == "published"


async def test_an_edit_below_the_rooms_min_role_is_refused(doors, clients):
    community, channel, user, author, offset = await _posted(doors, clients)
    r = doors.api("PATCH", f"/api/communities/{community}/rooms/r", {"settings": {"min_role": "host"}})
    assert r.status_code == 200, r.text
    assert await _room_changed(doors, channel, author, offset, 103)


async def test_an_edit_in_a_closed_conversation_is_refused(doors, clients):
    community, _, user, member, moderator, dm, first = await _conversation(doors, clients)
    assert _code(await _edit(member, dm, first["offset"], "still open")) is None
    closed = await mod(moderator, "support.close", channel=dm)
    assert closed.get("closed") is True, closed
    assert await _room_changed(doors, dm, member, first["offset"], 1004)


# ---------------------------------------------------------------------------- reserved identities


@pytest.mark.parametrize("sub", ["platform", "system", "erased-0123456789abcdef"])
async def test_reserved_subjects_are_refused_at_connect(doors, clients, sub):
    c = await clients(doors.ws_url)
    with pytest.raises(Closed) as closed:
        await c.connect(token(sub, {"anything": "admin"}))
    assert closed.value.code == 3500, closed.value
    # An ordinary subject on the same server connects.
    ok = await clients(doors.ws_url)
    assert "connect" in await ok.connect(token(unique("u"), {"anything": "admin"}))


async def test_platform_posts_cannot_be_edited_or_deleted_over_the_websocket(doors, clients):
    community = unique("plat")
    channel = doors.make_room(community, "r")
    r = doors.api("POST", f"/api/communities/{community}/rooms/r/messages", {"text": "Welcome!", "system": True})
    assert r.status_code == 201, r.text
    offset = r.json()["offset"]
    # Only the reserved subject could have edited it; any other member is not its author.
    admin = await joined(clients, doors.ws_url, unique("a"), {community: "admin"}, channel)
    assert _code(await _edit(admin, channel, offset, "Hijacked")) == 103
    assert _code(await mod(admin, "chat.delete", channel=channel, offset=offset)) == 103
