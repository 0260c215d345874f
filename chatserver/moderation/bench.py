"""Benchmark of the moderation pipeline's CPU cost: ``python -m chatserver.moderation.bench``.

Prints microseconds per review of the default pipeline (and per hook) for a few typical
messages. No Redis, no network: this is the pure hook cost a post pays on top of the
gateway's own work.
"""

from __future__ import annotations

import argparse
import asyncio
import time

from moderation_hooks import MessageContext, Pipeline, parse_config, resolve
from moderation_hooks.flood import RECENT_POSTS, RecentPost, digest
from moderation_hooks.loading import build_specs
from rooms.model import Role, Room

SAMPLES = {
    "short": "ok",
    "chat": "Hi everyone, how was your day? Mine was tiring, fatigue is bad again today.",
    "long": (
        "Has anyone tried the new medication? My neurologist suggested it last week and I'm "
        "nervous about side effects, especially the injection site reactions."
    ),
    "pii": "call me on +44 20 7946 0958 or write to sam@example.org",
    "crisis": "honestly I don't want to be here anymore",
}


async def run(rounds: int) -> None:
    specs = build_specs(resolve(parse_config({}), []).hooks)
    pipeline = Pipeline(specs)
    room = Room("bench", "room")
    recent = tuple(RecentPost(990.0 - i, digest(f"earlier {i}")) for i in range(10))
    print(f"default pipeline: {', '.join(s.name for s in specs)}; {rounds} rounds each")
    for label, text in SAMPLES.items():
        ctx = MessageContext(
            text=text, user="u", name="U", role=Role.MEMBER, room=room, now=1000.0, extra={RECENT_POSTS: recent}
        )
        start = time.perf_counter()
        for _ in range(rounds):
            await pipeline.review(ctx)
        total = (time.perf_counter() - start) / rounds * 1e6
        parts = []
        for spec in specs:
            start = time.perf_counter()
            for _ in range(rounds):
                spec.hook(ctx)
            parts.append(f"{spec.name} {(time.perf_counter() - start) / rounds * 1e6:.1f}")
        print(f"{label:>7} ({len(text):3d} chars): {total:6.1f} us/review   [{', '.join(parts)}]")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5000)
    args = parser.parse_args()
    asyncio.run(run(args.rounds))


if __name__ == "__main__":
    main()
