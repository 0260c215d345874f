"""The ``/connection/websocket`` ASGI endpoint: handshake, codec choice, the read loop.

JSON by default; Protobuf when the client offers the ``centrifuge-protobuf`` subprotocol
or asks with ``?format=protobuf``. A client that offers no subprotocol (centrifuge-python
in JSON mode) or an empty one (older SDKs; see ``ws_protocol``) gets JSON.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from chatserver import limits
from chatserver.connection import Connection, ConnectionContext
from chatserver.protocol import codes
from chatserver.protocol.codec import JSON, PROTOBUF
from chatserver.ws_protocol import DIRECT_EXTENSION

if TYPE_CHECKING:
    from chatserver.node import Node

log = logging.getLogger("chatserver.websocket")

PROTOBUF_SUBPROTOCOL = "centrifuge-protobuf"


def make_endpoint(ctx: ConnectionContext, node: Node, ready: Callable[[], bool]) -> Any:
    max_size = ctx.settings.max_message_size

    async def endpoint(scope: dict[str, Any], receive: Any, send: Any) -> None:
        message = await receive()
        if message["type"] != "websocket.connect":
            return
        offered = [p.strip() for p in scope.get("subprotocols", []) if p.strip()]
        query = parse_qs(scope.get("query_string", b"").decode(errors="replace"))
        use_protobuf = PROTOBUF_SUBPROTOCOL in offered or query.get("format") == ["protobuf"]
        if not ready():
            await send({"type": "websocket.close", "code": 1013})
            return
        accept: dict[str, Any] = {"type": "websocket.accept"}
        if PROTOBUF_SUBPROTOCOL in offered:
            accept["subprotocol"] = PROTOBUF_SUBPROTOCOL
        await send(accept)
        headers = dict(scope.get("headers") or [])
        client = scope.get("client") or ("", 0)
        direct = scope.get("extensions", {}).get(DIRECT_EXTENSION)
        conn = Connection(
            ctx,
            PROTOBUF if use_protobuf else JSON,
            direct=direct,
            asgi_send=send,
            remote=f"{client[0]}:{client[1]}",
            user_agent=headers.get(b"user-agent", b"").decode(errors="replace")[:200],
        )
        node.accept(conn)
        try:
            while True:
                message = await receive()
                kind = message["type"]
                if kind == "websocket.receive":
                    data = message.get("bytes")
                    if data is None:
                        data = message.get("text") or ""
                        size = len(data) if len(data) * 4 <= max_size else len(data.encode())
                    else:
                        size = len(data)
                    if size > max_size:
                        conn.close(codes.MESSAGE_TOO_BIG)
                        continue
                    await conn.handle_message(data)
                elif kind == "websocket.disconnect":
                    break
        except Exception:
            log.exception("connection %s failed", conn.client_id)
            conn.close(codes.SERVER_ERROR)
        finally:
            await node.release(conn)

    return _RawAsgi(limits.guard(endpoint, ctx.settings))


class _RawAsgi:
    """Starlette treats plain functions as WebSocket sessions; a callable object is mounted
    as a raw ASGI app, which is what the gateway wants (no per-message wrapper objects)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        await self.app(scope, receive, send)
