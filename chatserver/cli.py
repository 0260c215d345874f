"""The ``chatserver`` command: ``run`` the server, mint a ``token``."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
from typing import Any

from chatserver import logs
from chatserver.config import ConfigError, build_settings, read_dev_secret, resolve_secrets

log = logging.getLogger("chatserver.cli")

RUN_EXAMPLES = """
examples:
  chatserver run
      development: embedded Valkey in ./chatserver-data, http://127.0.0.1:8000/
  chatserver run --port 9000 --data-dir /var/lib/chatserver
  CHATSERVER_SECRET=... CHATSERVER_API_KEY=... chatserver run --redis-url redis://10.0.0.5:6379/0 --workers 2
  chatserver run --config chatserver.toml

environment: every setting can be given as CHATSERVER_<NAME> (e.g. CHATSERVER_SECRET,
CHATSERVER_API_KEY, CHATSERVER_REDIS_URL, CHATSERVER_LOG_FORMAT=json).
"""

TOKEN_EXAMPLES = """
examples:
  chatserver token --user alice --name Alice --community demo=member
  chatserver token --user drsmith --name "Dr Smith" --community ms=host --ttl 7200
  chatserver token --user mod1 --community demo=moderator --community ms=moderator --ttl 0

roles: member, host, moderator, admin. --ttl 0 makes a token that never expires.
The token is signed with the secret in effect: CHATSERVER_SECRET, the config file's
server.secret, or (development) the secret `chatserver run` keeps in the data dir
(--data-dir, default ./chatserver-data). The command never creates a secret.
"""


def _add_common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", metavar="FILE", help="TOML config file")
    p.add_argument("--data-dir", metavar="DIR", help="data directory (default ./chatserver-data)")


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(
        prog="chatserver",
        description="Real-time chat and peer-support server (Centrifuge protocol v2).",
    )
    from chatserver import __version__

    root.add_argument("--version", action="version", version=f"chatserver {__version__}")
    sub = root.add_subparsers(dest="command", metavar="COMMAND")
    run = sub.add_parser(
        "run",
        help="run the server",
        description="Run the chat server. Without --redis-url it starts an embedded Valkey.",
        epilog=RUN_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    run.add_argument("--host", help="interface to listen on (default 127.0.0.1)")
    run.add_argument("--port", type=int, help="port (default 8000)")
    run.add_argument("--redis-url", metavar="URL", help="use this Redis/Valkey instead of the embedded one")
    run.add_argument("--workers", type=int, help="worker processes (default 1; use one per core)")
    run.add_argument("--dev", action="store_true", default=None, help="force development mode")
    run.add_argument("--no-demo", action="store_true", help="do not create the demo community on an empty store")
    run.add_argument("--log-level", choices=["debug", "info", "warning", "error"])
    run.add_argument("--log-format", choices=["text", "json"])
    _add_common(run)
    token = sub.add_parser(
        "token",
        help="print a connection token (JWT)",
        description="Print a connection JWT for a user, signed with the secret in effect.",
        epilog=TOKEN_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    token.add_argument("--user", required=True, help="user id (the token's sub)")
    token.add_argument("--name", help="display name")
    token.add_argument(
        "--community",
        action="append",
        default=[],
        metavar="NAME=ROLE",
        help="community membership, repeatable (role: member, host, moderator, admin)",
    )
    token.add_argument("--ttl", type=int, default=3600, help="seconds until expiry (0: never; default 3600)")
    token.add_argument("--invisible", action="store_true", help="hide the user from other members' presence")
    _add_common(token)
    return root


def _settings(args: argparse.Namespace, overrides: dict[str, Any]) -> Any:
    if args.data_dir:
        overrides["data_dir"] = args.data_dir
    return resolve_secrets(build_settings(args.config, overrides))


def cmd_token(args: argparse.Namespace) -> int:
    """Sign with the secret in effect. Never writes anything: without a configured secret
    it reads the development secret a ``chatserver run`` kept in the data dir."""
    from chatserver.auth import ROLES, make_token

    communities: dict[str, str] = {}
    for item in args.community:
        name, eq, role = item.partition("=")
        if not eq or not name or role not in ROLES:
            print(
                f"chatserver token: bad --community {item!r}: use NAME=ROLE with ROLE one of "
                + ", ".join(ROLES),
                file=sys.stderr,
            )
            return 2
        communities[name] = role
    if args.ttl < 0:
        print("chatserver token: --ttl must be >= 0", file=sys.stderr)
        return 2
    settings = build_settings(args.config, {"data_dir": args.data_dir} if args.data_dir else {})
    try:
        secret, path = read_dev_secret(settings)
    except FileNotFoundError:
        where = settings.data_path / "dev-secret"
        if settings.token_public_key:
            hint = "this server takes RS/ES tokens signed by your platform (token_public_key)"
        else:
            hint = (
                "pass the server's secret (CHATSERVER_SECRET or --config), or the data dir of a "
                "development server (--data-dir DIR; `chatserver run` creates the secret there)"
            )
        print(f"chatserver token: no token secret: none configured and no {where}; {hint}", file=sys.stderr)
        return 2
    print(
        make_token(
            secret,
            args.user,
            name=args.name,
            communities=communities,
            ttl=args.ttl or None,
            invisible=args.invisible,
        )
    )
    return 0


class _Stopped(BaseException):
    pass


def cmd_run(args: argparse.Namespace) -> int:
    import uvicorn

    from chatserver.embedded import EmbeddedValkey

    overrides: dict[str, Any] = {
        "host": args.host,
        "port": args.port,
        "redis_url": args.redis_url,
        "workers": args.workers,
        "log_level": args.log_level,
        "log_format": args.log_format,
    }
    if args.dev:
        overrides["dev"] = True
    if args.no_demo:
        overrides["seed_demo"] = False
    settings = _settings(args, overrides)
    logs.setup(settings.log_level, settings.log_format, settings.access_log)
    check_token_configuration(settings)
    # Refused before anything starts (no Valkey, no worker): a port in use, a Redis URL that
    # cannot work. One line on stderr and exit 2, never a traceback.
    check_port_free(settings.host, settings.port)
    if settings.redis_url:
        check_redis(settings.redis_url)
    embedded = None
    if not settings.redis_url:
        embedded = EmbeddedValkey(settings.data_path)
        try:
            settings.redis_url = embedded.start()
        except Exception as exc:
            log.error("could not start the embedded Valkey: %s", exc)
            return 1
    os.environ["CHATSERVER_SETTINGS_JSON"] = settings.to_json()
    mode = "development" if settings.dev else "production"
    log.info(
        "chatserver %s mode on http://%s:%d/ (redis %s, %d worker%s)",
        mode,
        settings.host,
        settings.port,
        "embedded" if embedded else redact_url(settings.redis_url),
        settings.workers,
        "" if settings.workers == 1 else "s",
    )
    if settings.dev:
        log.info("development secret and API key are in %s", settings.data_path)
    # uvicorn re-raises SIGTERM/SIGINT after its graceful shutdown; turn that into an
    # exception here so the embedded Valkey is stopped last and the exit code is 0. The
    # embedded Valkey runs in its own session, so a terminal's Ctrl+C (SIGINT to the whole
    # foreground process group) reaches only this process and its workers.
    def _stop(signum: int, frame: Any) -> None:
        raise _Stopped(signum)

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    try:
        loop = "uvloop"
        try:
            import uvloop  # noqa: F401
        except ImportError:
            loop = "asyncio"
        uvicorn.run(
            "chatserver.app:create_app_from_env",
            factory=True,
            host=settings.host,
            port=settings.port,
            workers=settings.workers,
            loop=loop,
            http="chatserver.http_protocol:ChatHttpProtocol",
            ws="chatserver.ws_protocol:ChatWebSocketProtocol",
            ws_max_size=settings.max_message_size,
            ws_per_message_deflate=settings.ws_compression,
            ws_ping_interval=None,
            ws_ping_timeout=None,
            lifespan="on",
            log_config=None,
            access_log=settings.access_log,
            # X-Forwarded-For is believed only from trusted_proxies (uvicorn's default
            # trusts 127.0.0.1, which would let any local client pick its address).
            proxy_headers=bool(settings.trusted_proxies),
            forwarded_allow_ips=list(settings.trusted_proxies),
            timeout_keep_alive=5,
            timeout_graceful_shutdown=10,
            backlog=4096,
        )
    except _Stopped:
        pass
    finally:
        # A second Ctrl+C while the embedded Valkey stops would interrupt that: ignore it.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        if embedded is not None:
            embedded.stop()
    return 0


def check_token_configuration(settings: Any) -> None:
    """Refuse a token configuration that can accept no token at all: every algorithm of
    ``token_algorithms`` needs its key (HS* the secret; RS*/PS* an RSA public key; ES* an EC
    public key of that curve)."""
    from chatserver.auth import load_public_key

    key_algorithms: tuple[str, ...] = ()
    if settings.token_public_key:
        try:
            _, key_algorithms = load_public_key(settings.token_public_key)
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
    if not settings.token_algorithms:
        return  # derived from the keys: always usable
    usable = set()
    if settings.secret:
        usable |= {"HS256", "HS384", "HS512"}
    if key_algorithms and key_algorithms[0].startswith("RS"):
        usable |= {"RS256", "RS384", "RS512", "PS256"}
    usable |= set(key_algorithms)  # EC: the curve's one algorithm
    accepted = [a for a in settings.token_algorithms if a in usable]
    unusable = [a for a in settings.token_algorithms if a not in usable]
    if accepted and not unusable:
        return
    have = []
    if settings.secret:
        have.append("a secret (HS256/HS384/HS512)")
    if key_algorithms:
        have.append(f"a public key that verifies {'/'.join(sorted(usable - {'HS256', 'HS384', 'HS512'}))}")
    keys = " and ".join(have) or "no key"
    if not accepted:
        raise ConfigError(
            f"token_algorithms {settings.token_algorithms} would accept no token: the server has "
            f"{keys}; list an algorithm of these keys or configure the key "
            "(CHATSERVER_SECRET for HS*, token_public_key for RS*/PS*/ES*)"
        )
    log.warning("token_algorithms: %s cannot be verified with the configured keys (%s)", ", ".join(unusable), keys)


def check_port_free(host: str, port: int) -> None:
    """Whether ``host:port`` can be listened on now (as uvicorn would: SO_REUSEADDR)."""
    import errno
    import socket

    if port == 0:
        return
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except OSError as exc:
        raise ConfigError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(address)
            sock.listen(1)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise ConfigError(
                    f"port {port} on {host} is already in use (another chatserver or program "
                    "listens there); choose another with --port"
                ) from None
            raise ConfigError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None


class _RespReplyError(Exception):
    pass


class _Resp:
    """A minimal blocking RESP2 connection for the start-up check (no client library: the
    answers to AUTH must be seen as the server gives them)."""

    def __init__(self, node: Any) -> None:
        import socket
        import ssl

        if node.path:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.settimeout(3)
            sock.connect(node.path)
        else:
            sock = socket.create_connection((node.host, node.port), timeout=3)
            if node.tls:
                sock = ssl.create_default_context().wrap_socket(sock, server_hostname=node.host)
        self.sock = sock
        self.file = sock.makefile("rb")

    def __enter__(self) -> _Resp:
        return self

    def __exit__(self, *exc: object) -> None:
        self.file.close()
        self.sock.close()

    def call(self, *args: str | int) -> Any:
        parts = [str(a).encode() for a in args]
        self.sock.sendall(b"*%d\r\n" % len(parts) + b"".join(b"$%d\r\n%s\r\n" % (len(p), p) for p in parts))
        return self._read()

    def _read(self) -> Any:
        line = self.file.readline()
        if not line.endswith(b"\r\n"):
            raise ConnectionError("connection closed by the server")
        kind, rest = line[:1], line[1:-2]
        if kind == b"-":
            raise _RespReplyError(rest.decode(errors="replace"))
        if kind in (b"+", b":"):
            return rest.decode(errors="replace")
        if kind == b"$":
            n = int(rest)
            return None if n < 0 else self.file.read(n + 2)[:-2].decode(errors="replace")
        if kind == b"*":
            n = int(rest)
            return None if n < 0 else [self._read() for _ in range(n)]
        raise ConnectionError(f"not a Redis server (answered {line[:40]!r})")


def check_redis(url: str) -> None:
    """Connect to the Redis/Valkey of ``--redis-url`` once before starting: a malformed URL,
    an unreachable server, a wrong or missing password become one ConfigError line."""
    from chatserver.redis.urls import RedisAddress, parse_url

    shown = redact_url(url)
    try:
        parsed = parse_url(url)
    except ValueError as exc:
        raise ConfigError(f"bad --redis-url {shown}: {_redact_in(str(exc), url)}") from None

    def probe(what: str, node: RedisAddress, password: str, username: str = "", db: int = 0) -> str | None:
        """None when it answers; why it cannot be reached; ConfigError for a refusal."""
        label = node.label
        try:
            with _Resp(node) as c:
                if password:
                    c.call("AUTH", *([username] if username else []), password)
                if db:
                    c.call("SELECT", db)
                c.call("PING")
            return None
        except _RespReplyError as exc:
            text = str(exc)
            if "without any password configured" in text:
                raise ConfigError(f"{what} at {label} has no password set but --redis-url {shown} gives one") from None
            if text.startswith("NOAUTH"):
                raise ConfigError(
                    f"{what} at {label} requires a password and --redis-url {shown} gives none "
                    "(redis://:PASSWORD@host:port or redis://USER:PASSWORD@host:port)"
                ) from None
            if text.startswith("WRONGPASS") or "invalid password" in text or "invalid username-password" in text:
                raise ConfigError(f"{what} at {label} refused the password in --redis-url {shown}: {text}") from None
            raise ConfigError(f"{what} at {label} refused the connection (--redis-url {shown}): {text}") from None
        except (OSError, ValueError) as exc:
            return (getattr(exc, "strerror", None) or str(exc) or type(exc).__name__).splitlines()[0]

    if parsed.sentinel:
        reasons = []
        master = None
        for node in parsed.nodes:
            sentinel = RedisAddress(host=node.host, port=node.port, tls=node.tls)
            reason = probe("the Sentinel", sentinel, parsed.sentinel_password)
            if reason is not None:
                reasons.append(f"{node.label}: {reason}")
                continue
            try:
                with _Resp(sentinel) as c:
                    if parsed.sentinel_password:
                        c.call("AUTH", parsed.sentinel_password)
                    found = c.call("SENTINEL", "GET-MASTER-ADDR-BY-NAME", parsed.service)
            except _RespReplyError as exc:
                raise ConfigError(
                    f"{node.label} is not a Sentinel ({exc}); --redis-url {shown} names Sentinels "
                    "(redis+sentinel://...), use redis://host:port for a plain server"
                ) from None
            except (OSError, ValueError) as exc:
                reasons.append(f"{node.label}: {exc}")
                continue
            if not found:
                raise ConfigError(f"the Sentinel at {node.label} knows no master named {parsed.service!r} (--redis-url {shown})")
            master = parsed.nodes[0].at(str(found[0]), int(found[1]))
            break
        if master is None:
            raise ConfigError(f"cannot reach any Sentinel of --redis-url {shown}: {'; '.join(reasons)}")
        reason = probe("Redis", master, master.password, master.username, master.db)
        if reason is not None:
            raise ConfigError(f"cannot reach Redis at {master.label} (the master the Sentinel names): {reason}")
        return
    reasons = []
    for node in parsed.nodes:
        reason = probe("Redis", node, node.password, node.username, node.db)
        if reason is None:
            break
        reasons.append(f"{node.label}: {reason}" if len(parsed.nodes) > 1 else reason)
    else:
        where = parsed.nodes[0].label if len(parsed.nodes) == 1 else "any node of"
        raise ConfigError(f"cannot reach Redis at {where} (--redis-url {shown}): {'; '.join(reasons)}")
    if len(parsed.nodes) > 1 or not parsed.nodes[0].path:
        from chatserver.redis.deployment import EngineError, detect_cluster

        try:
            detect_cluster(parsed)
        except EngineError as exc:
            raise ConfigError(f"--redis-url {shown}: {exc}") from None


def _redact_in(text: str, url: str) -> str:
    """``text`` with ``url`` (which it quotes) shown without its password."""
    return text.replace(url, redact_url(url))


def redact_url(url: str) -> str:
    """A Redis URL without its password, for logs."""
    from urllib.parse import urlsplit, urlunsplit

    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError:
        return url.split("://", 1)[0] + "://(unparsable)"
    if password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)[1]
    user = f"{parts.username}:***@" if parts.username else ":***@"
    return urlunsplit(parts._replace(netloc=user + netloc))


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.command is None:
        parser().print_help()
        return 2
    try:
        if args.command == "token":
            return cmd_token(args)
        return cmd_run(args)
    except ConfigError as exc:
        print(f"chatserver: configuration error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
