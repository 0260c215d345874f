"""The moderation pipeline against a real server and Valkey: redaction, crisis language,
failing and slow hooks, escalation, per-room configuration, idempotent holds."""

from __future__ import annotations

import time

import pytest

from tests.harness import token, unique
from tests.moderation_support import audit, joined, mod, next_event, no_event, send


async def test_phone_and_email_are_redacted_sender_told_original_kept_nowhere(modserver, clients):
    community = unique("pii")
    channel = modserver.make_room(community, "r")
    alice = await joined(clients, modserver.ws_url, "alice", {community: "member"})
    bob = await joined(clients, modserver.ws_url, "bob", {community: "member"}, channel)
    original = "call me on +44 20 7946 0958 or write to alice.smith@example.org"
    result = await send(alice, channel, original)
    assert result["status"] == "redacted" and result["hidden"] == ["email", "phone"]
    msg = await next_event(bob, channel, "message")
    assert msg["text"] == "call me on [phone hidden] or write to [email hidden]"
    assert msg["redacted"] == ["email", "phone"]
    notice = await next_event(alice, "user#alice", "moderation.redacted")
    assert notice["hidden"] == ["email", "phone"] and notice["id"] == result["id"]
    assert "phone number" in notice["message"] and "e-mail address" in notice["message"]
    assert "7946" not in str(notice) and "alice.smith" not in str(notice)
    # The original is nowhere in the room's or the sender's history ...
    room_hist = modserver.api("GET", f"/api/communities/{community}/rooms/r/history").json()
    assert "7946" not in str(room_hist) and "alice.smith" not in str(room_hist)
    private = (await alice.call("history", {"channel": "user#alice", "limit": 100}))["history"]
    assert "7946" not in str(private) and "alice.smith" not in str(private)
    # ... nor in the audit log, which keeps the text as members saw it (issue 13).
    entries = audit(modserver, community, action="verdict.redact")
    assert len(entries) == 1 and entries[0]["text"] == msg["text"] and original != msg["text"]
    assert entries[0]["target"]["user"] == "alice" and entries[0]["details"]["hooks"] == ["pii"]


async def test_crisis_message_held_support_at_once_high_priority_hold_to_moderator(modserver, clients):
    community = unique("crisis")
    channel = modserver.make_room(community, "r")
    moderator = await joined(clients, modserver.ws_url, "mod", {community: "moderator"}, channel + "/mod")
    sender = await joined(clients, modserver.ws_url, "sam", {community: "member"})
    other = await joined(clients, modserver.ws_url, "olu", {community: "member"}, channel)
    start = time.monotonic()
    result = await send(sender, channel, "I just want to end my life tonight")
    assert result["status"] == "held"
    assert "crisis" not in result.get("reason", "") and "end my life" not in result.get("reason", "")
    support = await next_event(sender, "user#sam", "moderation.support", timeout=1)
    hold = await next_event(moderator, channel + "/mod", "hold.created", timeout=1)
    assert time.monotonic() - start < 1.0
    assert support["resources"] and all("name" in r for r in support["resources"])
    assert hold["hold"]["priority"] == "high" and hold["hold"]["category"] == "crisis"
    assert hold["hold"]["text"] == "I just want to end my life tonight"
    assert hold["hold"]["escalated"] is False  # a moderator of the room is online
    held = await next_event(sender, "user#sam", "moderation.held")
    assert held["id"] == result["id"]
    await no_event(other, channel, "message")
    hist = (await other.call("history", {"channel": channel, "limit": 10}))["history"]
    assert "publications" not in hist


async def test_hold_escalates_when_no_room_moderator_is_online(modserver, clients):
    community = unique("esc")
    channel = modserver.make_room(community, "r")
    lead = await joined(clients, modserver.ws_url, "lead", {community: "admin"}, f"{community}/mod")
    sender = await joined(clients, modserver.ws_url, "sam", {community: "member"})
    result = await send(sender, channel, "I keep thinking about suicide")
    assert result["status"] == "held"
    escalated = await next_event(lead, f"{community}/mod", "hold.escalated", timeout=2)
    assert escalated["hold"]["id"] == result["id"] and escalated["hold"]["escalated"] is True


@pytest.mark.parametrize("hook, text", [("explode", "explode please"), ("slowpoke", "so sleepy"), ("blocker", "blocking call")])
async def test_failing_or_slow_hook_holds_the_message(modserver, clients, hook, text):
    community = unique("fail")
    channel = modserver.make_room(community, "r")
    r = modserver.api("PUT", f"/api/communities/{community}/rooms/r/moderation", {"pipeline": [hook, "pii"]})
    assert r.status_code == 200, r.text
    assert [h["name"] for h in r.json()["effective"]["pipeline"]] == [hook, "pii"]
    sender = await joined(clients, modserver.ws_url, "s", {community: "member"})
    watcher = await joined(clients, modserver.ws_url, "w", {community: "member"}, channel)
    moderator = await joined(clients, modserver.ws_url, "m", {community: "moderator"}, channel + "/mod")
    start = time.monotonic()
    result = await send(sender, channel, text)
    assert result["status"] == "held", result
    assert time.monotonic() - start < 3
    hold = await next_event(moderator, channel + "/mod", "hold.created")
    assert hold["hold"]["category"] == "hook_failure" and hook in hold["hold"]["reason"]
    assert hold["hold"]["payload"]["failed_hooks"] == [hook]
    notice = await next_event(sender, "user#s", "moderation.held")
    assert "could not check" in notice["message"]
    await no_event(watcher, channel, "message")
    # The same room still publishes messages the hook has no problem with.
    assert (await send(sender, channel, "a calm message"))["status"] == "published"
    assert (await next_event(watcher, channel, "message"))["text"] == "a calm message"
    entries = audit(modserver, community, action="verdict.hold")
    assert entries and entries[0]["details"]["failures"] == [hook]


async def test_retry_of_held_message_does_not_create_a_second_hold(modserver, clients):
    community = unique("idem")
    channel = modserver.make_room(community, "r")
    user = unique("u")
    sender = await joined(clients, modserver.ws_url, user, {community: "member"})
    first = await send(sender, channel, "honestly I want to die", client_msg_id="m-1")
    again = await send(sender, channel, "honestly I want to die", client_msg_id="m-1")
    assert first["status"] == again["status"] == "held"
    assert again["id"] == first["id"] and again["duplicate"] is True
    holds = modserver.api("GET", f"/api/communities/{community}/rooms/r/holds").json()["holds"]
    assert [h["id"] for h in holds] == [first["id"]]
    private = (await sender.call("history", {"channel": f"user#{user}", "limit": 50}))["history"]["publications"]
    assert sum(1 for p in private if p["data"]["type"] == "moderation.held") == 1


async def test_room_configuration_rules_links_flood_new_member(modserver, clients):
    community = unique("cfg")
    channel = modserver.make_room(community, "r")
    bad = modserver.api("PUT", f"/api/communities/{community}/rooms/r/moderation", {"pipeline": ["nope"]})
    assert bad.status_code == 400 and "nope" in bad.json()["error"]["message"]
    bad = modserver.api("PUT", f"/api/communities/{community}/rooms/r/moderation", {"hooks": {"explode": {"use": "os:system"}}})
    assert bad.status_code == 400 and "use" in bad.json()["error"]["message"]
    bad = modserver.api("PUT", f"/api/communities/{community}/rooms/r/moderation", {"hooks": {"links": {"mode": "maybe"}}})
    assert bad.status_code == 400 and "links.mode" in bad.json()["error"]["message"]
    r = modserver.api(
        "PUT",
        f"/api/communities/{community}/moderation",
        {"hooks": {"rules": {"rules": [{"name": "rude", "words": ["idiot*"], "reason": "please be kind", "exempt_roles": ["moderator", "admin"]}]}}},
    )
    assert r.status_code == 200, r.text
    r = modserver.api(
        "PUT",
        f"/api/communities/{community}/rooms/r/moderation",
        {
            "pipeline": ["crisis", "flood", "rules", "links", "keywords", "new_member"],
            "hooks": {"links": {"mode": "strip"}, "flood": {"rate": 4, "per": 60}, "new_member": {"first_messages": 1}},
        },
    )
    assert r.status_code == 200, r.text
    newbie = await joined(clients, modserver.ws_url, "newbie", {community: "member"})
    watcher = await joined(clients, modserver.ws_url, "w", {community: "member"}, channel)
    first = await send(newbie, channel, "hello everyone")
    assert first["status"] == "held" and "first" in first["reason"].lower()
    assert (await send(newbie, channel, "see spam.example.com now"))["status"] == "redacted"
    assert (await next_event(watcher, channel, "message"))["text"] == "see [link hidden] now"
    rude = await send(newbie, channel, "you idiots")
    assert rude["error"]["code"] == 1001 and "please be kind" in rude["error"]["message"]
    held = await send(newbie, channel, "try this miracle cure")
    assert held["status"] == "held"
    too_fast = await send(newbie, channel, "one more")
    assert too_fast["error"]["code"] == 1001 and "too fast" in too_fast["error"]["message"]
    staff = await joined(clients, modserver.ws_url, "staff", {community: "moderator"})
    assert (await send(staff, channel, "you idiots, see spam.example.com")) ["status"] == "published"


async def test_sender_rejected_by_rule_still_gets_crisis_support(modserver, clients):
    community = unique("both")
    channel = modserver.make_room(community, "r")
    r = modserver.api(
        "PUT", f"/api/communities/{community}/rooms/r/moderation",
        {"hooks": {"rules": {"rules": [{"words": ["badword"], "reason": "no bad words"}]}}},
    )
    assert r.status_code == 200
    moderator = await joined(clients, modserver.ws_url, "m", {community: "moderator"}, channel + "/mod")
    sender = await joined(clients, modserver.ws_url, "s", {community: "member"})
    result = await send(sender, channel, "badword, I want to kill myself")
    assert result["error"]["code"] == 1001
    support = await next_event(sender, "user#s", "moderation.support")
    assert support["resources"]
    alert = await next_event(moderator, channel + "/mod", "crisis.alert")
    assert alert["priority"] == "high" and alert["user"] == "s"


async def test_mod_rpc_config_listing_and_hook_metrics(modserver, clients):
    community = unique("met")
    modserver.make_room(community, "r")
    r = modserver.api("GET", f"/api/communities/{community}/rooms/r/moderation")
    assert r.status_code == 200
    names = [h["name"] for h in r.json()["effective"]["pipeline"]]
    assert names == ["crisis", "flood", "rules", "links", "pii", "new_member"]
    metrics = modserver.api("GET", "/metrics", key=None).text
    assert "chat_moderation_holds_created" in metrics and "chat_moderation_hook_failures" in metrics


async def test_token_locale_picks_crisis_language_and_resources(modserver, clients):
    community = unique("loc")
    channel = modserver.make_room(community, "r")
    r = modserver.api(
        "PUT", f"/api/communities/{community}/moderation",
        {"hooks": {"crisis": {"locales": {"de": {"resources": [{"name": "Telefonseelsorge", "contact": "0800 111 0 111"}]}}}}},
    )
    assert r.status_code == 200, r.text
    c = await clients(modserver.ws_url)
    await c.connect(token("d", {community: "member"}, info={"locale": "de"}))
    result = await send(c, channel, "ich will nicht mehr leben")
    assert result["status"] == "held"
    support = await next_event(c, "user#d", "moderation.support")
    assert support["resources"][0]["name"] == "Telefonseelsorge"
    assert (await mod(c, "mod.holds", channel=channel))["error"]["code"] == 103


def test_bad_moderation_config_stops_the_server_with_a_clear_message(valkey, tmp_path):
    import os
    import subprocess
    import sys

    from tests.harness import API_KEY, SECRET

    cases = [
        ('[moderation.hooks.links]\nmode = "sometimes"\n', "links.mode must be one of allow, hold, strip"),
        ('[moderation.hooks.mine]\nuse = "no_such_package_xyz:Hook"\n', "cannot import 'no_such_package_xyz'"),
        ('[moderation]\npipeline = ["crisis", "typo"]\n', "no hook named 'typo'"),
    ]
    for text, message in cases:
        cfg = tmp_path / "bad.toml"
        cfg.write_text(text)
        out = subprocess.run(
            [sys.executable, "-m", "chatserver", "run", "--config", str(cfg), "--redis-url", valkey.url, "--port", "0"],
            capture_output=True, text=True, timeout=60,
            env=dict(os.environ, CHATSERVER_SECRET=SECRET, CHATSERVER_API_KEY=API_KEY),
        )
        assert out.returncode == 2 and message in out.stderr, out.stderr[-2000:]
