"""The ``/connection/websocket`` ASGI endpoint: handshake, codec choice, the read loop.

JSON by default; Protobuf when the client offers the ``centrifuge-protobuf`` subprotocol
or asks with ``?format=protobuf``. A client that offers no subprotocol (centrifuge-python
in JSON mode) or an empty one (older SDKs; see ``ws_protocol``) gets JSON.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from chatserver import limits
from chatserver.connection import Connection, ConnectionContext
from chatserver.protocol import codes
from chatserver.protocol.codec import JSON, PROTOBUF
from chatserver.ws_protocol import DIRECT_EXTENSION

if TYPE_CHECKING:
    from chatserver.node import Node
    from chatserver.ws_protocol import DirectSend

log = logging.getLogger("chatserver.websocket")

PROTOBUF_SUBPROTOCOL = "centrifuge-protobuf"


def make_endpoint(ctx: ConnectionContext, node: Node, ready: Callable[[], bool]) -> Any:
    max_size = ctx.settings.max_message_size

    async def open_connection(scope: dict[str, Any], receive: Any, send: Any) -> Connection | None:
        """The handshake: the accepted connection, or None. Its own coroutine, so what it
        reads from the request (headers, query) is let go when it returns."""
        message = await receive()
        if message["type"] != "websocket.connect":
            return None
        offered = [p.strip() for p in scope.get("subprotocols", []) if p.strip()]
        query = parse_qs(scope.get("query_string", b"").decode(errors="replace"))
        use_protobuf = PROTOBUF_SUBPROTOCOL in offered or query.get("format") == ["protobuf"]
        if not ready():
            # Starting or draining: an HTTP 503 (not a 403), so a proxy passes the client
            # to another gateway (nginx: proxy_next_upstream http_503) and SDKs back off.
            headers = [(b"content-type", b"text/plain; charset=utf-8"), (b"retry-after", b"2")]
            await send({"type": "websocket.http.response.start", "status": 503, "headers": headers})
            await send({"type": "websocket.http.response.body", "body": b"this server is not taking connections now\n"})
            return None
        accept: dict[str, Any] = {"type": "websocket.accept"}
        if PROTOBUF_SUBPROTOCOL in offered:
            accept["subprotocol"] = PROTOBUF_SUBPROTOCOL
        await send(accept)
        agent = b""
        for name, value in scope.get("headers") or ():
            if name == b"user-agent":
                agent = value  # the last one, as a dict of the headers would keep
        client = scope.get("client") or ("", 0)
        conn = Connection(
            ctx,
            PROTOBUF if use_protobuf else JSON,
            direct=scope.get("extensions", {}).get(DIRECT_EXTENSION),
            asgi_send=send,
            remote=f"{client[0]}:{client[1]}",
            user_agent=_shared_agent(agent),
        )
        node.accept(conn)
        return conn

    async def endpoint(scope: dict[str, Any], receive: Any, send: Any) -> None:
        conn = await open_connection(scope, receive, send)
        del scope  # an idle connection keeps nothing of its HTTP request
        if conn is None:
            return
        direct: DirectSend | None = conn.out.direct
        message: Any = None
        data: Any = None
        try:
            while True:
                if direct is None:
                    message = await receive()
                else:
                    # Awaits the arrival future itself: no receive() coroutines to keep.
                    message = direct.next_message()
                    if message is None:
                        await direct.arrival()
                        continue
                kind = message["type"]
                if kind == "websocket.receive":
                    data = message.get("bytes")
                    if data is None:
                        data = message.get("text") or ""
                        size = len(data) if len(data) * 4 <= max_size else len(data.encode())
                    else:
                        size = len(data)
                    message = None
                    if size > max_size:
                        conn.close(codes.MESSAGE_TOO_BIG)
                        continue
                    await conn.handle_message(data)
                    data = None  # not kept while the connection waits for its next message
                elif kind == "websocket.disconnect":
                    break
        except Exception:
            log.exception("connection %s failed", conn.client_id)
            conn.close(codes.SERVER_ERROR)
        finally:
            await node.release(conn)

    return _RawAsgi(limits.guard(endpoint, ctx.settings))


_AGENTS: dict[bytes, str] = {}
MAX_SHARED_AGENTS = 1000


def _shared_agent(raw: bytes) -> str:
    """The User-Agent as text (at most 200 characters), one string per distinct value:
    thousands of members send a handful of different ones."""
    agent = _AGENTS.get(raw)
    if agent is None:
        agent = raw.decode(errors="replace")[:200]
        if len(raw) <= 256 and len(_AGENTS) < MAX_SHARED_AGENTS:
            _AGENTS[raw] = agent
    return agent


class _RawAsgi:
    """Starlette treats plain functions as WebSocket sessions; a callable object is mounted
    as a raw ASGI app, which is what the gateway wants (no per-message wrapper objects).
    Calling it returns the app's coroutine itself (no frame of its own to keep alive)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Awaitable[None]:
        return self.app(scope, receive, send)  # type: ignore[no-any-return]
