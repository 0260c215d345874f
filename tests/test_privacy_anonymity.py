"""Issue 13, items 1 and 2: an anonymous question is tied to its asker by nothing but
``qa.trace`` (audited), on every path that writes a question's author somewhere: the audit
log (RPC and HTTP), holds (feed events, the moderators' list, resolution entries),
screening, the moderator feeds, logs and metrics; and audit entries keep the text as members
saw it (personal details redacted), never the original."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import orjson

from tests.harness import API_KEY, unique
from tests.qa_support import People, subscribe

ASKER = "u-anon-privacy-8812"
ASKER_NAME = "Quillon Arbogast"


def audit_http(server, community: str, **query: str) -> list[dict]:
    r = httpx.get(
        f"{server.url}/api/communities/{community}/audit", params=query, headers={"Authorization": f"Bearer {API_KEY}"}
    )
    assert r.status_code == 200, r.text
    return r.json()["entries"]


@dataclass
class Scene:
    community: str
    room: str
    board: str
    host: Any
    moderator: Any
    asker: Any
    sid: str


@contextlib.asynccontextmanager
async def scene(server, prefix: str) -> AsyncIterator[Scene]:
    """A room with a live Q&A session: a host, a moderator and the asker, connected."""
    community = unique(prefix)
    room = server.make_room(community, "r")
    board = f"{room}/qa"
    people = People(server.ws_url, community)
    try:
        host = await people.join(f"host-{prefix}", "host")
        moderator = await people.join(f"mod-{prefix}", "moderator")
        asker = await people.join(ASKER, name=ASKER_NAME)
        sid = (await host.call_rpc("qa.create", {"channel": board, "title": "T", "question_interval": 0}))["session"]["id"]
        await host.call_rpc("qa.start", {"channel": board, "session": sid})
        yield Scene(community, room, board, host, moderator, asker, sid)
    finally:
        await people.close()


def assert_no_asker(blob: bytes, where: str) -> None:
    assert ASKER.encode() not in blob, f"asker id in {where}"
    assert ASKER_NAME.encode() not in blob, f"asker name in {where}"


async def test_anonymous_question_with_a_phone_number_leaves_no_trace_of_its_asker(server):
    async with scene(server, "anonpii") as sc:
        community, room, board, host, moderator, asker, sid = (
            sc.community, sc.room, sc.board, sc.host, sc.moderator, sc.asker, sc.sid
        )
        screening = f"{room}/screening"
        await subscribe(host, screening)
        await subscribe(host, board)
        for channel in (f"{room}/mod", f"{community}/mod", board):
            await subscribe(moderator, channel)
        asked = await asker.call_rpc(
            "qa.ask", {"channel": board, "session": sid, "text": "Call me on +44 7700 900456 please?", "anonymous": True}
        )
        assert asked["hidden"] == ["phone"]
        qid = asked["question"]["id"]
        await host.wait_type(screening, "qa.question.submitted", question__id=qid)
        await host.call_rpc("qa.screen", {"channel": board, "session": sid, "question": qid, "action": "publish"})
        await moderator.wait_type(board, "qa.question.published")

        # The audit log, over RPC and over HTTP: the verdict is there, naming nobody, with
        # the text as members saw it.
        by_rpc = (await moderator.call_rpc("mod.audit", {"community": community}))["entries"]
        by_http = audit_http(server, community)
        for entries, where in ((by_rpc, "mod.audit"), (by_http, "GET audit")):
            redact = [e for e in entries if e["action"] == "verdict.redact"]
            assert len(redact) == 1, entries
            assert "user" not in redact[0]["target"] and redact[0]["target"]["message_id"] == qid
            assert redact[0]["details"]["anonymous"] is True
            assert "7700" not in redact[0]["text"] and "[phone hidden]" in redact[0]["text"]
            assert_no_asker(orjson.dumps(entries), where)
        # Screening and the moderator feeds, as the frames arrived.
        assert_no_asker(b"".join(host.raw), "the host's frames (screening, board)")
        assert_no_asker(b"".join(moderator.raw), "the moderator's frames (feeds, board, audit)")
        # Metrics and the server's log.
        metrics = httpx.get(f"{server.url}/metrics", headers={"Authorization": f"Bearer {API_KEY}"})
        assert_no_asker(metrics.content, "metrics")
        assert_no_asker(server.log_path.read_bytes(), "the server log")

        # Only qa.trace connects them, and it is audited.
        traced = await moderator.call_rpc("qa.trace", {"channel": board, "session": sid, "question": qid, "reason": "safety"})
        assert traced["user"] == ASKER
        naming = [e for e in audit_http(server, community) if ASKER in orjson.dumps(e).decode()]
        assert [e["action"] for e in naming] == ["qa.trace"]


async def test_held_anonymous_question_names_nobody_in_holds_feeds_or_audit(server):
    async with scene(server, "anonhold") as sc:
        community, room, board, moderator, asker, sid = sc.community, sc.room, sc.board, sc.moderator, sc.asker, sc.sid
        await subscribe(moderator, f"{room}/mod")
        await subscribe(moderator, f"{community}/mod")
        r = await asker.call_rpc(
            "qa.ask",
            {"channel": board, "session": sid, "text": "Some days I want to end it all, call 07700 900789", "anonymous": True},
        )
        assert r["status"] == "held"
        hold_id = r["hold"]["id"]
        created = (await moderator.wait_type(f"{room}/mod", "hold.created"))["hold"]
        assert created["anonymous"] is True and created["user"] == "" and created["name"] == "anonymous"
        assert "07700" not in created["text"]  # the feed event keeps what members would see
        listed = (await moderator.call_rpc("mod.holds", {"channel": room}))["holds"]
        assert [h["id"] for h in listed] == [hold_id]
        assert "07700" in listed[0]["text"]  # the original, for the moderator who judges it
        assert_no_asker(orjson.dumps(listed), "mod.holds")
        await moderator.call_rpc("mod.reject", {"channel": room, "id": hold_id, "reason": "please talk to us"})
        await moderator.wait_type(f"{room}/mod", "hold.resolved")
        entries = audit_http(server, community)
        assert {e["action"] for e in entries} >= {"verdict.hold", "hold.reject"}
        for e in entries:
            assert "07700" not in orjson.dumps(e).decode(), e
        assert_no_asker(orjson.dumps(entries), "audit")
        assert_no_asker(b"".join(moderator.raw), "the moderator feeds")
        # The resolved hold dropped the original.
        stored = server.api("GET", f"/api/communities/{community}/rooms/r/holds/{hold_id}").json()
        assert stored["status"] == "rejected" and "07700" not in stored["text"]
        assert_no_asker(orjson.dumps(stored), "the resolved hold")


async def test_keep_original_text_keeps_the_original_of_a_resolved_hold(server):
    community = unique("keeporig")
    room = server.make_room(community, "r")
    r = server.api("PUT", f"/api/communities/{community}", {"title": "t", "settings": {"keep_original_text": 3600}})
    assert r.status_code in (200, 201), r.text
    people = People(server.ws_url, community)
    try:
        moderator = await people.join("mod-k", "moderator")
        sender = await people.join("u-k")
        await subscribe(moderator, f"{room}/mod")
        reply = await sender.call_rpc("chat.send", {"channel": room, "text": "I want to end it all, ring 07700 900111"})
        assert reply["status"] == "held"
        await moderator.call_rpc("mod.reject", {"channel": room, "id": reply["id"], "reason": "reaching out"})
        stored = server.api("GET", f"/api/communities/{community}/rooms/r/holds/{reply['id']}").json()
        assert stored["status"] == "rejected" and "07700 900111" in stored["text"]
        assert all("07700" not in orjson.dumps(e).decode() for e in audit_http(server, community))
    finally:
        await people.close()


async def test_muted_member_asking_anonymously_in_crisis_gets_help_and_the_alert_names_nobody(server):
    async with scene(server, "anonmute") as sc:
        community, room, board, moderator, asker, sid = sc.community, sc.room, sc.board, sc.moderator, sc.asker, sc.sid
        await subscribe(moderator, f"{room}/mod")
        await moderator.call_rpc("mod.mute", {"channel": room, "user": ASKER, "duration": 600, "reason": "cool down"})
        err = await asker.rpc_error(
            "qa.ask", {"channel": board, "session": sid, "text": "I want to end it all tonight", "anonymous": True}
        )
        assert err["code"] == 1002
        await asker.wait_type(f"user#{ASKER}", "moderation.support")  # help still reaches them
        alert = await moderator.wait_type(f"{room}/mod", "crisis.alert")
        assert alert.get("anonymous") is True and alert["user"] == "" and alert["name"] == "anonymous"
        entries = [e for e in audit_http(server, community) if e["action"] == "crisis.alert"]
        assert len(entries) == 1 and "user" not in entries[0]["target"]
        assert_no_asker(orjson.dumps(alert), "the crisis alert")
