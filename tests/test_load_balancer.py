"""Two gateways behind Debian's nginx, configured with deploy/nginx/ (ports replaced): members
connect through nginx; one gateway gets SIGTERM mid-conversation; its members reconnect
through nginx to the other one and recover what they missed."""

from __future__ import annotations

import re
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import httpx
import pytest

from tests.harness import ROOT, Closed, RawClient, ServerProcess, free_port, token, unique

DEPLOY = ROOT / "deploy" / "nginx"


def nginx_binary() -> str:
    found = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
    assert found, "nginx is not installed (.ci/run installs Debian's nginx)"
    return found


def render_config(prefix: Path, port: int, gateways: list[int]) -> Path:
    """deploy/nginx/chatserver.conf with this test's ports, inside a minimal nginx.conf."""
    site = (DEPLOY / "chatserver.conf").read_text()
    servers = "\n".join(f"    server 127.0.0.1:{p} max_fails=1 fail_timeout=5s;" for p in gateways)
    site, count = re.subn(r"(?m)^    server 127\.0\.0\.1:800\d .*\n(?:    server 127\.0\.0\.1:800\d .*\n)*", servers + "\n", site)
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
