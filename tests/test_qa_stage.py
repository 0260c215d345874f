"""Stage mode: while a live session holds the room, members' room posts are refused with
1006 pointing to the board; hosts and moderators still post; ending the session frees the
room. Also across two server processes."""

from __future__ import annotations

import asyncio

from tests.harness import unique
from tests.qa_support import People, subscribe


async def test_stage_mode_refuses_member_posts_with_1006_pointing_to_the_board(server):
    community = unique("stage")
    room = server.make_room(community, "talk")
    board = f"{room}/qa"
    people = People(server.ws_url, community)
    try:
        host = await people.join("dr-ames", "host", name="Dr Ames")
        mod = await people.join("mod-bo", "moderator")
        member = await people.join("u-mia")
        await subscribe(member, room)
        sid = (await host.call_rpc("qa.create", {"channel": board, "title": "Pregnancy and sleep"}))["session"]["id"]
        err = await host.rpc_error("qa.stage", {"channel": board, "session": sid, "on": True})
        assert err["code"] == 1102  # not live yet
        await host.call_rpc("qa.start", {"channel": board, "session": sid})
        assert (await member.rpc_error("qa.stage", {"channel": board, "on": True}))["code"] == 103
        assert (await host.rpc_error("qa.stage", {"channel": board}))["code"] == 107
        staged = await host.call_rpc("qa.stage", {"channel": board, "on": True})
        assert staged["session"]["stage"] is True

        # A member's post, by publish and by chat.send: 1006, naming the board.
        reply = await member.call("publish", {"channel": room, "data": {"text": "can I ask here?"}})
        assert reply["error"]["code"] == 1006
        assert board in reply["error"]["message"] and "qa.ask" in reply["error"]["message"]
        err = await member.rpc_error("chat.send", {"channel": room, "text": "and here?"})
        assert err["code"] == 1006 and board in err["message"]
        # Hosts and moderators still post.
        assert (await host.call_rpc("chat.send", {"channel": room, "text": "Welcome, everyone"}))["status"] == "published"
        assert (await mod.call_rpc("chat.send", {"channel": room, "text": "Questions go to the board"}))["status"] == "published"
        # The member's questions go to the board instead.
        asked = await member.call_rpc("qa.ask", {"channel": board, "text": "Is it normal to wake at 4am?"})
        assert asked["status"] == "screening"
        # Nothing the member tried reached the room.
        await member.wait_type(room, "message", text="Questions go to the board")
        texts = [e.get("text") for e in member.events(room)]
        assert texts == ["Welcome, everyone", "Questions go to the board"]

        await host.call_rpc("qa.stage", {"channel": board, "on": False})
        assert (await member.call_rpc("chat.send", {"channel": room, "text": "thanks!"}))["status"] == "published"
        await host.call_rpc("qa.stage", {"channel": board, "on": True})
        assert (await member.rpc_error("chat.send", {"channel": room, "text": "again"}))["code"] == 1006
        ended = await host.call_rpc("qa.end", {"channel": board})
        assert ended["session"]["stage"] is False
        assert (await member.call_rpc("chat.send", {"channel": room, "text": "after the end"}))["status"] == "published"
    finally:
        await people.close()


async def test_stage_mode_reaches_another_process_at_once(server, spawn, valkey):
    other = spawn(valkey.url, name="stage-other")
    community = unique("stage2")
    room = server.make_room(community, "talk")
    board = f"{room}/qa"
    here = People(server.ws_url, community)
    there = People(other.ws_url, community)
    try:
        host = await here.join("dr-cole", "host")
        member = await there.join("u-remote")
        sid = (await host.call_rpc("qa.create", {"channel": board, "title": "Midlife"}))["session"]["id"]
        await host.call_rpc("qa.start", {"channel": board, "session": sid})
        # The other process has just looked: "no stage mode" is in its cache now.
        assert (await member.call_rpc("chat.send", {"channel": room, "text": "before"}))["status"] == "published"
        await host.call_rpc("qa.stage", {"channel": board, "session": sid, "on": True})
        await asyncio.sleep(0.3)  # the control message crosses Redis
        assert (await member.rpc_error("chat.send", {"channel": room, "text": "during"}))["code"] == 1006
        await host.call_rpc("qa.stage", {"channel": board, "session": sid, "on": False})
        await asyncio.sleep(0.3)
        assert (await member.call_rpc("chat.send", {"channel": room, "text": "after"}))["status"] == "published"
    finally:
        await here.close()
        await there.close()
