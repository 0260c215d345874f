"""Churn: 2,000 members of one room drop at once and reconnect at once, with recovery.

1. 2,000 members subscribe to one room; a sender publishes for a while (``--warm`` s) so
   every member holds a stream position (offset + epoch).
2. Every member's TCP connection is cut at the same moment (as when a network or a load
   balancer blips); the server notices and cleans up.
3. The sender publishes ``--missed`` more messages while they are away.
4. All 2,000 reconnect at once: connect + subscribe with ``recover: true`` and their last
   offset and epoch, in one frame, as the SDKs do.

Measured: the time from the reconnect until the last member has every missed message
(recovered in the subscribe reply, then live), the Redis commands each reconnect costs
(INFO commandstats delta over the reconnect / members; commands that Lua scripts run count
too), and lost / duplicated / out-of-order messages over the whole run. The baseline has no
recovery: for it the time is until every member is connected again, for reference.

    python -m loadtests.churn [--members 2000] [--missed 20] [--repeat 3]
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
from loadtests.launch import ChatServer, CpuMeter, diff_calls
from loadtests.stats import median
from loadtests.worker import call_all, raise_nofile

COLUMNS = [
    ("target", "target"),
    ("members", "members"),
    ("missed", "missed"),
    ("caught_up", "caught up"),
    ("all_caught_up_s", "all caught up s"),
    ("p50_caught_up_s", "p50 s"),
    ("redis_cmds_per_reconnect", "redis cmds/reconnect"),
    ("server_cpu_s", "server cpu s"),
    ("lost", "lost"),
    ("duplicated", "dup"),
    ("out_of_order", "ooo"),
]


def wait_connections(target: Any, at_most: int, timeout: float = 60) -> None:
    if not isinstance(target, ChatServer):
        time.sleep(2)
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if target.metrics().get("chat_connections", 0) <= at_most:
            return
        time.sleep(0.2)


def run_target(session: Session, kind: str) -> dict[str, Any]:
    args = session.args
    with session.target(kind) as target:
        (channel,) = target.setup_rooms("churn", ["big"])
        members = [target.member(f"m{i}", "churn", [channel]) for i in range(args.members)]
        open_members(session, target, members, track_offsets=True)
        session.sender.call(
            "open", host="127.0.0.1", port=target.port, centrifuge=target.centrifuge,
            members=[target.member("sender", "churn", [channel], sender_only=True)],
        )
        ledger = Ledger()
        ledger.members_of[channel] = args.members
        warm_rate = 10.0
        plan = [{"member": 0, "channel": channel, "sender": "s0", "rate": warm_rate, "phase": 0.0}]
        run_step(session, target, ledger, {session.sender: plan}, duration=args.warm, size=args.size, label={})
        call_all(session.workers, "track_positions")
        call_all(session.workers, "drop")
        wait_connections(target, 1)
        missed_plan = [{"member": 0, "channel": channel, "sender": "s0", "rate": float(args.missed), "phase": 0.0}]
        sent = session.sender.call("send", plan=missed_plan, duration=1.0, size=args.size)
        ledger.add(missed_plan, [sent])
        last_seq = sum(ledger.accepted[channel].values())
        store = session.stores.get(kind)
        before = store.command_calls() if store is not None else {}
        cpu = CpuMeter(target.pids())
        cpu.start()
        t0 = time.monotonic_ns()
        recovery_target = {"s0": last_seq} if target.centrifuge else {}
        with session.profiling(target, kind):
            results = call_all(session.workers, "reconnect", target=recovery_target, timeout=args.timeout + 60)
        server_cpu, _ = cpu.stop()
        after = store.command_calls() if store is not None else {}
        calls = diff_calls(before, after)
        caught = sum(r["caught_up"] for r in results)
        last_ns = max(r["last_ns"] for r in results)
        errors = [e for r in results for e in r["errors"]]
        stats = call_all(session.workers, "stats", expect=ledger.accepted if target.centrifuge else {})
        row = {
            "target": kind,
            "members": args.members,
            "missed": args.missed if target.centrifuge else 0,
            "caught_up": caught,
            "all_caught_up_s": round((last_ns - t0) / 1e9, 3) if caught == args.members else None,
            "p50_caught_up_s": median([r["p50_s"] for r in results if r["p50_s"] is not None]),
            "redis_cmds_per_reconnect": round(sum(calls.values()) / args.members, 2),
            "redis_calls": calls,
            "server_cpu_s": round(server_cpu, 2),
            "lost": sum(s["lost"] for s in stats),
            "duplicated": sum(s["duplicated"] for s in stats),
            "out_of_order": sum(s["out_of_order"] for s in stats),
            "errors": errors[:5],
        }
        print(table([row], COLUMNS).split("\n", 2)[-1], flush=True)
        if errors:
            print(f"   reconnect errors (first {len(errors[:5])}): {errors[:5]}")
        return row


def main(argv: list[str] | None = None) -> int:
    p = base_parser("churn", "Mass reconnect with recovery: time until all caught up, Redis cost.")
    p.add_argument("--members", type=int, default=2000, help="members in the room (default %(default)s)")
    p.add_argument("--missed", type=int, default=20, help="messages published while they are away (default %(default)s)")
    p.add_argument("--warm", type=float, default=2.0, help="seconds of traffic before the drop (default %(default)s)")
    p.add_argument("--timeout", type=float, default=60.0, help="give up waiting after this many seconds (default %(default)s)")
    args = p.parse_args(argv)
    raise_nofile()
    session = Session(args, "churn")
    runs: list[dict[str, dict[str, Any]]] = []
    try:
        banner(session, f"churn: {args.members} members drop and reconnect with recovery, {args.missed} missed messages, {args.repeat} run(s)")
        for rep in range(args.repeat):
            print(f"-- run {rep + 1}/{args.repeat}")
            print(table([], COLUMNS))
            runs.append({kind: run_target(session, kind) for kind in session.kinds(rep)})
        summary: dict[str, Any] = {}
        for kind in ("baseline", *session.chat_kinds()):
            rows = [r[kind] for r in runs if kind in r]
            if rows:
                summary[kind] = {k: median([r[k] for r in rows if r[k] is not None]) for k in ("members", "missed", "caught_up", "all_caught_up_s", "p50_caught_up_s", "redis_cmds_per_reconnect", "server_cpu_s")}
                for k in ("lost", "duplicated", "out_of_order"):
                    summary[kind][k] = sum(r[k] for r in rows)
        for kind in session.chat_kinds():
            rows = [r[kind] for r in runs if kind in r]
            per_cmd: dict[str, float] = {}
            for r in rows:
                for cmd, n in r["redis_calls"].items():
                    per_cmd[cmd] = per_cmd.get(cmd, 0) + n / r["members"] / len(rows)
            summary[kind]["redis_calls_per_reconnect"] = {k: round(v, 2) for k, v in sorted(per_cmd.items(), key=lambda kv: -kv[1])}
        if "chatserver" in summary and "chatserver-cluster" in summary:
            summary["ratio_cluster_time"] = ratio(summary["chatserver-cluster"]["all_caught_up_s"], summary["chatserver"]["all_caught_up_s"])
        if "baseline" in summary and "chatserver" in summary:
            summary["ratio_time"] = ratio(summary["chatserver"]["all_caught_up_s"], summary["baseline"]["all_caught_up_s"])
        print("\n== summary (medians; lost/dup/ooo summed over runs)")
        print(table([{"target": k, **v} for k, v in summary.items() if isinstance(v, dict)], COLUMNS))
        for kind in session.chat_kinds():
            print(f"   {kind} Redis calls per reconnect: {summary[kind]['redis_calls_per_reconnect']}")
        if "ratio_cluster_time" in summary:
            print(f"   cluster / single Valkey time to catch up: {summary['ratio_cluster_time']}x")
        if "ratio_time" in summary:
            print(f"   chatserver (with recovery) / baseline (reconnect only) time: {summary['ratio_time']}x")
        result = {
            "scenario": "churn",
            "params": {"members": args.members, "missed": args.missed, "warm": args.warm, "repeat": args.repeat},
            "runs": runs,
            "summary": summary,
        }
        print(f"   results: {write_result(session, result)}")
        return 0
    finally:
        session.close()


if __name__ == "__main__":
    sys.exit(main())
