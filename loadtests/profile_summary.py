"""Summarize a py-spy ``--format raw`` profile (collapsed stacks): where the time goes.

    python -m loadtests.profile_summary loadtest-results/fanout-chatserver-ramp.txt [--top 25]

Prints the functions with the most samples on top of the stack (self time) and the ones
most often anywhere on the stack (inclusive time), as a share of all samples. Idle samples
(the event loop waiting in ``select``/``epoll``) are counted and shown separately.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections import Counter
from pathlib import Path

IDLE = re.compile(r"\b(select|poll|epoll_wait|_run_once|run_forever)\b")
_LINE = re.compile(r"^(?P<stack>.*) (?P<count>\d+)$")


def _frame_name(frame: str) -> str:
    # py-spy frames look like "flush (chatserver/connection.py:165)"; drop the line number.
    return re.sub(r":\d+\)$", ")", frame.strip())


def load(path: Path) -> tuple[Counter[str], Counter[str], int, int]:
    self_time: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = idle = 0
    for line in path.read_text(errors="replace").splitlines():
        m = _LINE.match(line)
        if not m:
            continue
        count = int(m["count"])
        frames = [_frame_name(f) for f in m["stack"].split(";") if f.strip()]
        if not frames:
            continue
        total += count
        top = frames[-1]
        if IDLE.search(top.split(" (")[0]) or top.startswith("process "):
            idle += count
            continue
        self_time[top] += count
        for f in set(frames):
            inclusive[f] += count
    return self_time, inclusive, total, idle


def summarize(path: Path, top: int = 25) -> str:
    self_time, inclusive, total, idle = load(path)
    busy = max(1, total - idle)
    out = [f"{path}: {total} samples, {100 * idle / max(1, total):.0f}% idle; shares below are of busy samples"]
    out.append("self time:")
    for name, n in self_time.most_common(top):
        out.append(f"  {100 * n / busy:5.1f}%  {name}")
    out.append("inclusive time:")
    for name, n in inclusive.most_common(top):
        if name.startswith("<module>") or "run_forever" in name or "asyncio.run" in name:
            continue
        out.append(f"  {100 * n / busy:5.1f}%  {name}")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m loadtests.profile_summary", description=__doc__.split("\n")[0])
    p.add_argument("files", nargs="+", type=Path)
    p.add_argument("--top", type=int, default=25)
    args = p.parse_args(argv)
    for f in args.files:
        print(summarize(f, args.top))
    return 0


if __name__ == "__main__":
    sys.exit(main())
