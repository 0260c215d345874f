"""Parse the one ``--redis-url`` into what the engine connects to.

Forms (docs/configuration.md):
- ``redis://[user:password@]host:port[/db]`` (also ``rediss://``, ``valkey://``,
  ``valkeys://``, ``unix:///path?db=N``): one server, or several comma-separated seed
  nodes of a Redis/Valkey Cluster (``redis://10.0.0.1:7000,10.0.0.2:7000``); whether the
  server is a cluster node is found out at startup (``chatserver.redis.deployment``).
- ``redis+sentinel://[:password@]host:26379[,host:26379...]/<service>[/db]`` (also
  ``rediss+sentinel://``, ``valkey+sentinel://``): the master of ``service`` as the
  sentinels name it. The password is the data nodes'; sentinels that want one of their own
  take ``?sentinel_password=...``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from urllib.parse import parse_qs, unquote, urlparse

PLAIN_SCHEMES = ("redis", "rediss", "unix", "valkey", "valkeys")
SENTINEL_SCHEMES = ("redis+sentinel", "rediss+sentinel", "valkey+sentinel", "valkeys+sentinel")


@dataclass(frozen=True, slots=True)
class RedisAddress:
    host: str = "127.0.0.1"
    port: int = 6379
    path: str = ""  # unix socket
    username: str = ""
    password: str = ""
    db: int = 0
    tls: bool = False

    def at(self, host: str, port: int) -> RedisAddress:
        """The same credentials and options for another node."""
        return replace(self, host=host, port=port, path="")

    @property
    def label(self) -> str:
        return self.path or f"{self.host}:{self.port}"


@dataclass(frozen=True, slots=True)
class RedisUrl:
    """``nodes``: the server or the cluster's seed nodes (plain), or the sentinels."""

    nodes: tuple[RedisAddress, ...]
    service: str = ""  # sentinel: the monitored master's name
    sentinel_password: str = ""

    @property
    def sentinel(self) -> bool:
        return bool(self.service)


def parse_redis_url(url: str) -> RedisAddress:
    """One server's address (the first node of a list)."""
    return parse_url(url).nodes[0]


def parse_url(url: str) -> RedisUrl:
    parsed = urlparse(url)
    scheme = parsed.scheme
    if scheme not in PLAIN_SCHEMES + SENTINEL_SCHEMES:
        raise ValueError(f"unsupported Redis URL scheme {scheme!r} in {url!r}")
    query = parse_qs(parsed.query)
    userinfo, _, hostlist = parsed.netloc.rpartition("@")
    username, _, password = userinfo.partition(":")
    username, password = unquote(username), unquote(password)
    if scheme == "unix":
        db = int(query["db"][0]) if "db" in query else 0
        return RedisUrl((RedisAddress(path=unquote(parsed.path), username=username, password=password, db=db),))
    tls = scheme.split("+")[0] in ("rediss", "valkeys")
    parts = [p for p in parsed.path.split("/") if p]
    service = ""
    if scheme in SENTINEL_SCHEMES:
        if not parts:
            raise ValueError(f"a Sentinel URL names the service: redis+sentinel://host:26379/<service> ({url!r})")
        service = unquote(parts.pop(0))
    if len(parts) > 1:
        raise ValueError(f"unexpected path in Redis URL {url!r}")
    db = int(parts[0]) if parts else 0
    default_port = 26379 if service else 6379
    nodes = tuple(
        RedisAddress(host=host, port=port, username=username, password=password, db=db, tls=tls)
        for host, port in _hosts(hostlist, default_port, url)
    )
    return RedisUrl(nodes, service, unquote(query.get("sentinel_password", [""])[0]))


def _hosts(hostlist: str, default_port: int, url: str) -> list[tuple[str, int]]:
    out = []
    for item in hostlist.split(",") if hostlist else ["127.0.0.1"]:
        item = item.strip()
        if item.startswith("["):  # [ipv6]:port
            host, _, rest = item[1:].partition("]")
            port = rest.lstrip(":")
        else:
            host, _, port = item.partition(":")
        try:
            out.append((host or "127.0.0.1", int(port) if port else default_port))
        except ValueError:
            raise ValueError(f"bad port in Redis URL {url!r}") from None
    return out
