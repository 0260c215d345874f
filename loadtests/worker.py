"""A load worker: one OS process holding many client connections, driven over a pipe.

The coordinator (a scenario command) starts several workers with ``start_workers`` and sends
each one operations (dicts); every operation gets exactly one answer (a dict). Operations:

- ``open``: open connections (JSON Centrifuge: connect + subscribe in one frame, as
  centrifuge-js does; bare: just the WebSocket handshake on ``/room/<channel>``).
- ``reset``: start a measurement window (deliveries sent before it are not counted).
- ``count``: how many load-test messages all connections have received (for draining).
- ``send``: run a sending plan (open loop: each sender at its own rate) for a duration.
- ``stats``: the window's latency histogram, deliveries, and correctness checks
  (lost / duplicated / out-of-order per sender, against what the senders had accepted).
- ``drop`` / ``reconnect``: churn (cut every connection, then resubscribe with recovery).
- ``close``: close every connection. ``exit``: stop.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import multiprocessing
import os
import resource
import time
from multiprocessing.connection import Connection as Pipe
from typing import Any

import orjson

from loadtests.wire import Shared, WsClient, make_text, open_client

PUBLISH_ID_BASE = 1000  # command ids of publishes are PUBLISH_ID_BASE + seq


def raise_nofile(wanted: int = 65536) -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = max(soft, min(wanted, hard if hard != resource.RLIM_INFINITY else wanted))
    if target > soft:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, max(hard, target)))
        except (ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


class Member:
    """One connection's identity and subscriptions, as the coordinator planned them."""

    __slots__ = ("user", "token", "channels", "path", "client", "positions", "caught_up_ns", "opened_ns")

    def __init__(self, user: str, token: str, channels: list[str], path: str = "") -> None:
        self.user = user
        self.path = path
        self.token = token
        self.channels = channels
        self.client: WsClient | None = None
        self.positions: dict[str, tuple[int, str]] = {}
        self.caught_up_ns = 0
        self.opened_ns = 0


class Worker:
    def __init__(self, pipe: Pipe, index: int) -> None:
        self.pipe = pipe
        self.index = index
        self.shared = Shared()
        self.members: list[Member] = []
        self.host = "127.0.0.1"
        self.port = 0
        self.centrifuge = True
        self.seqs: dict[str, int] = {}  # sender -> last seq sent
        self.failed: dict[str, list[int]] = {}  # sender -> seqs the server refused
        self.accepted: dict[str, int] = {}
        self.closes: dict[int, int] = {}
        self.track_offsets = False

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            op = await loop.run_in_executor(None, self.pipe.recv)
            name = op.pop("op")
            if name == "exit":
                await self._close_all()
                self.pipe.send({"ok": True})
                return
            try:
                result = await getattr(self, "op_" + name)(**op)
            except Exception as exc:  # report to the coordinator instead of dying silently
                result = {"error": f"{type(exc).__name__}: {exc}"}
            self.pipe.send(result)

    # ------------------------------------------------------------------ open / close

    async def op_open(
        self,
        host: str,
        port: int,
        members: list[dict[str, Any]],
        centrifuge: bool = True,
        concurrency: int = 200,
        timeout: float = 60,
        track_offsets: bool = False,
    ) -> dict[str, Any]:
        self.host, self.port, self.centrifuge = host, port, centrifuge
        self.track_offsets = track_offsets
        new = [Member(m["user"], m.get("token", ""), list(m.get("channels", [])), m.get("path", "")) for m in members]
        sem = asyncio.Semaphore(concurrency)
        errors: list[str] = []
        durations: list[float] = []
        start = time.monotonic()

        async def one(member: Member) -> None:
            async with sem:
                t0 = time.monotonic()
                try:
                    await self._connect(member, recover=False, timeout=timeout)
                    durations.append(time.monotonic() - t0)
                except Exception as exc:
                    if len(errors) < 5:
                        errors.append(f"{member.user}: {type(exc).__name__}: {exc}")
                    if member.client is not None:
                        member.client.abort()
                        member.client = None

        await asyncio.gather(*(one(m) for m in new))
        elapsed = time.monotonic() - start
        self.members.extend(new)
        opened = sum(1 for m in new if m.client is not None)
        durations.sort()
        return {
            "opened": opened,
            "failed": len(new) - opened,
            "errors": errors,
            "elapsed_s": elapsed,
            "connect_p50_ms": 1000 * durations[len(durations) // 2] if durations else 0.0,
            "connect_max_ms": 1000 * durations[-1] if durations else 0.0,
        }

    async def _connect(self, member: Member, *, recover: bool, timeout: float) -> None:
        path = "/connection/websocket"
        if not self.centrifuge:
            path = member.path or "/room/" + (member.channels[0] if member.channels else "all")
        client = await open_client(self.host, self.port, path, self.shared, centrifuge=self.centrifuge, timeout=timeout)
        if member.client is not None:
            client.flows = member.client.flows  # correctness state survives a reconnect
        member.client = client
        member.opened_ns = time.monotonic_ns()
        client.track_offsets = self.track_offsets
        client.closed.add_done_callback(lambda fut: self._on_closed(member, client, fut))
        if not self.centrifuge:
            return
        cmds: list[tuple[int, str, dict[str, Any]]] = [(1, "connect", {"token": member.token, "name": "loadtest"})]
        for i, channel in enumerate(member.channels):
            params: dict[str, Any] = {"channel": channel}
            pos = member.positions.get(channel)
            if recover and pos is not None:
                params.update({"recover": True, "offset": pos[0], "epoch": pos[1]})
            cmds.append((2 + i, "subscribe", params))
        replies = await client.commands(cmds, timeout)
        for reply in replies:
            if "error" in reply:
                raise RuntimeError(f"command {reply.get('id')} failed: {reply['error']}")
        for i, channel in enumerate(member.channels):
            sub = replies[1 + i]["subscribe"]
            if recover and channel in member.positions and not sub.get("recovered"):
                raise RuntimeError(f"{channel} not recovered: {sub}")
            offset = int(sub.get("offset", 0))
            pubs = sub.get("publications") or []
            if pubs:
                offset = max(offset, int(pubs[-1].get("offset", 0)))
            member.positions[channel] = (offset, str(sub.get("epoch", "")))
            if client.offsets.get(channel, 0) < offset:
                client.offsets[channel] = offset

    def _on_closed(self, member: Member, client: WsClient, fut: asyncio.Future[int]) -> None:
        if member.client is client and not getattr(client, "expected_close", False):
            code = fut.result()
            self.closes[code] = self.closes.get(code, 0) + 1

    async def _close_all(self) -> None:
        for m in self.members:
            if m.client is not None:
                m.client.expected_close = True  # type: ignore[attr-defined]
                m.client.close()
        await asyncio.sleep(0)
        self.members = []

    async def op_close(self) -> dict[str, Any]:
        await self._close_all()
        self.seqs.clear()
        self.accepted.clear()
        await asyncio.sleep(0.2)
        return {"ok": True}

    # ------------------------------------------------------------------ measurement

    async def op_reset(self) -> dict[str, Any]:
        self.shared.reset()
        self.closes = {}
        return {"ok": True}

    async def op_count(self) -> dict[str, Any]:
        total = 0
        for m in self.members:
            if m.client is not None:
                for flow in m.client.flows.values():
                    total += flow.count
        return {"received": total, "delivered": self.shared.delivered}

    async def op_stats(self, expect: dict[str, dict[str, int]] | None = None) -> dict[str, Any]:
        """``expect``: channel -> {sender: accepted publications}; missing ones are lost."""
        lost = dups = ooo = 0
        extra = 0
        connections = 0
        for m in self.members:
            client = m.client
            if client is None:
                continue
            connections += 1
            senders: dict[str, int] = {}
            for channel in m.channels or ["all"]:
                senders.update((expect or {}).get(channel, {}))
            for sender, flow in client.flows.items():
                dups += flow.dups
                ooo += flow.out_of_order
                if sender.decode() not in senders:
                    extra += flow.count
            for sender, count in senders.items():
                flow = client.flows.get(sender.encode())
                got = flow.count if flow is not None else 0
                lost += max(0, count - got)
        s = self.shared
        return {
            "hist": s.hist.to_dict(),
            "delivered": s.delivered,
            "window_start_ns": s.window_start_ns,
            "last_ns": s.last_ns,
            "frames": s.frames,
            "bytes": s.bytes,
            "lost": lost,
            "duplicated": dups,
            "out_of_order": ooo,
            "unexpected": extra,
            "connections": connections,
            "closes": {str(k): v for k, v in self.closes.items()},
            "errors": sum(len(m.client.errors) for m in self.members if m.client is not None),
        }

    # ------------------------------------------------------------------ sending

    async def op_send(
        self,
        plan: list[dict[str, Any]],
        duration: float,
        size: int = 100,
        method: str = "publish",
        reply_timeout: float = 10,
    ) -> dict[str, Any]:
        """Each plan item: ``{member, channel, sender, rate, phase}`` (member: index here)."""
        loop = asyncio.get_running_loop()
        pending: dict[str, dict[int, int]] = {}  # sender -> {command id: seq}
        outstanding = 0
        done = asyncio.Event()
        sent: dict[str, int] = {}
        failed: dict[str, list[int]] = {}

        def reply_handler(sender: str) -> Any:
            def on_reply(reply: dict[str, Any]) -> None:
                nonlocal outstanding
                seq = pending[sender].pop(reply.get("id", 0), None)
                if seq is None:
                    return
                outstanding -= 1
                if "error" in reply:
                    failed.setdefault(sender, []).append(seq)
                if outstanding == 0 and sending_over:
                    done.set()

            return on_reply

        for item in plan:
            client = self.members[item["member"]].client
            if client is not None and self.centrifuge:
                client.on_reply = reply_handler(item["sender"])
            pending.setdefault(item["sender"], {})
        start = loop.time()
        # (due time, plan index, message number): due = start + phase + n / rate, computed
        # afresh each time so float error never adds or drops a message at the end.
        heap = [(start + float(item.get("phase", 0.0)), i, 0) for i, item in enumerate(plan)]
        heapq.heapify(heap)
        end = start + duration - 1e-6
        sending_over = False
        max_lag = 0.0
        while heap:
            now = loop.time()
            due, i, n = heap[0]
            if due >= end:
                break
            if due > now:
                await asyncio.sleep(min(due - now, 0.002) if due - now > 0.0005 else 0)
                continue
            max_lag = max(max_lag, now - due)
            item = plan[i]
            sender = item["sender"]
            client = self.members[item["member"]].client
            seq = self.seqs.get(sender, 0) + 1
            self.seqs[sender] = seq
            sent[sender] = sent.get(sender, 0) + 1
            if client is None or client.transport is None or client.transport.is_closing():
                failed.setdefault(sender, []).append(seq)
            else:
                text = make_text(sender, seq, size)
                if not self.centrifuge:
                    client.send(text.encode())
                else:
                    cid = PUBLISH_ID_BASE + seq
                    pending[sender][cid] = seq
                    outstanding += 1
                    if method == "rpc":
                        body: dict[str, Any] = {"method": "chat.send", "data": {"channel": item["channel"], "text": text}}
                        client.send(orjson.dumps({"id": cid, "rpc": body}))
                    else:
                        client.send(orjson.dumps({"id": cid, "publish": {"channel": item["channel"], "data": {"text": text}}}))
            heapq.heapreplace(heap, (start + float(item.get("phase", 0.0)) + (n + 1) / item["rate"], i, n + 1))
        sending_over = True
        if outstanding:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(done.wait(), reply_timeout)
        unanswered = 0
        for sender, ids in pending.items():
            for seq in ids.values():
                failed.setdefault(sender, []).append(seq)
                unanswered += 1
        for item in plan:
            client = self.members[item["member"]].client
            if client is not None:
                client.on_reply = None
        for sender, n in sent.items():
            self.accepted[sender] = self.accepted.get(sender, 0) + n - len(failed.get(sender, []))
        return {
            "sent": sent,
            "failed": {k: len(v) for k, v in failed.items()},
            "unanswered": unanswered,
            "elapsed_s": loop.time() - start,
            "max_lag_ms": 1000 * max_lag,
        }

    # ------------------------------------------------------------------ churn

    async def op_track_positions(self) -> dict[str, Any]:
        """Record each member's last offset per channel from the publications it received."""
        for m in self.members:
            if m.client is None:
                continue
            for channel, offset in m.client.offsets.items():
                epoch = m.positions.get(channel, (0, ""))[1]
                m.positions[channel] = (offset, epoch)
        return {"ok": True}

    async def op_drop(self) -> dict[str, Any]:
        """Cut every connection at once (TCP abort, as when a network blips)."""
        for m in self.members:
            if m.client is not None:
                m.client.expected_close = True  # type: ignore[attr-defined]
                m.client.abort()
        await asyncio.sleep(0.1)
        return {"ok": True}

    async def op_reconnect(
        self, target: dict[str, int], concurrency: int = 2000, timeout: float = 60
    ) -> dict[str, Any]:
        """Reconnect every member with recovery; report when each had every publication up
        to ``target`` (sender -> last seq published while it was away)."""
        sem = asyncio.Semaphore(concurrency)
        errors: list[str] = []
        start = time.monotonic_ns()

        async def one(m: Member) -> None:
            async with sem:
                try:
                    await self._connect(m, recover=True, timeout=timeout)
                except Exception as exc:
                    if len(errors) < 5:
                        errors.append(f"{m.user}: {type(exc).__name__}: {exc}")

        tasks = [asyncio.ensure_future(one(m)) for m in self.members]
        deadline = time.monotonic() + timeout
        waiting = list(self.members)
        while waiting and time.monotonic() < deadline:
            await asyncio.sleep(0.005)
            now = time.monotonic_ns()
            still = []
            for m in waiting:
                client = m.client
                ok = client is not None
                if ok:
                    for sender, last in target.items():
                        flow = client.flows.get(sender.encode())  # type: ignore[union-attr]
                        if flow is None or flow.last < last:
                            ok = False
                            break
                if ok:
                    m.caught_up_ns = now
                else:
                    still.append(m)
            waiting = still
        await asyncio.gather(*tasks, return_exceptions=True)
        times = sorted((m.caught_up_ns - start) / 1e9 for m in self.members if m.caught_up_ns)
        return {
            "last_ns": max((m.caught_up_ns for m in self.members), default=0),
            "caught_up": len(times),
            "not_caught_up": len(self.members) - len(times),
            "errors": errors,
            "last_s": times[-1] if times else None,
            "p50_s": times[len(times) // 2] if times else None,
            "start_ns": start,
        }


def _main(pipe: Pipe, index: int, cpus: list[int] | None) -> None:
    if cpus:
        with contextlib.suppress(OSError):
            os.sched_setaffinity(0, cpus)
    raise_nofile()
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    asyncio.run(Worker(pipe, index).run())


class WorkerHandle:
    def __init__(self, index: int, cpus: list[int] | None) -> None:
        ctx = multiprocessing.get_context("spawn")
        self.pipe, child = ctx.Pipe()
        self.process = ctx.Process(target=_main, args=(child, index, cpus), daemon=True, name=f"load-worker-{index}")
        self.process.start()
        self.index = index

    def send(self, op: str, **params: Any) -> None:
        self.pipe.send({"op": op, **params})

    def recv(self, timeout: float = 600) -> dict[str, Any]:
        if not self.pipe.poll(timeout):
            raise TimeoutError(f"worker {self.index} did not answer in {timeout}s")
        result = self.pipe.recv()
        if "error" in result and isinstance(result["error"], str):
            raise RuntimeError(f"worker {self.index}: {result['error']}")
        return result

    def call(self, op: str, timeout: float = 600, **params: Any) -> dict[str, Any]:
        self.send(op, **params)
        return self.recv(timeout)

    @property
    def pid(self) -> int:
        return self.process.pid or 0

    def stop(self) -> None:
        if self.process.is_alive():
            try:
                self.call("exit", timeout=10)
            except (TimeoutError, OSError, EOFError, RuntimeError):
                pass
            self.process.join(5)
            if self.process.is_alive():
                self.process.terminate()
                self.process.join(5)


def call_all(workers: list[WorkerHandle], op: str, timeout: float = 600, per_worker: list[dict[str, Any]] | None = None, **params: Any) -> list[dict[str, Any]]:
    """Send ``op`` to every worker at once, then gather the answers."""
    for i, w in enumerate(workers):
        extra = per_worker[i] if per_worker is not None else {}
        w.send(op, **params, **extra)
    return [w.recv(timeout) for w in workers]
