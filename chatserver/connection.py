"""One client connection: protocol commands in, replies and pushes out.

Reading: ``handle_message`` decodes a WebSocket message into commands and runs them strictly
in order. Writing: every reply and push is appended as ready bytes to a bounded outbox; the
node flushes dirty outboxes once per event-loop turn, so several pending messages leave as
one frame (newline-joined JSON, or concatenated varint-delimited Protobuf). An outbox that
grows past ``send_queue_bytes`` means the client is not reading: it is closed with 3008.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Protocol

from chatserver import reads
from chatserver.auth import Identity, TokenExpired, TokenInvalid, TokenVerifier, locale_tag
from chatserver.channels import ChannelResolver, ChannelSpec
from chatserver.config import Settings
from chatserver.engine import Streams
from chatserver.errors import DisconnectError, ReplyError
from chatserver.hub import Hub
from chatserver.limits import LogLimiter, held_note
from chatserver.outbox import Outbox
from chatserver.protocol import codes
from chatserver.protocol.codec import Codec, ProtocolError, json_dumps
from chatserver.publication import KIND_PUB, Publication
from chatserver.registry import Registry
from chatserver.stats import Stats
from chatserver.subscription import Sub, recover_publications
from chatserver.tasks import Tasks
from rooms.channels import ChannelKind, user_channel

if TYPE_CHECKING:
    from chatserver.ws_protocol import DirectSend

log = logging.getLogger("chatserver.connection")

METHODS = (
    "connect",
    "subscribe",
    "unsubscribe",
    "publish",
    "presence",
    "presence_stats",
    "history",
    "ping",
    "send",
    "rpc",
    "refresh",
    "sub_refresh",
)
_METHOD_SET = frozenset(METHODS)
# Errors that count towards max_errors_per_connection (a client that keeps getting them is broken).
_CLIENT_MISTAKES = frozenset(
    e.code
    for e in (
        codes.UNKNOWN_CHANNEL,
        codes.METHOD_NOT_FOUND,
        codes.ALREADY_SUBSCRIBED,
        codes.BAD_REQUEST,
        codes.UNRECOVERABLE_POSITION,
    )
)


_engine_down_lines = LogLimiter(60.0)
# Malformed frames and invalid tokens: one line per client address a minute (a client in
# a reconnect loop with a bad token, or a scanner, must not flood the log).
_client_fault_lines = LogLimiter(60.0)

_FROM_ADDRESS = "from that address since the last such line"


class Sessions(Protocol):
    """What a connection needs from the node (``chatserver.node.Node``)."""

    def register(self, conn: Connection) -> None: ...

    def schedule_flush(self, out: Outbox) -> None: ...

    async def on_subscribed(self, conn: Connection, sub: Sub) -> None: ...

    async def on_unsubscribed(self, conn: Connection, sub: Sub) -> None: ...

    async def on_send(self, conn: Connection, data: Any) -> None: ...


class ConnectionPresence(Protocol):
    """What a connection needs from presence (``chatserver.presence_service``)."""

    def should_push(self, conn: Connection, sub: Sub, pub: Publication) -> bool: ...

    async def presence(self, conn: Connection, spec: ChannelSpec) -> dict[str, Any]: ...

    async def stats(self, conn: Connection, spec: ChannelSpec) -> tuple[int, int]: ...


@dataclass(frozen=True, slots=True)
class ConnectionContext:
    """Everything a connection uses, built once by the composition root (``chatserver.app``)."""

    settings: Settings
    stats: Stats
    verifier: TokenVerifier
    resolver: ChannelResolver
    hub: Hub
    streams: Streams
    registry: Registry
    node: Sessions
    presence: ConnectionPresence
    post: Callable[[Connection, ChannelSpec, Any], Awaitable[Any]]  # a client's publish
    tasks: Tasks
    node_id: str
    version: str
    personal_channel: bool = True
    jitter: Callable[[], float] = random.random
    # whether an exception means the engine is unreachable (answered 100, one line a minute)
    unavailable: Callable[[BaseException], bool] = lambda exc: isinstance(exc, OSError | TimeoutError)


class Connection:
    """A client session; its write side (outbox, frames, closing) is ``self.out``."""

    # No per-instance dict: an idle member's session is kept small (docs/performance.md).
    __slots__ = (
        "_pl",
        "_tokens",
        "_tokens_at",
        "_unread_at_deadline",
        "client_id",
        "codec",
        "codec_name",
        "conn_info",
        "ctx",
        "errors",
        "identity",
        "next_ping",
        "opened_at",
        "out",
        "pong_deadline",
        "remote",
        "subs",
        "user_agent",
    )

    def __init__(
        self,
        ctx: ConnectionContext,
        codec: Codec,
        *,
        direct: DirectSend | None = None,
        asgi_send: Any = None,
        remote: str = "",
        user_agent: str = "",
    ) -> None:
        self.ctx = ctx
        self.codec = codec
        self.codec_name = codec.name
        self.client_id = str(uuid.uuid4())
        self.remote = remote
        self.user_agent = user_agent
        self.identity: Identity | None = None
        self.subs: dict[str, Sub] = {}
        self.out = Outbox(
            codec,
            max_queue=ctx.settings.send_queue_bytes,
            max_frame=ctx.settings.max_frame_bytes,
            schedule=ctx.node.schedule_flush,
            stats=ctx.stats,
            direct=direct,
            asgi_send=asgi_send,
        )
        self.opened_at = time.monotonic()
        self.conn_info: bytes = b""
        self._pl: list[Sub] = []  # subscriptions waiting for their reply to go out
        # keepalive and limits
        self.next_ping = 0.0
        self.pong_deadline = 0.0
        self._unread_at_deadline = 0  # bytes the client had not taken when a pong was last due
        self.errors = 0
        self._tokens = ctx.settings.command_rate * 2
        self._tokens_at = time.monotonic()

    # ------------------------------------------------------------------ the write side

    @property
    def closed(self) -> bool:
        return self.out.closed

    def close(self, disconnect: codes.Disconnect, *, flush: bool = True) -> None:
        """Close with a protocol close code (pending output is flushed first unless slow)."""
        self.out.close(disconnect, flush=flush)

    # ------------------------------------------------------------------ identity

    @property
    def user(self) -> str:
        return self.identity.member.user if self.identity else ""

    @property
    def connected(self) -> bool:
        return self.identity is not None

    def client_info(self, chan_info: bytes = b"") -> dict[str, Any]:
        info: dict[str, Any] = {"user": self.user, "client": self.client_id}
        if self.conn_info:
            info["conn_info"] = self.conn_info
        if chan_info:
            info["chan_info"] = chan_info
        return info

    # ------------------------------------------------------------------ reading

    async def handle_message(self, message: bytes | str) -> None:
        if self.closed:
            return
        try:
            commands = self.codec.decode_commands(message)
        except ProtocolError as exc:
            held = _client_fault_lines.allow("frame " + self.remote.rpartition(":")[0])
            if held is not None:
                log.info("client %s from %s sent a malformed frame: %s%s", self.client_id, self.remote, exc, held_note(held, _FROM_ADDRESS))
            self.close(codes.Disconnect(3501, "bad request: malformed frame"))
            return
        for cmd in commands:
            if self.closed:
                return
            try:
                await self._handle_command(cmd)
            except DisconnectError as exc:
                self.close(exc.disconnect)
                return
            except Exception as exc:
                if self.ctx.unavailable(exc):
                    # Redis restarting or failing over: a temporary error, not a traceback
                    # per command (every member's every command would log one).
                    held = _engine_down_lines.allow("engine")
                    if held is not None:
                        log.warning("command answered 100: the engine is unavailable (%s)%s", exc, held_note(held))
                else:
                    log.exception("command failed for client %s", self.client_id)
                cid = cmd.get("id")
                if cid:
                    self._error(cid, ReplyError(codes.INTERNAL))
            if self.out.must_drain():
                # A large reply is still unread: read on once the client has taken it.
                await self.out.drained()

    def _error(self, cid: int, err: ReplyError) -> None:
        self.ctx.stats.count_error(err.code)
        if err.code in _CLIENT_MISTAKES and self._mistake():
            return
        self.out.send_reply({"id": cid, "error": err.to_dict()})

    def _mistake(self) -> bool:
        """Count a client mistake; True when that was one too many (the connection closed)."""
        self.errors += 1
        if self.errors > self.ctx.settings.max_errors_per_connection:
            self.close(codes.TOO_MANY_ERRORS)
            return True
        return False

    def _rate_ok(self) -> bool:
        rate = self.ctx.settings.command_rate
        if rate <= 0:
            return True
        now = time.monotonic()
        self._tokens = min(rate * 2, self._tokens + (now - self._tokens_at) * rate)
        self._tokens_at = now
        if self._tokens < 1:
            return False
        self._tokens -= 1
        return True

    async def _handle_command(self, cmd: dict[str, Any]) -> None:
        cid = cmd.get("id", 0)
        if not isinstance(cid, int) or isinstance(cid, bool) or cid < 0:
            raise DisconnectError(codes.BAD_REQUEST_DISCONNECT, "bad request: invalid id")
        method = None
        for key in cmd:
            if key != "id":
                if method is not None:
                    raise DisconnectError(codes.BAD_REQUEST_DISCONNECT, "bad request: several methods in one command")
                method = key
        if not self._rate_ok():
            # Every command counts, pings and id-less ones (send, pong) included. A refused
            # command with an id gets 111; one without an id cannot be answered, so it is
            # dropped and counted as a mistake (a client that keeps flooding is closed 3509).
            if cid:
                self._error(cid, ReplyError(codes.TOO_MANY_REQUESTS, "too many requests: slow down"))
            else:
                self.ctx.stats.count_error(codes.TOO_MANY_REQUESTS.code)
                self._mistake()
            return
        if method is None:
            if cid:
                self._error(cid, ReplyError(codes.METHOD_NOT_FOUND, "method not found: command has no method"))
            else:
                self.pong_deadline = 0.0  # an empty command is the client's pong
            return
        if method not in _METHOD_SET:
            if not self.connected:
                raise DisconnectError(codes.BAD_REQUEST_DISCONNECT, "bad request: connect first")
            if cid:
                self._error(cid, ReplyError(codes.METHOD_NOT_FOUND, f"method not found: {method}"))
            return
        params = cmd[method]
        if params is None:
            params = {}
        if not isinstance(params, dict):
            raise DisconnectError(codes.BAD_REQUEST_DISCONNECT, f"bad request: {method} must be an object")
        stats = self.ctx.stats.commands
        stats[method] = stats.get(method, 0) + 1
        if method == "connect":
            await self._connect(cid, params)
            return
        if not self.connected:
            raise DisconnectError(codes.BAD_REQUEST_DISCONNECT, "bad request: connect first")
        if method == "send":
            try:
                data = self.codec.load_data(params.get("data"))
            except ProtocolError:
                # No id, so no error reply: a client mistake (found by the protocol fuzzer;
                # it used to log a traceback per frame).
                self.ctx.stats.count_error(codes.BAD_REQUEST.code)
                self._mistake()
                return
            await self.ctx.node.on_send(self, data)
            return
        if not cid:
            raise DisconnectError(codes.BAD_REQUEST_DISCONNECT, f"bad request: {method} needs an id")
        handler = getattr(self, "_cmd_" + method)
        try:
            result = await handler(params)
        except ReplyError as err:
            self._error(cid, err)
            return
        except ProtocolError as exc:
            self._error(cid, ReplyError(codes.BAD_REQUEST, f"bad request: {exc}"))
            return
        if not self.closed:
            self.out.send_reply({"id": cid, method: result})

    # ------------------------------------------------------------------ connect / refresh

    def _verify(self, token: Any) -> Identity:
        try:
            return self.ctx.verifier.connection(token)
        except TokenExpired:
            raise ReplyError(codes.TOKEN_EXPIRED) from None
        except TokenInvalid as exc:
            held = _client_fault_lines.allow("token " + self.remote.rpartition(":")[0])
            if held is not None:
                log.info("invalid token from %s: %s%s", self.remote, exc, held_note(held, _FROM_ADDRESS))
            raise DisconnectError(codes.INVALID_TOKEN) from None

    def _expiry_fields(self) -> dict[str, Any]:
        assert self.identity is not None
        if self.identity.expires_at is None:
            return {}
        ttl = max(1, int(self.identity.expires_at - time.time()))
        return {"expires": True, "ttl": ttl}

    async def _connect(self, cid: int, params: dict[str, Any]) -> None:
        if self.connected:
            raise DisconnectError(codes.BAD_REQUEST_DISCONNECT, "bad request: already connected")
        if not cid:
            raise DisconnectError(codes.BAD_REQUEST_DISCONNECT, "bad request: connect needs an id")
        try:
            identity = self._verify(params.get("token", ""))
        except ReplyError as err:
            self._error(cid, err)
            return
        if not identity.locale:  # no ``locale`` claim: the client's language (connect data)
            identity = replace(identity, locale=self._client_locale(params))
        member = identity.member
        info: dict[str, Any] = dict(member.info)
        info.setdefault("name", member.name)
        info["roles"] = {c: r.value for c, r in member.communities.items()}
        self.conn_info = json_dumps(info)
        self.identity = identity
        self.ctx.node.register(self)
        settings = self.ctx.settings
        result: dict[str, Any] = {
            "client": self.client_id,
            "version": self.ctx.version,
            "ping": settings.ping_interval,
            "pong": True,
            "node": self.ctx.node_id,
        }
        result.update(self._expiry_fields())
        # Server-side subscriptions: the user's private notice channel, plus token channels.
        requested = params.get("subs") or {}
        if not isinstance(requested, dict):
            requested = {}
        server_channels = [user_channel(member.user)] if self.ctx.personal_channel else []
        server_channels += [c for c in identity.channels if c not in server_channels]
        subs_result: dict[str, Any] = {}
        for channel in server_channels:
            spec = self.ctx.resolver.resolve(channel)
            if spec is None or self.ctx.resolver.check_subscribe(member, spec) is not None:
                log.info("token channel %s refused for %s", channel, member.user)
                continue
            req = requested.get(channel) or {}
            try:
                sub_result, sub = await self._subscribe_to(spec, req if isinstance(req, dict) else {}, server_side=True)
            except ReplyError as err:
                log.warning("server-side subscription %s failed: %s", channel, err)
                continue
            subs_result[channel] = sub_result
            self._pl.append(sub)
        if subs_result:
            result["subs"] = subs_result
        # The first ping comes within one interval (jittered over its second half), like
        # every later one: the SDKs give up after ping interval + 10 s without a ping.
        self.next_ping = time.monotonic() + settings.ping_interval * (0.5 + 0.5 * self.ctx.jitter())
        self.out.send_reply({"id": cid, "connect": result})
        self._go_live()
        log.debug("client %s connected as %s", self.client_id, member.user)

    def _client_locale(self, params: dict[str, Any]) -> str:
        """``{"locale": "es-MX"}`` in the connect command's data (the web client's language)."""
        try:
            data = self.codec.load_data(params.get("data"))
        except ProtocolError:
            return ""
        return locale_tag(data.get("locale")) if isinstance(data, dict) else ""

    async def _cmd_refresh(self, params: dict[str, Any]) -> dict[str, Any]:
        identity = self._verify(params.get("token", ""))
        if identity.member.user != self.user:
            raise DisconnectError(codes.INVALID_TOKEN, "invalid token: another user")
        if not identity.locale and self.identity is not None:
            identity = replace(identity, locale=self.identity.locale)
        self.identity = identity
        self._recheck_subscriptions()
        result: dict[str, Any] = {"client": self.client_id, "version": self.ctx.version}
        result.update(self._expiry_fields())
        return result

    def _recheck_subscriptions(self) -> None:
        """After new claims (``refresh``): every subscription is checked again as a new
        subscribe would be, and those no longer allowed end with an unsubscribe push (a
        demoted moderator loses ``<room>/mod`` at once, not at the next reconnect)."""
        assert self.identity is not None
        allowed_server_side = set(self.identity.channels)
        if self.ctx.personal_channel:
            allowed_server_side.add(user_channel(self.user))
        for channel, sub in list(self.subs.items()):
            if sub.server_side and channel not in allowed_server_side:
                self.server_unsubscribe(channel, codes.UNSUBSCRIBE_SERVER, "permission denied: not in the new token")
                continue
            reason = self._subscribe_denied(channel)
            if reason:
                self.server_unsubscribe(channel, codes.UNSUBSCRIBE_SERVER, reason)

    def _subscribe_denied(self, channel: str) -> str:
        """Why the current identity may no longer be subscribed to ``channel`` ('' if it may)."""
        assert self.identity is not None
        spec = self.ctx.resolver.resolve(channel)
        if spec is None:
            return "unknown channel"
        denied = self.ctx.resolver.check_subscribe(self.identity.member, spec)
        if denied is None:
            return ""
        log.info("client %s (%s) loses %s: %s", self.client_id, self.user, channel, denied.reason)
        return f"permission denied: {denied.reason}"[:120]

    async def _cmd_sub_refresh(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = params.get("channel", "")
        if not isinstance(channel, str):  # found by the protocol fuzzer (a dict: TypeError)
            raise ReplyError(codes.BAD_REQUEST, "bad request: channel must be a string")
        sub = self.subs.get(channel)
        if sub is None:
            raise ReplyError(codes.BAD_REQUEST, "bad request: not subscribed to that channel")
        claims = self._verify_sub_token(channel, params.get("token", ""))
        reason = self._subscribe_denied(channel)
        if reason:
            self.server_unsubscribe(channel, codes.UNSUBSCRIBE_SERVER, reason)
            raise ReplyError(codes.PERMISSION_DENIED, reason)
        exp = claims.get("exp")
        sub.expires_at = int(exp) if exp else None
        if exp:
            return {"expires": True, "ttl": max(1, int(exp - time.time()))}
        return {}

    def _verify_sub_token(self, channel: str, token: Any) -> dict[str, Any]:
        try:
            return self.ctx.verifier.subscription(token, self.user, channel)
        except TokenExpired:
            raise ReplyError(codes.TOKEN_EXPIRED) from None
        except TokenInvalid:
            raise ReplyError(codes.PERMISSION_DENIED, "permission denied: invalid subscription token") from None

    # ------------------------------------------------------------------ subscribe

    def _resolve(self, channel: Any) -> ChannelSpec:
        if not isinstance(channel, str) or not channel:
            raise ReplyError(codes.BAD_REQUEST, "bad request: channel required")
        spec = self.ctx.resolver.resolve(channel)
        if spec is None:
            raise ReplyError(codes.UNKNOWN_CHANNEL, f"unknown channel {channel}")
        return spec

    async def _cmd_subscribe(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = params.get("channel")
        spec = self._resolve(channel)
        if channel in self.subs:
            raise ReplyError(codes.ALREADY_SUBSCRIBED)
        if len(self.subs) >= self.ctx.settings.max_channels_per_connection:
            raise ReplyError(codes.LIMIT_EXCEEDED, "limit exceeded: too many subscriptions on one connection")
        result, sub = await self._subscribe_to(spec, params, server_side=False)
        self._pl.append(sub)
        # The reply is queued by the caller right after we return; pubs that arrived while we
        # read history go out after it (see _go_live, scheduled for after the reply).
        asyncio.get_running_loop().call_soon(self._go_live)
        return result

    async def _subscribe_to(
        self, spec: ChannelSpec, params: dict[str, Any], *, server_side: bool
    ) -> tuple[dict[str, Any], Sub]:
        assert self.identity is not None
        member = self.identity.member
        denied = self.ctx.resolver.check_subscribe(member, spec)
        if denied is not None:
            known = codes.BY_CODE.get(denied.code)
            prefix = f"{known.message}: " if known else ""
            raise ReplyError(denied.code, f"{prefix}{denied.reason}")
        sub = Sub(spec, server_side=server_side)
        token = params.get("token")
        if token:
            claims = self._verify_sub_token(spec.name, token)
            if claims.get("info"):
                sub.chan_info = json_dumps(claims["info"])
            if claims.get("exp"):
                sub.expires_at = int(claims["exp"])
        self.subs[spec.name] = sub
        self.ctx.stats.subscriptions += 1
        try:
            hub = self.ctx.hub
            await hub.attach(spec.name, self)
            result: dict[str, Any] = {"recoverable": True, "positioned": True}
            broker = self.ctx.streams
            # A member who missed up to the channel's whole history recovers it all (the
            # reply may exceed send_queue_bytes: replies are bounded by Outbox.drained).
            max_count = max(self.ctx.settings.history_max_limit, spec.history.size)
            name = spec.name
            if params.get("recover"):
                offset = reads.uint(params.get("offset", 0))
                epoch = str(params.get("epoch", "") or "")
                # Members reconnecting together recover the same range: one read for all
                # (none when the hub knows nothing was published since their offset).
                recovered, top, hist_epoch, pubs = await hub.read_recovery(
                    name, offset, epoch, max_count, lambda: recover_publications(broker, name, offset, epoch, max_count)
                )
                result["was_recovering"] = True
                result["epoch"] = hist_epoch
                if recovered:
                    # The SDK moves its position with each recovered publication.
                    result["recovered"] = True
                    result["offset"] = offset
                    result["publications"] = [p.encoded_pub(self.codec_name) for p in pubs]
                    sub.offset = top
                else:
                    flag = reads.uint(params.get("flag", 0))
                    if flag & 2:
                        raise ReplyError(codes.UNRECOVERABLE_POSITION)
                    result["offset"] = top
                    sub.offset = top
                sub.epoch = hist_epoch
                self.ctx.stats.recoveries[recovered] += 1
            else:
                top, epoch = await hub.read_position(name, lambda: broker.position(name))
                result["epoch"] = epoch
                result["offset"] = top
                sub.offset = top
                sub.epoch = epoch
            if sub.expires_at:
                result["expires"] = True
                result["ttl"] = max(1, int(sub.expires_at - time.time()))
        except BaseException:
            self._drop_sub(spec.name)
            raise
        if self.closed:
            self._drop_sub(spec.name)
            raise ReplyError(codes.INTERNAL)
        await self.ctx.node.on_subscribed(self, sub)
        return reads.strip_zero(result), sub

    def _go_live(self) -> None:
        """Release publications buffered while subscribing, after the subscribe reply."""
        pending = self._pl
        self._pl = []
        for sub in pending:
            if self.subs.get(sub.spec.name) is not sub:
                continue
            sub.live = True
            for pub in sub.pending:
                self._deliver_live(sub, pub)
            sub.pending = []

    def _drop_sub(self, channel: str) -> Sub | None:
        sub = self.subs.pop(channel, None)
        if sub is not None:
            self.ctx.stats.subscriptions -= 1
            self.ctx.hub.detach(channel, self)
        return sub

    async def _cmd_unsubscribe(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = params.get("channel")
        if not isinstance(channel, str) or not channel:
            raise ReplyError(codes.BAD_REQUEST, "bad request: channel required")
        sub = self._drop_sub(channel)
        if sub is not None:
            await self.ctx.node.on_unsubscribed(self, sub)
        return {}

    def server_unsubscribe(self, channel: str, code: int, reason: str) -> None:
        """Remove a subscription from the server side and tell the client (unsubscribe push)."""
        sub = self._drop_sub(channel)
        if sub is None:
            return
        self.ctx.tasks.spawn(self.ctx.node.on_unsubscribed(self, sub), "unsubscribe hooks")
        self.out.send_reply({"push": {"channel": channel, "unsubscribe": {"code": code, "reason": reason}}})

    # ------------------------------------------------------------------ delivery (from hub)

    def deliver(self, pub: Publication) -> None:
        """Queue a publication from the hub (the fan-out hot path: keep it lean)."""
        sub = self.subs.get(pub.channel)
        if sub is None:
            return
        if not sub.live:
            sub.pending.append(pub)
            return
        if pub.kind != KIND_PUB:
            self._deliver_live(sub, pub)
            return
        offset = pub.offset
        if offset:
            if offset <= sub.offset:
                return  # already sent in the subscribe reply
            sub.offset = offset
        self.out.push_bytes(pub.push(self.codec_name))

    def _deliver_live(self, sub: Sub, pub: Publication) -> None:
        if pub.kind == KIND_PUB:
            if pub.offset:
                if pub.offset <= sub.offset:
                    return  # already sent in the subscribe reply
                sub.offset = pub.offset
        elif not self.ctx.presence.should_push(self, sub, pub):
            return
        self.out.push_bytes(pub.push(self.codec_name))

    def position(self, channel: str) -> tuple[int, str] | None:
        """Where this connection is in ``channel``'s stream (for the hub's gap repair)."""
        sub = self.subs.get(channel)
        if sub is None or not sub.epoch:
            return None
        return sub.offset, sub.epoch

    def lost_position(self, channel: str) -> None:
        """The hub missed messages for this channel: make the SDK resubscribe and recover."""
        sub = self.subs.get(channel)
        if sub is None:
            return
        if sub.server_side:
            self.close(codes.INSUFFICIENT_STATE)
            return
        self.server_unsubscribe(channel, codes.UNSUBSCRIBE_INSUFFICIENT_STATE, "insufficient state")

    # ------------------------------------------------------------------ other commands

    async def _cmd_publish(self, params: dict[str, Any]) -> dict[str, Any]:
        spec = self._resolve(params.get("channel"))
        data = self.codec.load_data(params.get("data"))
        await self.ctx.post(self, spec, data)
        return {}

    async def _cmd_history(self, params: dict[str, Any]) -> dict[str, Any]:
        spec = self._readable(params)
        return await reads.history(self.ctx.streams, spec.name, params, self.ctx.settings.history_max_limit, self.codec_name)

    async def _cmd_presence(self, params: dict[str, Any]) -> dict[str, Any]:
        spec = self._presence_spec(params)
        entries = await self.ctx.presence.presence(self, spec)
        return {"presence": entries}

    async def _cmd_presence_stats(self, params: dict[str, Any]) -> dict[str, Any]:
        spec = self._presence_spec(params)
        clients, users = await self.ctx.presence.stats(self, spec)
        return reads.strip_zero({"num_clients": clients, "num_users": users})

    def _readable(self, params: dict[str, Any]) -> ChannelSpec:
        """The channel of a read command, if this client may subscribe to it."""
        assert self.identity is not None
        spec = self._resolve(params.get("channel"))
        denied = self.ctx.resolver.check_subscribe(self.identity.member, spec)
        if denied is not None:
            raise ReplyError(denied.code, denied.reason)
        return spec

    def _presence_spec(self, params: dict[str, Any]) -> ChannelSpec:
        spec = self._readable(params)
        if spec.kind is not ChannelKind.ROOM or not spec.presence:
            raise ReplyError(codes.NOT_AVAILABLE, "not available: presence is off for this channel")
        return spec

    async def _cmd_rpc(self, params: dict[str, Any]) -> dict[str, Any]:
        method = params.get("method", "")
        if not isinstance(method, str):
            raise ReplyError(codes.BAD_REQUEST, "bad request: method must be a string")
        handler = self.ctx.registry.rpc.get(method)
        if handler is None:
            raise ReplyError(codes.METHOD_NOT_FOUND, f"method not found: {method or '(empty)'}")
        data = self.codec.load_data(params.get("data"))
        result = await handler(self, data)
        if result is None:
            return {}
        return {"data": json_dumps(result)}

    async def _cmd_ping(self, params: dict[str, Any]) -> dict[str, Any]:
        return {}

    # ------------------------------------------------------------------ housekeeping

    def tick(self, now: float, wall: float, late: bool = False) -> None:
        """Called about once a second by the node: pings, pong timeouts, expiry. ``late``:
        the node's tick came late (its event loop was lagging), so pongs may be unread."""
        settings = self.ctx.settings
        if not self.connected:
            if now - self.opened_at > settings.connect_timeout:
                self.close(codes.STALE)
            return
        if self.pong_deadline and now > self.pong_deadline and not late:
            if self.out.reading_behind():
                # The client's frames (maybe its pong) wait for this busy server: the delay
                # is ours, so the client gets another pong_timeout, not a disconnect.
                self.pong_deadline = now + settings.pong_timeout
            else:
                # A client still taking a large reply (its unread bytes shrink) has its ping,
                # and so its pong, behind it: it gets more time; one that stopped reading not.
                unread = self.out.unread()
                if not unread or unread >= self._unread_at_deadline:
                    self.close(codes.NO_PONG)
                    return
                self._unread_at_deadline = unread
                self.pong_deadline = now + settings.pong_timeout
        identity = self.identity
        assert identity is not None
        if identity.expires_at is not None and wall > identity.expires_at + 5:
            self.close(codes.CONNECTION_EXPIRED)
            return
        for sub in self.subs.values():
            if sub.expires_at is not None and wall > sub.expires_at + 5:
                self.close(codes.SUB_EXPIRED)
                return
        if now >= self.next_ping:
            self.out.push_bytes(self.codec.ping)
            self.next_ping = now + settings.ping_interval
            if not self.pong_deadline:
                self.pong_deadline = now + settings.pong_timeout
                self._unread_at_deadline = self.out.unread()

