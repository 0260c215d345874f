"""Fan-out: one room of 1,000 members, one sender at rising rates.

For each target (the bare broadcast baseline, then the chat server with its full path:
JWT connect, subscribe, posting gates and moderation pipeline, history append and publish
in Redis, pub/sub fan-out), the sender publishes at each rate for ``--duration`` seconds;
the ramp stops once the target saturates (throughput under 85 % of the offered deliveries,
or p99 over 2 s, or connections dropped). Reported per step: deliveries/s, send-to-receipt
latency p50/p99/max, server CPU per delivery, messages per frame, lost/duplicated/out of
order. Then the chat server runs once more at half the baseline's saturated rate, the
target's "p99 under 50 ms at half that rate" check.

    python -m loadtests.fanout [--members 1000] [--rates 10,25,50,...] [--duration 5] [--repeat 5]
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
    ("offered_per_s", "offered/s"),
    ("deliveries_per_s", "delivered/s"),
    ("p50_ms", "p50 ms"),
    ("p99_ms", "p99 ms"),
    ("max_ms", "max ms"),
    ("server_cpu_pct", "srv cpu%"),
    ("server_us_per_delivery", "us/deliv"),
    ("msgs_per_frame", "msg/frame"),
    ("load_cpu_pct", "load cpu%"),
    ("lost", "lost"),
    ("duplicated", "dup"),
    ("out_of_order", "ooo"),
    ("closed", "closed"),
    ("redis_avg_ms", "redis ms"),
]


def saturated(step: dict[str, Any]) -> bool:
    return (
        step["deliveries_per_s"] < 0.85 * step["offered_per_s"]
        or step["p99_ms"] > 2000
        or bool(step["closed"])
    )


def ramp(
    session: Session,
    kind: str,
    members: int,
    rates: list[float],
    extra_rates: list[float] | None = None,
) -> list[dict[str, Any]]:
    steps: list[dict[str, Any]] = []
    with session.target(kind) as target:
        community = "load"
        (channel,) = target.setup_rooms(community, ["fanout"])
        plan_members = [target.member(f"m{i}", community, [channel]) for i in range(members)]
        opened = open_members(session, target, plan_members)
        session.sender.call(
            "open",
            host="127.0.0.1",
            port=target.port,
            centrifuge=target.centrifuge,
            members=[target.member("sender", community, [channel], sender_only=True)],
        )
        ledger = Ledger()
        ledger.members_of[channel] = members
        print(f"   {kind}: {opened['opened']} members connected in {opened['elapsed_s']:.1f}s", flush=True)
        with session.profiling(target, f"{kind}-ramp"):
            for rate in rates:
                step = one_step(session, target, ledger, channel, rate, members)
                steps.append(step)
                print(table([step], COLUMNS).split("\n", 2)[-1], flush=True)
                if saturated(step):
                    break
        for rate in extra_rates or []:
            step = one_step(session, target, ledger, channel, rate, members, check="half-baseline")
            steps.append(step)
            print(table([step], COLUMNS).split("\n", 2)[-1], flush=True)
    return steps


def one_step(session: Session, target: Any, ledger: Ledger, channel: str, rate: float, members: int, check: str = "") -> dict[str, Any]:
    plan = [{"member": 0, "channel": channel, "sender": "s0", "rate": rate, "phase": 0.0}]
    label: dict[str, Any] = {"rate": rate, "offered_per_s": rate * members}
    if check:
        label["check"] = check
    return run_step(session, target, ledger, {session.sender: plan}, duration=session.args.duration, size=session.args.size, label=label)


def summarize(runs: list[dict[str, list[dict[str, Any]]]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for kind in ("baseline", "chatserver"):
        sats = []
        cpu = []
        for run in runs:
            steps = [s for s in run.get(kind, []) if not s.get("check")]
            if steps:
                sats.append(max(s["deliveries_per_s"] for s in steps))
                best = max(steps, key=lambda s: s["deliveries_per_s"])
                cpu.append(best["server_us_per_delivery"])
        if sats:
            out[kind] = {"saturation_deliveries_per_s": median(sats), "us_per_delivery_at_saturation": median(cpu), "runs": sats}
    checks = [s for run in runs for s in run.get("chatserver", []) if s.get("check")]
    if checks:
        out["half_baseline_check"] = {
            "rate": median([s["rate"] for s in checks]),
            "p99_ms": median([s["p99_ms"] for s in checks]),
            "p50_ms": median([s["p50_ms"] for s in checks]),
            "lost": sum(s["lost"] for s in checks),
        }
    if "baseline" in out and "chatserver" in out:
        out["ratio_deliveries"] = ratio(
            out["chatserver"]["saturation_deliveries_per_s"], out["baseline"]["saturation_deliveries_per_s"]
        )
    return out


def plot(result: dict[str, Any], path: str) -> str | None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("   (matplotlib not installed: pip install -e '.[load]' for the plot)")
        return None
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 4.5))
    colors = {"chatserver": "tab:blue", "baseline": "tab:gray"}
    for kind in ("baseline", "chatserver"):
        steps = [s for run in result["runs"] for s in run.get(kind, []) if not s.get("check")]
        if not steps:
            continue
        by_rate: dict[float, list[dict[str, Any]]] = {}
        for s in steps:
            by_rate.setdefault(s["offered_per_s"], []).append(s)
        xs = sorted(by_rate)
        for key, style in (("p50_ms", ":"), ("p99_ms", "-"), ("max_ms", "--")):
            ax1.plot(xs, [median([s[key] for s in by_rate[x]]) for x in xs], style, marker="o", color=colors[kind], label=f"{kind} {key[:-3]}")
        ax2.plot(xs, [median([s["deliveries_per_s"] for s in by_rate[x]]) for x in xs], marker="o", color=colors[kind], label=kind)
    ax1.set_xlabel("offered deliveries/s")
    ax1.set_ylabel("send-to-receipt latency, ms")
    ax1.set_yscale("log")
    ax1.grid(True, which="both", alpha=0.3)
    ax1.legend(fontsize=7)
    ax1.set_title("latency vs offered rate")
    lim = max([s["offered_per_s"] for run in result["runs"] for k in run for s in run[k]] or [1])
    ax2.plot([0, lim], [0, lim], color="lightgray", lw=1, label="offered")
    ax2.set_xlabel("offered deliveries/s")
    ax2.set_ylabel("delivered/s")
    ax2.grid(True, alpha=0.3)
    ax2.legend(fontsize=8)
    ax2.set_title("throughput")
    fig.suptitle(f"fan-out: 1 room, {result['params']['members']} members, {result['params']['size']}-byte messages")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def main(argv: list[str] | None = None) -> int:
    p = base_parser("fanout", "Fan-out to one big room at rising rates (deliveries/s, latency).")
    p.add_argument("--members", type=int, default=1000, help="members in the room (default %(default)s)")
    p.add_argument("--rates", default="10,25,50,75,100,125,150,200,250,300,400,500,600", help="sender rates, msg/s")
    p.add_argument("--no-half-check", action="store_true", help="skip the run at half the baseline's saturation")
    args = p.parse_args(argv)
    rates = [float(r) for r in args.rates.split(",") if r]
    session = Session(args, "fanout")
    runs: list[dict[str, list[dict[str, Any]]]] = []
    try:
        banner(session, f"fan-out: 1 room x {args.members} members, rates {args.rates} msg/s, {args.duration:g}s steps, {args.repeat} run(s)")
        for rep in range(args.repeat):
            print(f"-- run {rep + 1}/{args.repeat}")
            print(table([], COLUMNS))
            run: dict[str, list[dict[str, Any]]] = {}
            half: list[float] = []
            if not args.no_baseline:
                run["baseline"] = ramp(session, "baseline", args.members, rates)
                sat = max(s["deliveries_per_s"] for s in run["baseline"])
                if not args.no_half_check:
                    half = [round(sat / 2 / args.members, 1)]
            run["chatserver"] = ramp(session, "chatserver", args.members, rates, half)
            runs.append(run)
        result = {
            "scenario": "fanout",
            "params": {"members": args.members, "rates": rates, "duration": args.duration, "size": args.size, "repeat": args.repeat},
            "runs": runs,
            "summary": summarize(runs),
        }
        print_summary(result["summary"])
        png = plot(result, str(session.out / "fanout.png"))
        path = write_result(session, result)
        print(f"   results: {path}" + (f", plot: {png}" if png else ""))
        return 0
    finally:
        session.close()


def print_summary(summary: dict[str, Any]) -> None:
    rows = []
    for kind in ("baseline", "chatserver"):
        if kind in summary:
            s = summary[kind]
            rows.append({"target": kind, "sat": s["saturation_deliveries_per_s"], "us": s["us_per_delivery_at_saturation"], "runs": "/".join(f"{v:,.0f}" for v in s["runs"])})
    print("\n== summary (medians)")
    print(table(rows, [("target", "target"), ("sat", "deliveries/s at saturation"), ("us", "server us/delivery"), ("runs", "per run")]))
    if summary.get("ratio_deliveries") is not None:
        print(f"   ratio chatserver / baseline: {summary['ratio_deliveries']:.2f}x")
    if "half_baseline_check" in summary:
        c = summary["half_baseline_check"]
        print(f"   chatserver at half the baseline's saturation ({c['rate']:g} msg/s): p50 {c['p50_ms']:.1f} ms, p99 {c['p99_ms']:.1f} ms, lost {c['lost']}")


if __name__ == "__main__":
    sys.exit(main())
