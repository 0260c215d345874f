"""Many rooms: 200 rooms of 5 members, every member sending 1 message/s into its room.

1,000 messages/s in and 5,000 deliveries/s out by default: this measures the cost of the
publish path (command, auth'd member checks, moderation pipeline, history append and
publish in Redis, the reply) more than fan-out. Every member is a sender and a receiver;
each checks it got every message of its room, once and in order. Senders start at random
phases within the first second so the load is spread evenly.

    python -m loadtests.many_rooms [--rooms 200] [--per-room 5] [--rate 1] [--duration 20]
"""

from __future__ import annotations

import random
import sys
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
from loadtests.launch import diff_calls
from loadtests.stats import median

COLUMNS = [
    ("target", "target"),
    ("sent_per_s", "msgs in/s"),
    ("deliveries_per_s", "delivered/s"),
    ("p50_ms", "p50 ms"),
    ("p90_ms", "p90 ms"),
    ("p99_ms", "p99 ms"),
    ("max_ms", "max ms"),
    ("server_cpu_pct", "srv cpu%"),
    ("server_us_per_delivery", "us/deliv"),
    ("load_cpu_pct", "load cpu%"),
    ("refused", "refused"),
    ("lost", "lost"),
    ("duplicated", "dup"),
    ("out_of_order", "ooo"),
    ("redis_cmds_per_post", "redis/post"),
    ("closed", "closed"),
]


def run_target(session: Session, kind: str) -> dict[str, Any]:
    args = session.args
    rng = random.Random(7)
    with session.target(kind) as target:
        names = [f"r{i}" for i in range(args.rooms)]
        settings = {"extra": {"support": True, "reply_wait": 600}} if args.support else None
        channels = target.setup_rooms("many", names, settings)
        members = []
        for r, channel in enumerate(channels):
            for j in range(args.per_room):
                members.append(target.member(f"u{r}-{j}", "many", [channel]))
        opened = open_members(session, target, members)
        print(f"   {kind}: {opened['opened']} members in {args.rooms} rooms connected in {opened['elapsed_s']:.1f}s", flush=True)
        ledger = Ledger()
        for channel in channels:
            ledger.members_of[channel] = args.per_room
        # Members were dealt to workers round-robin (common.split): member k is worker
        # k % W, index k // W there.
        workers = session.workers
        plans: dict[Any, list[dict[str, Any]]] = {w: [] for w in workers}
        for k, m in enumerate(members):
            w = workers[k % len(workers)]
            plans[w].append(
                {"member": k // len(workers), "channel": m["channels"][0], "sender": m["user"], "rate": args.rate, "phase": rng.random() / args.rate}
            )
        store = session.stores.get(kind)
        before = store.command_calls() if store is not None else {}
        with session.profiling(target, kind):
            step = run_step(session, target, ledger, plans, duration=args.duration, size=args.size, label={"rooms": args.rooms, "per_room": args.per_room})
        if store is not None:
            calls = diff_calls(before, store.command_calls())
            step["redis_cmds_per_post"] = round(sum(calls.values()) / max(1, step["sent"] - step["refused"]), 2)
            step["redis_calls_by_command"] = calls
        print(table([step], COLUMNS).split("\n", 2)[-1], flush=True)
        return step


def main(argv: list[str] | None = None) -> int:
    p = base_parser("many_rooms", "Many small rooms, every member sending (publish path cost).")
    p.set_defaults(duration=20.0)
    p.add_argument("--rooms", type=int, default=200, help="rooms (default %(default)s)")
    p.add_argument("--per-room", type=int, default=5, help="members per room (default %(default)s)")
    p.add_argument("--rate", type=float, default=1.0, help="messages/s each member sends (default %(default)s)")
    p.add_argument("--support", action="store_true", help="support rooms (every post tracked for a reply; docs/peer-support.md)")
    args = p.parse_args(argv)
    session = Session(args, "many_rooms")
    runs: list[dict[str, dict[str, Any]]] = []
    try:
        banner(session, f"many rooms: {args.rooms} rooms x {args.per_room} members, {args.rate:g} msg/s each, {args.duration:g}s, {args.repeat} run(s)")
        for rep in range(args.repeat):
            print(f"-- run {rep + 1}/{args.repeat}")
            print(table([], COLUMNS))
            run: dict[str, dict[str, Any]] = {}
            for kind in session.kinds(rep):
                run[kind] = run_target(session, kind)
            runs.append(run)
        summary: dict[str, Any] = {}
        for kind in ("baseline", *session.chat_kinds()):
            steps = [r[kind] for r in runs if kind in r]
            if steps:
                summary[kind] = {k: median([s[k] for s in steps]) for k in ("sent_per_s", "deliveries_per_s", "p50_ms", "p90_ms", "p99_ms", "max_ms", "server_cpu_pct", "server_us_per_delivery", "load_cpu_pct")}
                summary[kind]["refused"] = sum(s["refused"] for s in steps)
                summary[kind]["lost"] = sum(s["lost"] for s in steps)
                summary[kind]["duplicated"] = sum(s["duplicated"] for s in steps)
                summary[kind]["out_of_order"] = sum(s["out_of_order"] for s in steps)
                if kind != "baseline":
                    summary[kind]["redis_cmds_per_post"] = median([s["redis_cmds_per_post"] for s in steps])
        if "baseline" in summary and "chatserver" in summary:
            summary["ratio_server_cpu"] = ratio(summary["chatserver"]["server_cpu_pct"], summary["baseline"]["server_cpu_pct"])
            summary["ratio_p99"] = ratio(summary["chatserver"]["p99_ms"], summary["baseline"]["p99_ms"])
        if "chatserver" in summary and "chatserver-cluster" in summary:
            summary["ratio_cluster_server_cpu"] = ratio(summary["chatserver-cluster"]["server_cpu_pct"], summary["chatserver"]["server_cpu_pct"])
            summary["ratio_cluster_p99"] = ratio(summary["chatserver-cluster"]["p99_ms"], summary["chatserver"]["p99_ms"])
        print("\n== summary (medians)")
        print(table([{"target": k, **v} for k, v in summary.items() if isinstance(v, dict)], COLUMNS))
        if "ratio_server_cpu" in summary:
            print(f"   chatserver / baseline: server CPU {summary['ratio_server_cpu']}x, p99 {summary['ratio_p99']}x")
        if "ratio_cluster_server_cpu" in summary:
            print(f"   cluster / single Valkey: server CPU {summary['ratio_cluster_server_cpu']}x, p99 {summary['ratio_cluster_p99']}x")
        for kind in session.chat_kinds():
            if kind in summary:
                print(f"   {kind}: Redis commands per post {summary[kind]['redis_cmds_per_post']}")
        result = {
            "scenario": "many_rooms",
            "params": {"rooms": args.rooms, "per_room": args.per_room, "rate": args.rate, "duration": args.duration, "size": args.size, "repeat": args.repeat},
            "runs": runs,
            "summary": summary,
        }
        path = write_result(session, result)
        print(f"   results: {path}")
        return 0
    finally:
        session.close()


if __name__ == "__main__":
    sys.exit(main())
