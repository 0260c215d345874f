"""A full live Q&A session against a real server and Valkey: every member sees each step
live and in order; screening reaches moderators and hosts only; the transcript."""

from __future__ import annotations

import httpx
import orjson

from tests.harness import API_KEY, unique
from tests.qa_support import People, apply_event, board_state, empty_state, subscribe


async def test_full_session_every_member_sees_each_step_in_order(server):
    community = unique("qa")
    room = server.make_room(community, "clinic")
    board = f"{room}/qa"
    screening = f"{room}/screening"
    people = People(server.ws_url, community)
    try:
        host = await people.join("dr-rivera", "host", name="Dr Rivera")
        mod = await people.join("mod-sam", "moderator", name="Sam")
        ann = await people.join("u-annika", name="Annika")
        ben = await people.join("u-ben-secret", name="Benedikt Quiet")
        cy = await people.join("u-cyrus", name="Cyrus", protobuf_mode=True)
        members = [ann, ben, cy]
        for c in (host, mod, *members):
            await subscribe(c, board)
        await subscribe(host, screening)
        await subscribe(mod, screening)
        # Members may not watch the screening feed.
        denied = await ann.call("subscribe", {"channel": screening})
        assert denied["error"]["code"] == 103

        created = await host.call_rpc("qa.create", {"channel": board, "title": "Ask a dermatologist", "question_interval": 0})
        session = created["session"]
        sid = session["id"]
        assert session["state"] == "scheduled" and session["hosts"] == [
            {"user": "dr-rivera", "name": "Dr Rivera", "badge": "verified_professional"}
        ]
        assert session["premoderation"] is True
        assert (await ann.rpc_error("qa.start", {"channel": board}))["code"] == 103
        started = await host.call_rpc("qa.start", {"channel": board})
        assert started["session"]["state"] == "live"

        # Three members ask; Ben anonymously. All wait in screening.
        qa = await ann.call_rpc("qa.ask", {"channel": board, "text": "Does sun help psoriasis?"})
        qb = await ben.call_rpc("qa.ask", {"channel": board, "text": "Is it contagious to my partner?", "anonymous": True})
        qc = await cy.call_rpc("qa.ask", {"channel": board, "text": "Buy my cream at example shop"})
        for r in (qa, qb, qc):
            assert r["status"] == "screening" and r["session"] == sid
        assert "asker" not in qb["question"] and qb["question"]["anonymous"] is True
        assert qa["question"]["asker"] == {"user": "u-annika", "name": "Annika"}
        for watcher in (host, mod):
            submitted = [await watcher.wait_type(screening, "qa.question.submitted", question__id=r["question"]["id"]) for r in (qa, qb, qc)]
            assert "asker" not in submitted[1]["question"]
        # Members see nothing of the screening queue on the board.
        assert all(c.types(board) == ["qa.session.created", "qa.session.started"] for c in members)

        # A moderator publishes two and dismisses one; the host sees the decisions.
        ida, idb, idc = qa["question"]["id"], qb["question"]["id"], qc["question"]["id"]
        await mod.call_rpc("qa.screen", {"channel": board, "question": ida, "action": "publish"})
        await mod.call_rpc("qa.screen", {"channel": board, "question": idb, "action": "publish"})
        await mod.call_rpc("qa.screen", {"channel": board, "question": idc, "action": "dismiss"})
        await host.wait_type(screening, "qa.question.screened", question__id=idc, decision="dismissed")
        notice = await cy.wait_type("user#u-cyrus", "qa.question.dismissed")
        assert notice["question"] == idc

        # Members upvote (once each; a repeat changes nothing; a withdrawal counts).
        for c in members:
            r = await c.call_rpc("qa.vote", {"channel": board, "question": idb})
            assert r["changed"] is True
        again = await ann.call_rpc("qa.vote", {"channel": board, "question": idb})
        assert again == {"session": sid, "question": idb, "votes": 3, "voted": True, "changed": False}
        await ann.call_rpc("qa.vote", {"channel": board, "question": ida})
        await ann.call_rpc("qa.unvote", {"channel": board, "question": ida})
        await ben.call_rpc("qa.vote", {"channel": board, "question": ida})
        assert (await cy.rpc_error("qa.vote", {"channel": board, "question": idc}))["code"] == 1102

        # The host answers Ben's question: answering now, then a text answer.
        await host.call_rpc("qa.answering", {"channel": board, "question": idb})
        answered = await host.call_rpc("qa.answer", {"channel": board, "question": idb, "text": "No, psoriasis is not contagious."})
        assert answered["question"]["answer"]["notice"] == "General information, not medical advice."
        assert answered["question"]["state"] == "answered"
        assert (await ann.rpc_error("qa.answer", {"channel": board, "question": ida, "text": "me"}))["code"] == 103
        ended = await host.call_rpc("qa.end", {"channel": board})
        assert ended["session"]["state"] == "ended"

        # Every member saw the same steps live, in order, with contiguous offsets.
        expected_steps = [
            ("qa.question.published", ida),
            ("qa.question.published", idb),
            ("qa.question.answering", idb),
            ("qa.question.answered", idb),
        ]
        feeds = []
        for c in members:
            await c.wait_type(board, "qa.session.ended")
            entries = [e for e in c.feeds[board] if "data" in e]
            offsets = [e["offset"] for e in entries]
            assert offsets == list(range(offsets[0], offsets[0] + len(offsets))), offsets
            steps = [(e["data"]["type"], e["data"].get("question", {}).get("id")) for e in entries if e["data"]["type"] != "qa.votes"]
            assert steps == [("qa.session.created", None), ("qa.session.started", None), *expected_steps, ("qa.session.ended", None)]
            votes = [e["data"]["counts"] for e in entries if e["data"]["type"] == "qa.votes"]
            final: dict[str, int] = {}
            for counts in votes:
                final.update(counts)
            assert final == {idb: 3, ida: 1}
            feeds.append([e["data"] for e in entries])
            assert all(e["info"] is None for e in entries)  # board events carry no ClientInfo
        assert feeds[0] == feeds[1] == feeds[2]
        # The dismissed question never reached a member's screen.
        for c in members:
            assert b"example shop" not in b"".join(c.raw) or c is cy

        # Applying the events to an empty board gives what qa.board answers.
        fresh = await ann.call_rpc("qa.board", {"channel": board, "session": sid})
        state = empty_state()
        for event in feeds[0]:
            state = apply_event(state, event)
        assert state == board_state(fresh)
        assert [q["id"] for q in fresh["questions"]] == [idb, ida]  # popular first
        assert fresh["voted"] == [idb]
        assert "screening" not in fresh
        staff = await mod.call_rpc("qa.board", {"channel": board, "session": sid, "sort": "recent"})
        assert [q["id"] for q in staff["dismissed"]] == [idc] and staff["screening"] == []
        assert [q["id"] for q in staff["questions"]] == [idb, ida]  # answered one is not first by recency? answering first only

        # After the end the board stays readable (the newest session by default).
        after = await cy.call_rpc("qa.board", {"channel": board})
        assert after["session"]["id"] == sid and after["session"]["state"] == "ended"
        assert len(after["questions"]) == 2
        # After the end: no more questions or votes; history keeps everything.
        assert (await ann.rpc_error("qa.ask", {"channel": board, "session": sid, "text": "late?"}))["code"] == 1102
        assert (await ann.rpc_error("qa.vote", {"channel": board, "session": sid, "question": ida}))["code"] == 1102
        hist = (await ann.call("history", {"channel": board, "limit": 100}))["history"]["publications"]
        types = [orjson.loads(p["data"]) if isinstance(p["data"], (str, bytes)) else p["data"] for p in hist]
        assert [t["type"] for t in types][0] == "qa.session.created"
        assert any(t["type"] == "qa.question.answered" for t in types)

        # Transcript: JSON and Markdown, askers never named.
        headers = {"Authorization": f"Bearer {API_KEY}"}
        base = f"{server.url}/api/communities/{community}/rooms/clinic/qa/sessions"
        listing = httpx.get(base, headers=headers).json()
        assert [s["id"] for s in listing["sessions"]] == [sid]
        tj = httpx.get(f"{base}/{sid}/transcript", headers=headers)
        assert tj.status_code == 200
        tr = tj.json()
        assert [(q["number"], q["votes"], q["state"]) for q in tr["questions"]] == [(1, 1, "published"), (2, 3, "answered")]
        assert tr["questions"][1]["answer"]["text"] == "No, psoriasis is not contagious."
        md = httpx.get(f"{base}/{sid}/transcript.md", headers=headers)
        assert md.status_code == 200 and md.headers["content-type"].startswith("text/markdown")
        assert "Is it contagious to my partner?" in md.text and "General information, not medical advice." in md.text
        assert "example shop" not in md.text
        for who in (b"u-annika", b"Annika", b"u-ben-secret", b"Benedikt", b"u-cyrus", b"Cyrus"):
            assert who not in tj.content and who not in md.text.encode()
        assert httpx.get(f"{base}/{sid}/transcript").status_code == 401
        assert httpx.get(f"{base}/ffff0000/transcript", headers=headers).status_code == 404
    finally:
        await people.close()
