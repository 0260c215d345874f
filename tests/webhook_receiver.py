"""A real local HTTP receiver for webhook tests: ``http.server`` in a thread on 127.0.0.1.
``status`` (what it answers), ``delay`` (seconds before answering), ``stop()``/``start()``
on the same port (a receiver that is down for a while); ``received`` keeps every request
that was answered 2xx, ``attempts`` every request."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.harness import free_port


class Receiver:
    def __init__(self, secret: str) -> None:
        self.secret = secret
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/hook"
        self.status = 200
        self.statuses: list[int] = []  # answered first, one per request, before ``status``
        self.delay = 0.0
        self.received: list[dict[str, Any]] = []
        self.attempts: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self.start()

    def start(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                request = {"headers": {k.lower(): v for k, v in self.headers.items()}, "body": body, "at": time.time()}
                with receiver._lock:
                    status = receiver.statuses.pop(0) if receiver.statuses else receiver.status
                    receiver.attempts.append(request)
                if receiver.delay:
                    time.sleep(receiver.delay)
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")
                if 200 <= status < 300:
                    with receiver._lock:
                        receiver.received.append(request)

            def log_message(self, *args: Any) -> None:
                pass

        ThreadingHTTPServer.allow_reuse_address = True
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def verify(self, request: dict[str, Any]) -> bool:
        """The documented check: HMAC-SHA256 over "<timestamp>." + body with the secret."""
        ts = request["headers"]["x-chat-timestamp"]
        expected = "sha256=" + hmac.new(self.secret.encode(), f"{ts}.".encode() + request["body"], hashlib.sha256).hexdigest()
        return hmac.compare_digest(expected, request["headers"]["x-chat-signature"]) and abs(time.time() - int(ts)) < 300

    def events(self, type_: str | None = None) -> list[dict[str, Any]]:
        with self._lock:
            out = [json.loads(r["body"]) for r in self.received]
        return [e for e in out if type_ is None or e["type"] == type_]
