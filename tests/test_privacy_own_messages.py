"""Issue 13, item 3: a member deletes and edits their own messages (chat.delete, chat.edit):
live for everyone on every process, history keeps only what is left (the latest text, at
the message's own offset), and a member who was offline recovers exactly; edits pass the
room's moderation like new messages (redacted, held); someone else's message: 103; after
the edit window: 110 naming the window."""

from __future__ import annotations

import asyncio

from tests.harness import unique
from tests.moderation_support import joined, mod, next_event, send


def texts(pubs: list[dict]) -> list[tuple[int, str, bool]]:
    return [(p["offset"], p["data"]["text"], bool(p["data"].get("edited"))) for p in pubs if p["data"]["type"] == "message"]


async def test_delete_and_edit_own_messages_live_history_and_exact_recovery(server, spawn, valkey, clients):
    other = spawn(valkey.url, name="own-2")
    community = unique("own")
    channel = server.make_room(community, "r")
    author_id = unique("author")
    author = await joined(clients, server.ws_url, author_id, {community: "member"}, channel)
    here = await joined(clients, server.ws_url, unique("a"), {community: "member"}, channel)
    there = await joined(clients, other.ws_url, unique("b"), {community: "member"}, channel)
    offline = await joined(clients, other.ws_url, unique("c"), {community: "member"}, channel)
    first = await send(author, channel, "first message")
    await next_event(offline, channel, "message")
    epoch = (await offline.call("history", {"channel": channel}))["history"]["epoch"]
    await offline.close()
    second = await send(author, channel, "second message, regretted")
    third = await send(author, channel, "thrid message with a typo")
    for c in (here, there):
        for _ in range(3):
            await next_event(c, channel, "message")

    deleted = await mod(author, "chat.delete", channel=channel, offset=second["offset"])
    assert deleted["deleted"] is True and deleted["id"] == second["id"]
    edited = await mod(author, "chat.edit", channel=channel, offset=third["offset"], text="third message, fixed")
    assert edited["status"] == "published" and edited["message_offset"] == third["offset"]
    for c in (here, there):
        gone = await next_event(c, channel, "message.deleted")
        assert gone["offset"] == second["offset"] and gone["by"] == "author"
        change = await next_event(c, channel, "message.edited")
        assert change["offset"] == third["offset"] and change["text"] == "third message, fixed"
        assert change["id"] == third["id"] and change["_offset"] == edited["offset"]

    # History keeps only the latest text, at the message's own offset, marked edited.
    hist = (await here.call("history", {"channel": channel, "limit": 100}))["history"]["publications"]
    assert texts(hist) == [(first["offset"], "first message", False), (third["offset"], "third message, fixed", True)]
    assert "regretted" not in str(hist) and "thrid" not in str(hist)

    # The member who was offline recovers exactly: the deletion and the edit, in order.
    back = await joined(clients, other.ws_url, unique("c"), {community: "member"})
    sub = (await back.call("subscribe", {"channel": channel, "recover": True, "offset": first["offset"], "epoch": epoch}))["subscribe"]
    assert sub["recovered"] is True
    pubs = sub["publications"]
    assert "regretted" not in str(pubs) and "thrid" not in str(pubs)
    assert [(p["data"]["type"], p["data"].get("offset")) for p in pubs if p["data"]["type"] != "message"] == [
        ("message.deleted", second["offset"]),
        ("message.edited", third["offset"]),
    ]
    assert texts(pubs) == [(third["offset"], "third message, fixed", True)]

    # Edited again: history still holds one edit event for it (the latest), recovery exact.
    again_edit = await mod(author, "chat.edit", channel=channel, offset=third["offset"], text="third message, final")
    assert again_edit["status"] == "published"
    hist = (await here.call("history", {"channel": channel, "limit": 100}))["history"]["publications"]
    edits = [p for p in hist if p["data"]["type"] == "message.edited"]
    assert [e["data"]["text"] for e in edits] == ["third message, final"] and "fixed" not in str(hist)
    late = await joined(clients, other.ws_url, unique("c"), {community: "member"})
    sub = (await late.call("subscribe", {"channel": channel, "recover": True, "offset": first["offset"], "epoch": epoch}))["subscribe"]
    assert sub["recovered"] is True and "fixed" not in str(sub["publications"])
    assert texts(sub["publications"]) == [(third["offset"], "third message, final", True)]

    # Twice: the deleted message is gone.
    again = await mod(author, "chat.delete", channel=channel, offset=second["offset"])
    assert again["error"]["code"] == 108


async def test_someone_elses_message_is_refused_with_103(server, clients):
    community = unique("own103")
    channel = server.make_room(community, "r")
    author = await joined(clients, server.ws_url, unique("author"), {community: "member"}, channel)
    other = await joined(clients, server.ws_url, unique("other"), {community: "member"}, channel)
    posted = await send(author, channel, "mine")
    for method, extra in (("chat.delete", {}), ("chat.edit", {"text": "not yours"})):
        refused = await mod(other, method, channel=channel, offset=posted["offset"], **extra)
        assert refused["error"]["code"] == 103, refused
    hist = (await author.call("history", {"channel": channel, "limit": 10}))["history"]["publications"]
    assert texts(hist) == [(posted["offset"], "mine", False)]


async def test_editing_after_the_window_names_the_window(server, clients):
    community = unique("ownwin")
    channel = server.make_room(community, "r", extra={"edit_window": 1})
    author = await joined(clients, server.ws_url, unique("author"), {community: "member"}, channel)
    posted = await send(author, channel, "quick")
    await asyncio.sleep(1.3)
    late = await mod(author, "chat.edit", channel=channel, offset=posted["offset"], text="too late")
    assert late["error"]["code"] == 110 and "1 s" in late["error"]["message"] and "edit_window" in late["error"]["message"]


async def test_edits_pass_moderation_redacted_and_held(modserver, clients):
    community = unique("ownmod")
    channel = modserver.make_room(community, "r")
    author_id = unique("author")
    author = await joined(clients, modserver.ws_url, author_id, {community: "member"}, channel)
    watcher = await joined(clients, modserver.ws_url, unique("w"), {community: "member"}, channel)
    moderator = await joined(clients, modserver.ws_url, unique("mod"), {community: "moderator"}, channel + "/mod")
    posted = await send(author, channel, "call me later")
    await next_event(watcher, channel, "message")
    # A phone number in an edit is redacted like in a new message.
    r = await mod(author, "chat.edit", channel=channel, offset=posted["offset"], text="call me on 07700 900123")
    assert r["status"] == "redacted" and r["hidden"] == ["phone"]
    change = await next_event(watcher, channel, "message.edited")
    assert "07700" not in change["text"] and change["redacted"] == ["phone"]
    # An edit a hook holds waits for review; the old text stays visible meanwhile.
    held = await mod(author, "chat.edit", channel=channel, offset=posted["offset"], text="I want to end it all")
    assert held["status"] == "held"
    hold = (await next_event(moderator, channel + "/mod", "hold.created"))["hold"]
    assert hold["kind"] == "edit"
    hist = (await watcher.call("history", {"channel": channel, "limit": 10}))["history"]["publications"]
    assert texts(hist) == [(posted["offset"], "call me on [phone hidden]", True)]
    await mod(moderator, "mod.approve", channel=channel, id=held["id"], text="having a hard day")
    change = await next_event(watcher, channel, "message.edited")
    assert change["text"] == "having a hard day" and change["offset"] == posted["offset"]
    hist = (await watcher.call("history", {"channel": channel, "limit": 10}))["history"]["publications"]
    assert texts(hist) == [(posted["offset"], "having a hard day", True)]
