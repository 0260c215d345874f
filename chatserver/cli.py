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
    if settings.token_public_key:
        from chatserver.auth import load_public_key

        try:
            load_public_key(settings.token_public_key)
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
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


def redact_url(url: str) -> str:
    """A Redis URL without its password, for logs."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    if parts.password is None:
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
