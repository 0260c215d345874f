"""Parse redis:// rediss:// and unix:// URLs into connection arguments."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qs, unquote, urlparse


@dataclass(frozen=True, slots=True)
class RedisAddress:
    host: str = "127.0.0.1"
    port: int = 6379
    path: str = ""  # unix socket
    username: str = ""
    password: str = ""
    db: int = 0
    tls: bool = False


def parse_redis_url(url: str) -> RedisAddress:
    parsed = urlparse(url)
    if parsed.scheme not in ("redis", "rediss", "unix", "valkey", "valkeys"):
        raise ValueError(f"unsupported Redis URL scheme {parsed.scheme!r} in {url!r}")
    query = parse_qs(parsed.query)
    db = 0
    if parsed.scheme == "unix":
        if "db" in query:
            db = int(query["db"][0])
        return RedisAddress(
            path=unquote(parsed.path),
            username=unquote(parsed.username or ""),
            password=unquote(parsed.password or ""),
            db=db,
        )
    if parsed.path and parsed.path != "/":
        db = int(parsed.path.lstrip("/"))
    return RedisAddress(
        host=parsed.hostname or "127.0.0.1",
        port=parsed.port or 6379,
        username=unquote(parsed.username or ""),
        password=unquote(parsed.password or ""),
        db=db,
        tls=parsed.scheme in ("rediss", "valkeys"),
    )
