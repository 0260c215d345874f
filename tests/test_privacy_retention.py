"""Issue 13, item 5: retention per community and room. The audit log, resolved holds,
reports and Q&A state expire by themselves after the community's (or room's) ``audit_ttl``,
``records_ttl`` and ``qa_ttl``; a room's setting overrides its community's."""

from __future__ import annotations

import redis

from tests.harness import unique
from tests.qa_support import People, subscribe


async def test_audit_records_and_qa_expire_after_their_community_and_room_settings(server, valkey):
    community = unique("keep")
    room = server.make_room(community, "r")
    other_room = server.make_room(community, "short", extra={"records_ttl": 90})
    r = server.api(
        "PUT", f"/api/communities/{community}", {"title": "t", "settings": {"audit_ttl": 7200, "records_ttl": 600, "qa_ttl": 900}}
    )
    assert r.status_code in (200, 201), r.text
    people = People(server.ws_url, community)
    store = redis.Redis.from_url(valkey.url)
    try:
        moderator = await people.join("mod-keep", "moderator")
        member = await people.join("u-keep")
        reporter = await people.join("u-reporter")
        host = await people.join("host-keep", "host")
        for ch in (room, other_room):
            await subscribe(member, ch)
        held = [
            await member.call_rpc("chat.send", {"channel": ch, "text": "I want to end it all tonight"}) for ch in (room, other_room)
        ]
        for ch, h in zip((room, other_room), held, strict=True):
            await moderator.call_rpc("mod.reject", {"channel": ch, "id": h["id"], "reason": "we are here for you"})
        posted = await member.call_rpc("chat.send", {"channel": room, "text": "an ordinary message"})
        await reporter.call_rpc("chat.report", {"channel": room, "offset": posted["offset"], "reason": "rude"})
        board = f"{room}/qa"
        sid = (await host.call_rpc("qa.create", {"channel": board, "title": "T", "question_interval": 0}))["session"]["id"]

        audit_ttl = store.ttl(f"mod:{{{community}}}:audit")
        assert 7000 < audit_ttl <= 7200
        assert 500 < store.ttl(f"mod:{{{room}}}:hold:{held[0]['id']}") <= 600
        assert 0 < store.ttl(f"mod:{{{other_room}}}:hold:{held[1]['id']}") <= 90  # the room's own setting
        assert 500 < store.ttl(f"mod:{{{room}}}:rep:{posted['offset']}") <= 600
        assert 800 < store.ttl(f"qa:{{{board}}}:s:{sid}") <= 900
        assert 0 < store.ttl(f"chat:{{{board}}}:h") <= 900
    finally:
        store.close()
        await people.close()
