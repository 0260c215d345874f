"""The metrics the dashboard and alerts use move with what they measure: post latency per
post, refusals per refused connection, holds pending and the ready flag."""

from __future__ import annotations

import re

import httpx
import pytest
import websockets

from tests.harness import unique
from tests.moderation_support import eventually, joined, send


def scrape(server) -> dict[str, float]:
    text = httpx.get(server.url + "/metrics", timeout=10).text
    return {m.group(1): float(m.group(2)) for m in re.finditer(r"(?m)^(chat_[^ ]+) (\S+)$", text)}


async def test_post_latency_counts_every_post(server, clients):
    community = unique("m")
    channel = server.make_room(community, "r")
    before = scrape(server).get("chat_post_seconds_count", 0)
    member = await joined(clients, server.ws_url, unique("u"), {community: "member"})
    for n in range(3):
        assert (await send(member, channel, f"hello {n}"))["status"] == "published"
    after = scrape(server)
    assert after["chat_post_seconds_count"] - before == 3  # tests run one at a time
    assert after['chat_post_seconds_bucket{le="+Inf"}'] == after["chat_post_seconds_count"]
    assert after["chat_ready"] == 1.0


async def test_refused_connections_are_counted_by_status(spawn, valkey):
    s = spawn(valkey.url, env={"CHATSERVER_MAX_CONNECTIONS_PER_IP": "1"})
    first = await websockets.connect(s.ws_url)
    try:
        with pytest.raises(websockets.exceptions.InvalidStatus) as refused:
            await websockets.connect(s.ws_url)
        assert refused.value.response.status_code == 429
    finally:
        await first.close()
    metrics = scrape(s)
    assert metrics['chat_connections_refused_total{status="429"}'] == 1
    assert metrics['chat_connections_refused_total{status="503"}'] == 0


async def test_holds_pending_follows_the_hold_queue(modserver, clients):
    community = unique("h")
    channel = modserver.make_room(community, "r")
    r = modserver.api("PUT", f"/api/communities/{community}/rooms/r/moderation", {"pipeline": ["crisis", "keywords"]})
    assert r.status_code == 200, r.text
    member = await joined(clients, modserver.ws_url, unique("u"), {community: "member"})
    before = scrape(modserver).get("chat_moderation_holds_pending", 0)
    held = await send(member, channel, "try this miracle cure")
    assert held["status"] == "held", held
    await eventually(lambda: scrape(modserver).get("chat_moderation_holds_pending", 0) >= before + 1, timeout=15)
