"""Settings: defaults, overridden by a TOML config file, then environment, then CLI flags.

Sections of the config file that belong to extensions (``[moderation]``, ``[presence]``,
``[qa]``) are kept raw in ``Settings.sections`` and parsed by their owners.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import json
import os
import secrets
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ENV_PREFIX = "CHATSERVER_"
MIN_KEY_BYTES = 32  # production refuses a shorter token secret or API key
TOKEN_ALGORITHMS = ("HS256", "HS384", "HS512", "RS256", "RS384", "RS512", "PS256", "ES256", "ES384", "ES512")


class ConfigError(ValueError):
    """A setting is missing, unknown or has the wrong type; the message says which."""


@dataclass
class Settings:
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1
    redis_url: str = ""  # empty: start an embedded Valkey in data_dir
    data_dir: str = "./chatserver-data"
    secret: str = ""  # HS256 secret for connection tokens; generated in dev mode if empty
    token_public_key: str = ""  # PEM for RS256/ES256 tokens (optional)
    token_algorithms: list[str] = field(default_factory=list)  # empty: from the key (HS256 for a secret)
    api_key: str = ""  # key for /api/...; generated in dev mode if empty
    dev: bool | None = None  # None: development mode iff the secret was generated
    seed_demo: bool = True  # an empty store starts with community "demo", room "lobby"
    node_name: str = ""  # defaults to hostname-pid
    log_level: str = "info"
    log_format: str = "text"  # text | json
    # protocol limits
    max_message_size: int = 65536  # bytes per WebSocket message from a client
    send_queue_bytes: int = 1 << 20  # per connection; overflow closes with 3008
    max_frame_bytes: int = 65536  # coalesced outgoing frames stay under this
    ping_interval: int = 25  # seconds between server pings
    pong_timeout: int = 10  # seconds to answer a ping
    connect_timeout: int = 10  # seconds from open to connect command (else 3502 stale)
    max_channels_per_connection: int = 128
    max_errors_per_connection: int = 50  # then 3509
    command_rate: float = 50.0  # commands per second per connection (burst 2x), then 111
    ws_compression: bool = False  # permessage-deflate: saves bandwidth, costs CPU per frame
    # connection limits (0: no limit)
    max_connections: int = 20000  # open WebSocket connections per process
    max_connections_per_ip: int = 200  # open WebSocket connections per client address
    trusted_proxies: list[str] = field(default_factory=list)  # addresses/networks whose X-Forwarded-For is believed
    header_timeout: float = 10.0  # seconds a client has to send its complete HTTP request head
    max_body_bytes: int = 1024 * 1024  # HTTP request body; larger: 413 before it is read
    webhook_private_addresses: bool = True  # false: webhook URLs may not point at loopback/private addresses
    access_log: bool = False  # log every HTTP request and WebSocket accept (uvicorn's access lines)
    # draining and rebalancing (docs/deployment.md "Rolling restarts")
    shutdown_drain: float = 1.0  # seconds SIGTERM spreads its 3001 closes over (0: all at once)
    rebalance_interval: float = 2.0  # seconds between load comparisons with the other gateways (0: off)
    rebalance_tolerance: float = 0.1  # share above the fair share a gateway carries before it sheds
    rebalance_rate: float = 200.0  # at most this many clients per second asked to reconnect (3001)
    # history
    history_meta_ttl: int = 30 * 24 * 3600
    history_max_limit: int = 1000  # max publications per history/recovery answer
    idempotency_ttl: int = 600  # seconds a client message id dedupes retries
    channel_linger: float = 20.0  # seconds a channel stays subscribed after its last local member left
    # presence
    presence_ttl: int = 30  # seconds; a dead process's members drop out within this
    presence_threshold: int = 200  # users online above which only count events are pushed
    presence_count_interval: float = 2.0  # seconds: at most one count event per room per window
    presence_list_max: int = 1000  # connections the protocol's `presence` lists (more: 106)
    typing_interval: float = 2.0  # seconds between typing events of one member in one room
    typing_expiry: float = 6.0  # seconds a typing indicator shows without a refresh
    # seeding
    communities: list[dict[str, Any]] = field(default_factory=list)
    rooms: list[dict[str, Any]] = field(default_factory=list)
    # extension sections, raw
    sections: dict[str, Any] = field(default_factory=dict)
    # where the values came from (for logs)
    config_file: str = ""

    @property
    def data_path(self) -> Path:
        return Path(self.data_dir).expanduser().resolve()

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self))

    @classmethod
    def from_json(cls, text: str) -> Settings:
        return cls(**json.loads(text))


_FIELDS = {f.name: f for f in dataclasses.fields(Settings)}
_EXTENSION_SECTIONS = {"moderation", "presence", "qa", "webclient", "crisis", "webhooks", "peer"}
_LIST_TABLES = {"communities", "rooms"}


def _coerce(name: str, value: Any) -> Any:
    current = getattr(Settings(), name)
    if name == "dev":
        if value in (None, "", "auto"):
            return None
        if isinstance(value, str):
            return value.lower() in ("1", "true", "yes", "on")
        return bool(value)
    if isinstance(current, bool):
        if isinstance(value, str):
            if value.lower() in ("1", "true", "yes", "on"):
                return True
            if value.lower() in ("0", "false", "no", "off"):
                return False
            raise ConfigError(f"{name}: expected true/false, got {value!r}")
        if not isinstance(value, bool):
            raise ConfigError(f"{name}: expected true/false, got {value!r}")
        return value
    if isinstance(current, int):
        try:
            if isinstance(value, bool):
                raise ValueError
            return int(value)
        except (TypeError, ValueError):
            raise ConfigError(f"{name}: expected an integer, got {value!r}") from None
    if isinstance(current, float):
        try:
            return float(value)
        except (TypeError, ValueError):
            raise ConfigError(f"{name}: expected a number, got {value!r}") from None
    if isinstance(current, list):
        if isinstance(value, str):
            return [v.strip() for v in value.split(",") if v.strip()]
        if not isinstance(value, list):
            raise ConfigError(f"{name}: expected a list, got {value!r}")
        return value
    if isinstance(current, str):
        if not isinstance(value, str):
            raise ConfigError(f"{name}: expected a string, got {value!r}")
        return value
    return value


def load_file(path: str | Path) -> dict[str, Any]:
    p = Path(path)
    try:
        with p.open("rb") as fh:
            raw = tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {p}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {p} is not valid TOML: {exc}") from None
    values: dict[str, Any] = {}
    sections: dict[str, Any] = {}
    for key, value in raw.items():
        if key == "server" and isinstance(value, dict):
            for k, v in value.items():
                if k not in _FIELDS or k in _LIST_TABLES or k == "sections":
                    raise ConfigError(f"{p}: unknown setting server.{k}")
                values[k] = _coerce(k, v)
        elif key in _LIST_TABLES:
            if not isinstance(value, list):
                raise ConfigError(f"{p}: [[{key}]] must be an array of tables")
            values[key] = value
        elif key in _EXTENSION_SECTIONS:
            sections[key] = value
        elif key in _FIELDS and key not in ("sections", "config_file"):
            values[key] = _coerce(key, value)
        else:
            raise ConfigError(f"{p}: unknown setting or section {key!r}")
    values["sections"] = sections
    values["config_file"] = str(p)
    return values


def from_env(environ: dict[str, str] | None = None) -> dict[str, Any]:
    env = os.environ if environ is None else environ
    values = {}
    for name in _FIELDS:
        if name in _LIST_TABLES or name in ("sections", "config_file"):
            continue
        key = ENV_PREFIX + name.upper()
        if key in env:
            values[name] = _coerce(name, env[key])
    return values


def build_settings(
    config_file: str | None = None,
    overrides: dict[str, Any] | None = None,
    environ: dict[str, str] | None = None,
) -> Settings:
    """Defaults <- config file <- environment (CHATSERVER_*) <- explicit overrides."""
    values: dict[str, Any] = {}
    if config_file:
        values.update(load_file(config_file))
    values.update(from_env(environ))
    for key, value in (overrides or {}).items():
        if value is not None:
            values[key] = _coerce(key, value) if key in _FIELDS and key not in _LIST_TABLES and key != "sections" else value
    settings = Settings(**values)
    validate(settings)
    return settings


def validate(s: Settings) -> None:
    if not 0 <= s.port <= 65535:
        raise ConfigError(f"port must be 0-65535, got {s.port}")
    if s.workers < 1:
        raise ConfigError("workers must be at least 1")
    if s.max_message_size < 1024:
        raise ConfigError("max_message_size must be at least 1024 bytes")
    if s.send_queue_bytes < s.max_message_size:
        raise ConfigError("send_queue_bytes must be at least max_message_size")
    if s.ping_interval < 1 or s.pong_timeout < 1:
        raise ConfigError("ping_interval and pong_timeout must be at least 1 second")
    if s.log_format not in ("text", "json"):
        raise ConfigError("log_format must be 'text' or 'json'")
    if not 0 <= s.channel_linger <= 600:
        raise ConfigError("channel_linger must be between 0 and 600 seconds")
    if s.presence_ttl < 3:
        raise ConfigError("presence_ttl must be at least 3 seconds")
    if s.presence_threshold < 0:
        raise ConfigError("presence_threshold must not be negative")
    if not 0.05 <= s.presence_count_interval <= 60:
        raise ConfigError("presence_count_interval must be between 0.05 and 60 seconds")
    if s.presence_list_max < 1:
        raise ConfigError("presence_list_max must be at least 1")
    if s.typing_interval <= 0 or s.typing_expiry < s.typing_interval or s.typing_expiry > 60:
        raise ConfigError("typing_interval must be positive and typing_expiry between it and 60 seconds")
    validate_limits(s)
    if not 0 <= s.shutdown_drain <= 300:
        raise ConfigError("shutdown_drain must be between 0 and 300 seconds")
    if s.rebalance_interval < 0 or not 0 < s.rebalance_tolerance <= 10 or s.rebalance_rate <= 0:
        raise ConfigError("rebalance_interval >= 0, rebalance_tolerance in (0, 10], rebalance_rate > 0")


def validate_limits(s: Settings) -> None:
    """Connection limits, header timeout, trusted proxies and the token algorithms."""
    if s.max_connections < 0 or s.max_connections_per_ip < 0:
        raise ConfigError("max_connections and max_connections_per_ip must be 0 (no limit) or more")
    if not 1024 <= s.max_body_bytes <= 1024**3:
        raise ConfigError("max_body_bytes must be between 1024 and 1073741824")
    if not 0.5 <= s.header_timeout <= 300:
        raise ConfigError("header_timeout must be between 0.5 and 300 seconds")
    for entry in s.trusted_proxies:
        try:
            ipaddress.ip_network(str(entry), strict=False)
        except ValueError:
            raise ConfigError(
                f"trusted_proxies: {entry!r} is not an IP address or network (e.g. 10.0.0.0/8)"
            ) from None
    unknown = [a for a in s.token_algorithms if a not in TOKEN_ALGORITHMS]
    if unknown:
        raise ConfigError(
            f"token_algorithms: unknown {', '.join(map(repr, unknown))}; use "
            + ", ".join(TOKEN_ALGORITHMS)
        )


def _read_or_create(path: Path, nbytes: int) -> str:
    """The value kept in ``path``, created atomically if missing: the file appears complete
    (written to a private temporary name, then hard-linked into place) and a concurrent
    start that loses the race reads the winner's value."""
    try:
        return _read_kept(path)
    except FileNotFoundError:
        pass
    make_private_dir(path.parent)
    value = secrets.token_urlsafe(nbytes)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(value + "\n")
        try:
            os.link(tmp, path)
        except FileExistsError:
            return _read_kept(path)
    finally:
        tmp.unlink(missing_ok=True)
    return value


def _read_kept(path: Path) -> str:
    value = path.read_text().strip()
    if not value:
        raise ConfigError(f"{path} is empty: delete it to have a new one generated")
    return value


def make_private_dir(path: Path) -> None:
    """Create ``path`` (and parents) readable by this user only; tighten it if it exists
    with group or other access (it holds secrets and the embedded Valkey's data)."""
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    mode = path.stat().st_mode & 0o777
    if mode & 0o077:
        os.chmod(path, mode & 0o700)


def read_dev_secret(s: Settings) -> tuple[str, Path]:
    """The token secret in effect without creating anything: the configured one, else the
    development secret kept in the data dir (``FileNotFoundError`` if there is none)."""
    path = s.data_path / "dev-secret"
    if s.secret:
        return s.secret, path
    return _read_kept(path), path


def resolve_secrets(s: Settings) -> Settings:
    """Decide the mode and fill in the token secret and API key.

    Development mode (``dev`` auto) only when neither a token key (secret or public key)
    nor an API key is configured: both are then generated and kept in data_dir. With only
    one of them configured the server refuses to start (production needs both); production
    refuses a secret or API key shorter than ``MIN_KEY_BYTES``. ``--dev`` forces
    development mode (missing values generated). Returns a copy with ``secret``,
    ``api_key`` and ``dev`` decided.
    """
    has_token_key = bool(s.secret or s.token_public_key)
    dev = s.dev
    if dev is None:
        if has_token_key != bool(s.api_key):
            have, missing = (
                ("a token secret", "CHATSERVER_API_KEY (server.api_key)")
                if has_token_key
                else ("an API key", "CHATSERVER_SECRET (server.secret) or token_public_key")
            )
            raise ConfigError(
                f"{have} is configured but {missing} is not: production mode needs both. "
                "For development mode configure neither (or pass --dev)."
            )
        dev = not has_token_key
    secret, api_key = s.secret, s.api_key
    if dev:
        if not has_token_key:
            secret = _read_or_create(s.data_path / "dev-secret", 32)
        if not api_key:
            api_key = _read_or_create(s.data_path / "dev-api-key", 24)
    else:
        if not has_token_key:
            raise ConfigError(
                "no token secret: set CHATSERVER_SECRET or server.secret (or token_public_key); "
                "production mode refuses to generate one"
            )
        if not api_key:
            raise ConfigError("no API key: set CHATSERVER_API_KEY or server.api_key")
        for what, value in (("CHATSERVER_SECRET (server.secret)", secret), ("CHATSERVER_API_KEY (server.api_key)", api_key)):
            if value and len(value.encode()) < MIN_KEY_BYTES:
                raise ConfigError(
                    f"{what} is {len(value.encode())} bytes; production needs at least "
                    f"{MIN_KEY_BYTES} (e.g. python -c 'import secrets; print(secrets.token_urlsafe(32))')"
                )
    return dataclasses.replace(s, secret=secret, api_key=api_key, dev=dev)
