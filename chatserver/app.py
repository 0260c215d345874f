"""The composition root: build a Node from Settings, install extensions, wrap it in an ASGI app.

``create_app(settings)`` is what tests and the CLI use. ``create_app_from_env()`` is the
factory uvicorn workers import (settings travel in ``CHATSERVER_SETTINGS_JSON``).
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles

from chatserver import api
from chatserver.config import Settings
from chatserver.node import Node
from chatserver.websocket import make_endpoint

log = logging.getLogger("chatserver.app")

# Extensions installed into every node, in order. Each module has ``install(node)``.
EXTENSIONS: list[str] = ["chatserver.moderation", "chatserver.qa", "chatserver.dev_signin"]

STATIC_DIR = Path(__file__).parent / "static"


def install_extensions(node: Node, names: list[str] | None = None) -> None:
    for name in names if names is not None else EXTENSIONS:
        module = importlib.import_module(name)
        module.install(node)


def create_app(settings: Settings, extensions: list[str] | None = None) -> Starlette:
    node = Node(settings)
    install_extensions(node, extensions)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await node.start()
        try:
            yield
        finally:
            await node.stop()

    routes: list[Any] = [WebSocketRoute("/connection/websocket", make_endpoint(node))]
    routes += api.routes(node)
    routes += node.extension_routes
    if (STATIC_DIR / "index.html").exists():
        routes.append(Mount("/", StaticFiles(directory=STATIC_DIR, html=True), name="static"))
    else:
        async def index(request: Any) -> Any:
            from starlette.responses import PlainTextResponse

            return PlainTextResponse(
                "chatserver is running. WebSocket: /connection/websocket  API: /api  "
                "Health: /healthz\n"
            )

        routes.append(Route("/", index))
    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.node = node
    return app


def create_app_from_env() -> Starlette:
    from chatserver import logs

    settings = Settings.from_json(os.environ["CHATSERVER_SETTINGS_JSON"])
    logs.setup(settings.log_level, settings.log_format, settings.access_log)
    return create_app(settings)
