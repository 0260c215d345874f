"""The CLI (run with the embedded default, token, --help), persistence, and the HTTP API."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx
import jwt

from tests.harness import API_KEY, SECRET, RawClient, ServerProcess, token, unique


def run_cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "chatserver", *args], capture_output=True, text=True,
                          env=dict(os.environ, **(env or {})), timeout=60)


def test_help_texts_have_examples():
    for args in (["--help"], ["run", "--help"], ["token", "--help"]):
        out = run_cli(*args)
        assert out.returncode == 0
    assert "examples:" in run_cli("run", "--help").stdout
    assert "--community" in run_cli("token", "--help").stdout


def test_token_command_signs_with_configured_secret():
    out = run_cli("token", "--user", "u1", "--name", "Una", "--community", "demo=moderator",
                  "--community", "ms=member", "--ttl", "120", env={"CHATSERVER_SECRET": SECRET})
    assert out.returncode == 0, out.stderr
    claims = jwt.decode(out.stdout.strip(), SECRET, algorithms=["HS256"])
    assert claims["sub"] == "u1" and claims["name"] == "Una"
    assert claims["communities"] == {"demo": "moderator", "ms": "member"}
    assert 100 < claims["exp"] - claims["iat"] <= 120


def test_token_command_rejects_bad_role():
    out = run_cli("token", "--user", "u1", "--community", "demo=overlord", env={"CHATSERVER_SECRET": SECRET})
    assert out.returncode == 2 and "member" in out.stderr


def test_token_dev_secret_kept_in_data_dir(tmp_path):
    """`chatserver token` signs with the secret a development `chatserver run` keeps in the
    data dir (it reads it; it never creates one)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHATSERVER_")}
    s = ServerProcess(None, data_dir=tmp_path, env={"CHATSERVER_SECRET": "", "CHATSERVER_API_KEY": ""})
    s.wait_ready()
    assert s.stop() == 0
    a = subprocess.run([sys.executable, "-m", "chatserver", "token", "--user", "x", "--data-dir", str(tmp_path)],
                       capture_output=True, text=True, env=env)
    secret = (tmp_path / "dev-secret").read_text().strip()
    assert jwt.decode(a.stdout.strip(), secret, algorithms=["HS256"])["sub"] == "x"


def test_config_error_is_clear(tmp_path):
    cfg = tmp_path / "bad.toml"
    cfg.write_text("[server]\nport = 'eighty'\n")
    out = run_cli("run", "--config", str(cfg))
    assert out.returncode == 2 and "port" in out.stderr
    cfg.write_text("[server]\nnot_a_setting = 1\n")
    out = run_cli("run", "--config", str(cfg))
    assert out.returncode == 2 and "not_a_setting" in out.stderr


async def test_embedded_valkey_history_survives_restart(tmp_path):
    """`chatserver run` with no Redis URL: embedded Valkey, persistence in the data dir."""
    env = {"CHATSERVER_SECRET": SECRET}
    first = ServerProcess(None, data_dir=tmp_path, env=env)
    first.wait_ready()
    try:
        assert (tmp_path / "valkey").is_dir()
        c = await RawClient.open(first.ws_url)
        await c.connect(token("keeper", {"demo": "member"}))
        for i in range(3):
            r = await c.rpc("chat.send", {"channel": "demo:lobby", "text": f"kept {i}"})
            assert r["result"]["status"] == "published"
        await c.close()
    finally:
        assert first.stop() == 0
    second = ServerProcess(None, data_dir=tmp_path, env=env)
    second.wait_ready()
    try:
        c = await RawClient.open(second.ws_url)
        await c.connect(token("keeper", {"demo": "member"}))
        h = (await c.call("history", {"channel": "demo:lobby", "limit": 10}))["history"]
        assert [p["data"]["text"] for p in h["publications"]] == ["kept 0", "kept 1", "kept 2"]
        await c.close()
    finally:
        assert second.stop() == 0
    log = second.log()
    assert "embedded Valkey stopped" in log


async def test_no_demo_flag(valkey, spawn, tmp_path):
    # A fresh Redis database (db 3) is an empty store.
    url = valkey.url + "/3"
    s = spawn(url, args=["--no-demo"])
    assert s.api("GET", "/api/communities").json() == {"communities": []}


async def test_empty_store_gets_demo_lobby(valkey, spawn):
    url = valkey.url + "/4"
    s = spawn(url)
    rooms = s.api("GET", "/api/communities/demo/rooms").json()["rooms"]
    assert [r["channel"] for r in rooms] == ["demo:lobby"]


def test_rooms_seeded_from_config(valkey, spawn, tmp_path):
    cfg = tmp_path / "chat.toml"
    cfg.write_text(
        """
[[communities]]
name = "ms"
title = "Living with MS"

[[rooms]]
community = "ms"
name = "evening"
title = "Evening chat"
settings = { slow_mode = 10, history_size = 500 }
"""
    )
    s = spawn(valkey.url + "/5", args=["--config", str(cfg)])
    room = s.api("GET", "/api/communities/ms/rooms/evening").json()
    assert room["title"] == "Evening chat"
    assert room["settings"]["slow_mode"] == 10 and room["settings"]["history_size"] == 500


def test_api_requires_key(server):
    assert server.api("GET", "/api/communities", key=None).status_code == 401
    assert server.api("GET", "/api/communities", key="wrong").status_code == 401
    r = httpx.get(server.url + "/api/communities", headers={"X-API-Key": API_KEY})
    assert r.status_code == 200


def test_api_room_lifecycle_and_errors(server):
    community = unique("api")
    assert server.api("PUT", f"/api/communities/{community}/rooms/r1", {}).status_code == 404
    assert server.api("PUT", f"/api/communities/{community}", {"title": "T"}).status_code == 201
    assert server.api("PUT", f"/api/communities/{community}/rooms/r1", {"title": "One"}).status_code == 201
    r = server.api("PUT", f"/api/communities/{community}/rooms/Bad Name", {})
    assert r.status_code == 400 and "error" in r.json()
    r = server.api("PATCH", f"/api/communities/{community}/rooms/r1", {"settings": {"locked": True}})
    assert r.status_code == 200 and r.json()["settings"]["locked"] is True
    r = server.api("PATCH", f"/api/communities/{community}/rooms/r1", {"settings": {"nonsense": 1}})
    assert r.status_code == 400 and "nonsense" in r.json()["error"]["message"]
    r = server.api("PATCH", f"/api/communities/{community}/rooms/r1", {"settings": {"slow_mode": "fast"}})
    assert r.status_code == 400
    rooms = server.api("GET", f"/api/communities/{community}/rooms").json()["rooms"]
    assert [x["name"] for x in rooms] == ["r1"]
    assert server.api("DELETE", f"/api/communities/{community}/rooms/r1").status_code == 200
    assert server.api("GET", f"/api/communities/{community}/rooms/r1").status_code == 404
    r = httpx.put(server.url + f"/api/communities/{community}", content=b"{not json",
                  headers={"Authorization": f"Bearer {API_KEY}"})
    assert r.status_code == 400


async def test_room_created_by_api_is_joinable_on_every_process(server, spawn, valkey, clients):
    other = spawn(valkey.url)
    community = unique("api")
    channel = server.make_room(community, "fresh")
    c = await clients(other.ws_url)
    await c.connect(token("j", {community: "member"}))
    import asyncio

    for _ in range(50):
        reply = await c.call("subscribe", {"channel": channel})
        if "subscribe" in reply:
            break
        await asyncio.sleep(0.05)
    assert "subscribe" in reply


async def test_locked_room_refuses_members(server, clients):
    community = unique("lock")
    channel = server.make_room(community, "r", locked=True)
    m = await clients(server.ws_url)
    await m.connect(token("m", {community: "member"}))
    reply = await m.call("publish", {"channel": channel, "data": {"text": "hi"}})
    assert reply["error"]["code"] == 1004
    mod = await clients(server.ws_url)
    await mod.connect(token("mod", {community: "moderator"}))
    assert "error" not in await mod.call("publish", {"channel": channel, "data": {"text": "hi"}})


def test_api_issues_tokens(server):
    r = server.api("POST", "/api/tokens", {"user": "p1", "communities": {"demo": "host"}, "ttl": 60})
    claims = jwt.decode(r.json()["token"], SECRET, algorithms=["HS256"])
    assert claims["communities"] == {"demo": "host"}
    assert server.api("POST", "/api/tokens", {"user": "p1", "communities": {"demo": "king"}}).status_code == 400


async def test_workers_share_one_port_and_fan_out(valkey, spawn):
    s = spawn(valkey.url, args=["--workers", "2"])
    community = unique("w")
    channel = s.make_room(community, "r")
    clients, nodes = [], set()
    try:
        for i in range(8):
            c = await RawClient.open(s.ws_url)
            clients.append(c)
            reply = await c.connect(token(f"w{i}", {community: "member"}))
            nodes.add(reply["connect"]["node"])
            await c.call("subscribe", {"channel": channel})
        await clients[0].rpc("chat.send", {"channel": channel, "text": "to every worker"})
        import asyncio

        pushes = await asyncio.gather(*(c.next_push(where=lambda p: "pub" in p.get("push", {})) for c in clients))
        assert all(p["push"]["pub"]["data"]["text"] == "to every worker" for p in pushes)
    finally:
        for c in clients:
            await c.close()
    assert len(nodes) >= 1  # the kernel spreads accepts; usually both workers serve
    assert s.stop() == 0


async def test_embedded_valkey_left_by_a_killed_run_is_stopped(tmp_path):
    """SIGKILL skips the clean stop; the next `chatserver run` on the data dir stops the
    orphaned Valkey before starting its own, and the data is still there."""
    env = {"CHATSERVER_SECRET": SECRET}
    first = ServerProcess(None, data_dir=tmp_path, env=env)
    first.wait_ready()
    c = await RawClient.open(first.ws_url)
    await c.connect(token("k", {"demo": "member"}))
    await c.rpc("chat.send", {"channel": "demo:lobby", "text": "before the crash"})
    await c.close()
    orphan = int((tmp_path / "valkey" / "chatserver-valkey.pid").read_text())
    first.kill()
    assert Path(f"/proc/{orphan}").exists()  # SIGKILL left it running
    second = ServerProcess(None, data_dir=tmp_path, env=env)
    second.wait_ready()
    try:
        import time

        for _ in range(50):
            if not Path(f"/proc/{orphan}").exists() or b"valkey" not in Path(f"/proc/{orphan}/cmdline").read_bytes():
                break
            time.sleep(0.1)
        assert not Path(f"/proc/{orphan}").exists() or b"valkey" not in Path(f"/proc/{orphan}/cmdline").read_bytes()
        c = await RawClient.open(second.ws_url)
        await c.connect(token("k", {"demo": "member"}))
        h = (await c.call("history", {"channel": "demo:lobby", "limit": 10}))["history"]
        assert [p["data"]["text"] for p in h["publications"]] == ["before the crash"]
        await c.close()
    finally:
        assert second.stop() == 0
