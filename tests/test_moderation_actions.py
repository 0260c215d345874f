"""Live moderator actions against real server processes and Valkey: delete (two processes,
history, recovery), remove recent messages, timed mutes, kick, ban, slow mode, lock,
permissions and the audit log."""

from __future__ import annotations

import asyncio
import re
import time
from datetime import datetime

from tests.harness import unique
from tests.moderation_support import audit, eventually, joined, mod, next_event, no_event, send


async def test_delete_reaches_both_processes_and_leaves_history_and_recovery(modserver, spawn, valkey, modconfig, clients):
    other = spawn(valkey.url, name="moderation-2", args=["--config", str(modconfig)])
    community = unique("del")
    channel = modserver.make_room(community, "r")
    author_id = unique("author")
    author = await joined(clients, modserver.ws_url, author_id, {community: "member"})
    here = await joined(clients, modserver.ws_url, unique("a"), {community: "member"}, channel)
    there = await joined(clients, other.ws_url, unique("b"), {community: "member"}, channel)
    offline = await joined(clients, other.ws_url, unique("c"), {community: "member"}, channel)
    keep = await send(author, channel, "a message that stays")
    await next_event(offline, channel, "message")
    epoch = (await offline.call("history", {"channel": channel}))["history"]["epoch"]
    await offline.close()
    doomed = await send(author, channel, "a message to remove")
    for c in (here, there):
        assert (await next_event(c, channel, "message"))["text"] == "a message that stays"
        assert (await next_event(c, channel, "message"))["text"] == "a message to remove"
    moderator = await joined(clients, other.ws_url, unique("mod"), {community: "moderator"})
    result = await mod(moderator, "mod.delete", channel=channel, offset=doomed["offset"], reason="personal details")
    assert result["deleted"] is True and result["id"] == doomed["id"]
    for c in (here, there):
        gone = await next_event(c, channel, "message.deleted")
        assert gone["id"] == doomed["id"] and gone["offset"] == doomed["offset"] and gone["by"] == "moderator"
    told = await next_event(author, f"user#{author_id}", "moderation.deleted")
    assert told["reason"] == "personal details"
    hist = (await here.call("history", {"channel": channel, "limit": 100}))["history"]["publications"]
    assert [p["data"].get("text") for p in hist if p["data"]["type"] == "message"] == ["a message that stays"]
    assert "a message to remove" not in str(hist)
    # A member who was offline recovers without the removed message, and learns of the deletion.
    back = await joined(clients, other.ws_url, unique("c"), {community: "member"})
    sub = (await back.call("subscribe", {"channel": channel, "recover": True, "offset": keep["offset"], "epoch": epoch}))["subscribe"]
    assert sub["recovered"] is True
    assert "a message to remove" not in str(sub["publications"])
    assert [p["data"]["type"] for p in sub["publications"]] == ["message.deleted"]
    entry = audit(modserver, community, action="delete")[0]
    assert entry["text"] == "a message to remove" and entry["target"]["user"] == author_id
    assert entry["actor"]["role"] == "moderator" and entry["reason"] == "personal details"
    again = await mod(moderator, "mod.delete", channel=channel, offset=doomed["offset"])
    assert again["error"]["code"] == 107


async def test_two_second_mute_rejects_with_end_time_then_accepts(modserver, clients):
    community = unique("mute")
    channel = modserver.make_room(community, "r")
    user = unique("m")
    member = await joined(clients, modserver.ws_url, user, {community: "member"})
    moderator = await joined(clients, modserver.ws_url, unique("mod"), {community: "moderator"})
    muted = await mod(moderator, "mod.mute", channel=channel, user=user, duration=2, reason="cool down")
    end = datetime.fromisoformat(muted["until"].replace("Z", "+00:00")).timestamp()
    notice = await next_event(member, f"user#{user}", "moderation.muted")
    assert notice["until"] == muted["until"] and notice["reason"] == "cool down"
    refused = await send(member, channel, "can I talk?")
    assert refused["error"]["code"] == 1002
    named = re.search(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", refused["error"]["message"])
    assert named and named.group() == muted["until"]
    publish = await member.call("publish", {"channel": channel, "data": {"text": "via publish"}})
    assert publish["error"]["code"] == 1002
    await asyncio.sleep(max(0.0, end - time.time()) + 0.2)
    assert (await send(member, channel, "thanks for waiting"))["status"] == "published"
    assert audit(modserver, community, action="mute")[0]["details"]["duration"] == 2


async def test_mute_bounds_and_until_lifted(modserver, clients):
    community = unique("mute2")
    channel = modserver.make_room(community, "r")
    user = unique("m")
    member = await joined(clients, modserver.ws_url, user, {community: "member"})
    too_long = modserver.api("PUT", f"/api/communities/{community}/mutes/{user}", {"duration": 29 * 86400})
    assert too_long.status_code == 400 and "duration" in too_long.json()["error"]["message"]
    neither = modserver.api("PUT", f"/api/communities/{community}/mutes/{user}", {})
    assert neither.status_code == 400
    r = modserver.api("PUT", f"/api/communities/{community}/mutes/{user}", {"until_lifted": True, "actor": "ops"})
    assert r.status_code == 200 and r.json()["until"] is None
    refused = await send(member, channel, "hello?")
    assert refused["error"]["code"] == 1002 and "until a moderator lifts it" in refused["error"]["message"]
    # Refused or not, a member in crisis is answered at once and moderators are alerted.
    watching = await joined(clients, modserver.ws_url, unique("mod"), {community: "moderator"}, channel + "/mod")
    crisis = await send(member, channel, "I don't want to be here anymore")
    assert crisis["error"]["code"] == 1002
    assert (await next_event(member, f"user#{user}", "moderation.support"))["resources"]
    assert (await next_event(watching, channel + "/mod", "crisis.alert"))["user"] == user
    listing = modserver.api("GET", f"/api/communities/{community}/mutes").json()
    assert [m["user"] for m in listing["mutes"]] == [user]
    assert modserver.api("DELETE", f"/api/communities/{community}/mutes/{user}", {"actor": "ops"}).status_code == 200
    assert (await send(member, channel, "hello again"))["status"] == "published"
    actions = [(e["action"], e["actor"]["user"]) for e in audit(modserver, community, action="")]
    assert ("mute", "ops") in actions and ("unmute", "ops") in actions


async def test_member_calling_a_moderator_action_gets_103_nothing_changes_attempt_logged(modserver, clients):
    community = unique("perm")
    channel = modserver.make_room(community, "r")
    victim_id = unique("v")
    victim = await joined(clients, modserver.ws_url, victim_id, {community: "member"}, channel)
    posted = await send(victim, channel, "a normal message")
    await next_event(victim, channel, "message")
    rogue_id = unique("rogue")
    rogue = await joined(clients, modserver.ws_url, rogue_id, {community: "member"})
    host = await joined(clients, modserver.ws_url, unique("host"), {community: "host"})
    attempts = [
        ("mod.delete", {"channel": channel, "offset": posted["offset"]}),
        ("mod.mute", {"community": community, "user": victim_id, "duration": 60}),
        ("mod.ban", {"channel": channel, "user": victim_id}),
        ("mod.kick", {"channel": channel, "user": victim_id}),
        ("mod.lock", {"channel": channel}),
        ("mod.slow_mode", {"channel": channel, "seconds": 30}),
        ("mod.holds", {"channel": channel}),
        ("mod.audit", {"community": community}),
    ]
    for method, data in attempts:
        reply = await mod(rogue, method, **data)
        assert reply["error"]["code"] == 103, (method, reply)
    assert (await mod(host, "mod.delete", channel=channel, offset=posted["offset"]))["error"]["code"] == 103
    # Nothing changed: the message is there, the victim can post, the room is open.
    hist = modserver.api("GET", f"/api/communities/{community}/rooms/r/history").json()["publications"]
    assert [p["data"]["text"] for p in hist] == ["a normal message"]
    await no_event(victim, channel, "message.deleted", wait=0.3)
    assert (await send(victim, channel, "still here"))["status"] == "published"
    room = modserver.api("GET", f"/api/communities/{community}/rooms/r").json()
    assert room["settings"]["locked"] is False and room["settings"]["slow_mode"] == 0
    # Refused calls are summarised per actor: the first at once, the rest in one
    # denied.summary per window (denied_window = 1 s in the test config).
    def methods_seen() -> set[str]:
        seen: set[str] = set()
        for e in audit(modserver, community, action="denied"):
            if e["actor"]["user"] == rogue_id:
                seen.update(e["details"].get("methods") or [e["details"]["method"]])
        return seen

    await eventually(lambda: methods_seen() == {m for m, _ in attempts})
    denied = audit(modserver, community, action="denied")
    assert len([e for e in denied if e["actor"]["user"] == rogue_id]) <= 3
    assert all(e["actor"]["role"] == "member" for e in denied if e["actor"]["user"] == rogue_id)
    assert any(e["actor"]["role"] == "host" for e in denied)


async def test_kick_unsubscribes_and_blocks_rejoin_briefly(modserver, clients):
    community = unique("kick")
    channel = modserver.make_room(community, "r")
    r = modserver.api("PUT", f"/api/communities/{community}/rooms/r/moderation", {"kick_block": 2})
    assert r.status_code == 200, r.text
    user = unique("k")
    member = await joined(clients, modserver.ws_url, user, {community: "member"}, channel)
    moderator = await joined(clients, modserver.ws_url, unique("mod"), {community: "moderator"})
    result = await mod(moderator, "mod.kick", channel=channel, user=user, reason="take a break")
    assert result["rejoin_after"]
    push = await member.next_push(where=lambda p: "unsubscribe" in p.get("push", {}))
    assert push["push"]["channel"] == channel and push["push"]["unsubscribe"]["code"] == 2101
    refused = await member.call("subscribe", {"channel": channel})
    assert refused["error"]["code"] == 103 and "rejoin" in refused["error"]["message"]
    assert (await send(member, channel, "let me in"))["error"]["code"] == 103
    rejoin = datetime.fromisoformat(result["rejoin_after"].replace("Z", "+00:00")).timestamp()
    await asyncio.sleep(max(0.0, rejoin - time.time()) + 0.2)
    assert "subscribe" in await member.call("subscribe", {"channel": channel})
    assert audit(modserver, community, action="kick")[0]["reason"] == "take a break"


async def test_ban_removes_from_all_rooms_refuses_subscribe_and_post_until_unbanned(modserver, clients):
    community = unique("ban")
    ch1 = modserver.make_room(community, "one")
    ch2 = modserver.make_room(community, "two")
    outside = unique("elsewhere")
    ch3 = modserver.make_room(outside, "r")
    user = unique("b")
    member = await joined(clients, modserver.ws_url, user, {community: "member", outside: "member"}, ch1, ch2, ch3)
    mod_id = unique("mod")
    moderator = await joined(clients, modserver.ws_url, mod_id, {community: "moderator"})
    await mod(moderator, "mod.ban", community=community, user=user, reason="repeated abuse")
    dropped = set()
    while len(dropped) < 2:
        push = await member.next_push(where=lambda p: "unsubscribe" in p.get("push", {}))
        assert push["push"]["unsubscribe"]["code"] == 2103
        dropped.add(push["push"]["channel"])
    assert dropped == {ch1, ch2}
    refused = await member.call("subscribe", {"channel": ch1})
    assert refused["error"]["code"] == 1003 and "banned" in refused["error"]["message"]
    assert (await send(member, ch2, "hello"))["error"]["code"] == 1003
    assert (await send(member, ch3, "other communities still work"))["status"] == "published"
    await next_event(member, f"user#{user}", "moderation.banned")
    listed = await mod(moderator, "mod.sanctions", channel=ch1)
    assert [(b["user"], b["until"], b["reason"]) for b in listed["bans"]] == [(user, None, "repeated abuse")]
    await mod(moderator, "mod.unban", community=community, user=user)
    assert (await mod(moderator, "mod.sanctions", community=community))["bans"] == []
    assert "subscribe" in await member.call("subscribe", {"channel": ch1})
    assert (await send(member, ch1, "back again"))["status"] == "published"
    assert [e["action"] for e in audit(modserver, community, actor=mod_id)][:2] == ["unban", "ban"]


async def test_slow_mode_and_lock(modserver, clients):
    community = unique("slow")
    channel = modserver.make_room(community, "r")
    user = unique("s")
    member = await joined(clients, modserver.ws_url, user, {community: "member"}, channel)
    moderator = await joined(clients, modserver.ws_url, unique("mod"), {community: "moderator"})
    assert (await mod(moderator, "mod.slow_mode", channel=channel, seconds=2))["slow_mode"] == 2
    assert (await next_event(member, channel, "room.slow_mode"))["seconds"] == 2
    await eventually(lambda: modserver.api("GET", f"/api/communities/{community}/rooms/r").json()["settings"]["slow_mode"] == 2)
    assert (await send(member, channel, "first"))["status"] == "published"
    second = await send(member, channel, "second")
    assert second["error"]["code"] == 1005
    assert re.search(r"next post allowed at \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ \(in [12] s\)", second["error"]["message"])
    assert (await send(moderator, channel, "staff are not slowed"))["status"] == "published"
    await asyncio.sleep(2.1)
    assert (await send(member, channel, "third"))["status"] == "published"
    await mod(moderator, "mod.slow_mode", channel=channel, seconds=0)
    assert (await mod(moderator, "mod.lock", channel=channel, reason="quiet hours"))["locked"] is True
    assert (await next_event(member, channel, "room.locked"))["reason"] == "quiet hours"
    assert (await send(member, channel, "hello?"))["error"]["code"] == 1004
    assert (await send(moderator, channel, "we are closed for now"))["status"] == "published"
    r = modserver.api("DELETE", f"/api/communities/{community}/rooms/r/lock", {"actor": "night-shift"})
    assert r.status_code == 200 and r.json()["locked"] is False
    await next_event(member, channel, "room.unlocked")
    assert (await send(member, channel, "good morning"))["status"] == "published"
    actions = [e["action"] for e in audit(modserver, community)]
    assert actions[:4] == ["unlock", "lock", "slow_mode", "slow_mode"]


async def test_remove_recent_messages_of_a_member(modserver, clients):
    community = unique("rr")
    ch1 = modserver.make_room(community, "one")
    ch2 = modserver.make_room(community, "two")
    spammer_id = unique("spam")
    spammer = await joined(clients, modserver.ws_url, spammer_id, {community: "member"})
    bystander = await joined(clients, modserver.ws_url, unique("by"), {community: "member"}, ch1)
    for i in range(3):
        await send(spammer, ch1, f"buy now {i}")
    await send(spammer, ch2, "buy here too")
    await send(bystander, ch1, "please stop")
    r = modserver.api("POST", f"/api/communities/{community}/members/{spammer_id}/remove-messages", {"actor": "cleaner", "reason": "spam"})
    assert r.status_code == 200, r.text
    assert r.json()["count"] == 4
    deleted = set()
    while len(deleted) < 3:
        deleted.add((await next_event(bystander, ch1, "message.deleted"))["offset"])
    assert deleted == {1, 2, 3}
    for ch, room in ((ch1, "one"), (ch2, "two")):
        hist = modserver.api("GET", f"/api/communities/{community}/rooms/{room}/history").json()["publications"]
        assert [p["data"]["text"] for p in hist if p["data"]["type"] == "message"] == (["please stop"] if ch == ch1 else [])
    entries = audit(modserver, community, actor="cleaner")
    assert entries[0]["action"] == "remove_recent" and entries[0]["details"]["removed"] == 4
    assert sorted(e["text"] for e in entries if e["action"] == "delete") == ["buy here too", "buy now 0", "buy now 1", "buy now 2"]


async def test_every_action_is_audited_with_its_actor_and_filters_work(modserver, clients):
    community = unique("aud")
    channel = modserver.make_room(community, "r")
    target = unique("t")
    member = await joined(clients, modserver.ws_url, target, {community: "member"})
    mod_id = unique("mod")
    moderator = await joined(clients, modserver.ws_url, mod_id, {community: "moderator"})
    posted = await send(member, channel, "hello there")
    await mod(moderator, "mod.delete", channel=channel, offset=posted["offset"])
    await mod(moderator, "mod.mute", community=community, user=target, duration=60)
    await mod(moderator, "mod.unmute", community=community, user=target)
    await mod(moderator, "mod.kick", channel=channel, user=target)
    await mod(moderator, "mod.ban", community=community, user=target, duration=3600)
    await mod(moderator, "mod.unban", community=community, user=target)
    await mod(moderator, "mod.slow_mode", channel=channel, seconds=5)
    await mod(moderator, "mod.lock", channel=channel)
    await mod(moderator, "mod.unlock", channel=channel)
    mine = audit(modserver, community, actor=mod_id)
    assert [e["action"] for e in reversed(mine)] == [
        "delete", "mute", "unmute", "kick", "ban", "unban", "slow_mode", "lock", "unlock",
    ]
    assert all(e["actor"] == {"user": mod_id, "name": mod_id, "role": "moderator", "via": "rpc"} for e in mine)
    assert all(e["time"].endswith("Z") and e["ts"] > 0 for e in mine)
    about = audit(modserver, community, target=target)
    assert {e["action"] for e in about} >= {"delete", "mute", "unmute", "kick", "ban", "unban"}
    via_rpc = await mod(moderator, "mod.audit", community=community, action="mute", limit=5)
    assert [e["action"] for e in via_rpc["entries"]] == ["mute"]
    newest = mine[0]["ts"]
    # ``since`` (ms, inclusive) is compared with the entries' stream ids, which Redis stamps
    # within a millisecond of ``ts``: the newest entry, and at most its close neighbours.
    recent = audit(modserver, community, actor=mod_id, since=newest)
    assert recent[0] == mine[0] and len(recent) <= 3 and recent == mine[: len(recent)]
    assert len(audit(modserver, community, actor=mod_id, limit=2)) == 2
    bad = modserver.api("GET", f"/api/communities/{community}/audit?since=yesterday")
    assert bad.status_code == 400


async def test_http_api_errors_are_clear(modserver):
    community = unique("api")
    modserver.make_room(community, "r")
    assert modserver.api("GET", f"/api/communities/{community}/rooms/r/holds", key="wrong").status_code == 401
    assert modserver.api("GET", f"/api/communities/{community}/rooms/nope/holds").status_code == 404
    assert modserver.api("DELETE", f"/api/communities/{community}/rooms/r/messages/99").status_code == 404
    assert modserver.api("POST", f"/api/communities/{community}/rooms/r/holds/none/approve", {}).status_code == 404
    r = modserver.api("PUT", f"/api/communities/{community}/rooms/r/slow-mode", {"seconds": -1})
    assert r.status_code == 400 and "seconds" in r.json()["error"]["message"]


async def test_muted_member_does_not_show_as_typing(modserver, clients):
    community = unique("mtype")
    channel = modserver.make_room(community, "r")
    user = unique("m")
    member = await joined(clients, modserver.ws_url, user, {community: "member"}, channel)
    other = await joined(clients, modserver.ws_url, unique("o"), {community: "member"}, channel)
    first = await member.rpc("chat.typing", {"channel": channel})
    assert first["result"]["sent"] is True
    push = await other.next_push(where=lambda p: p.get("push", {}).get("pub", {}).get("data", {}).get("type") == "typing")
    assert push["push"]["pub"]["data"]["user"] == user
    r = modserver.api("PUT", f"/api/communities/{community}/mutes/{user}", {"until_lifted": True, "actor": "ops"})
    assert r.status_code == 200
    import asyncio

    await asyncio.sleep(2.2)  # past the typing rate limit
    muted = await member.rpc("chat.typing", {"channel": channel})
    assert muted["result"] == {"sent": False, "reason": "muted"}


async def test_moderators_read_the_communitys_recent_members_by_name(modserver, clients):
    """Issue 25: mod.members names the community's recent members (newest poster first), so
    a moderator's fresh console shows names, not user ids; members may not read it; an
    erasure takes the name away."""
    community = unique("dir")
    channel = modserver.make_room(community, "r")
    dee, eve = unique("dee"), unique("eve")
    c_dee = await joined(clients, modserver.ws_url, dee, {community: "member"}, name="Dee Daly")
    c_eve = await joined(clients, modserver.ws_url, eve, {community: "member"}, name="Eve")
    moderator = await joined(clients, modserver.ws_url, unique("mod"), {community: "moderator"})
    assert (await mod(moderator, "mod.members", community=community))["members"] == []
    assert (await send(c_dee, channel, "hello"))["status"] == "published"
    await asyncio.sleep(0.01)  # a later millisecond: Eve is the most recent
    assert (await send(c_eve, channel, "hi Dee"))["status"] == "published"

    async def listed() -> list[tuple[str, str]]:
        return [(m["user"], m["name"]) for m in (await mod(moderator, "mod.members", community=community))["members"]]

    async def both() -> bool:
        return await listed() == [(eve, "Eve"), (dee, "Dee Daly")]

    await eventually(both)
    one = await mod(moderator, "mod.members", community=community, limit=1)
    assert [m["user"] for m in one["members"]] == [eve] and one["members"][0]["seen"] > 0
    bad = await mod(moderator, "mod.members", community=community, limit=0)
    assert bad["error"]["code"] == 107
    refused = await mod(c_dee, "mod.members", community=community)
    assert refused["error"]["code"] == 103
    r = modserver.api("POST", f"/api/users/{dee}/erase", {"actor": "dpo@example.org"})
    assert r.status_code == 200, r.text
    assert await listed() == [(eve, "Eve")]
