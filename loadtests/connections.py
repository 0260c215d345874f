"""Connections: 10,000 idle members connected to one server process.

Measures the memory each connection costs (the server's RSS growth divided by the number
of connections, after a warm-up round so one-time allocations are not counted), how fast
connections are accepted (each one: WebSocket handshake, JWT connect, the server-side
subscription to the member's private channel and a subscription to one of ``--rooms``
rooms), the CPU the idle connections cost, and checks that every member of one room still
gets a message at the end. The baseline does the same with bare WebSockets.

The server, the workers and this process raise their open-files limit (RLIMIT_NOFILE) to
65,536 themselves; the kernel's hard limit must allow it (root may raise it).

    python -m loadtests.connections [--connections 10000] [--rooms 100]
"""

from __future__ import annotations

import sys
import time
from typing import Any

from loadtests.common import (
    Ledger,
    Session,
    banner,
    base_parser,
    open_members,
    ratio,
    run_step,
    table,
    write_result,
)
from loadtests.launch import CpuMeter
from loadtests.stats import median
from loadtests.worker import call_all, raise_nofile

COLUMNS = [
    ("target", "target"),
    ("connections", "connections"),
    ("kib_per_connection", "KiB/conn"),
    ("rss_before_mib", "RSS before MiB"),
    ("rss_after_mib", "RSS after MiB"),
    ("connects_per_s", "connects/s"),
    ("connect_s", "connect s"),
    ("cpu_ms_per_connect", "cpu ms/conn"),
    ("idle_cpu_pct", "idle cpu%"),
    ("lost", "lost"),
    ("closed", "closed"),
]


def run_target(session: Session, kind: str) -> dict[str, Any]:
    args = session.args
    with session.target(kind) as target:
        names = [f"r{i}" for i in range(args.rooms)]
        channels = target.setup_rooms("conn", names)
        # Warm-up: code paths, caches and allocator pools, then measure from a settled RSS.
        warm = [target.member(f"w{i}", "conn", [channels[i % len(channels)]]) for i in range(args.warmup)]
        open_members(session, target, warm)
        call_all(session.workers, "close", timeout=120)
        time.sleep(2)
        before = target.rss()
        members = [target.member(f"m{i}", "conn", [channels[i % len(channels)]]) for i in range(args.connections)]
        connecting = CpuMeter(target.pids())
        connecting.start()
        with session.profiling(target, kind):
            opened = open_members(session, target, members, concurrency=args.concurrency)
        connect_cpu, _ = connecting.stop()
        time.sleep(args.settle)
        after = target.rss()
        idle = CpuMeter(target.pids())
        idle.start()
        time.sleep(args.idle)
        idle_cpu, idle_wall = idle.stop()
        # Liveness: one message into room 0 reaches all of its members.
        session.sender.call(
            "open", host="127.0.0.1", port=target.port, centrifuge=target.centrifuge,
            members=[target.member("sender", "conn", [channels[0]], sender_only=True)],
        )
        ledger = Ledger()
        ledger.members_of[channels[0]] = sum(1 for m in members if m["channels"][0] == channels[0])
        plan = [{"member": 0, "channel": channels[0], "sender": "s0", "rate": 2.0, "phase": 0.0}]
        step = run_step(session, target, ledger, {session.sender: plan}, duration=1.0, size=args.size, label={})
        row = {
            "target": kind,
            "connections": opened["opened"],
            "kib_per_connection": round((after - before) / opened["opened"] / 1024, 2),
            "rss_before_mib": round(before / 2**20, 1),
            "rss_after_mib": round(after / 2**20, 1),
            "connect_s": round(opened["elapsed_s"], 2),
            "connects_per_s": round(opened["opened"] / opened["elapsed_s"], 1),
            # Server CPU per connect (the steadiest number on a shared machine).
            "cpu_ms_per_connect": round(1000 * connect_cpu / max(1, opened["opened"]), 3),
            "idle_cpu_pct": round(100 * idle_cpu / idle_wall, 1),
            "lost": step["lost"],
            "closed": step["closed"],
            "liveness_p99_ms": step["p99_ms"],
        }
        print(table([row], COLUMNS).split("\n", 2)[-1], flush=True)
        return row


def main(argv: list[str] | None = None) -> int:
    p = base_parser("connections", "Many idle connections: memory per connection, connect rate.")
    p.add_argument("--connections", type=int, default=10000, help="connections (default %(default)s)")
    p.add_argument("--rooms", type=int, default=100, help="rooms the members are spread over (default %(default)s)")
    p.add_argument("--warmup", type=int, default=500, help="connections opened and closed before measuring (default %(default)s)")
    p.add_argument("--concurrency", type=int, default=100, help="handshakes in flight per load worker (default %(default)s)")
    p.add_argument("--settle", type=float, default=3.0, help="seconds to wait before reading RSS (default %(default)s)")
    p.add_argument("--idle", type=float, default=5.0, help="seconds of idle CPU measurement (default %(default)s)")
    args = p.parse_args(argv)
    raise_nofile()
    session = Session(args, "connections")
    runs: list[dict[str, dict[str, Any]]] = []
    try:
        banner(session, f"connections: {args.connections} idle members over {args.rooms} rooms, {args.repeat} run(s)")
        for rep in range(args.repeat):
            print(f"-- run {rep + 1}/{args.repeat}")
            print(table([], COLUMNS))
            kinds = ["chatserver"] if args.no_baseline else (["baseline", "chatserver"] if rep % 2 == 0 else ["chatserver", "baseline"])
            runs.append({kind: run_target(session, kind) for kind in kinds})
        summary: dict[str, Any] = {}
        for kind in ("baseline", "chatserver"):
            rows = [r[kind] for r in runs if kind in r]
            if rows:
                summary[kind] = {k: median([r[k] for r in rows]) for k in ("connections", "kib_per_connection", "rss_before_mib", "rss_after_mib", "connect_s", "connects_per_s", "cpu_ms_per_connect", "idle_cpu_pct")}
                summary[kind]["lost"] = sum(r["lost"] for r in rows)
        if "baseline" in summary and "chatserver" in summary:
            summary["ratio_memory"] = ratio(summary["chatserver"]["kib_per_connection"], summary["baseline"]["kib_per_connection"])
            summary["ratio_connect_rate"] = ratio(summary["chatserver"]["connects_per_s"], summary["baseline"]["connects_per_s"])
            # Connects/s a core could sustain at each target's CPU per connect: on a shared
            # machine the wall-clock rate also measures how long each waited for its core.
            summary["ratio_connect_cpu"] = ratio(summary["baseline"]["cpu_ms_per_connect"], summary["chatserver"]["cpu_ms_per_connect"])
        print("\n== summary (medians)")
        print(table([{"target": k, **v} for k, v in summary.items() if isinstance(v, dict)], COLUMNS))
        if "ratio_memory" in summary:
            print(f"   chatserver / baseline: memory per connection {summary['ratio_memory']}x, connect rate {summary['ratio_connect_rate']}x, "
                  f"connects per CPU second {summary['ratio_connect_cpu']}x")
        result = {
            "scenario": "connections",
            "params": {"connections": args.connections, "rooms": args.rooms, "warmup": args.warmup, "repeat": args.repeat},
            "runs": runs,
            "summary": summary,
        }
        print(f"   results: {write_result(session, result)}")
        return 0
    finally:
        session.close()


if __name__ == "__main__":
    sys.exit(main())
