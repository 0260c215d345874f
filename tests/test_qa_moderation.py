"""Questions pass the moderation pipeline like room messages: a phone number is redacted and
the asker told privately what was hidden; crisis language is held, kept off the board and the
screening feed, the asker is told privately and the room's moderators are alerted."""

from __future__ import annotations

import pytest

from tests.harness import unique
from tests.qa_support import People, subscribe


@pytest.fixture(scope="module")
def hooked(valkey):
    from tests.harness import ServerProcess

    s = ServerProcess(valkey.url, env={"CHATSERVER_EXTRA_EXTENSIONS": "tests.qa_test_hooks"}, name="qa-hooks")
    s.wait_ready()
    yield s
    s.stop()


async def test_phone_number_in_a_question_is_redacted_and_the_asker_told(hooked):
    community = unique("redact")
    room = hooked.make_room(community, "r")
    board, screening = f"{room}/qa", f"{room}/screening"
    people = People(hooked.ws_url, community)
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
        assert r["question"]["text"] == "Can you call me on [phone hidden] about my rash?"
        assert r["question"]["redacted"] == ["phone"]
        notice = await asker.wait_type("user#u-phone", "qa.question.redacted")
        assert notice["hidden"] == ["phone"] and notice["question"] == r["question"]["id"]
        submitted = await host.wait_type(screening, "qa.question.submitted")
        assert "[phone hidden]" in submitted["question"]["text"]
        await host.call_rpc("qa.screen", {"channel": board, "question": r["question"]["id"], "action": "publish"})
        published = await member.wait_type(board, "qa.question.published")
        assert published["question"]["text"] == "Can you call me on [phone hidden] about my rash?"
        for c in (host, member):
            assert b"7700" not in b"".join(c.raw)
        # A host's answer passes the pipeline too.
        await host.call_rpc("qa.answering", {"channel": board, "question": r["question"]["id"]})
        ans = await host.call_rpc("qa.answer", {"channel": board, "question": r["question"]["id"], "text": "Please ring the clinic on 0161 496 0000."})
        assert ans["hidden"] == ["phone"] and "[phone hidden]" in ans["question"]["answer"]["text"]
    finally:
        await people.close()


async def test_crisis_question_is_held_and_the_asker_told_privately(hooked):
    community = unique("crisis")
    room = hooked.make_room(community, "r")
    board, screening = f"{room}/qa", f"{room}/screening"
    people = People(hooked.ws_url, community)
    try:
        host = await people.join("dr-cri", "host")
        mod = await people.join("mod-cri", "moderator")
        asker = await people.join("u-hurting")
        member = await people.join("u-other")
        await subscribe(host, screening)
        await subscribe(mod, f"{room}/mod")
        await subscribe(member, board)
        sid = (await host.call_rpc("qa.create", {"channel": board, "title": "Low mood", "premoderation": False, "question_interval": 0}))["session"]["id"]
        await host.call_rpc("qa.start", {"channel": board, "session": sid})
        r = await asker.call_rpc("qa.ask", {"channel": board, "session": sid, "text": "Some days I just want to end it all", "anonymous": True})
        assert r["status"] == "held" and "question" not in r
        notice = await asker.wait_type("user#u-hurting", "qa.question.held")
        assert notice["session"] == sid
        alert = await mod.wait_type(f"{room}/mod", "qa.question.held")
        assert alert["priority"] == "high" and alert["category"] == "crisis" and alert["user"] == "u-hurting"
        # Not on the board, not in screening, not in the session's state.
        await asker.call_rpc("qa.ask", {"channel": board, "session": sid, "text": "A normal question"})
        await member.wait_type(board, "qa.question.published")
        assert [e["question"]["text"] for e in member.events(board) if e["type"] == "qa.question.published"] == ["A normal question"]
        for c in (host, member):
            assert b"end it all" not in b"".join(c.raw)
        board_now = await host.call_rpc("qa.board", {"channel": board, "session": sid})
        assert [q["text"] for q in board_now["questions"]] == ["A normal question"] and board_now["screening"] == []
    finally:
        await people.close()
