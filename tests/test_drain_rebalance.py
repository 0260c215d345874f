"""Draining and rebalancing: SIGTERM spreads its 3001 closes over shutdown_drain; the
rebalance API asks a share of a gateway's clients to reconnect over a window; the fair-share
arithmetic the gateways use on each other's loads."""

from __future__ import annotations

import asyncio
import signal
import time

from chatserver.balance import excess
from tests.harness import ServerProcess, token


def test_excess_is_what_lies_above_the_fair_share_beyond_the_tolerance():
    assert excess({"a": 200, "b": 0}, "a", 0.1) == 100
    assert excess({"a": 0, "b": 200}, "a", 0.1) == 0
    assert excess({"a": 105, "b": 95}, "a", 0.1) == 0  # within 10 %
    assert excess({"a": 120, "b": 80}, "a", 0.1) == 20
    assert excess({"a": 90, "b": 30, "c": 30}, "a", 0.1) == 40
    assert excess({"a": 500}, "a", 0.1) == 0  # alone: nowhere to go
    assert excess({"a": 3, "b": 2}, "a", 0.1) == 0  # noise


async def test_sigterm_spreads_the_closes_over_the_drain_window(valkey, clients):
    s = ServerProcess(valkey.url, name="drain", env={"CHATSERVER_SHUTDOWN_DRAIN": "3"})
    try:
        await asyncio.to_thread(s.wait_ready)
        members = []
        for i in range(40):
            c = await clients(s.ws_url)
            assert "connect" in await c.connect(token(f"d{i}"))
            members.append(c)
        closed_at: list[float] = []

        async def watch(c) -> None:
            closed = await c.wait_closed(20)
            closed_at.append(time.monotonic())
            assert closed.code == 3001

        started = time.monotonic()
        s.proc.send_signal(signal.SIGTERM)
        await asyncio.gather(*(watch(c) for c in members))
        first, last = min(closed_at) - started, max(closed_at) - started
        assert last - first >= 1.5, (first, last)  # spread, not all at once
        assert last <= 3 + 1.5, last  # within the window
        assert await asyncio.to_thread(s.proc.wait, 20) == 0
        print(f"drain: 40 closes from {first:.2f}s to {last:.2f}s after SIGTERM (window 3 s)")
    finally:
        s.stop()


async def test_rebalance_api_asks_a_share_to_reconnect(spawn, valkey, clients):
    s = spawn(valkey.url, name="rebal", env={"CHATSERVER_REBALANCE_INTERVAL": "0"})
    members = []
    for i in range(40):
        c = await clients(s.ws_url)
        assert "connect" in await c.connect(token(f"r{i}"))
        members.append(c)
    r = s.api("POST", "/api/node/rebalance", {"share": 0.5, "window": 1})
    assert r.status_code == 200, r.text
    assert r.json() == {"node": "rebal", "connected": 40, "asked": 20}
    deadline = time.monotonic() + 10
    while sum(m.closed.done() for m in members) < 20:
        assert time.monotonic() < deadline, sum(m.closed.done() for m in members)
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.5)  # and no more than that share
    closed = [m.closed.result() for m in members if m.closed.done()]
    assert len(closed) == 20 and all(c.code == 3001 and c.reason == "rebalance" for c in closed)
    assert s.api("POST", "/api/node/rebalance", {"share": 2}).status_code == 400
    assert s.api("POST", "/api/node/rebalance", {"share": 0.5}, key="wrong").status_code == 401


async def test_many_clients_forwarded_by_an_untrusted_peer_are_warned_about(spawn, valkey, clients):
    """Behind a proxy missing from trusted_proxies every client shares the proxy's address:
    the server says so in its log (once), and says nothing when the proxy is trusted."""
    untrusted = spawn(valkey.url, name="xff-untrusted")
    trusted = spawn(valkey.url, name="xff-trusted", env={"CHATSERVER_TRUSTED_PROXIES": "127.0.0.1"})
    for s in (untrusted, trusted):
        for i in range(25):
            c = await clients(s.ws_url, additional_headers={"X-Forwarded-For": f"203.0.113.{i}"})
            assert "connect" in await c.connect(token(f"x{i}"))
    warning = "carry X-Forwarded-For, but 127.0.0.1 is not in trusted_proxies"
    assert untrusted.log().count(warning) == 1, untrusted.log()[-2000:]
    assert warning not in trusted.log()
