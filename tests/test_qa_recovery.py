"""A member who reconnects mid-session recovers exactly the board events they missed; applying
them to their stale board gives what a fresh qa.board answers. A newcomer can take a
qa.board snapshot and subscribe from its position without missing or repeating anything."""

from __future__ import annotations

import asyncio

import orjson
import pytest

from tests.harness import unique
from tests.qa_support import People, apply_event, board_state, empty_state, subscribe


def _data(pub):
    raw = pub["data"]
    return orjson.loads(raw) if isinstance(raw, (bytes, str)) else raw


@pytest.mark.parametrize("pb", [False, True], ids=["json", "protobuf"])
async def test_reconnecting_member_recovers_the_board_they_missed(server, pb):
    community = unique("recover")
    room = server.make_room(community, "eve")
    board = f"{room}/qa"
    people = People(server.ws_url, community)
    try:
        host = await people.join("dr-rec", "host")
        others = [await people.join(f"u-other-{i}") for i in range(3)]
        sid = (await host.call_rpc("qa.create", {"channel": board, "title": "Recovery", "question_interval": 0}))["session"]["id"]
        await host.call_rpc("qa.start", {"channel": board, "session": sid})
        member = await people.join("u-roamer", protobuf_mode=pb)
        sub = await subscribe(member, board)
        q = [(await o.call_rpc("qa.ask", {"channel": board, "session": sid, "text": f"question {i}", "anonymous": i == 1}))["question"]["id"] for i, o in enumerate(others)]
        await host.call_rpc("qa.screen", {"channel": board, "session": sid, "question": q[0], "action": "publish"})
        await others[1].call_rpc("qa.vote", {"channel": board, "session": sid, "question": q[0]})
        await member.wait_type(board, "qa.votes")
        # The state the member had when their connection dropped.
        state = empty_state()
        state["session"] = None
        snapshot = await member.call_rpc("qa.board", {"channel": board, "session": sid})
        state = board_state(snapshot)
        seen = member.feeds[board]
        last = seen[-1]["offset"]
        assert last == snapshot["offset"]
        await member.close()

        # While they are away: publish, votes, answering, pin, answer, dismiss, stage.
        await host.call_rpc("qa.screen", {"channel": board, "session": sid, "question": q[1], "action": "publish"})
        await host.call_rpc("qa.screen", {"channel": board, "session": sid, "question": q[2], "action": "publish"})
        for o in others:
            await o.call_rpc("qa.vote", {"channel": board, "session": sid, "question": q[1]})
        await others[0].call_rpc("qa.unvote", {"channel": board, "session": sid, "question": q[1]})
        await host.call_rpc("qa.answering", {"channel": board, "session": sid, "question": q[1]})
        await host.call_rpc("qa.pin", {"channel": board, "session": sid, "question": q[2]})
        await host.call_rpc("qa.stage", {"channel": board, "session": sid, "on": True})
        await host.call_rpc("qa.answer", {"channel": board, "session": sid, "question": q[1], "text": "Here is general information."})
        await host.call_rpc("qa.dismiss", {"channel": board, "session": sid, "question": q[0]})
        await asyncio.sleep(0.5)  # vote counts are flushed

        again = await people.join("u-roamer", protobuf_mode=pb)
        rec = await subscribe(again, board, recover=True, offset=last, epoch=sub["epoch"])
        assert rec["recovered"] is True
        pubs = rec["publications"]
        offsets = [p["offset"] for p in pubs]
        assert offsets == list(range(last + 1, last + 1 + len(offsets)))
        events = [_data(p) for p in pubs]
        assert "qa.votes" in [e["type"] for e in events]
        for event in events:
            state = apply_event(state, event)
        fresh = await again.call_rpc("qa.board", {"channel": board, "session": sid})
        assert state == board_state(fresh)
        assert state["session"]["stage"] is True and state["session"]["answering"] is None
        assert state["questions"][q[1]]["votes"] == 2 and state["questions"][q[1]]["state"] == "answered"
        assert q[0] not in state["questions"]
        assert fresh["offset"] == offsets[-1]
    finally:
        await people.close()


async def test_snapshot_then_subscribe_from_its_position(server):
    community = unique("snap")
    room = server.make_room(community, "r")
    board = f"{room}/qa"
    people = People(server.ws_url, community)
    try:
        host = await people.join("dr-snap", "host")
        asker = await people.join("u-asker")
        sid = (await host.call_rpc("qa.create", {"channel": board, "title": "Snap", "premoderation": False, "question_interval": 0}))["session"]["id"]
        await host.call_rpc("qa.start", {"channel": board, "session": sid})
        q1 = (await asker.call_rpc("qa.ask", {"channel": board, "text": "one"}))["question"]["id"]
        newcomer = await people.join("u-new")
        snap = await newcomer.call_rpc("qa.board", {"channel": board})  # default: the live session
        assert snap["session"]["id"] == sid and [x["id"] for x in snap["questions"]] == [q1]
        state = board_state(snap)
        await host.call_rpc("qa.pin", {"channel": board, "question": q1})
        await asker.call_rpc("qa.vote", {"channel": board, "question": q1})
        await asyncio.sleep(0.5)
        rec = await subscribe(newcomer, board, recover=True, offset=snap["offset"], epoch=snap["epoch"])
        assert rec["recovered"] is True
        for pub in rec["publications"]:
            state = apply_event(state, _data(pub))
        assert state == board_state(await newcomer.call_rpc("qa.board", {"channel": board}))
        assert state["questions"][q1]["pinned"] is True and state["questions"][q1]["votes"] == 1
    finally:
        await people.close()
