"""The baseline: a minimal ``websockets`` server that only calls ``broadcast()``.

Every connection on path ``/room/<name>`` is in room ``<name>``; any message a client sends
is broadcast, as is, to every connection in its room (the sender included). A connection on
``/send/<name>`` sends into room ``<name>`` without being in it. No protocol, no
auth, no history, no Redis: the fastest a plain Python broadcast gets on one core, to
compare the chat server against in the same run.

    python -m loadtests.baseline --port 8765 [--loop uvloop|asyncio]
"""

from __future__ import annotations

import argparse
import asyncio
import signal

from websockets.asyncio.server import ServerConnection, broadcast, serve

ROOMS: dict[str, set[ServerConnection]] = {}


async def handler(ws: ServerConnection) -> None:
    path = ws.request.path if ws.request is not None else "/"
    kind, _, name = path.strip("/").partition("/")
    room = ROOMS.setdefault(name, set())
    if kind != "send":  # /send/<name>: a sender that is not itself in the room
        room.add(ws)
    try:
        async for message in ws:
            broadcast(room, message)
    finally:
        room.discard(ws)


async def main(host: str, port: int) -> None:
    stop = asyncio.get_running_loop().create_future()
    for sig in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set_result, None)
    async with serve(handler, host, port, max_size=2**20, backlog=4096):
        await stop


def cli() -> None:
    parser = argparse.ArgumentParser(prog="python -m loadtests.baseline", description=__doc__.split("\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--loop", choices=["uvloop", "asyncio"], default="uvloop")
    args = parser.parse_args()
    if args.loop == "uvloop":
        import uvloop

        uvloop.install()
    asyncio.run(main(args.host, args.port))


if __name__ == "__main__":
    cli()
