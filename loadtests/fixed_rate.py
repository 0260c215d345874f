"""Fixed rate: one room of 1,000 members at a steady 20 messages/s.

The everyday case for a big room: latency percentiles at a rate far below saturation, and
proof that nothing is lost, duplicated or reordered. Runs the baseline and the chat server
(alternating which goes first per repetition) and prints both with their ratio.

    python -m loadtests.fixed_rate [--members 1000] [--rate 20] [--duration 30] [--repeat 3]
"""

from __future__ import annotations

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
from loadtests.stats import median

COLUMNS = [
    ("target", "target"),
    ("rate", "msg/s"),
    ("deliveries_per_s", "delivered/s"),
    ("p50_ms", "p50 ms"),
    ("p90_ms", "p90 ms"),
    ("p99_ms", "p99 ms"),
    ("p999_ms", "p99.9 ms"),
    ("max_ms", "max ms"),
    ("server_cpu_pct", "srv cpu%"),
    ("server_us_per_delivery", "us/deliv"),
    ("lost", "lost"),
    ("duplicated", "dup"),
    ("out_of_order", "ooo"),
    ("closed", "closed"),
]


def run_target(session: Session, kind: str) -> dict[str, Any]:
    args = session.args
    with session.target(kind) as target:
        (channel,) = target.setup_rooms("steady", ["big"])
        members = [target.member(f"m{i}", "steady", [channel]) for i in range(args.members)]
        open_members(session, target, members)
        session.sender.call(
            "open", host="127.0.0.1", port=target.port, centrifuge=target.centrifuge,
            members=[target.member("sender", "steady", [channel], sender_only=True)],
        )
        ledger = Ledger()
        ledger.members_of[channel] = args.members
        plan = [{"member": 0, "channel": channel, "sender": "s0", "rate": args.rate, "phase": 0.0}]
        with session.profiling(target, kind):
            step = run_step(session, target, ledger, {session.sender: plan}, duration=args.duration, size=args.size, label={"rate": args.rate})
        print(table([step], COLUMNS).split("\n", 2)[-1], flush=True)
        return step


def main(argv: list[str] | None = None) -> int:
    p = base_parser("fixed_rate", "One big room at a steady rate: latency percentiles, nothing lost.")
    p.set_defaults(duration=30.0)
    p.add_argument("--members", type=int, default=1000, help="members in the room (default %(default)s)")
    p.add_argument("--rate", type=float, default=20.0, help="messages/s (default %(default)s)")
    args = p.parse_args(argv)
    session = Session(args, "fixed_rate")
    runs: list[dict[str, dict[str, Any]]] = []
    try:
        banner(session, f"fixed rate: 1 room x {args.members} members at {args.rate:g} msg/s for {args.duration:g}s, {args.repeat} run(s)")
        for rep in range(args.repeat):
            print(f"-- run {rep + 1}/{args.repeat}")
            print(table([], COLUMNS))
            kinds = ["chatserver"] if args.no_baseline else (["baseline", "chatserver"] if rep % 2 == 0 else ["chatserver", "baseline"])
            runs.append({kind: run_target(session, kind) for kind in kinds})
        summary: dict[str, Any] = {}
        for kind in ("baseline", "chatserver"):
            steps = [r[kind] for r in runs if kind in r]
            if steps:
                summary[kind] = {k: median([s[k] for s in steps]) for k in ("rate", "deliveries_per_s", "p50_ms", "p90_ms", "p99_ms", "p999_ms", "max_ms", "server_cpu_pct", "server_us_per_delivery")}
                for k in ("lost", "duplicated", "out_of_order"):
                    summary[kind][k] = sum(s[k] for s in steps)
        if "baseline" in summary and "chatserver" in summary:
            summary["ratio_p99"] = ratio(summary["chatserver"]["p99_ms"], summary["baseline"]["p99_ms"])
            summary["ratio_server_cpu"] = ratio(summary["chatserver"]["server_cpu_pct"], summary["baseline"]["server_cpu_pct"])
        print("\n== summary (medians; lost/dup/ooo summed over runs)")
        print(table([{"target": k, **v} for k, v in summary.items() if isinstance(v, dict)], COLUMNS))
        if "ratio_p99" in summary:
            print(f"   chatserver / baseline: p99 {summary['ratio_p99']}x, server CPU {summary['ratio_server_cpu']}x")
        result = {
            "scenario": "fixed_rate",
            "params": {"members": args.members, "rate": args.rate, "duration": args.duration, "size": args.size, "repeat": args.repeat},
            "runs": runs,
            "summary": summary,
        }
        print(f"   results: {write_result(session, result)}")
        return 0
    finally:
        session.close()


if __name__ == "__main__":
    sys.exit(main())
