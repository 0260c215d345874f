"""The audit log cannot be grown by members (issue 12, item 6): refused ``mod.*`` calls are
summarised per actor and window, and the stream has a size cap besides its age limit."""

from __future__ import annotations

import asyncio

import redis.asyncio as aioredis

from chatserver.moderation.audit import Actor, AuditFilter, AuditLog
from chatserver.redis.moderation_store import RedisModerationStore
from moderation_hooks import parse_config
from tests.harness import unique
from tests.moderation_support import audit, eventually, joined, mod


async def test_refused_calls_are_summarised_per_actor(modserver, clients):
    community = unique("deny")
    channel = modserver.make_room(community, "r")
    members = [unique("rogue") for _ in range(4)]
    conns = [await joined(clients, modserver.ws_url, m, {community: "member"}) for m in members]
    calls_each = 60

    async def flood(conn) -> None:
        for i in range(calls_each):
            method = ("mod.lock", "mod.holds", "mod.audit")[i % 3]
            reply = await mod(conn, method, channel=channel)
            assert reply["error"]["code"] == 103

    await asyncio.gather(*(flood(c) for c in conns))

    def counted() -> dict[str, int]:
        totals = dict.fromkeys(members, 0)
        for e in audit(modserver, community, action="denied", limit=1000):
            user = e["actor"]["user"]
            totals[user] += e["details"].get("count", 1)
        return totals

    # Every refusal is accounted for (denied_window = 1 s in the test config) ...
    await eventually(lambda: counted() == dict.fromkeys(members, calls_each), timeout=10)
    entries = audit(modserver, community, action="denied", limit=1000)
    # ... in a handful of entries: one at once per actor, then one summary per actor per
    # window (240 entries before).
    assert len(entries) <= 4 * 5, len(entries)
    summary = next(e for e in entries if e["action"] == "denied.summary")
    assert set(summary["details"]["methods"]) <= {"mod.lock", "mod.holds", "mod.audit"}
    assert summary["details"]["window"] == 1
    # A quiet window later, the next refusal is written at once again.
    await asyncio.sleep(2.2)
    before = len(audit(modserver, community, action="denied", limit=1000))
    assert (await mod(conns[0], "mod.lock", channel=channel))["error"]["code"] == 103
    await eventually(lambda: len(audit(modserver, community, action="denied", limit=1000)) == before + 1, timeout=2)


async def test_refused_crisis_calls_are_summarised_too(modserver, clients):
    community = unique("denyc")
    modserver.make_room(community, "r")
    rogue = unique("rogue")
    conn = await joined(clients, modserver.ws_url, rogue, {community: "member"})
    for i in range(30):
        method = ("crisis.list", "crisis.ack")[i % 2]
        reply = await mod(conn, method, community=community, case="x")
        assert reply["error"]["code"] == 103, reply

    def total() -> int:
        return sum(e["details"].get("count", 1) for e in audit(modserver, community, action="denied", limit=1000))

    await eventually(lambda: total() == 30, timeout=10)
    assert len(audit(modserver, community, action="denied", limit=1000)) <= 5


async def test_audit_stream_has_a_size_cap(valkey):
    client = aioredis.from_url(valkey.url)
    try:
        community = unique("cap")
        log = AuditLog(RedisModerationStore(client, None), retention=3600, max_entries=5)  # type: ignore[arg-type]
        for i in range(20):
            await log.append(community, "mute", Actor("m1"), target={"user": f"u{i}"})
        assert await client.xlen(f"mod:{{{community}}}:audit") == 5
        kept = await log.read(community, AuditFilter())
        assert [e["target"]["user"] for e in kept] == [f"u{i}" for i in range(19, 14, -1)]
    finally:
        await client.aclose()


def test_audit_cap_and_window_are_configurable():
    config = parse_config({"audit_max_entries": 5000, "denied_window": 30})
    assert config.audit_max_entries == 5000 and config.denied_window == 30
    assert parse_config({}).audit_max_entries == 100_000
