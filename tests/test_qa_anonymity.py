"""Anonymous questions: no frame a member or the host receives names the asker (checked on
the raw frames, JSON and Protobuf), nor does the transcript; moderators can trace the asker,
hosts and members cannot, and every trace is audited."""

from __future__ import annotations

import httpx

from tests.harness import API_KEY, unique
from tests.qa_support import People, subscribe

ASKER_ID = b"u-zq-anon-4711"
ASKER_NAME = b"Zephyrine"


async def test_anonymous_asker_never_reaches_members_or_host_and_trace_is_audited(server):
    community = unique("anon")
    room = server.make_room(community, "ms")
    board, screening = f"{room}/qa", f"{room}/screening"
    people = People(server.ws_url, community)
    try:
        host = await people.join("dr-okafor", "host", name="Dr Okafor")
        mod = await people.join("mod-lin", "moderator", name="Lin")
        admin = await people.join("admin-kai", "admin", name="Kai")
        asker = await people.join(ASKER_ID.decode(), name=ASKER_NAME.decode())
        json_member = await people.join("u-member-json", name="Member One")
        pb_member = await people.join("u-member-pb", name="Member Two", protobuf_mode=True)
        observers = [host, json_member, pb_member]
        for c in (host, mod, json_member, pb_member, asker):
            await subscribe(c, board)
            await subscribe(c, room)
        await subscribe(host, screening)
        await subscribe(admin, f"{community}/mod")

        sid = (await host.call_rpc("qa.create", {"channel": board, "title": "MS and heat", "question_interval": 0}))["session"]["id"]
        await host.call_rpc("qa.start", {"channel": board, "session": sid})
        asked = await asker.call_rpc("qa.ask", {"channel": board, "session": sid, "text": "Can I still drive with my diagnosis?", "anonymous": True})
        qid = asked["question"]["id"]
        # The asker also talks in the room under their name: that must not link to the question.
        await asker.call_rpc("chat.send", {"channel": room, "text": "hello everyone"})

        submitted = await host.wait_type(screening, "qa.question.submitted", question__id=qid)
        assert submitted["question"]["anonymous"] is True and "asker" not in submitted["question"]
        host_view = await host.call_rpc("qa.board", {"channel": board, "session": sid})
        assert [q["id"] for q in host_view["screening"]] == [qid]
        await host.call_rpc("qa.screen", {"channel": board, "session": sid, "question": qid, "action": "publish"})
        for c in (json_member, pb_member):
            await c.call_rpc("qa.vote", {"channel": board, "session": sid, "question": qid})
        await host.call_rpc("qa.pin", {"channel": board, "session": sid, "question": qid})
        await host.call_rpc("qa.answering", {"channel": board, "session": sid, "question": qid})
        await host.call_rpc("qa.answer", {"channel": board, "session": sid, "question": qid, "text": "Usually yes; ask your neurologist."})
        for c in observers:
            await c.call_rpc("qa.board", {"channel": board, "session": sid})
            await c.call_rpc("qa.board", {"channel": board, "session": sid, "sort": "recent"})
            await c.call("history", {"channel": board, "limit": 100})
        await host.call_rpc("qa.reopen", {"channel": board, "session": sid, "question": qid})

        # Hosts and members cannot trace.
        for c in (host, json_member):
            err = await c.rpc_error("qa.trace", {"channel": board, "session": sid, "question": qid})
            assert err["code"] == 103
        await host.call_rpc("qa.end", {"channel": board, "session": sid})
        for c in observers:
            await c.wait_type(board, "qa.session.ended")
        # The anonymous question did reach them...
        for c in observers:
            assert any(e.get("question", {}).get("id") == qid for e in c.events(board))
            assert b"Can I still drive" in b"".join(c.raw)
        # ...and no frame they received carries the asker's id or name (the room message
        # they saw does, but nothing ties it to the question).
        for c in observers:
            for frame in c.raw:
                if b"hello everyone" in frame:
                    continue
                assert ASKER_ID not in frame and ASKER_NAME not in frame, frame[:300]
        for c in observers:
            for e in c.feeds[board]:
                assert e.get("info") is None

        # A moderator traces; an admin watching the community's moderator feed sees the audit.
        traced = await mod.call_rpc("qa.trace", {"channel": board, "session": sid, "question": qid, "reason": "safety check"})
        assert traced["user"] == ASKER_ID.decode() and traced["name"] == ASKER_NAME.decode()
        audit = await admin.wait_type(f"{community}/mod", "audit", action="qa.trace")
        assert audit["actor"]["user"] == "mod-lin" and audit["question"] == qid
        assert audit["target"] == ASKER_ID.decode() and audit["reason"] == "safety check"

        # The transcript names nobody.
        headers = {"Authorization": f"Bearer {API_KEY}"}
        base = f"{server.url}/api/communities/{community}/rooms/ms/qa/sessions/{sid}"
        for path in ("/transcript", "/transcript.md", "/transcript?format=markdown"):
            r = httpx.get(base + path, headers=headers)
            assert r.status_code == 200
            assert b"Can I still drive" in r.content
            assert ASKER_ID not in r.content and ASKER_NAME not in r.content
    finally:
        await people.close()
