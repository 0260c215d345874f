"""Crisis tiers through a real server (issue 29 items 3-5, issue 25 items 1-2, server side):
"may need a look", someone else at risk, "I'm worried about this person", resources per
language and region (and their numbers never redacted), resources back on reload, and
closing a case that still has held messages.

A test-only hook stands in for the detector's uncertain grade (``look_hook``: the learned
layer's "may need a look" depends on its training); the built-in crisis hook grades high risk
and someone else at risk.
"""

from __future__ import annotations

import httpx
import pytest

from tests.harness import ServerProcess, Valkey, token, unique
from tests.moderation_support import audit, eventually, joined, mod, next_event, no_event, send

COMMUNITY = "loc"

CONFIG = f"""
[moderation]
pipeline = ["crisis", "look", "pii"]
report_threshold = 1

[moderation.hooks.look]
use = "tests.moderation_test_hooks:look_hook"

[crisis]
concern_limit = 2
concern_window = 600
resources_linger = 600

[[communities]]
name = "{COMMUNITY}"

[[communities.resources]]
locale = "es-MX"
name = "Línea de la Vida"
contact = "800 911 2000"

[[communities.resources]]
locale = "es-ES"
name = "Teléfono de la Esperanza"
contact = "717 003 717"

[[communities.resources]]
locale = "en-GB"
name = "Samaritans"
contact = "116 123"

[[communities.resources]]
subject = "third_party"
name = "How to help someone you are worried about"
url = "https://www.samaritans.org/how-we-can-help/if-youre-worried-about-someone-else/"
"""

HIGH = "I have a plan and I am going to do it this weekend"


@pytest.fixture(scope="module")
def tiers_server(tmp_path_factory):
    valkey = Valkey()  # its own: cases are swept by every process on a Redis
    path = tmp_path_factory.mktemp("tiers") / "tiers.toml"
    path.write_text(CONFIG)
    server = ServerProcess(valkey.url, name="tiers", args=["--config", str(path)])
    server.wait_ready()
    yield server
    server.stop()
    valkey.stop()


def room_of(server: ServerProcess) -> str:
    return server.make_room(COMMUNITY, unique("r"))


async def test_may_need_a_look_posts_unchanged_tells_the_member_nothing_and_gives_moderators_a_quiet_item(tiers_server, clients):
    server = tiers_server
    room = room_of(server)
    user = unique("u")
    moderator = await joined(clients, server.ws_url, unique("m"), {COMMUNITY: "moderator"}, f"{COMMUNITY}/mod")
    peer = await joined(clients, server.ws_url, unique("p"), {COMMUNITY: "member"}, room)
    sender = await joined(clients, server.ws_url, user, {COMMUNITY: "member"}, room)
    text = "Honestly it has been a rough week, call me on 07700 900123"
    result = await send(sender, room, text)
    # Published (the phone number still redacted), nothing about the look in the reply.
    assert result["status"] == "redacted" and result["hidden"] == ["phone"], result
    assert "look" not in str(result)
    message = await next_event(peer, room, "message")
    assert message["text"].startswith("Honestly it has been a rough week") and "07700" not in message["text"]
    item = await next_event(moderator, f"{COMMUNITY}/mod", "crisis.look")
    assert item["priority"] == "low" and item["user"] == user and item["channel"] == room
    assert item["evidence"] == ["rough week", "score 0.55"] and item["message_id"] == result["id"]
    assert "07700" not in item["text"]
    # Not a crisis case, not a crisis alert; the member hears of the redaction only.
    await no_event(moderator, f"{COMMUNITY}/mod", "crisis.case")
    notice = await next_event(sender, f"user#{user}", None)
    assert notice["type"] == "moderation.redacted", notice
    await no_event(sender, f"user#{user}", None)
    entries = await eventually(lambda: [e for e in audit(server, COMMUNITY, action="verdict") if e["action"] == "verdict.look"])
    assert entries[0]["details"]["evidence"] == ["rough week", "score 0.55"]
    metrics = httpx.get(server.url + "/metrics").text
    assert f'chat_crisis_look_total{{community="{COMMUNITY}"}}' in metrics


async def test_someone_else_at_risk_posts_and_sends_how_to_help_and_a_third_party_case(tiers_server, clients):
    server = tiers_server
    room = room_of(server)
    user = unique("u")
    moderator = await joined(clients, server.ws_url, unique("m"), {COMMUNITY: "moderator"}, f"{COMMUNITY}/mod")
    peer = await joined(clients, server.ws_url, unique("p"), {COMMUNITY: "member"}, room)
    sender = await joined(clients, server.ws_url, user, {COMMUNITY: "member"}, room)
    result = await send(sender, room, "my friend keeps saying she wants to disappear, what do I do")
    assert result["status"] == "published", result
    assert (await next_event(peer, room, "message"))["id"] == result["id"]
    support = await next_event(sender, f"user#{user}", "moderation.support")
    assert support["subject"] == "third_party" and "worried about someone" in support["message"]
    # The community's own resource for helping someone else, not the hook's built-in one.
    assert [r["name"] for r in support["resources"]] == ["How to help someone you are worried about"]
    case = (await next_event(moderator, f"{COMMUNITY}/mod", "crisis.case"))["case"]
    assert case["kind"] == "third_party" and case["user"] == user and case["items"][0]["kind"] == "third_party"


async def test_worried_about_this_person_opens_a_case_for_the_author_hides_nothing_and_is_rate_limited(tiers_server, clients):
    server = tiers_server
    room = room_of(server)
    author = unique("a")
    worried = unique("w")
    moderator = await joined(clients, server.ws_url, unique("m"), {COMMUNITY: "moderator"}, f"{COMMUNITY}/mod", room + "/mod")
    writer = await joined(clients, server.ws_url, author, {COMMUNITY: "member"}, room)
    friend = await joined(clients, server.ws_url, worried, {COMMUNITY: "member"}, room)
    first = await send(writer, room, "I am fine, honestly. Long day at work.")
    second = await send(writer, room, "Anyway, see you all.")
    assert first["status"] == second["status"] == "published"

    marked = await mod(friend, "chat.report", channel=room, offset=first["offset"], reason="concern")
    assert marked["status"] == "concern" and marked["hidden"] is False
    opened = await next_event(moderator, f"{COMMUNITY}/mod", "crisis.case")
    case = opened["case"]
    assert opened["change"] == "opened" and case["user"] == author and case["source"] == "concern"
    assert case["opened_by"]["user"] == worried and case["items"][0]["offset"] == first["offset"]
    marked = await mod(friend, "chat.report", channel=room, offset=second["offset"], reason="concern")
    joined_event = await next_event(moderator, f"{COMMUNITY}/mod", "crisis.case")
    assert joined_event["change"] == "joined" and joined_event["case"]["id"] == case["id"]
    # Never a report: nothing in the room's report queue, nothing hidden (threshold is 1 here),
    # and the author hears nothing at all.
    await no_event(moderator, room + "/mod", "report.created")
    assert (await mod(moderator, "mod.reports", channel=room))["reports"] == []
    await no_event(writer, f"user#{author}", None)
    # Rate-limited per member (2 per window here), refused in words and audited.
    third = await mod(friend, "chat.report", channel=room, offset=first["offset"], reason="concern")
    assert third["error"]["code"] == 111, third
    entries = await eventually(lambda: [e for e in audit(server, COMMUNITY, action="crisis") if e["target"].get("user") == author])
    actions = sorted(e["action"] for e in entries)
    assert actions == ["crisis.concern_limited", "crisis.join", "crisis.open"], actions
    assert all(e["actor"]["user"] == worried for e in entries)
    # Not for one's own message.
    own = await mod(writer, "chat.report", channel=room, offset=first["offset"], reason="concern")
    assert own["error"]["code"] == 107


async def test_resources_follow_the_members_language_and_region(tiers_server, clients):
    server = tiers_server
    room = room_of(server)
    # es-MX by the token's locale claim; es-ES by the client's language (connect data);
    # en-GB by claim.
    cases = [("es-MX", True, "Línea de la Vida"), ("es-ES", False, "Teléfono de la Esperanza"), ("en-GB", True, "Samaritans")]
    for locale, by_claim, expected in cases:
        user = unique("u")
        client = await clients(server.ws_url)
        if by_claim:
            reply = await client.connect(token(user, {COMMUNITY: "member"}, locale=locale))
        else:
            reply = await client.connect(token(user, {COMMUNITY: "member"}), data={"locale": locale})
        assert "connect" in reply, reply
        result = await send(client, room, HIGH)
        assert result["status"] == "held", result
        support = await next_event(client, f"user#{user}", "moderation.support")
        assert [r["name"] for r in support["resources"]] == [expected], (locale, support)
        if locale.startswith("es"):
            assert "Tu mensaje" in support["message"] and "moderador" in support["message"], support["message"]
        else:
            assert support["message"].startswith("Your message is waiting")


async def test_a_configured_helpline_number_is_never_redacted(tiers_server, clients):
    server = tiers_server
    room = room_of(server)
    sender = await joined(clients, server.ws_url, unique("u"), {COMMUNITY: "member"}, room)
    result = await send(sender, room, "If you are in Mexico, Línea de la Vida is on 800 911 2000, any time")
    assert result["status"] == "published", result
    mine = await send(sender, room, "or text me on 07700 900123")
    assert mine["status"] == "redacted" and mine["hidden"] == ["phone"], mine


async def test_resources_come_back_on_reload_while_the_case_is_open_and_after_it_closed(tiers_server, clients):
    server = tiers_server
    room = room_of(server)
    user = unique("u")
    moderator = await joined(clients, server.ws_url, unique("m"), {COMMUNITY: "moderator"}, f"{COMMUNITY}/mod")
    member = await joined(clients, server.ws_url, user, {COMMUNITY: "member"}, room, locale="es-MX")
    # Nothing to bring back yet, but resources are always there for the header control.
    calm = await mod(member, "support.resources", community=COMMUNITY)
    assert calm["case"] is None and [r["name"] for r in calm["resources"]] == ["Línea de la Vida"]
    held = await send(member, room, HIGH)
    case = (await next_event(moderator, f"{COMMUNITY}/mod", "crisis.case"))["case"]
    told = await next_event(member, f"user#{user}", "support.case")
    assert told["state"] == "open" and told["community"] == COMMUNITY

    # A reload: a new connection (same member) asks again.
    again = await joined(clients, server.ws_url, user, {COMMUNITY: "member"}, locale="es-MX")
    view = await mod(again, "support.resources", community=COMMUNITY)
    assert view["case"]["state"] == "open" and view["locale"] == "es-MX"
    assert [r["name"] for r in view["resources"]] == ["Línea de la Vida"]
    # The page switched to English: the same call in her new language.
    english = await mod(again, "support.resources", community=COMMUNITY, locale="en-GB")
    assert [r["name"] for r in english["resources"]] == ["Samaritans"] and english["case"]["state"] == "open"
    acked = await mod(moderator, "crisis.ack", community=COMMUNITY, id=case["id"])
    assert acked["state"] == "acknowledged"
    assert (await next_event(again, f"user#{user}", "support.case"))["state"] == "acknowledged"

    # Closing: the held message waits, so the moderator must say what becomes of it.
    refused = await mod(moderator, "crisis.close", community=COMMUNITY, id=case["id"], outcome="resources_given")
    assert refused["error"]["code"] == 107 and "holds" in refused["error"]["message"]
    no_reason = await mod(moderator, "crisis.close", community=COMMUNITY, id=case["id"], outcome="resources_given", holds="reject")
    assert no_reason["error"]["code"] == 107 and "reject_reason" in no_reason["error"]["message"]
    closed = await mod(
        moderator, "crisis.close", community=COMMUNITY, id=case["id"], outcome="resources_given",
        holds="reject", reject_reason="We talked in private; please post again when you are ready",
    )
    assert closed["state"] == "closed" and closed["holds"] == {"rejected": [held["id"]]}
    rejected = await next_event(again, f"user#{user}", "moderation.rejected")
    assert rejected["id"] == held["id"] and rejected["reason"].startswith("We talked in private")
    assert (await next_event(again, f"user#{user}", "support.case"))["state"] == "closed"
    # After the close her page still gets the panel back (resources_linger), marked closed.
    after = await mod(again, "support.resources", community=COMMUNITY)
    assert after["case"]["state"] == "closed" and after["resources"]
    entry = next(e for e in audit(server, COMMUNITY, action="crisis") if e["action"] == "crisis.close")
    assert entry["details"]["holds"] == "reject" and entry["details"]["rejected"] == [held["id"]]


async def test_support_resources_is_only_for_members_of_the_community(tiers_server, clients):
    server = tiers_server
    stranger = await joined(clients, server.ws_url, unique("s"), {"elsewhere": "member"})
    refused = await mod(stranger, "support.resources", community=COMMUNITY)
    assert refused["error"]["code"] == 103
    bad = await mod(stranger, "support.resources", community=COMMUNITY, locale="not a tag!")
    assert bad["error"]["code"] in (103, 107)
