"""Bad input and refused actions: a clear error, nothing changes, the connection survives."""

from __future__ import annotations

import httpx

from tests.harness import API_KEY, unique
from tests.qa_support import People, subscribe


async def test_bad_requests_get_clear_errors_and_change_nothing(server):
    community = unique("err")
    room = server.make_room(community, "r")
    server.make_room(community, "other")
    board = f"{room}/qa"
    people = People(server.ws_url, community)
    try:
        host = await people.join("dr-err", "host")
        member = await people.join("u-err")
        outsider = await people.join("u-out")  # a member of this test's community...
        stranger_people = People(server.ws_url, unique("elsewhere"))
        people.opened.append(stranger := await stranger_people.join("u-stranger"))
        await subscribe(member, board)

        assert (await member.rpc_error("qa.create", {"channel": board, "title": "mine"}))["code"] == 103
        sid = (await host.call_rpc("qa.create", {"channel": room, "title": "Errors"}))["session"]["id"]  # room channel accepted
        cases = [
            (member, "qa.ask", "not an object", 107, "expected an object"),
            (member, "qa.ask", {"text": "x"}, 107, "channel"),
            (member, "qa.ask", {"channel": "nope:room/qa", "text": "x"}, 102, "unknown channel"),
            (member, "qa.ask", {"channel": f"{room}/mod", "text": "x"}, 102, "Q&A board"),
            (stranger, "qa.ask", {"channel": board, "text": "x"}, 103, "not a member"),
            (member, "qa.ask", {"channel": board, "session": "../../x", "text": "x"}, 107, "session must be an id"),
            (member, "qa.ask", {"channel": board, "session": "abcdef0123", "text": "x"}, 107, "no Q&A session"),
            (member, "qa.ask", {"channel": board, "text": "   "}, 107, "non-empty"),
            (member, "qa.ask", {"channel": board, "text": "x" * 1001}, 107, "at most 1000"),
            (member, "qa.ask", {"channel": board, "text": "x", "anonymous": "yes"}, 107, "true or false"),
            (host, "qa.screen", {"channel": board, "question": "abcd1234", "action": "maybe"}, 107, "publish"),
            (host, "qa.screen", {"channel": board, "question": "abcd1234", "action": "publish"}, 107, "no question"),
            (host, "qa.stage", {"channel": board}, 107, '"on"'),
            (host, "qa.answering", {"channel": board, "question": "abcd1234"}, 107, "no question"),
            (host, "qa.create", {"channel": board, "title": "x", "hosts": "dr"}, 107, "hosts"),
            (host, "qa.create", {"channel": board, "title": "x", "question_interval": "soon"}, 107, "number"),
            (member, "qa.vote", {"channel": board, "question": "abcd1234"}, 107, "no question"),
            (member, "qa.trace", {"channel": board, "question": "abcd1234"}, 103, "moderators"),
            (member, "qa.board", {"channel": board, "sort": "loudest"}, 107, "popular"),
        ]
        for client, method, data, code, text in cases:
            err = await client.rpc_error(method, data)
            assert err["code"] == code and text in err["message"], (method, data, err)

        # Questions before the start wait in screening; the interval applies (1101).
        first = await member.call_rpc("qa.ask", {"channel": board, "text": "early question"})
        assert first["status"] == "screening"
        err = await member.rpc_error("qa.ask", {"channel": board, "text": "second too soon"})
        assert err["code"] == 1101 and "next question in" in err["message"]
        assert (await outsider.call_rpc("qa.ask", {"channel": board, "text": "another member"}))["status"] == "screening"
        # Answering now needs a live session (1102); votes need a published question.
        qid = first["question"]["id"]
        assert (await host.rpc_error("qa.answering", {"channel": board, "question": qid}))["code"] == 1102
        assert (await member.rpc_error("qa.vote", {"channel": board, "question": qid}))["code"] == 1102
        # One live session per room.
        await host.call_rpc("qa.start", {"channel": board, "session": sid})
        sid2 = (await host.call_rpc("qa.create", {"channel": board, "title": "Second"}))["session"]["id"]
        err = await host.rpc_error("qa.start", {"channel": board, "session": sid2})
        assert err["code"] == 1102 and sid in err["message"]
        # A host of another session is not a host of this one.
        other_host = await people.join("dr-other", "host")
        assert (await other_host.rpc_error("qa.end", {"channel": board, "session": sid}))["code"] == 103

        # Nothing changed, and every connection still works.
        state = await host.call_rpc("qa.board", {"channel": board, "session": sid})
        assert state["session"]["state"] == "live" and state["questions"] == []
        assert [q["text"] for q in state["screening"]] == ["early question", "another member"]
        for c in (member, host, stranger):
            assert "error" not in await c.call("ping", {})
        sessions = (await member.call_rpc("qa.sessions", {"channel": board}))["sessions"]
        assert {s["id"]: s["state"] for s in sessions} == {sid: "live", sid2: "scheduled"}
        assert [e["type"] for e in member.events(board)] == ["qa.session.created", "qa.session.started", "qa.session.created"]

        headers = {"Authorization": f"Bearer {API_KEY}"}
        base = f"{server.url}/api/communities/{community}/rooms"
        assert httpx.get(f"{base}/missing/qa/sessions", headers=headers).status_code == 404
        assert httpx.get(f"{base}/r/qa/sessions/{sid}/transcript?format=xml", headers=headers).status_code == 400
        assert httpx.get(f"{base}/r/qa/sessions/not-an-id/transcript", headers=headers).status_code == 404
        await stranger_people.close()
    finally:
        await people.close()
