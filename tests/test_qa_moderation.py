"""Questions pass the room's moderation pipeline exactly like room messages (the built-in
PII and crisis hooks of chatserver.moderation, on by default): a phone number is redacted and
the asker told privately what was hidden; a crisis question is held in the room's hold
queue, the asker gets the support resources privately, moderators get a high-priority hold,
and approving it puts it on the board without naming an anonymous asker. Verdicts, answers
and traces are in the community's audit log."""

from __future__ import annotations

import httpx

from tests.harness import API_KEY, unique
from tests.qa_support import People, subscribe


def audit(server, community: str, **query: str) -> list[dict]:
    r = httpx.get(
        f"{server.url}/api/communities/{community}/audit",
        params=query,
        headers={"Authorization": f"Bearer {API_KEY}"},
    )
    assert r.status_code == 200, r.text
    return r.json()["entries"]


async def test_phone_number_in_a_question_is_redacted_and_the_asker_told(server):
    community = unique("redact")
    room = server.make_room(community, "r")
    board, screening = f"{room}/qa", f"{room}/screening"
    people = People(server.ws_url, community)
    try:
        host = await people.join("dr-red", "host")
        asker = await people.join("u-phone")
        member = await people.join("u-watch")
        await subscribe(host, screening)
        await subscribe(member, board)
        sid = (await host.call_rpc("qa.create", {"channel": board, "title": "PII", "question_interval": 0}))["session"]["id"]
        await host.call_rpc("qa.start", {"channel": board, "session": sid})
        r = await asker.call_rpc("qa.ask", {"channel": board, "text": "Can you call me on +44 7700 900123 about my rash?"})
        assert r["status"] == "screening" and r["hidden"] == ["phone"]
        text = r["question"]["text"]
        assert "7700" not in text and "[phone hidden]" in text and r["question"]["redacted"] == ["phone"]
        qid = r["question"]["id"]
        notice = await asker.wait_type("user#u-phone", "moderation.redacted")
        assert notice["hidden"] == ["phone"] and notice["id"] == qid and notice["text"] == text
        submitted = await host.wait_type(screening, "qa.question.submitted")
        assert submitted["question"]["text"] == text
        await host.call_rpc("qa.screen", {"channel": board, "question": qid, "action": "publish"})
        published = await member.wait_type(board, "qa.question.published")
        assert published["question"]["text"] == text
        for c in (host, member):
            assert b"7700" not in b"".join(c.raw)
        entries = audit(server, community, action="verdict.redact")
        assert [e["target"]["message_id"] for e in entries] == [qid]
        assert entries[0]["details"]["kind"] == "question" and entries[0]["text"] == text  # as members saw it (issue 13)
        # A host's answer passes the room's pipeline too; the host is told what was hidden.
        await host.call_rpc("qa.answering", {"channel": board, "question": qid})
        ans = await host.call_rpc("qa.answer", {"channel": board, "question": qid, "text": "Please ring the clinic on +44 161 496 0000."})
        assert ans["hidden"] == ["phone"] and "[phone hidden]" in ans["question"]["answer"]["text"]
        await host.wait_type("user#dr-red", "moderation.redacted", id=qid)
        answered = await member.wait_type(board, "qa.question.answered")
        assert "496 0000" not in answered["question"]["answer"]["text"]
        kinds = [e["details"]["kind"] for e in audit(server, community, action="verdict.redact")]
        assert sorted(kinds) == ["answer", "question"]
    finally:
        await people.close()


async def test_crisis_question_is_held_with_resources_sent_privately(server):
    community = unique("crisis")
    room = server.make_room(community, "r")
    board, screening = f"{room}/qa", f"{room}/screening"
    people = People(server.ws_url, community)
    try:
        host = await people.join("dr-cri", "host")
        mod = await people.join("mod-cri", "moderator")
        asker = await people.join("u-hurting-42", name="Hurting Person")
        member = await people.join("u-other")
        await subscribe(host, screening)
        await subscribe(mod, f"{room}/mod")
        for c in (host, member):
            await subscribe(c, board)
        sid = (await host.call_rpc("qa.create", {"channel": board, "title": "Low mood", "question_interval": 0}))["session"]["id"]
        await host.call_rpc("qa.start", {"channel": board, "session": sid})
        r = await asker.call_rpc("qa.ask", {"channel": board, "session": sid, "text": "Some days I just want to end it all", "anonymous": True})
        assert r["status"] == "held" and "question" not in r and r["hold"]["id"]
        hold_id = r["hold"]["id"]
        # The asker: support resources first, then the held notice.
        support = await asker.wait_type("user#u-hurting-42", "moderation.support")
        assert support["resources"] and support["message"]
        held = await asker.wait_type("user#u-hurting-42", "moderation.held", id=hold_id)
        assert held["kind"] == "question"
        kinds = [e["type"] for e in asker.events("user#u-hurting-42")]
        assert kinds.index("moderation.support") < kinds.index("moderation.held")
        # Moderators: a high-priority hold of kind "question".
        created = await mod.wait_type(f"{room}/mod", "hold.created")
        assert created["hold"]["id"] == hold_id and created["hold"]["priority"] == "high"
        assert created["hold"]["kind"] == "question" and created["hold"]["category"] == "crisis"
        # Not on the board, not in screening.
        board_now = await host.call_rpc("qa.board", {"channel": board, "session": sid})
        assert board_now["questions"] == [] and board_now["screening"] == []
        for c in (host, member):
            assert b"end it all" not in b"".join(c.raw)
        assert [e["action"] for e in audit(server, community, action="verdict.hold")] == ["verdict.hold"]

        # A moderator approves it with an edit: it goes straight onto the board, still anonymous.
        approved = await mod.call_rpc("mod.approve", {"channel": room, "id": hold_id, "text": "How do I cope on very low days?"})
        assert approved["status"] == "approved"
        published = await member.wait_type(board, "qa.question.published")
        q = published["question"]
        assert q["id"] == hold_id and q["text"] == "How do I cope on very low days?" and q["anonymous"] is True
        assert "asker" not in q and q["state"] == "published"
        await asker.wait_type("user#u-hurting-42", "moderation.approved", id=hold_id)
        for c in (host, member):
            raw = b"".join(c.raw)
            assert b"u-hurting-42" not in raw and b"Hurting Person" not in raw
        # Tracing it is audited in the community's audit log.
        assert (await host.rpc_error("qa.trace", {"channel": board, "question": hold_id}))["code"] == 103
        traced = await mod.call_rpc("qa.trace", {"channel": board, "question": hold_id, "reason": "follow up on crisis"})
        assert traced["user"] == "u-hurting-42"
        entries = audit(server, community, action="qa.trace")
        assert len(entries) == 1
        entry = entries[0]
        assert entry["actor"]["user"] == "mod-cri" and entry["target"]["user"] == "u-hurting-42"
        assert entry["target"]["message_id"] == hold_id and entry["reason"] == "follow up on crisis"
    finally:
        await people.close()


async def test_muted_member_cannot_ask_and_stage_mode_keeps_the_crisis_safety_net(server):
    community = unique("gates")
    room = server.make_room(community, "r")
    board = f"{room}/qa"
    people = People(server.ws_url, community)
    try:
        host = await people.join("dr-gate", "host")
        mod = await people.join("mod-gate", "moderator")
        member = await people.join("u-gated")
        await subscribe(mod, f"{room}/mod")
        sid = (await host.call_rpc("qa.create", {"channel": board, "title": "Gates", "question_interval": 0}))["session"]["id"]
        await host.call_rpc("qa.start", {"channel": board, "session": sid})
        await host.call_rpc("qa.stage", {"channel": board, "on": True})
        # A crisis post in the room is refused (stage mode), but support still comes.
        err = await member.rpc_error("chat.send", {"channel": room, "text": "I want to end it all"})
        assert err["code"] == 1006 and board in err["message"]
        await member.wait_type("user#u-gated", "moderation.support")
        alert = await mod.wait_type(f"{room}/mod", "crisis.alert")
        assert alert["user"] == "u-gated"
        # A muted member cannot ask either.
        await mod.call_rpc("mod.mute", {"channel": room, "user": "u-gated", "duration": 600, "reason": "cool down"})
        err = await member.rpc_error("qa.ask", {"channel": board, "text": "a question"})
        assert err["code"] == 1002
        state = await host.call_rpc("qa.board", {"channel": board, "session": sid})
        assert state["screening"] == [] and state["questions"] == []
    finally:
        await people.close()
