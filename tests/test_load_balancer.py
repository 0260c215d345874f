"""Two gateways behind Debian's nginx, configured with deploy/nginx/ (ports replaced): members
connect through nginx; one gateway gets SIGTERM mid-conversation; its members reconnect
through nginx to the other one and recover what they missed. Then a full rolling restart
(both gateways in turn) under 200 members, and the load spreading again afterwards."""

from __future__ import annotations

import asyncio
import random
import re
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets

from tests.harness import (
    API_KEY,
    ROOT,
    Closed,
    RawClient,
    ServerProcess,
    Valkey,
    free_port,
    token,
    unique,
)

DEPLOY = ROOT / "deploy" / "nginx"


def nginx_binary() -> str:
    found = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
    assert found, "nginx is not installed (.ci/run installs Debian's nginx)"
    return found


def render_config(prefix: Path, port: int, gateways: list[int]) -> Path:
    """deploy/nginx/chatserver.conf with this test's ports, inside a minimal nginx.conf."""
    site = (DEPLOY / "chatserver.conf").read_text()
    shipped = re.findall(r"(?m)^    server 127\.0\.0\.1:800\d( .*)?;$", site)
    assert shipped, "no server lines in deploy/nginx/chatserver.conf"
    # The shipped parameters (max_fails...) are kept: only the addresses are this test's.
    servers = "\n".join(f"    server 127.0.0.1:{p}{shipped[0]};" for p in gateways)
    site, count = re.subn(r"(?m)^    server 127\.0\.0\.1:800\d.*\n(?:    server 127\.0\.0\.1:800\d.*\n)*", servers + "\n", site)
    assert count == 1
    site = site.replace("listen 80;", f"listen 127.0.0.1:{port};")
    shutil.copy(DEPLOY / "chatserver-locations.conf", prefix / "chatserver-locations.conf")
    site = site.replace("/etc/nginx/chatserver-locations.conf", str(prefix / "chatserver-locations.conf"))
    (prefix / "chatserver.conf").write_text(site)
    main = prefix / "nginx.conf"
    main.write_text(
        f"""worker_processes 1;
error_log {prefix}/error.log warn;
pid {prefix}/nginx.pid;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {prefix}/body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
    include {prefix}/chatserver.conf;
}}
"""
    )
    return main


@pytest.fixture
def balanced(valkey):
    gateways = [ServerProcess(valkey.url, name=f"lb-{i}") for i in range(2)]
    prefix = Path(tempfile.mkdtemp(prefix="chat-nginx-"))
    port = free_port()
    conf = render_config(prefix, port, [g.port for g in gateways])
    nginx = subprocess.Popen(
        [nginx_binary(), "-p", str(prefix), "-c", str(conf), "-g", "daemon off;"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        for g in gateways:
            g.wait_ready()
        deadline = time.monotonic() + 10
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert nginx.poll() is None, nginx.stderr.read() if nginx.stderr else ""
            assert time.monotonic() < deadline, (prefix / "error.log").read_text()
            time.sleep(0.1)
        yield f"ws://127.0.0.1:{port}/connection/websocket", port, gateways
    finally:
        nginx.send_signal(signal.SIGQUIT)
        try:
            nginx.wait(10)
        except subprocess.TimeoutExpired:
            nginx.kill()
            nginx.wait(5)
        for g in gateways:
            g.stop()
        shutil.rmtree(prefix, ignore_errors=True)


async def test_sigterm_one_gateway_members_move_through_nginx_and_recover(balanced, clients):
    ws_url, _port, gateways = balanced
    community = unique("lb")
    channel = gateways[0].make_room(community, "talk")
    roles = {community: "member"}
    names = {g.port: f"lb-{i}" for i, g in enumerate(gateways)}

    # Members connect through nginx until both gateways have some (least_conn alternates).
    by_node: dict[str, list[tuple[str, RawClient]]] = {}
    for i in range(8):
        c = await clients(ws_url)
        user = f"u{i}"
        node = (await c.connect(token(user, roles)))["connect"]["node"]
        assert (await c.call("subscribe", {"channel": channel}))["subscribe"]
        by_node.setdefault(node, []).append((user, c))
    assert set(by_node) == set(names.values()), by_node.keys()
    doomed, survivor = gateways[0], gateways[1]
    movers = by_node[names[doomed.port]]
    sender_user, sender = by_node[names[survivor.port]][0]

    async def say(text: str) -> int:
        reply = await sender.rpc("chat.send", {"channel": channel, "text": text})
        return int(reply["result"]["offset"])

    for text in ("one", "two"):
        await say(text)
    positions = {}
    for user, c in movers:
        pubs = [await c.next_push(where=lambda p: "pub" in p.get("push", {})) for _ in range(2)]
        assert [p["push"]["pub"]["data"]["text"] for p in pubs] == ["one", "two"]
        positions[user] = pubs[-1]["push"]["pub"]["offset"]
    epoch = (await sender.call("history", {"channel": channel, "limit": 0}))["history"]["epoch"]

    doomed.proc.send_signal(signal.SIGTERM)  # mid-conversation
    for _, c in movers:
        closed = await c.wait_closed(15)
        assert isinstance(closed, Closed) and closed.code == 3001
    missed = [await say(text) for text in ("three", "four", "five")]

    # They reconnect through the same nginx address: the stopped gateway refuses, nginx
    # passes them to the other one, and they recover exactly what they missed.
    for user, _ in movers:
        c = await clients(ws_url)
        node = (await c.connect(token(user, roles)))["connect"]["node"]
        assert node == names[survivor.port]
        sub = (
            await c.call("subscribe", {"channel": channel, "recover": True, "epoch": epoch, "offset": positions[user]})
        )["subscribe"]
        assert sub["recovered"] is True
        assert [p["data"]["text"] for p in sub["publications"]] == ["three", "four", "five"]
        assert [p["offset"] for p in sub["publications"]] == missed
    await say("six")


# ---------------------------------------------------------------------------- rolling restart


class Member:
    """A light member: connects through nginx, subscribes with recovery, reconnects at once
    when closed (as the SDKs do after 3001), and keeps every offset it was given."""

    def __init__(self, user: str, roles: dict[str, str], channel: str, ws_url: str) -> None:
        self.user = user
        self.tok = token(user, roles)
        self.channel = channel
        self.ws_url = ws_url
        self.offsets: list[int] = []
        self.epoch = ""
        self.node = ""
        self.refused = 0  # handshakes nginx answered with an error (502...) or that failed
        self.worst_refusals = 0  # the most refusals in one reconnection
        self.unrecovered = 0  # resubscriptions that did not recover (a gap a member would see)
        self.closed_at: float | None = None
        self.back_at = 0.0
        self.gaps: list[float] = []  # seconds from a close to being back and recovered
        self.live = asyncio.Event()
        self.client: RawClient | None = None
        self.stop = False

    async def run(self) -> None:
        refused_now = 0
        while not self.stop:
            try:
                c = await RawClient.open(self.ws_url, open_timeout=5)
            except (OSError, TimeoutError, websockets.InvalidHandshake):
                self.refused += 1
                refused_now += 1
                self.worst_refusals = max(self.worst_refusals, refused_now)
                await asyncio.sleep(0.05 + random.random() * 0.1)
                continue
            self.client = c
            try:
                await self._session(c)
                refused_now = 0
            except (Closed, TimeoutError):
                pass
            finally:
                await c.close()
            self.live.clear()
            if self.closed_at is None:
                self.closed_at = time.monotonic()

    async def _session(self, c: RawClient) -> None:
        reply = await c.connect(self.tok)
        if "connect" not in reply:
            raise Closed(None, str(reply))
        self.node = reply["connect"]["node"]
        params: dict[str, Any] = {"channel": self.channel}
        if self.epoch:
            params.update(recover=True, epoch=self.epoch, offset=self.offsets[-1] if self.offsets else 0)
        reply = await c.call("subscribe", params)
        if "subscribe" not in reply:
            raise Closed(None, str(reply))
        sub = reply["subscribe"]
        if self.epoch and not sub.get("recovered"):
            self.unrecovered += 1
        self.epoch = sub.get("epoch", self.epoch)
        self.offsets += [p["offset"] for p in sub.get("publications", [])]
        now = time.monotonic()
        if self.closed_at is not None:
            self.gaps.append(now - self.closed_at)
            self.closed_at = None
        self.back_at = now
        self.live.set()
        while True:
            get = asyncio.ensure_future(c.pushes.get())
            done, _ = await asyncio.wait([get, c.closed], return_when=asyncio.FIRST_COMPLETED)
            if get not in done:
                get.cancel()
                while not c.pushes.empty():  # what arrived before the close
                    self._take(c.pushes.get_nowait())
                raise c.closed.result()
            self._take(get.result())

    def _take(self, push: dict[str, Any]) -> None:
        body = push.get("push", {})
        if body.get("channel") == self.channel and "pub" in body and body["pub"].get("offset"):
            self.offsets.append(body["pub"]["offset"])


class Publisher:
    """Posts numbered messages through nginx's HTTP API at about 20/s, retrying a failed post
    with its client_msg_id; ``acked`` holds each acknowledged message's offset."""

    def __init__(self, base: str, community: str, room: str) -> None:
        self.url = f"{base}/api/communities/{community}/rooms/{room}/messages"
        self.acked: list[int] = []
        self.retries = 0
        self.stop = False

    async def run(self) -> None:
        headers = {"Authorization": f"Bearer {API_KEY}"}
        async with httpx.AsyncClient(timeout=5) as http:
            n = 0
            while not self.stop:
                body = {"text": f"n{n}", "client_msg_id": f"c{n}", "system": True}
                while True:
                    try:
                        r = await http.post(self.url, json=body, headers=headers)
                        if r.status_code in (200, 201):
                            break
                    except httpx.HTTPError:
                        pass
                    self.retries += 1
                    await asyncio.sleep(0.05)
                self.acked.append(int(r.json()["offset"]))
                n += 1
                await asyncio.sleep(0.05)


MEMBERS = 200


async def wait_for(condition: Any, timeout: float, what: str) -> float:
    """Seconds until ``condition()`` held (polled every 20 ms); fails after ``timeout``."""
    start = time.monotonic()
    while not condition():
        if time.monotonic() - start > timeout:
            raise AssertionError(f"{what}: not within {timeout}s")
        await asyncio.sleep(0.02)
    return time.monotonic() - start


@pytest.mark.parametrize("store", ["single", "cluster", "sentinel"])
async def test_rolling_restart_of_both_gateways_through_nginx(store, request):
    """Both gateways restarted in turn (SIGTERM, start again on the same port, wait for
    /readyz) under 200 members and a publisher: after each step every member is back and
    recovered within 2 s, none refused more than twice in a row; within 30 s of the last
    step both gateways carry 40-60 % again; every member has every acknowledged message
    once, in order."""
    # The gateways compare loads with every process on their Redis that rebalances: the
    # single server is this test's own; on the shared topologies only these two do (the
    # harness turns rebalancing off).
    own = None
    if store == "single":
        own = Valkey()
        urls = [own.url, own.url]
    elif store == "cluster":
        topology = request.getfixturevalue("cluster")
        urls = [topology.url(topology.nodes[0]), topology.url(topology.nodes[1], topology.nodes[2])]
    else:
        topology = request.getfixturevalue("sentinels")
        urls = [topology.url(topology.sentinels[0]), topology.url(*topology.sentinels[1:])]
    env = {"CHATSERVER_TRUSTED_PROXIES": "127.0.0.1", "CHATSERVER_REBALANCE_INTERVAL": "2"}
    gateways = [ServerProcess(urls[i], name=f"roll-{i}", env=env) for i in range(2)]
    prefix = Path(tempfile.mkdtemp(prefix="chat-nginx-"))
    port = free_port()
    conf = render_config(prefix, port, [g.port for g in gateways])
    nginx = subprocess.Popen(
        [nginx_binary(), "-p", str(prefix), "-c", str(conf), "-g", "daemon off;"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    members: list[Member] = []
    tasks: list[asyncio.Future[None]] = []
    try:
        for g in gateways:
            g.wait_ready(60)
        community = unique("roll")
        gateways[0].make_room(community, "talk")
        r = gateways[0].api("PUT", f"/api/communities/{community}/rooms/talk/moderation", {"hooks": {"flood": {"rate": 10000, "per": 1}}})
        assert r.status_code == 200, r.text
        ws_url = f"ws://127.0.0.1:{port}/connection/websocket"
        members = [Member(f"m{i}", {community: "member"}, f"{community}:talk", ws_url) for i in range(MEMBERS)]
        for i in range(0, MEMBERS, 20):  # not all at once: 20 at a time
            batch = members[i : i + 20]
            tasks += [asyncio.ensure_future(m.run()) for m in batch]
            await wait_for(lambda b=batch: all(m.live.is_set() for m in b), 20, "members connected")
        publisher = Publisher(f"http://127.0.0.1:{port}", community, "talk")
        tasks.append(asyncio.ensure_future(publisher.run()))
        await wait_for(lambda: len(publisher.acked) >= 5, 10, "first messages")

        figures = []
        for step in range(2):
            doomed = gateways[step]
            name = f"roll-{step}"
            on_doomed = [m for m in members if m.node == name]
            started = time.monotonic()
            doomed.proc.send_signal(signal.SIGTERM)
            took = await wait_for(
                lambda name=name: all(m.live.is_set() and m.node != name for m in members), 10, f"step {step}: members back"
            )
            assert await asyncio.to_thread(doomed.stop) == 0
            gaps = [m.gaps[-1] for m in on_doomed if m.gaps and m.back_at >= started]
            assert len(gaps) == len(on_doomed), (len(gaps), len(on_doomed))
            figures.append((took, max(gaps)))
            # SIGTERM spreads its closes over shutdown_drain (1 s by default); each member
            # is back and recovered within 2 s of its close.
            assert max(gaps) <= 2.0, f"step {step}: a member was back {max(gaps):.2f}s after its close"
            # (the drain window plus the time a busy shared machine takes to start it)
            assert took <= 1.0 + 3.0, f"step {step}: the last member was back {took:.2f}s after SIGTERM"
            gateways[step] = ServerProcess(urls[step], name=name, env=env, port=doomed.port)
            await asyncio.to_thread(gateways[step].wait_ready, 60)
            await asyncio.sleep(1.0)  # publishing goes on with the gateway back
        # The gateway restarted last started empty: the other one asks its excess to
        # reconnect (3001, a bounded rate) and nginx's least_conn sends them over.
        def shares() -> list[float]:
            return [sum(1 for m in members if m.node == f"roll-{i}") / MEMBERS for i in range(2)]

        spread = await wait_for(lambda: all(0.4 <= x <= 0.6 for x in shares()), 30, f"load spread again ({shares()})")
        await asyncio.sleep(0.5)
        publisher.stop = True
        await tasks[-1]
        count = len(publisher.acked)
        await wait_for(lambda: all(len(m.offsets) >= count for m in members), 15, "every message delivered")
        assert publisher.acked == list(range(publisher.acked[0], publisher.acked[0] + count)), "acks not consecutive"
        for m in members:
            assert m.offsets == list(range(1, count + 1)), (m.user, m.offsets[:5], len(m.offsets))
            assert m.unrecovered == 0, m.user
        worst = max(m.worst_refusals for m in members)
        assert worst <= 2, f"a member was refused {worst} times in a row"
        print(
            f"rolling restart ({store}): spread 40-60 % again {spread:.1f}s after the last step ({shares()}); all members back {', '.join(f'{t:.2f}s (each within {g:.2f}s of its close)' for t, g in figures)} after each SIGTERM; "
            f"{count} acknowledged ({publisher.retries} retries); at most {worst} refusals in a row; "
            f"{sum(m.refused for m in members)} refusals in all"
        )
    finally:
        for m in members:
            m.stop = True
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for m in members:
            if m.client is not None:
                await m.client.close()
        nginx.send_signal(signal.SIGQUIT)
        try:
            nginx.wait(10)
        except subprocess.TimeoutExpired:
            nginx.kill()
            nginx.wait(5)
        for g in gateways:
            g.stop()
        shutil.rmtree(prefix, ignore_errors=True)
        if own is not None:
            own.stop()
