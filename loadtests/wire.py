"""A lean WebSocket client that speaks the Centrifuge protocol v2 (JSON) for load tests.

Built for receiving many deliveries per second on one core: an ``asyncio.Protocol`` with
its own frame parser (server frames are never masked), no per-message objects, and a
scan for the load-test marker instead of a full JSON parse of every publication. Client
frames are masked with the all-zero key (valid per RFC 6455; the server unmasks with it).

Each load-test message carries, in its text, ``LT|<sender>|<seq>|<send time ns>|`` then
padding (the numbers in hexadecimal spelled with the letters a-p, see ``encode_number``). ``<send time ns>`` is ``time.monotonic_ns()`` of the sending process; Linux's
monotonic clock is shared by every process on the machine, so receivers in other processes
subtract it from their own clock to get the send-to-receipt latency.

Nothing here imports the server: the only contract is the wire protocol.
"""

from __future__ import annotations

import asyncio
import base64
import os
import time
from collections.abc import Callable
from typing import Any

import orjson

from loadtests.stats import Histogram

MARKER = b"LT|"


# Numbers in the text are written in hexadecimal with the letters a-p for 0-f: long digit
# runs (a 19-digit timestamp) would look like card or phone numbers to the moderation
# pipeline's PII hook, which would redact them.
_TO_LETTERS = str.maketrans("0123456789abcdef", "abcdefghijklmnop")
_FROM_LETTERS = bytes.maketrans(b"abcdefghijklmnop", b"0123456789abcdef")


def encode_number(n: int) -> str:
    return format(n, "x").translate(_TO_LETTERS)


def decode_number(raw: bytes) -> int:
    return int(raw.translate(_FROM_LETTERS), 16)


def make_text(sender: str, seq: int, size: int) -> str:
    """The text of one load-test message, padded to ``size`` characters."""
    head = f"LT|{sender}|{encode_number(seq)}|{encode_number(time.monotonic_ns())}|"
    return head + "x" * max(0, size - len(head))


def client_frame(payload: bytes, opcode: int = 1) -> bytes:
    """One masked client frame (mask key 0: the payload goes out as is)."""
    n = len(payload)
    if n < 126:
        header = bytes((0x80 | opcode, 0x80 | n))
    elif n < 65536:
        header = bytes((0x80 | opcode, 0x80 | 126)) + n.to_bytes(2, "big")
    else:
        header = bytes((0x80 | opcode, 0x80 | 127)) + n.to_bytes(8, "big")
    return header + b"\x00\x00\x00\x00" + payload


class Flow:
    """What one receiver has seen from one sender: counts and ordering anomalies."""

    __slots__ = ("last", "count", "dups", "out_of_order", "missing")

    def __init__(self) -> None:
        self.last = 0
        self.count = 0
        self.dups = 0
        self.out_of_order = 0
        self.missing: set[int] | None = None

    def see(self, seq: int) -> None:
        last = self.last
        if seq == last + 1:
            self.last = seq
            self.count += 1
        elif seq > last:
            if self.missing is None:
                self.missing = set()
            self.missing.update(range(last + 1, seq))
            self.last = seq
            self.count += 1
        elif self.missing is not None and seq in self.missing:
            self.missing.discard(seq)
            self.out_of_order += 1
            self.count += 1
        else:
            self.dups += 1


class Shared:
    """Counters shared by all connections of one worker process."""

    def __init__(self) -> None:
        self.hist = Histogram()
        self.delivered = 0
        self.frames = 0
        self.bytes = 0
        self.window_start_ns = 0  # deliveries sent before this are not in the histogram
        self.last_ns = 0  # when the last load-test message arrived

    def reset(self) -> None:
        self.hist = Histogram()
        self.delivered = 0
        self.frames = 0
        self.bytes = 0
        self.window_start_ns = time.monotonic_ns()
        self.last_ns = 0


class WsClient(asyncio.Protocol):
    """One WebSocket connection. ``centrifuge=False`` for the bare baseline server."""

    def __init__(self, shared: Shared, centrifuge: bool = True) -> None:
        self.shared = shared
        self.centrifuge = centrifuge
        self.transport: asyncio.Transport | None = None
        self.handshake: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.closed: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self.close_code: int | None = None
        self._buf = b""
        self._upgraded = False
        self.flows: dict[bytes, Flow] = {}
        self.replies: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self.errors: list[dict[str, Any]] = []  # error replies to commands nobody awaited
        self.pushes: list[dict[str, Any]] = []  # non-publication pushes (unsubscribe, ...)
        self.track_offsets = False  # churn: remember each channel's last offset
        self.offsets: dict[str, int] = {}  # channel -> last publication offset seen
        self.on_reply: Callable[[dict[str, Any]], None] | None = None
        self.last_receipt_ns = 0

    # ---------------------------------------------------------------- connection

    def start(self, host: str, path: str) -> None:
        assert self.transport is not None
        key = base64.b64encode(os.urandom(16)).decode()
        self.transport.write(
            (
                f"GET {path} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\n"
                f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                "Sec-WebSocket-Version: 13\r\n\r\n"
            ).encode()
        )

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.handshake.done():
            self.handshake.set_exception(ConnectionError(f"closed during handshake: {exc}"))
        if not self.closed.done():
            self.closed.set_result(self.close_code if self.close_code is not None else 1006)
        for fut in self.replies.values():
            if not fut.done():
                fut.set_exception(ConnectionError("connection closed"))
        self.replies.clear()

    def send(self, payload: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(client_frame(payload))

    def close(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(client_frame(b"\x03\xe8", opcode=8))
            self.transport.close()

    def abort(self) -> None:
        if self.transport is not None:
            self.transport.abort()

    async def command(self, cid: int, method: str, params: dict[str, Any], timeout: float = 30) -> dict[str, Any]:
        fut: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self.replies[cid] = fut
        self.send(orjson.dumps({"id": cid, method: params}))
        return await asyncio.wait_for(fut, timeout)

    async def commands(self, cmds: list[tuple[int, str, dict[str, Any]]], timeout: float = 30) -> list[dict[str, Any]]:
        """Send several commands in one frame (as centrifuge-js does) and await every reply."""
        loop = asyncio.get_running_loop()
        futs = []
        for cid, _, _ in cmds:
            fut: asyncio.Future[dict[str, Any]] = loop.create_future()
            self.replies[cid] = fut
            futs.append(fut)
        self.send(b"\n".join(orjson.dumps({"id": cid, m: p}) for cid, m, p in cmds))
        return list(await asyncio.wait_for(asyncio.gather(*futs), timeout))

    # ---------------------------------------------------------------- reading

    def data_received(self, data: bytes) -> None:
        if self._buf:
            data = self._buf + data
            self._buf = b""
        if not self._upgraded:
            end = data.find(b"\r\n\r\n")
            if end < 0:
                self._buf = data
                return
            status = data[:end].split(b"\r\n", 1)[0]
            if b" 101 " not in status + b" ":
                if not self.handshake.done():
                    self.handshake.set_exception(ConnectionError(status.decode(errors="replace")))
                if self.transport:
                    self.transport.close()
                return
            self._upgraded = True
            if not self.handshake.done():
                self.handshake.set_result(None)
            data = data[end + 4 :]
        now = time.monotonic_ns()
        self.last_receipt_ns = now
        pos = 0
        size = len(data)
        shared = self.shared
        while size - pos >= 2:
            b0 = data[pos]
            length = data[pos + 1] & 0x7F
            head = 2
            if length == 126:
                if size - pos < 4:
                    break
                length = int.from_bytes(data[pos + 2 : pos + 4], "big")
                head = 4
            elif length == 127:
                if size - pos < 10:
                    break
                length = int.from_bytes(data[pos + 2 : pos + 10], "big")
                head = 10
            end = pos + head + length
            if end > size:
                break
            payload = data[pos + head : end]
            pos = end
            opcode = b0 & 0x0F
            if opcode == 1 or opcode == 2 or opcode == 0:
                shared.frames += 1
                shared.bytes += length
                self._on_message(payload, now)
            elif opcode == 9:  # ping -> pong
                if self.transport and not self.transport.is_closing():
                    self.transport.write(client_frame(payload, opcode=10))
            elif opcode == 8:
                self.close_code = int.from_bytes(payload[:2], "big") if len(payload) >= 2 else 1005
                if self.transport and not self.transport.is_closing():
                    self.transport.write(client_frame(payload[:2], opcode=8))
                    self.transport.close()
                return
        if pos < size:
            self._buf = data[pos:]

    def _on_message(self, payload: bytes, now: int) -> None:
        if not self.centrifuge:
            self._on_line(payload, now)
            return
        if b"\n" not in payload:
            self._on_line(payload, now)
            return
        for line in payload.split(b"\n"):
            self._on_line(line, now)

    def _on_line(self, line: bytes, now: int) -> None:
        if line.startswith(b'{"push"'):
            i = line.find(MARKER)
            if i >= 0:
                self._on_marked(line, i, now)
                if self.track_offsets:
                    self._track(line, i)
                return
            self.pushes.append(orjson.loads(line))
            return
        if line.startswith(b'{"id"'):
            self._on_reply(orjson.loads(line), now)
            return
        if line == b"{}":
            self.send(b"{}")  # pong
            return
        i = line.find(MARKER)
        if i >= 0:  # the baseline delivers the bare text
            self._on_marked(line, i, now)
        elif line:
            self.pushes.append(orjson.loads(line))

    def _on_marked(self, line: bytes, i: int, now: int) -> None:
        parts = line[i : i + 80].split(b"|", 4)
        sender = parts[1]
        flow = self.flows.get(sender)
        if flow is None:
            flow = self.flows[sender] = Flow()
        flow.see(int(parts[2].translate(_FROM_LETTERS), 16))
        shared = self.shared
        sent = int(parts[3].translate(_FROM_LETTERS), 16)
        if sent >= shared.window_start_ns:
            shared.delivered += 1
            shared.hist.add((now - sent) // 1000)
            shared.last_ns = now

    def _track(self, line: bytes, i: int) -> None:
        j = line.find(b'"offset":', i)
        if j < 0 or not line.startswith(b'{"push":{"channel":"'):
            return
        end = line.index(b'"', 20)
        k = j + 9
        m = k
        while m < len(line) and 48 <= line[m] <= 57:
            m += 1
        self.offsets[line[20:end].decode()] = int(line[k:m])

    def _on_reply(self, reply: dict[str, Any], now: int) -> None:
        sub = reply.get("subscribe")
        if sub is not None:
            self._take_publications(sub.get("publications") or (), now)
        connect = reply.get("connect")
        if connect is not None:
            for result in (connect.get("subs") or {}).values():
                self._take_publications(result.get("publications") or (), now)
        fut = self.replies.pop(reply.get("id", 0), None)
        if fut is not None and not fut.done():
            fut.set_result(reply)
        elif self.on_reply is not None:
            self.on_reply(reply)
        elif "error" in reply:
            self.errors.append(reply)

    def _take_publications(self, pubs: Any, now: int) -> None:
        for pub in pubs:
            text = (pub.get("data") or {}).get("text", "")
            if text.startswith("LT|"):
                raw = text.encode()
                self._on_marked(raw, 0, now)


async def open_client(
    host: str,
    port: int,
    path: str,
    shared: Shared,
    *,
    centrifuge: bool = True,
    timeout: float = 30,
) -> WsClient:
    loop = asyncio.get_running_loop()
    _, client = await asyncio.wait_for(
        loop.create_connection(lambda: WsClient(shared, centrifuge), host, port), timeout
    )
    client.start(f"{host}:{port}", path)
    await asyncio.wait_for(client.handshake, timeout)
    return client
