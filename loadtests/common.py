"""What every scenario shares: options, the load session (Valkey + workers), one load step.

A step: reset the receivers' window, start CPU meters on the server and the load workers,
run the senders' plan for ``duration`` seconds, wait until every accepted message reached
every member (or stop waiting when nothing arrives for a while), then collect the merged
latency histogram and the correctness counts. Throughput is deliveries divided by the time
from the step's start to the last delivery, so an overloaded step reports what the server
could actually push out (its backlog drains inside the measurement).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from loadtests.launch import (
    Baseline,
    ChatServer,
    ClusterValkey,
    CpuMeter,
    Target,
    Valkey,
    cpu_split,
    machine_load,
    pin_self,
)
from loadtests.stats import Histogram, merged
from loadtests.worker import WorkerHandle, call_all


def base_parser(prog: str, description: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=f"python -m loadtests.{prog}", description=description)
    p.add_argument("--duration", type=float, default=5.0, help="seconds of load per step (default %(default)s)")
    p.add_argument("--size", type=int, default=100, help="message text size in bytes (default %(default)s)")
    p.add_argument("--repeat", type=int, default=1, help="repetitions; tables show medians (default %(default)s)")
    p.add_argument("--load-workers", type=int, default=4, help="load client processes (default %(default)s)")
    p.add_argument("--server-cpu", type=int, default=0, help="core for the server under test (default %(default)s)")
    p.add_argument("--load-cpu", type=int, default=None, help="core for load clients and Valkey (default: the others)")
    p.add_argument("--no-pin", action="store_true", help="do not pin processes to cores")
    p.add_argument("--server-workers", type=int, default=1, help="chatserver run --workers N (default 1; N>1 disables pinning of the server)")
    p.add_argument("--no-baseline", action="store_true", help="measure only the chat server")
    p.add_argument("--baseline-loop", choices=["uvloop", "asyncio"], default="uvloop", help="event loop of the baseline (default %(default)s)")
    p.add_argument("--server-env", action="append", default=[], metavar="NAME=VALUE", help="extra environment for the chat server (repeatable)")
    p.add_argument("--profile", action="store_true", help="record the chat server with py-spy during the load (needs py-spy)")
    p.add_argument("--profile-native", action="store_true", help="with --profile: include native frames (C code, the garbage collector)")
    p.add_argument("--out", default="loadtest-results", help="directory for JSON, plots and profiles (default %(default)s)")
    p.add_argument("--json", action="store_true", help="also print the result as JSON on stdout")
    p.add_argument(
        "--engine", default="single", choices=["single", "cluster", "both"],
        help="the chat server's Redis: one Valkey, a 3-master Valkey Cluster, or both in one run (default %(default)s)",
    )
    return p


class Session:
    """Valkey, load workers and CPU placement for one scenario run."""

    def __init__(self, args: argparse.Namespace, scenario: str) -> None:
        self.args = args
        self.scenario = scenario
        self.out = Path(args.out)
        self.out.mkdir(parents=True, exist_ok=True)
        if args.no_pin:
            self.server_cpus, self.load_cpus = None, None
        else:
            self.server_cpus, self.load_cpus = cpu_split(args.server_cpu, args.load_cpu)
        if args.server_workers > 1:
            self.server_cpus = None
        pin_self(self.load_cpus)  # Valkey and the workers inherit the load core(s)
        self.stores: dict[str, Valkey | ClusterValkey] = {}
        if args.engine in ("single", "both"):
            self.stores["chatserver"] = Valkey()
        if args.engine in ("cluster", "both"):
            self.stores["chatserver-cluster"] = ClusterValkey()
        self.workers = [WorkerHandle(i, self.load_cpus) for i in range(args.load_workers)]
        self.sender = WorkerHandle(len(self.workers), self.load_cpus)
        self.machine = {
            **machine_load(),
            "python": platform.python_version(),
            "platform": platform.platform(),
            "server_cpus": self.server_cpus,
            "load_cpus": self.load_cpus,
        }
        self.profiles: list[str] = []

    def close(self) -> None:
        for w in [*self.workers, self.sender]:
            w.stop()
        for store in self.stores.values():
            store.stop()

    def chat_kinds(self) -> list[str]:
        """The chat server targets: ``chatserver`` (one Valkey), ``chatserver-cluster``."""
        return list(self.stores)

    def kinds(self, rep: int) -> list[str]:
        """Targets of run ``rep``: the chat servers, and the baseline (first on even runs)."""
        if self.args.no_baseline:
            return self.chat_kinds()
        return ["baseline", *self.chat_kinds()] if rep % 2 == 0 else [*self.chat_kinds(), "baseline"]

    def store_pids(self) -> list[int]:
        return [pid for store in self.stores.values() for pid in store.pids]

    def all_workers(self) -> list[WorkerHandle]:
        return [*self.workers, self.sender]

    @contextlib.contextmanager
    def target(self, kind: str, tag: str = "") -> Iterator[Target]:
        env = dict(item.split("=", 1) for item in self.args.server_env)
        t: Target
        if kind in self.stores:
            t = ChatServer(self.stores[kind].url, cpus=self.server_cpus, env=env, workers=self.args.server_workers)
            t.kind = kind
        else:
            t = Baseline(cpus=self.server_cpus, loop=self.args.baseline_loop)
        try:
            t.wait_ready()
            yield t
        finally:
            with contextlib.suppress(Exception):
                call_all(self.all_workers(), "close", timeout=60)
            t.stop()

    @contextlib.contextmanager
    def profiling(self, target: Target, name: str) -> Iterator[None]:
        """py-spy record on the chat server while the body runs (``--profile``)."""
        if not self.args.profile or target.kind != "chatserver":
            yield
            return
        path = self.out / f"{self.scenario}-{name}.txt"
        proc = subprocess.Popen(
            ["py-spy", "record", "--pid", str(target.pid), "--subprocesses", "--format", "raw", "--rate", "250", "-o", str(path)]
            + (["--native"] if self.args.profile_native else ["--nonblocking"]),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            time.sleep(0.5)
            yield
        finally:
            proc.send_signal(2)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(30)
            if proc.poll() is None:
                proc.kill()
            self.profiles.append(str(path))


def split(items: list[Any], n: int) -> list[list[Any]]:
    return [items[i::n] for i in range(n)]


def open_members(session: Session, target: Target, members: list[dict[str, Any]], concurrency: int = 200, track_offsets: bool = False) -> dict[str, Any]:
    parts = split(members, len(session.workers))
    start = time.monotonic()
    results = call_all(
        session.workers,
        "open",
        per_worker=[{"members": part} for part in parts],
        host="127.0.0.1",
        port=target.port,
        centrifuge=target.centrifuge,
        concurrency=concurrency,
        track_offsets=track_offsets,
    )
    elapsed = time.monotonic() - start
    opened = sum(r["opened"] for r in results)
    errors = [e for r in results for e in r["errors"]]
    if opened < len(members):
        raise RuntimeError(f"only {opened} of {len(members)} connections opened: {errors[:3]}\n{target.log_tail()}")
    return {"opened": opened, "elapsed_s": elapsed, "connect_p50_ms": max(r["connect_p50_ms"] for r in results)}


def wait_drained(session: Session, expected: int, *, idle: float = 3.0, limit: float = 120.0) -> int:
    """Poll the receivers until ``expected`` messages arrived in total, or none arrive for
    ``idle`` seconds, or ``limit`` passes. Returns the count received."""
    last = -1
    last_change = time.monotonic()
    deadline = last_change + limit
    while True:
        got = sum(r["received"] for r in call_all(session.workers, "count", timeout=60))
        now = time.monotonic()
        if got >= expected or now > deadline:
            return got
        if got != last:
            last, last_change = got, now
        elif now - last_change > idle:
            return got
        time.sleep(0.05)


class Ledger:
    """What the senders got accepted, cumulatively: channel -> sender -> count."""

    def __init__(self) -> None:
        self.accepted: dict[str, dict[str, int]] = {}
        self.members_of: dict[str, int] = {}  # channel -> receivers subscribed

    def add(self, plan: list[dict[str, Any]], results: list[dict[str, Any]]) -> int:
        """Record a send step; return how many deliveries that step should produce."""
        channel_of = {item["sender"]: item["channel"] for item in plan}
        deliveries = 0
        for r in results:
            for sender, n in r["sent"].items():
                ok = n - r["failed"].get(sender, 0)
                ch = channel_of[sender]
                per = self.accepted.setdefault(ch, {})
                per[sender] = per.get(sender, 0) + ok
                deliveries += ok * self.members_of.get(ch, 0)
        return deliveries

    def total_expected(self) -> int:
        return sum(n * self.members_of.get(ch, 0) for ch, per in self.accepted.items() for n in per.values())


def run_step(
    session: Session,
    target: Target,
    ledger: Ledger,
    plans: dict[WorkerHandle, list[dict[str, Any]]],
    *,
    duration: float,
    size: int,
    label: dict[str, Any],
) -> dict[str, Any]:
    receivers = session.workers
    call_all(session.all_workers(), "reset", timeout=60)
    server_cpu = CpuMeter(target.pids())
    load_cpu = CpuMeter([w.pid for w in session.all_workers()] + session.store_pids())
    before = ledger.total_expected()
    # /metrics is per process: with --server-workers N each scrape reaches one worker.
    per_process = isinstance(target, ChatServer) and session.args.server_workers == 1
    metrics_before = target.metrics() if per_process else {}
    step_start = time.monotonic_ns()
    server_cpu.start()
    load_cpu.start()
    senders = list(plans)
    for w in senders:
        w.send("send", plan=plans[w], duration=duration, size=size)
    send_results: list[dict[str, Any]] = []
    plan_items: list[dict[str, Any]] = []
    for w in senders:
        send_results.append(w.recv(duration + 120))
        plan_items.extend(plans[w])
    ledger.add(plan_items, send_results)
    expected_total = ledger.total_expected()
    received = wait_drained(session, expected_total)
    s_cpu, wall = server_cpu.stop()
    l_cpu, _ = load_cpu.stop()
    stats = call_all(receivers, "stats", timeout=120, expect=ledger.accepted)
    redis_info: dict[str, Any] = {}
    if per_process:
        assert isinstance(target, ChatServer)
        after = target.metrics()
        calls = after.get("chat_redis_commands_total", 0) - metrics_before.get("chat_redis_commands_total", 0)
        secs = after.get("chat_redis_seconds_total", 0) - metrics_before.get("chat_redis_seconds_total", 0)
        redis_info = {"redis_calls": int(calls), "redis_avg_ms": round(1000 * secs / calls, 2) if calls else 0.0}
    hist = merged(Histogram.from_dict(s["hist"]) for s in stats)
    delivered = sum(s["delivered"] for s in stats)
    last_ns = max((s["last_ns"] for s in stats), default=0)
    span = max((last_ns - step_start) / 1e9, duration) if last_ns else duration
    sent = sum(sum(r["sent"].values()) for r in send_results)
    failed = sum(sum(r["failed"].values()) for r in send_results)
    closes: dict[str, int] = {}
    for s in stats:
        for code, n in s["closes"].items():
            closes[code] = closes.get(code, 0) + n
    step = {
        "target": target.kind,
        **label,
        "sent": sent,
        "refused": failed,
        "sent_per_s": round(sent / duration, 1),
        "expected_deliveries": expected_total - before,
        "delivered": delivered,
        "deliveries_per_s": round(delivered / span, 1) if span > 0 else 0.0,
        **hist.summary_ms(),
        "server_cpu_pct": round(100 * s_cpu / wall, 1) if wall else 0.0,
        "server_us_per_delivery": round(1e6 * s_cpu / delivered, 2) if delivered else 0.0,
        "load_cpu_pct": round(100 * l_cpu / wall, 1) if wall else 0.0,
        "frames": sum(s["frames"] for s in stats),
        "msgs_per_frame": round(delivered / max(1, sum(s["frames"] for s in stats)), 2),
        "lost": sum(s["lost"] for s in stats),
        "duplicated": sum(s["duplicated"] for s in stats),
        "out_of_order": sum(s["out_of_order"] for s in stats),
        "closed": closes,
        "sender_max_lag_ms": round(max(r["max_lag_ms"] for r in send_results), 1),
        "received_total": received,
        **redis_info,
    }
    return step


# ---------------------------------------------------------------------- output


def fmt(value: Any) -> str:
    if isinstance(value, float):
        if value >= 1000:
            return f"{value:,.0f}"
        if value >= 100:
            return f"{value:.0f}"
        return f"{value:.2f}".rstrip("0").rstrip(".") if value else "0"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, dict):
        return ",".join(f"{k}:{v}" for k, v in value.items()) or "-"
    if value is None:
        return "-"
    return str(value)


def table(rows: list[dict[str, Any]], columns: list[tuple[str, str]]) -> str:
    """A plain-text table; ``columns`` are (key, heading)."""
    cells = [[h for _, h in columns]] + [[fmt(r.get(k)) for k, _ in columns] for r in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(columns))]
    lines = []
    for n, row in enumerate(cells):
        lines.append("  ".join(c.rjust(w) for c, w in zip(row, widths, strict=True)))
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def ratio(ours: float | None, base: float | None) -> float | None:
    if not ours or not base:
        return None
    return round(ours / base, 2)


def write_result(session: Session, result: dict[str, Any]) -> Path:
    result.setdefault("machine", session.machine)
    result["machine"]["loadavg_after"] = machine_load().get("loadavg_1m")
    result["command"] = " ".join([Path(sys.executable).name, "-m", f"loadtests.{session.scenario}", *sys.argv[1:]])
    result["profiles"] = session.profiles
    stamp = time.strftime("%Y%m%d-%H%M%S")
    path = session.out / f"{session.scenario}-{stamp}.json"
    path.write_text(json.dumps(result, indent=2, default=str))
    if session.args.json:
        print(json.dumps(result, default=str))
    return path


def banner(session: Session, title: str) -> None:
    m = session.machine
    load = m.get("loadavg_1m")
    print(f"== {title}")
    print(
        f"   server cpus {m['server_cpus'] or 'any'}, load cpus {m['load_cpus'] or 'any'}, "
        f"{m['cpus']} cpus, load average {load:.2f} at start" if load is not None else ""
    )
    if load is not None and load > 0.5:
        print("   note: the machine is busy (load average > 0.5); numbers will be noisy")


def env_flag(name: str) -> bool:
    return os.environ.get(name, "") not in ("", "0", "false")
