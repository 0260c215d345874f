"""Issue 23: abuse that costs the abuser, not the community, through a real server. Refused
posts, reports and refused joins are summarised per actor per window (no text of refused
flood posts); reports hide a message only from reporters with standing, each reporter has a
cap per hour, moderators are alerted when reports hide something; the webhook outbox is
bounded per hook (oldest dropped, counted, a ``webhook.dropped`` record)."""

from __future__ import annotations

import asyncio
import socket

import pytest

from tests.harness import ServerProcess, unique
from tests.moderation_support import audit, eventually, joined, mod, next_event, send

CONFIG = """
[moderation]
pipeline = ["flood"]
denied_window = 1
report_threshold = 3
report_cap = 5

[moderation.hooks.flood]
rate = 2
per = 60
"""


@pytest.fixture(scope="module")
def abuse(valkey, tmp_path_factory):
    config = tmp_path_factory.mktemp("abuse") / "abuse.toml"
    config.write_text(CONFIG)
    server = ServerProcess(valkey.url, name="abuse", args=["--config", str(config)])
    server.wait_ready()
    yield server
    server.stop()


def _mine(entries, user):
    return [e for e in entries if e.get("target", {}).get("user") == user or e["actor"]["user"] == user]


async def test_refused_flood_posts_are_summarised_without_their_text(abuse, clients):
    community = unique("flood")
    channel = abuse.make_room(community, "r")
    user = unique("spammer")
    a = await joined(clients, abuse.ws_url, user, {community: "member"})
    b = await joined(clients, abuse.ws_url, user, {community: "member"})  # two connections

    async def hammer(c, tag):
        refused = 0
        for n in range(40):
            reply = await send(c, channel, f"buy now {tag} {n}")
            refused += reply.get("error", {}).get("code") == 1001
        return refused

    refused = sum(await asyncio.gather(hammer(a, "a"), hammer(b, "b")))
    assert refused >= 70

    def counted():
        entries = _mine(audit(abuse, community, action="verdict.reject", limit=1000), user)
        return sum(e.get("details", {}).get("count", 1) for e in entries) == refused and entries

    entries = await eventually(counted, timeout=10)
    assert len(entries) <= 6, len(entries)  # one at once, then one summary per 1 s window
    assert all(not e.get("text") for e in entries), entries  # no flood text kept
    assert any(e["action"] == "verdict.reject.summary" for e in entries)


async def test_reports_and_refused_joins_are_summarised(abuse, clients):
    community = unique("sum")
    channel = abuse.make_room(community, "r")
    poster = await joined(clients, abuse.ws_url, unique("p"), {community: "moderator"})
    offsets = [(await send(poster, channel, f"message {n}"))["offset"] for n in range(4)]
    reporter_id = unique("rep")
    reporter = await joined(clients, abuse.ws_url, reporter_id, {community: "member"})
    for offset in offsets:
        assert (await mod(reporter, "chat.report", channel=channel, offset=offset, reason="x"))["status"] == "reported"
    # A private conversation someone keeps knocking on.
    member_id = unique("m")
    await joined(clients, abuse.ws_url, member_id, {community: "member"})
    dm = (await mod(poster, "support.open", community=community, user=member_id))["channel"]
    knocker_id = unique("k")
    knocker = await joined(clients, abuse.ws_url, knocker_id, {community: "member"})
    for _ in range(25):
        assert (await knocker.call("subscribe", {"channel": dm}))["error"]["code"] == 103

    def reports():
        entries = [e for e in audit(abuse, community, action="report", limit=1000) if e["actor"]["user"] == reporter_id]
        return sum(e.get("details", {}).get("count", 1) for e in entries) == 4 and entries

    entries = await eventually(reports, timeout=10)
    assert [e["action"] for e in entries] == ["report.summary", "report"], entries

    def joins():
        entries = [e for e in audit(abuse, community, limit=1000) if e["actor"]["user"] == knocker_id]
        return sum(e.get("details", {}).get("count", 1) for e in entries) == 25 and entries

    entries = await eventually(joins, timeout=10)
    assert sorted(e["action"] for e in entries) == ["denied.summary", "support.denied"], entries


async def test_only_reporters_with_standing_hide_and_moderators_are_alerted(abuse, clients):
    community = unique("stand")
    channel = abuse.make_room(community, "r")
    author = await joined(clients, abuse.ws_url, unique("a"), {community: "member"})
    feed = await joined(clients, abuse.ws_url, unique("mod"), {community: "moderator"}, f"{community}/mod")
    target = await send(author, channel, "an ordinary message")
    # Three fresh accounts that never posted: their reports reach moderators, hide nothing.
    for _ in range(3):
        fresh = await joined(clients, abuse.ws_url, unique("fresh"), {community: "member"})
        assert (await mod(fresh, "chat.report", channel=channel, offset=target["offset"], reason="x"))["hidden"] is False
    # Three members who have posted: the third report hides it.
    results = []
    for n in range(3):
        regular = await joined(clients, abuse.ws_url, unique("reg"), {community: "member"})
        assert (await send(regular, channel, f"hello from a regular {n}"))["status"] == "published"
        results.append(await mod(regular, "chat.report", channel=channel, offset=target["offset"], reason="x"))
    assert [r["hidden"] for r in results] == [False, False, True], results
    alert = await next_event(feed, f"{community}/mod", "report.hidden")
    assert alert["offset"] == target["offset"] and alert["channel"] == channel and alert["reporters"] == 3


async def test_reports_per_reporter_are_capped(abuse, clients):
    community = unique("cap")
    channel = abuse.make_room(community, "r")
    poster = await joined(clients, abuse.ws_url, unique("p"), {community: "moderator"})
    offsets = [(await send(poster, channel, f"m {n}"))["offset"] for n in range(7)]
    reporter = await joined(clients, abuse.ws_url, unique("r"), {community: "member"})
    codes = []
    for offset in offsets:
        reply = await mod(reporter, "chat.report", channel=channel, offset=offset, reason="x")
        codes.append(reply.get("error", {}).get("code"))
    assert codes == [None] * 5 + [111, 111], codes


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def test_the_webhook_outbox_is_bounded_per_hook(abuse):
    hook = abuse.api(
        "POST", "/api/webhooks",
        {"url": f"http://127.0.0.1:{_closed_port()}/down", "events": ["webhook.test"], "secret": "s" * 20,
         "max_queued": 2, "retry_base": 0.05, "retry_max": 0.2},
    ).json()
    try:
        events = [abuse.api("POST", f"/api/webhooks/{hook['id']}/test").json()["event"] for _ in range(5)]

        def dropped():
            log = abuse.api("GET", f"/api/webhooks/{hook['id']}/deliveries?limit=1000").json()["deliveries"]
            return {d["event"] for d in log if d.get("outcome") == "dropped"}

        gone = await eventually(lambda: len(dropped()) >= 3 and dropped(), timeout=15)
        assert gone == set(events[:3])  # the oldest three; the newest two are still tried
        log = abuse.api("GET", f"/api/webhooks/{hook['id']}/deliveries?limit=1000").json()["deliveries"]
        assert all(d.get("record") == "webhook.dropped" for d in log if d.get("outcome") == "dropped")
        assert any(d.get("outcome") == "retry" and d["event"] in events[3:] for d in log)
        metrics = abuse.api("GET", "/metrics").text
        assert "webhook_deliveries_dropped" in metrics
    finally:
        abuse.api("DELETE", f"/api/webhooks/{hook['id']}")
