"""Start time of a server with N rooms in its config: the first start seeds them, the second
finds them all. A benchmark command, not a test.

    python scripts/bench_catalog_start.py [rooms] [repo root]
"""

from __future__ import annotations

import importlib
import sys
import time
from pathlib import Path


def main() -> None:
    rooms = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    root = Path(sys.argv[2] if len(sys.argv) > 2 else Path(__file__).resolve().parent.parent)
    sys.path.insert(0, str(root))
    harness = importlib.import_module("tests.harness")  # the servers run from ``root``
    config = Path(f"/tmp/bench-catalog-rooms-{rooms}.toml")
    with config.open("w") as f:
        f.write('[[communities]]\nname = "big"\ntitle = "Big"\n\n')
        for i in range(rooms):
            f.write(f'[[rooms]]\ncommunity = "big"\nname = "r{i}"\ntitle = "Room {i}"\n\n')
    valkey = harness.Valkey()
    try:
        for label in ("first start (seeds)", "second start (all exist)"):
            started = time.monotonic()
            server = harness.ServerProcess(valkey.url, args=["--config", str(config)])
            server.wait_ready(timeout=300)
            elapsed = time.monotonic() - started
            listed = len(server.api("GET", "/api/communities/big/rooms").json()["rooms"])
            server.stop()
            print(f"{root}: {rooms} rooms, {label}: ready in {elapsed:.2f} s (process start included), {listed} listed")
    finally:
        valkey.stop()
        config.unlink(missing_ok=True)


if __name__ == "__main__":
    main()
