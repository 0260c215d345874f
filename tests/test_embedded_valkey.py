"""The embedded Valkey of `chatserver run`: supervised (restarted after kill -9), locked down
(password, private files, loopback only), and stopped cleanly on Ctrl+C."""

from __future__ import annotations

import asyncio
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import httpx
import redis

from tests.harness import API_KEY, ROOT, SECRET, RawClient, ServerProcess, free_port, token


def valkey_pid(data_dir: Path) -> int:
    return int((data_dir / "valkey" / "chatserver-valkey.pid").read_text())


def alive(pid: int) -> bool:
    try:
        return b"valkey" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


def wait_for(predicate, timeout: float, step: float = 0.1) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return predicate()


def ready(s: ServerProcess) -> bool:
    try:
        return httpx.get(s.url + "/readyz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


async def test_killed_valkey_is_restarted_and_history_kept(tmp_path):
    s = ServerProcess(None, data_dir=tmp_path)
    s.wait_ready()
    try:
        c = await RawClient.open(s.ws_url)
        await c.connect(token("keeper", {"demo": "member"}))
        for i in range(3):
            r = await c.rpc("chat.send", {"channel": "demo:lobby", "text": f"before {i}"})
            assert r["result"]["status"] == "published"
        first = valkey_pid(tmp_path)
        os.kill(first, signal.SIGKILL)
        assert wait_for(lambda: not alive(first), 5)
        # It comes back by itself: a new process, /readyz 200 again, publishing works again.
        assert wait_for(lambda: valkey_pid(tmp_path) != first and alive(valkey_pid(tmp_path)), 20)
        assert wait_for(lambda: ready(s), 20), s.log()
        for _ in range(100):
            r = await c.rpc("chat.send", {"channel": "demo:lobby", "text": "after"})
            if "result" in r:
                break
            await asyncio.sleep(0.2)
        assert r["result"]["status"] == "published", r
        h = (await c.call("history", {"channel": "demo:lobby", "limit": 10}))["history"]
        assert [p["data"]["text"] for p in h["publications"]] == ["before 0", "before 1", "before 2", "after"]
        await c.close()
        # Kill it again: supervised every time, one log line per restart.
        second = valkey_pid(tmp_path)
        os.kill(second, signal.SIGKILL)
        assert wait_for(lambda: valkey_pid(tmp_path) != second and alive(valkey_pid(tmp_path)), 20)
        assert wait_for(lambda: ready(s), 20)
        log = s.log_path.read_text()
        restarts = [line for line in log.splitlines() if "embedded Valkey (pid" in line]
        assert len(restarts) == 2, log
        assert "restart 1" in restarts[0] and "restart 2" in restarts[1] and "signal 9" in restarts[0]
    finally:
        last = valkey_pid(tmp_path)
        assert s.stop() == 0
    assert wait_for(lambda: not alive(last), 10)


async def test_embedded_valkey_is_private(tmp_path):
    s = ServerProcess(None, data_dir=tmp_path)
    s.wait_ready()
    try:
        c = await RawClient.open(s.ws_url)
        await c.connect(token("w", {"demo": "member"}))
        assert (await c.rpc("chat.send", {"channel": "demo:lobby", "text": "private"}))["result"]
        await c.close()
        password = (tmp_path / "valkey-password").read_text().strip()
        assert len(password) >= 32
        conf = (tmp_path / "valkey" / "valkey.conf").read_text()
        port = int(next(line.split()[1] for line in conf.splitlines() if line.startswith("port ")))
        # Without the password: refused.
        anon = redis.Redis(host="127.0.0.1", port=port)
        try:
            anon.ping()
            raise AssertionError("an unauthenticated client was let in")
        except redis.AuthenticationError:
            pass
        finally:
            anon.close()
        # With it: fine; and make Valkey write an RDB snapshot too.
        authed = redis.Redis(host="127.0.0.1", port=port, password=password)
        try:
            assert authed.ping()
            assert authed.config_get("bind")["bind"] == "127.0.0.1"
            authed.bgsave()
            assert wait_for(lambda: (tmp_path / "valkey" / "dump.rdb").exists(), 10)
        finally:
            authed.close()
        # Listening on loopback only (no 0.0.0.0 or IPv6 socket on that port).
        listening = []
        for table in ("/proc/net/tcp", "/proc/net/tcp6"):
            for line in Path(table).read_text().splitlines()[1:]:
                local, state = line.split()[1], line.split()[3]
                if state == "0A" and int(local.rsplit(":", 1)[1], 16) == port:
                    listening.append((table, local.rsplit(":", 1)[0]))
        assert listening == [("/proc/net/tcp", "0100007F")], listening
    finally:
        assert s.stop() == 0
    # Nothing in the data dir is open to group or others.
    assert stat.S_IMODE(tmp_path.stat().st_mode) == 0o700
    files = [tmp_path / "valkey-password", tmp_path / "valkey"]
    files += list((tmp_path / "valkey").rglob("*"))
    names = {p.name for p in files}
    assert "dump.rdb" in names and any(n.endswith(".aof") for n in names), names
    for path in files:
        assert stat.S_IMODE(path.stat().st_mode) & 0o077 == 0, (path, oct(path.stat().st_mode))


def test_files_left_open_by_an_older_run_are_tightened(tmp_path):
    """A data dir from before (0755, AOF files 0644) is locked down at the next start."""
    (tmp_path / "valkey" / "appendonlydir").mkdir(parents=True)
    old = tmp_path / "valkey" / "appendonlydir" / "old.aof"
    old.write_text("")
    for p in (tmp_path, tmp_path / "valkey", tmp_path / "valkey" / "appendonlydir"):
        p.chmod(0o755)
    old.chmod(0o644)
    s = ServerProcess(None, data_dir=tmp_path)
    s.wait_ready()
    assert s.stop() == 0
    for p in (tmp_path, tmp_path / "valkey", tmp_path / "valkey" / "appendonlydir", old):
        assert stat.S_IMODE(p.stat().st_mode) & 0o077 == 0, p


async def test_ctrl_c_to_the_process_group_shuts_down_cleanly(tmp_path):
    """A terminal's Ctrl+C sends SIGINT to the whole foreground process group."""
    port = free_port()
    env = dict(os.environ, CHATSERVER_SECRET=SECRET, CHATSERVER_API_KEY=API_KEY, PYTHONUNBUFFERED="1")
    log_path = tmp_path / "out.log"
    with open(log_path, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "chatserver", "run", "--port", str(port), "--data-dir", str(tmp_path / "d")],
            env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )
    try:
        url = f"http://127.0.0.1:{port}"
        assert wait_for(lambda: _ok(url + "/readyz"), 30), log_path.read_text()
        # Members online with subscriptions and presence: shutdown has Redis work to do.
        members = []
        for i in range(3):
            c = await RawClient.open(f"ws://127.0.0.1:{port}/connection/websocket")
            await c.connect(token(f"u{i}", {"demo": "member"}))
            await c.call("subscribe", {"channel": "demo:lobby"})
            members.append(c)
        vpid = valkey_pid(tmp_path / "d")
        os.killpg(proc.pid, signal.SIGINT)
        assert proc.wait(30) == 0
        for c in members:
            assert (await c.wait_closed(5)).code == 3001
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
    text = log_path.read_text()
    assert "Traceback" not in text, text
    assert "embedded Valkey stopped" in text
    assert wait_for(lambda: not alive(vpid), 10)


def _ok(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.HTTPError:
        return False
