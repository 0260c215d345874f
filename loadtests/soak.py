"""Soak test: ``python -m loadtests.soak --duration 600``.

One ``chatserver run`` with its embedded Valkey (the server starts and supervises it), and
for the whole run:

- *stayers*: members who stay in their room, post (each waits for its acknowledgement, and
  retries an error with the same ``client_msg_id``) and check what they receive: every
  acknowledged message of their room once, in offset order, across reconnects (they
  resubscribe with recovery, as the SDKs do);
- *churners*: members joining a room and leaving again after a few seconds;
- *moderators* acting over RPC (hold queue, audit log, mute/unmute, kick), and a member
  trying moderator calls (refused);
- the embedded Valkey killed once (``kill -9``) at 40% of the run.

It samples the server process's RSS, open file descriptors, asyncio tasks (the
``chat_asyncio_tasks`` gauge of /metrics) and connections over time, and fails on:

- any lost, duplicated or reordered message, or a recovery that did not recover;
- growth between *quiet points* (churn paused, only stayers and moderators connected):
  right after warm-up (25% of the run, at most 60 s), 10 s after the restarted Valkey is
  ready (when the run is long enough), and at the end. At a quiet point the same clients
  are connected, so open fds and tasks must come back to the same count: from after the
  restart to the end +3 fds and +5 tasks at most (a background task or a connection caught
  mid-flight), from warm-up to the end 5 fds more (after a restart redis-py's pool may keep
  a few more connections); RSS may grow by at most 16 MiB + 5%: after warm-up the
  allocator's arenas and the server's caches have settled, while a leak of per-connection
  state (an idle connection costs about 19 KiB) over thousands of churned connections would
  add tens of MiB.

Tracebacks and ERROR lines in the server log are counted and reported (during the Valkey
outage and outside it), not judged: other components log a failed background write.

Only the wire protocol, the HTTP API and /proc readings are used: no server internals.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import os
import random
import signal
import statistics
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import websockets

from loadtests.launch import (
    API_KEY,
    HOST,
    LOAD_CONFIG,
    SECRET,
    ChatServer,
    Target,
    make_token,
    rss_bytes,
)

COMMUNITY = "soak"
RSS_SLACK = 16 * 1024 * 1024
RSS_RATIO = 0.05
FD_SLACK = 3
TASK_SLACK = 5
RESTART_FDS = 5  # a Valkey restart may leave redis-py's pool a few connections larger


class EmbeddedServer(ChatServer):
    """``chatserver run`` without ``--redis-url``: it starts its own (supervised) Valkey."""

    def __init__(self) -> None:
        Target.__init__(self, "soak")
        self.data_dir = self.log_path.parent / "data"
        config = self.log_path.parent / "soak.toml"
        config.write_text(LOAD_CONFIG)
        env = dict(os.environ)
        env.update(
            {
                "CHATSERVER_SECRET": SECRET,
                "CHATSERVER_API_KEY": API_KEY,
                "CHATSERVER_LOG_LEVEL": "info",
                "CHATSERVER_NODE_NAME": f"soak-{self.port}",
                "CHATSERVER_MAX_CONNECTIONS_PER_IP": "0",
                "PYTHONUNBUFFERED": "1",
            }
        )
        cmd = [
            sys.executable, "-m", "chatserver", "run", "--config", str(config), "--port", str(self.port),
            "--data-dir", str(self.data_dir), "--no-demo",
        ]
        self._spawn(cmd, env, None)

    def valkey_pid(self) -> int:
        return int((self.data_dir / "valkey" / "chatserver-valkey.pid").read_text())

    def ready(self) -> bool:
        return self._ready()


class Closed(Exception):
    pass


class Peer:
    """A JSON protocol client on ``websockets``: calls with ids, pushes to a callback,
    pongs answered."""

    def __init__(self, url: str, user: str, role: str, on_push: Any = None) -> None:
        self.url, self.user, self.role = url, user, role
        self.on_push = on_push or (lambda push: None)
        self.ids = itertools.count(1)
        self.pending: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self.ws: Any = None
        self.reader: asyncio.Task[None] | None = None
        self.close_code: int | None = None

    async def open(self) -> None:
        self.ws = await websockets.connect(self.url, max_size=None, open_timeout=10)
        self.close_code = None
        self.reader = asyncio.ensure_future(self._read())
        reply = await self.call("connect", {"token": make_token(self.user, {COMMUNITY: self.role})})
        if "connect" not in reply:
            raise Closed(f"connect refused: {reply}")

    @property
    def is_open(self) -> bool:
        return self.ws is not None and self.close_code is None

    async def call(self, method: str, params: dict[str, Any], timeout: float = 15) -> dict[str, Any]:
        if not self.is_open:
            raise Closed("not connected")
        cid = next(self.ids)
        fut: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self.pending[cid] = fut
        try:
            await self.ws.send(orjson.dumps({"id": cid, method: params}).decode())
            return await asyncio.wait_for(fut, timeout)
        except (websockets.ConnectionClosed, TimeoutError) as exc:
            raise Closed(repr(exc)) from None
        finally:
            self.pending.pop(cid, None)

    async def rpc(self, method: str, data: dict[str, Any]) -> dict[str, Any]:
        reply = await self.call("rpc", {"method": method, "data": data})
        if "rpc" in reply:
            return {"result": reply["rpc"].get("data")}
        return reply

    async def _read(self) -> None:
        try:
            async for message in self.ws:
                for line in message.split("\n"):
                    if not line:
                        continue
                    obj = orjson.loads(line)
                    cid = obj.get("id")
                    if cid:
                        fut = self.pending.get(cid)
                        if fut is not None and not fut.done():
                            fut.set_result(obj)
                    elif not obj:
                        await self.ws.send("{}")
                    else:
                        self.on_push(obj)
        except websockets.ConnectionClosed:
            pass
        finally:
            rcvd = self.ws.protocol.close_rcvd
            self.close_code = rcvd.code if rcvd else 1006
            for fut in self.pending.values():
                if not fut.done():
                    fut.set_exception(Closed("connection closed"))

    async def close(self) -> None:
        if self.ws is not None:
            with contextlib.suppress(Exception):
                await self.ws.close()
        if self.reader is not None:
            with contextlib.suppress(BaseException):
                await self.reader


@dataclass
class Ledger:
    acked: dict[str, list[tuple[str, int, int]]] = field(default_factory=dict)  # room -> (sender, seq, offset)
    retries: int = 0
    refused: dict[str, int] = field(default_factory=dict)  # post refusals by error code
    mod_actions: int = 0
    mod_errors: int = 0
    denied: int = 0
    joins: int = 0


class Stayer:
    """A member who stays: receives and checks the room's stream, and posts."""

    def __init__(self, url: str, user: str, room: str, ledger: Ledger, post_interval: float) -> None:
        self.url, self.user, self.room, self.ledger = url, user, room, ledger
        self.post_interval = post_interval
        self.peer = Peer(url, user, "member", self._push)
        self.offset = 0
        self.epoch = ""
        self.seen: list[int] = []  # offsets in arrival order
        self.messages: dict[tuple[str, int], list[int]] = {}  # (sender, seq) -> offsets
        self.duplicates = 0
        self.reordered = 0
        self.unrecovered = 0
        self.reconnects = 0
        self.resubscribes = 0
        self.subscribed = asyncio.Event()
        self.seq = 0

    def _push(self, push: dict[str, Any]) -> None:
        body = push.get("push", {})
        if body.get("channel") != self.room:
            return
        if "pub" in body:
            self._take(body["pub"])
        elif "unsubscribe" in body:
            self.subscribed.clear()
            asyncio.ensure_future(self._resubscribe())

    def _take(self, pub: dict[str, Any]) -> None:
        offset = pub.get("offset", 0)
        if not offset:
            return
        if offset <= self.offset:
            if offset in self.seen:
                self.duplicates += 1
            else:
                self.reordered += 1
            return
        self.offset = offset
        self.seen.append(offset)
        data = pub.get("data") or {}
        text = data.get("text", "") if isinstance(data, dict) else ""
        if text.startswith("SOAK|"):
            _, sender, seq, _rest = text.split("|", 3)
            self.messages.setdefault((sender, int(seq)), []).append(offset)

    async def _subscribe(self) -> None:
        params: dict[str, Any] = {"channel": self.room}
        if self.epoch:
            params.update({"recover": True, "offset": self.offset, "epoch": self.epoch})
        reply = await self.peer.call("subscribe", params, timeout=30)
        if "subscribe" not in reply:
            raise Closed(f"subscribe failed: {reply}")
        result = reply["subscribe"]
        if self.epoch and not result.get("recovered"):
            self.unrecovered += 1
        self.epoch = result.get("epoch", self.epoch)
        for pub in result.get("publications", []):
            self._take(pub)
        if not result.get("publications") and not self.seen:
            self.offset = result.get("offset", 0)
        self.subscribed.set()

    async def _resubscribe(self) -> None:
        """The server ended the subscription (insufficient state): subscribe again, recovering."""
        self.resubscribes += 1
        with contextlib.suppress(Closed):
            await self._subscribe()

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self.peer.open()
                await self._subscribe()
                poster = asyncio.ensure_future(self._post(stop))
                while self.peer.is_open and not stop.is_set():
                    await asyncio.sleep(0.2)
                poster.cancel()
                with contextlib.suppress(BaseException):
                    await poster
            except (Closed, OSError, websockets.InvalidHandshake, websockets.ConnectionClosed):
                pass
            self.subscribed.clear()
            await self.peer.close()
            if not stop.is_set():
                self.reconnects += 1
                await asyncio.sleep(0.5)

    async def _post(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            await asyncio.sleep(self.post_interval * (0.5 + random.random()))
            await self.subscribed.wait()
            self.seq += 1
            text = f"SOAK|{self.user}|{self.seq}|" + "m" * random.randint(10, 300)
            while True:
                reply = await self.peer.rpc(
                    "chat.send", {"channel": self.room, "text": text, "client_msg_id": f"{self.user}-{self.seq}"}
                )
                result = reply.get("result")
                if result and result.get("status") == "published":
                    self.ledger.acked.setdefault(self.room, []).append((self.user, self.seq, result["offset"]))
                    break
                code = (reply.get("error") or {}).get("code", "status")
                self.ledger.refused[str(code)] = self.ledger.refused.get(str(code), 0) + 1
                self.ledger.retries += 1
                await asyncio.sleep(0.5)  # temporary (Valkey down, rate): retry, same id


async def churner(url: str, n: int, rooms: list[str], stop: asyncio.Event, quiet: asyncio.Event, ledger: Ledger) -> None:
    while not stop.is_set():
        if quiet.is_set():
            await asyncio.sleep(0.2)
            continue
        peer = Peer(url, f"churn{n}", "member")
        try:
            await peer.open()
            await peer.call("subscribe", {"channel": random.choice(rooms)})
            ledger.joins += 1
            await asyncio.sleep(random.uniform(0.5, 3))
        except (Closed, OSError, websockets.InvalidHandshake):
            await asyncio.sleep(0.5)
        finally:
            await peer.close()


async def moderator(url: str, rooms: list[str], churners: int, stop: asyncio.Event, ledger: Ledger) -> None:
    mod = Peer(url, "soak-mod", "moderator")
    rogue = Peer(url, "soak-rogue", "member")
    while not stop.is_set():
        try:
            if not mod.is_open:
                await mod.open()
            if not rogue.is_open:
                await rogue.open()
            room = random.choice(rooms)
            victim = f"churn{random.randrange(max(1, churners))}"
            action = random.choice(["holds", "audit", "mute", "kick", "rooms", "denied"])
            if action == "holds":
                reply = await mod.rpc("mod.holds", {"channel": room})
            elif action == "audit":
                reply = await mod.rpc("mod.audit", {"community": COMMUNITY, "limit": 20})
            elif action == "mute":
                reply = await mod.rpc("mod.mute", {"community": COMMUNITY, "user": victim, "duration": 60, "reason": "soak"})
                if "result" in reply:
                    reply = await mod.rpc("mod.unmute", {"community": COMMUNITY, "user": victim})
            elif action == "kick":
                reply = await mod.rpc("mod.kick", {"channel": room, "user": victim, "reason": "soak"})
            elif action == "rooms":
                reply = await mod.rpc("chat.rooms", {"community": COMMUNITY})
            else:
                reply = await rogue.rpc("mod.lock", {"channel": room})
                ledger.denied += 1
                reply = {"result": True} if (reply.get("error") or {}).get("code") == 103 else reply
            ledger.mod_actions += 1
            if "result" not in reply:
                ledger.mod_errors += 1
        except (Closed, OSError, websockets.InvalidHandshake):
            ledger.mod_errors += 1
            await mod.close()
            await rogue.close()
        await asyncio.sleep(0.5)
    await mod.close()
    await rogue.close()


def metrics(port: int) -> dict[str, float]:
    out: dict[str, float] = {}
    try:
        with urllib.request.urlopen(f"http://{HOST}:{port}/metrics", timeout=5) as r:
            for line in r.read().decode().splitlines():
                if line and not line.startswith("#"):
                    name, _, value = line.rpartition(" ")
                    with contextlib.suppress(ValueError):
                        out[name] = float(value)
    except OSError:
        pass
    return out


def sample(server: EmbeddedServer, t0: float) -> dict[str, Any]:
    m = metrics(server.port)
    try:
        fds = len(os.listdir(f"/proc/{server.pid}/fd"))
    except OSError:
        fds = -1
    return {
        "t": round(time.monotonic() - t0, 1),
        "rss_mib": round(rss_bytes(server.pid) / 2**20, 1),
        "fds": fds,
        "tasks": int(m.get("chat_asyncio_tasks", -1)),
        "connections": int(m.get("chat_connections", -1)),
    }


async def quiet_sample(server: EmbeddedServer, quiet: asyncio.Event, t0: float, settle: float) -> dict[str, Any]:
    """Pause churn, let the server settle, take a sample, resume."""
    quiet.set()
    await asyncio.sleep(settle)
    s = await asyncio.to_thread(sample, server, t0)
    quiet.clear()
    return s


async def soak(args: argparse.Namespace) -> dict[str, Any]:
    server = EmbeddedServer()
    await asyncio.to_thread(server.wait_ready, 60)
    url = f"ws://{HOST}:{server.port}/connection/websocket"
    rooms = await asyncio.to_thread(server.setup_rooms, COMMUNITY, [f"r{i}" for i in range(args.rooms)])
    ledger = Ledger()
    stop, quiet = asyncio.Event(), asyncio.Event()
    t0 = time.monotonic()
    stayers = [Stayer(url, f"stay{i}", rooms[i % len(rooms)], ledger, args.post_interval) for i in range(args.stayers)]
    tasks = [asyncio.ensure_future(s.run(stop)) for s in stayers]
    tasks += [asyncio.ensure_future(churner(url, i, rooms, stop, quiet, ledger)) for i in range(args.churners)]
    tasks.append(asyncio.ensure_future(moderator(url, rooms, args.churners, stop, ledger)))
    samples: list[dict[str, Any]] = []
    warmup = min(60.0, args.duration * 0.25)
    kill_at = args.duration * 0.4
    settle = 4.5  # a churner stays at most 3 s, then leaves
    killed: dict[str, Any] = {}
    marks: dict[str, int] = {}  # log sizes when Valkey was killed and 10 s after it was back
    quiet_points: list[dict[str, Any]] = []
    next_sample = 0.0
    print(f"soak: {args.duration:.0f} s, {args.stayers} stayers in {args.rooms} rooms, {args.churners} churners; "
          f"server pid {server.pid}, log {server.log_path}", flush=True)
    print(f"{'t':>7} {'rss MiB':>8} {'fds':>5} {'tasks':>6} {'conns':>6}", flush=True)
    try:
        while (elapsed := time.monotonic() - t0) < args.duration:
            if server.proc is not None and server.proc.poll() is not None:
                raise RuntimeError(f"server exited with {server.proc.returncode}:\n{server.log_tail()}")
            if not quiet_points and elapsed >= warmup:
                quiet_points.append(await quiet_sample(server, quiet, t0, settle))
                print(f"  quiet point after warm-up: {quiet_points[0]}", flush=True)
            if killed and "log_back" not in marks and elapsed >= killed["at"] + killed["back_after_s"] + 10:
                marks["log_back"] = server.log_path.stat().st_size
                if elapsed <= args.duration - 30:
                    quiet_points.append(await quiet_sample(server, quiet, t0, settle))
                    print(f"  quiet point after the restart: {quiet_points[-1]}", flush=True)
            if not killed and elapsed >= kill_at:
                marks["log_kill"] = server.log_path.stat().st_size
                pid = server.valkey_pid()
                os.kill(pid, signal.SIGKILL)
                start = time.monotonic()
                while True:
                    await asyncio.sleep(0.1)
                    with contextlib.suppress(OSError, ValueError):
                        if server.valkey_pid() != pid and await asyncio.to_thread(server.ready):
                            break
                    if time.monotonic() - start > 60:
                        raise RuntimeError("the server did not come back after its Valkey was killed")
                killed = {"at": round(elapsed, 1), "pid": pid, "back_after_s": round(time.monotonic() - start, 2)}
                print(f"  killed the embedded Valkey (pid {pid}); ready again after {killed['back_after_s']} s", flush=True)
            if elapsed >= next_sample:
                s = await asyncio.to_thread(sample, server, t0)
                samples.append(s)
                print(f"{s['t']:>7} {s['rss_mib']:>8} {s['fds']:>5} {s['tasks']:>6} {s['connections']:>6}", flush=True)
                next_sample = elapsed + args.sample_every
            await asyncio.sleep(0.2)
        quiet_points.append(await quiet_sample(server, quiet, t0, settle))
        print(f"  quiet point at the end: {quiet_points[-1]}", flush=True)
        # Let the last acknowledged messages arrive.
        await asyncio.sleep(2)
    finally:
        stop.set()
        for t in tasks:
            t.cancel()
        for t in tasks:
            with contextlib.suppress(BaseException):
                await t
        log = server.log_path.read_bytes().decode(errors="replace")
        server.stop()
    # The outage (Valkey killed until 10 s after the server is ready again) is reported apart.
    kill_at_byte, back_at_byte = marks.get("log_kill", len(log)), marks.get("log_back", len(log))
    outage_log = log[kill_at_byte:back_at_byte]
    return report(args, stayers, ledger, samples, quiet_points, killed, log[:kill_at_byte] + log[back_at_byte:], outage_log)


def _check_growth(span: str, a: dict[str, Any], b: dict[str, Any], fd_slack: int, failures: list[str]) -> dict[str, Any]:
    growth = {"rss_mib": round(b["rss_mib"] - a["rss_mib"], 1), "fds": b["fds"] - a["fds"], "tasks": b["tasks"] - a["tasks"]}
    rss_limit = (RSS_SLACK + a["rss_mib"] * 2**20 * RSS_RATIO) / 2**20
    if growth["rss_mib"] > rss_limit:
        failures.append(f"RSS grew {growth['rss_mib']} MiB {span} (limit {rss_limit:.1f})")
    if growth["fds"] > fd_slack:
        failures.append(f"open fds grew by {growth['fds']} {span} (limit {fd_slack})")
    if growth["tasks"] > TASK_SLACK:
        failures.append(f"asyncio tasks grew by {growth['tasks']} {span} (limit {TASK_SLACK})")
    if a["connections"] != b["connections"]:
        failures.append(f"quiet points {span} differ in connections: {a['connections']} vs {b['connections']}")
    return growth


def report(args: argparse.Namespace, stayers: list[Stayer], ledger: Ledger, samples: list[dict[str, Any]],
           quiet_points: list[dict[str, Any]], killed: dict[str, Any], log: str, outage_log: str) -> dict[str, Any]:
    lost = duplicated = reordered = double_published = 0
    acked_total = sum(len(v) for v in ledger.acked.values())
    for st in stayers:
        duplicated += st.duplicates
        reordered += st.reordered
        for sender, seq, _offset in ledger.acked.get(st.room, []):
            got = st.messages.get((sender, seq))
            if not got:
                lost += 1
            elif len(got) > 1:
                double_published += 1
    failures = []
    unrecovered = sum(st.unrecovered for st in stayers)
    if lost or duplicated or reordered or double_published or unrecovered:
        failures.append(f"messages: lost {lost}, duplicated {duplicated}, reordered {reordered}, "
                        f"published twice {double_published}, unrecovered subscriptions {unrecovered}")
    if acked_total == 0:
        failures.append("no message was acknowledged")
    if not killed:
        failures.append("the embedded Valkey was not killed")
    growth: dict[str, Any] = {}
    steady: dict[str, Any] = {}
    if len(quiet_points) >= 2:
        growth = _check_growth("after warm-up", quiet_points[0], quiet_points[-1], FD_SLACK + RESTART_FDS, failures)
        if len(quiet_points) == 3:
            # From after the restart to the end nothing changes but time: the tight check.
            steady = _check_growth("after the restart", quiet_points[1], quiet_points[2], FD_SLACK, failures)
    else:
        failures.append("no quiet points")
    tracebacks = log.count("Traceback")
    errors = sum(1 for line in log.splitlines() if " ERROR " in line)
    received = sum(len(st.messages) for st in stayers)
    result = {
        "duration_s": args.duration,
        "stayers": args.stayers,
        "rooms": args.rooms,
        "churners": args.churners,
        "acknowledged": acked_total,
        "deliveries_checked": received,
        "lost": lost,
        "duplicated": duplicated,
        "reordered": reordered,
        "published_twice": double_published,
        "unrecovered": unrecovered,
        "post_retries": ledger.retries,
        "refusals_by_code": ledger.refused,
        "stayer_reconnects": sum(st.reconnects for st in stayers),
        "stayer_resubscribes": sum(st.resubscribes for st in stayers),
        "churn_joins": ledger.joins,
        "moderator_actions": ledger.mod_actions,
        "moderator_action_errors": ledger.mod_errors,
        "refused_mod_calls": ledger.denied,
        "valkey_killed": killed,
        "quiet_points": quiet_points,
        "growth_after_warmup": growth,
        "growth_after_restart": steady,
        "rss_mib_median": statistics.median(s["rss_mib"] for s in samples) if samples else None,
        "server_log_errors": errors,
        "server_log_tracebacks": tracebacks,
        "outage_log_errors": sum(1 for line in outage_log.splitlines() if " ERROR " in line),
        "outage_log_tracebacks": outage_log.count("Traceback"),
        "samples": samples,
        "failures": failures,
    }
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m loadtests.soak", description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=600, help="seconds (default 600)")
    parser.add_argument("--rooms", type=int, default=4)
    parser.add_argument("--stayers", type=int, default=24, help="members who stay, post and check")
    parser.add_argument("--churners", type=int, default=20, help="members joining and leaving")
    parser.add_argument("--post-interval", type=float, default=2.0, help="mean seconds between a stayer's posts")
    parser.add_argument("--sample-every", type=float, default=0.0, help="seconds between samples (default: duration/30)")
    parser.add_argument("--out", type=Path, default=None, help="write the result as JSON here")
    args = parser.parse_args(argv)
    if not args.sample_every:
        args.sample_every = max(1.0, args.duration / 30)
    result = asyncio.run(soak(args))
    summary = {k: v for k, v in result.items() if k != "samples"}
    print(json.dumps(summary, indent=1))
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        path = args.out / f"soak-{int(time.time())}.json"
        path.write_text(json.dumps(result, indent=1))
        print(f"result: {path}")
    if result["failures"]:
        print("SOAK FAILED: " + "; ".join(result["failures"]))
        return 1
    print(f"SOAK PASSED: {result['acknowledged']} messages acknowledged, lost 0, duplicated 0, reordered 0; "
          f"Valkey killed once, back after {result['valkey_killed']['back_after_s']} s; growth after warm-up "
          f"{result['growth_after_warmup']}, after the restart {result['growth_after_restart']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
