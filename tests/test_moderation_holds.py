"""The hold queue against a real server and Valkey: approve (as written and edited), reject,
expiry, recoverable publication on approval, idempotent approval, reports that hide a
message pending review."""

from __future__ import annotations

import asyncio

from tests.harness import unique
from tests.moderation_support import audit, joined, mod, next_event, send


async def _setup(modserver, clients, **room_moderation):
    community = unique("hold")
    channel = modserver.make_room(community, "r")
    if room_moderation:
        r = modserver.api("PUT", f"/api/communities/{community}/rooms/r/moderation", room_moderation)
        assert r.status_code == 200, r.text
    user = unique("sender")
    sender = await joined(clients, modserver.ws_url, user, {community: "member"})
    moderator = await joined(clients, modserver.ws_url, unique("mod"), {community: "moderator"}, channel + "/mod")
    return community, channel, user, sender, moderator


async def test_approve_publishes_with_a_recoverable_offset_and_tells_the_sender(modserver, clients):
    community, channel, user, sender, moderator = await _setup(modserver, clients, hooks={"new_member": {"first_messages": 5}})
    # A member who was in the room, then went offline.
    reader = await joined(clients, modserver.ws_url, unique("reader"), {community: "member"}, channel)
    await send(moderator, channel, "welcome, everyone")
    before = await next_event(reader, channel, "message")
    position = before["_offset"]
    epoch = (await reader.call("history", {"channel": channel}))["history"]["epoch"]
    await reader.close()
    result = await send(sender, channel, "hi, I'm new here", client_msg_id="first")
    assert result["status"] == "held"
    hold = (await next_event(moderator, channel + "/mod", "hold.created"))["hold"]
    assert hold["id"] == result["id"] and hold["category"] == "new_member" and hold["user"] == user
    listed = await mod(moderator, "mod.holds", channel=channel)
    assert [h["id"] for h in listed["holds"]] == [hold["id"]]
    approved = await mod(moderator, "mod.approve", channel=channel, id=hold["id"])
    assert approved["status"] == "approved" and approved["resolution"]["published"]["offset"] == position + 1
    notice = await next_event(sender, f"user#{user}", "moderation.approved")
    assert notice["id"] == hold["id"] and notice["offset"] == position + 1 and notice["edited"] is False
    resolved = await next_event(moderator, channel + "/mod", "hold.resolved")
    assert resolved["status"] == "approved" and resolved["by"]["role"] == "moderator"
    # The reader recovers it like any other publication.
    back = await joined(clients, modserver.ws_url, unique("reader"), {community: "member"})
    sub = (await back.call("subscribe", {"channel": channel, "recover": True, "offset": position, "epoch": epoch}))["subscribe"]
    assert sub["recovered"] is True
    assert [(p["offset"], p["data"]["text"]) for p in sub["publications"]] == [(position + 1, "hi, I'm new here")]
    assert sub["publications"][0]["data"]["user"] == user and sub["publications"][0]["info"]["user"] == user
    # Approving again changes nothing; a retry of the original message reports the publication.
    again = await mod(moderator, "mod.approve", channel=channel, id=hold["id"])
    assert again["already"] is True
    retry = await send(sender, channel, "hi, I'm new here", client_msg_id="first")
    assert retry["status"] == "published" and retry["offset"] == position + 1 and retry["duplicate"] is True
    assert (await mod(moderator, "mod.holds", channel=channel))["holds"] == []
    hist = modserver.api("GET", f"/api/communities/{community}/rooms/r/history").json()["publications"]
    assert [p["data"]["text"] for p in hist].count("hi, I'm new here") == 1


async def test_approve_with_edit(modserver, clients):
    community, channel, user, sender, moderator = await _setup(modserver, clients, hooks={"links": {"mode": "hold"}})
    watcher = await joined(clients, modserver.ws_url, unique("w"), {community: "member"}, channel)
    result = await send(sender, channel, "my number is 07700 900123, see pills.example.com")
    assert result["status"] == "held"
    hold = (await next_event(moderator, channel + "/mod", "hold.created"))["hold"]
    assert hold["category"] == "link" and hold["hidden"] == ["phone"]
    assert hold["redacted_text"] == "my number is [phone hidden], see pills.example.com"
    r = modserver.api(
        "POST", f"/api/communities/{community}/rooms/r/holds/{hold['id']}/approve", {"text": "see the pinned resources", "actor": "lead-mod"}
    )
    assert r.status_code == 200, r.text
    msg = await next_event(watcher, channel, "message")
    assert msg["text"] == "see the pinned resources" and msg["edited"] is True and msg["id"] == hold["id"]
    notice = await next_event(sender, f"user#{user}", "moderation.approved")
    assert notice["edited"] is True and notice["text"] == "see the pinned resources"
    stored = modserver.api("GET", f"/api/communities/{community}/rooms/r/holds/{hold['id']}").json()
    assert stored["status"] == "approved" and stored["resolution"]["by"]["user"] == "lead-mod"
    assert stored["resolution"]["edited"] is True
    entry = audit(modserver, community, action="hold.approve")[0]
    assert entry["actor"]["user"] == "lead-mod" and entry["actor"]["via"] == "api"
    # The audit keeps what members saw; the resolved hold no longer keeps the original (issue 13).
    assert entry["text"] == "see the pinned resources" and entry["details"]["edited"] is True
    assert stored["text"] == "my number is [phone hidden], see pills.example.com"


async def test_approve_as_written_keeps_pii_hidden(modserver, clients):
    community, channel, user, sender, moderator = await _setup(modserver, clients, hooks={"links": {"mode": "hold"}})
    watcher = await joined(clients, modserver.ws_url, unique("w"), {community: "member"}, channel)
    result = await send(sender, channel, "mail me at me@example.org about www.example.org")
    hold = (await next_event(moderator, channel + "/mod", "hold.created"))["hold"]
    await mod(moderator, "mod.approve", channel=channel, id=result["id"])
    msg = await next_event(watcher, channel, "message")
    assert msg["text"] == "mail me at [email hidden] about www.example.org" and msg["redacted"] == ["email"]
    # The feed event (kept in the feed's history) carries the text as members would see it;
    # the original is only in the hold record while it is pending (issue 13).
    assert hold["text"] == "mail me at [email hidden] about www.example.org"


async def test_reject_reaches_the_sender_with_the_reason(modserver, clients):
    community, channel, user, sender, moderator = await _setup(modserver, clients, pipeline=["keywords"])
    watcher = await joined(clients, modserver.ws_url, unique("w"), {community: "member"}, channel)
    result = await send(sender, channel, "this miracle cure fixed my MS", client_msg_id="mc")
    assert result["status"] == "held"
    missing = await mod(moderator, "mod.reject", channel=channel, id=result["id"])
    assert missing["error"]["code"] == 107  # a reason is required
    rejected = await mod(moderator, "mod.reject", channel=channel, id=result["id"], reason="we can't share treatment claims")
    assert rejected["status"] == "rejected"
    notice = await next_event(sender, f"user#{user}", "moderation.rejected")
    assert notice["reason"] == "we can't share treatment claims" and notice["id"] == result["id"]
    conflict = await mod(moderator, "mod.approve", channel=channel, id=result["id"])
    assert conflict["error"]["code"] == 107 and "already rejected" in conflict["error"]["message"]
    retry = await send(sender, channel, "this miracle cure fixed my MS", client_msg_id="mc")
    assert retry["error"]["code"] == 1001 and "treatment claims" in retry["error"]["message"]
    hist = (await watcher.call("history", {"channel": channel, "limit": 10}))["history"]
    assert "publications" not in hist
    entry = audit(modserver, community, action="hold.reject")[0]
    assert entry["reason"] == "we can't share treatment claims" and entry["actor"]["role"] == "moderator"


async def test_unreviewed_hold_expires_and_the_sender_is_told(modserver, clients):
    community, channel, user, sender, moderator = await _setup(modserver, clients, pipeline=["keywords"], hold_expiry=2)
    result = await send(sender, channel, "a miracle cure, honest")
    assert result["status"] == "held"
    notice = await next_event(sender, f"user#{user}", "moderation.expired", timeout=8)
    assert notice["id"] == result["id"]
    resolved = await next_event(moderator, channel + "/mod", "hold.resolved")
    assert resolved["status"] == "expired" and resolved["by"]["user"] == "system"
    late = await mod(moderator, "mod.approve", channel=channel, id=result["id"])
    assert late["error"]["code"] == 107 and "already expired" in late["error"]["message"]
    assert audit(modserver, community, action="hold.expire")[0]["target"]["hold_id"] == result["id"]


async def test_concurrent_approvals_publish_once(modserver, clients):
    community, channel, user, sender, moderator = await _setup(modserver, clients, pipeline=["keywords"])
    other = await joined(clients, modserver.ws_url, unique("mod2"), {community: "admin"})
    result = await send(sender, channel, "miracle cure inside")
    answers = await asyncio.gather(
        mod(moderator, "mod.approve", channel=channel, id=result["id"]),
        mod(other, "mod.approve", channel=channel, id=result["id"]),
        modserver_approve(modserver, community, result["id"]),
    )
    assert sum(1 for a in answers if a.get("already") is not True) == 1
    hist = modserver.api("GET", f"/api/communities/{community}/rooms/r/history").json()["publications"]
    assert [p["data"]["text"] for p in hist] == ["miracle cure inside"]


async def modserver_approve(modserver, community, hold_id):
    r = await asyncio.to_thread(modserver.api, "POST", f"/api/communities/{community}/rooms/r/holds/{hold_id}/approve", {})
    return r.json()


async def test_reports_reach_moderators_and_enough_of_them_hide_the_message(modserver, clients):
    community = unique("rep")
    channel = modserver.make_room(community, "r")
    r = modserver.api("PUT", f"/api/communities/{community}/moderation", {"report_threshold": 2})
    assert r.status_code == 200, r.text
    author_id = unique("author")
    author = await joined(clients, modserver.ws_url, author_id, {community: "member"})
    moderator = await joined(clients, modserver.ws_url, unique("m"), {community: "moderator"}, channel + "/mod")
    watcher = await joined(clients, modserver.ws_url, unique("w"), {community: "member"}, channel)
    posted = await send(author, channel, "something people did not like")
    offset = posted["offset"]
    reporters = [await joined(clients, modserver.ws_url, unique("r"), {community: "member"}) for _ in range(2)]
    own = await mod(author, "chat.report", channel=channel, offset=offset, reason="mine")
    assert own["error"]["code"] == 107
    first = await mod(reporters[0], "chat.report", channel=channel, offset=offset, reason="unkind")
    assert first == {"status": "reported", "channel": channel, "offset": offset, "hidden": False}
    report = await next_event(moderator, channel + "/mod", "report.created")
    assert report["reason"] == "unkind" and report["count"] == 1 and report["text"] == "something people did not like"
    listed = await mod(moderator, "mod.reports", channel=channel)
    assert listed["reports"][0]["offset"] == offset and listed["reports"][0]["count"] == 1
    second = await mod(reporters[1], "chat.report", channel=channel, id=posted["id"], reason="spam")
    assert second["hidden"] is True
    gone = await next_event(watcher, channel, "message.deleted")
    assert gone["offset"] == offset and gone["pending_review"] is True
    hold = (await next_event(moderator, channel + "/mod", "hold.created"))["hold"]
    assert hold["kind"] == "reported" and hold["user"] == author_id
    notice = await next_event(author, f"user#{author_id}", "moderation.held")
    assert notice["kind"] == "reported"
    hist = modserver.api("GET", f"/api/communities/{community}/rooms/r/history").json()["publications"]
    assert "something people did not like" not in str(hist)
    # The moderator finds it fine: approving restores it (same id, a new offset).
    await mod(moderator, "mod.approve", channel=channel, id=hold["id"])
    back = await next_event(watcher, channel, "message")
    assert back["id"] == posted["id"] and back["restored"] is True and back["_offset"] > offset
    assert [e["action"] for e in audit(modserver, community, action="report")][:3] == ["report.hide", "report", "report"]
    # A single report on another message stays a report until a moderator dismisses it.
    other = await send(author, channel, "a second message")
    await mod(reporters[0], "chat.report", channel=channel, offset=other["offset"], reason="meh")
    assert [r["offset"] for r in (await mod(moderator, "mod.reports", channel=channel))["reports"]] == [other["offset"]]
    dismissed = await mod(moderator, "mod.dismiss_report", channel=channel, offset=other["offset"], reason="fine")
    assert dismissed["dismissed"] is True
    assert (await mod(moderator, "mod.reports", channel=channel))["reports"] == []


async def test_notices_carry_codes_and_the_reject_reason_its_preset(modserver, clients):
    """Issue 25: server text is data. Next to the English words a notice names a code and its
    parameters (the member's client says them in her language); a rejection made from a
    preset names the preset; a bad reason_code is refused with nothing rejected."""
    community, channel, user, sender, moderator = await _setup(modserver, clients, hooks={"links": {"mode": "hold"}})
    result = await send(sender, channel, "have a look at www.example.org")
    held = await next_event(sender, f"user#{user}", "moderation.held")
    assert held["code"] == "held.link" and held["params"] == {} and held["message"]  # the words stay
    bad = await mod(moderator, "mod.reject", channel=channel, id=result["id"], reason="no", reason_code="Not A Code!")
    assert bad["error"]["code"] == 107
    pending = modserver.api("GET", f"/api/communities/{community}/rooms/r/holds/{result['id']}").json()
    assert pending["status"] == "pending"
    words = "Links to unknown sites are not posted."
    done = await mod(moderator, "mod.reject", channel=channel, id=result["id"], reason=words, reason_code="link_unknown")
    assert done["status"] == "rejected"
    notice = await next_event(sender, f"user#{user}", "moderation.rejected")
    assert notice["reason"] == words and notice["reason_code"] == "link_unknown"
    assert notice["code"] == "rejected" and notice["params"] == {"reason": words}
    # Without a preset: the moderator's own words, no reason_code.
    second = await send(sender, channel, "and www.example.net too")
    await next_event(sender, f"user#{user}", "moderation.held")
    await mod(moderator, "mod.reject", channel=channel, id=second["id"], reason="please ask first")
    own = await next_event(sender, f"user#{user}", "moderation.rejected")
    assert own["reason"] == "please ask first" and "reason_code" not in own
