"""A webhook's settings, from ``[[webhooks]]`` or the HTTP API, validated in one place."""

from __future__ import annotations

import ipaddress
import re
import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

# Audit actions (the community's audit log) -> webhook event types.
AUDIT_EVENTS = {
    "crisis.open": "crisis.opened",
    "crisis.join": "crisis.joined",
    "crisis.ack": "crisis.acknowledged",
    "crisis.contact": "crisis.in_contact",
    "crisis.escalate": "crisis.unacknowledged",
    "crisis.close": "crisis.closed",
    "support.open": "support.opened",
    "support.close": "support.closed",
    "verdict.hold": "hold.created",
    "report": "report.created",
    "mute": "member.muted",
    "ban": "member.banned",
    "kick": "member.kicked",
    "user.erase": "user.erased",
    "post.unanswered": "post.unanswered",  # chatserver.peer: no reply within reply_wait
    "member.notify": "member.notify",  # chatserver.peer: a reply or mention for someone offline
}
EVENTS = frozenset(AUDIT_EVENTS.values()) | {"webhook.test"}


class WebhookError(ValueError):
    """A webhook setting is wrong; the message says which."""


@dataclass(frozen=True, slots=True)
class Webhook:
    id: str
    url: str
    events: tuple[str, ...]
    secret: str
    communities: tuple[str, ...] = ()  # empty: every community
    timeout: float = 10.0  # seconds per POST
    retry_base: float = 10.0  # first retry after this many seconds, doubling
    retry_max: float = 3600.0  # longest wait between attempts
    max_age: float = 86400.0  # give up on a delivery this long after its event
    max_queued: int = 10000  # deliveries waiting per hook; older ones are dropped (webhook.dropped)
    source: str = "api"  # api | config

    def wants(self, event_type: str, community: str) -> bool:
        if event_type not in self.events and "*" not in self.events:
            return False
        return not self.communities or community in self.communities

    def public(self) -> dict[str, Any]:
        return {
            "id": self.id, "url": self.url, "events": list(self.events), "communities": list(self.communities),
            "timeout": self.timeout, "retry_base": self.retry_base, "retry_max": self.retry_max,
            "max_age": self.max_age, "max_queued": self.max_queued, "source": self.source, "secret_set": bool(self.secret),
        }

    def to_record(self) -> dict[str, Any]:
        return {**self.public(), "secret": self.secret}

    @classmethod
    def parse(
        cls, raw: Any, *, source: str, default_id: str = "", generate_secret: bool = False, allow_private: bool = True
    ) -> Webhook:
        if not isinstance(raw, dict):
            raise WebhookError("a webhook is an object with url, events and secret")
        known = {"id", "url", "events", "secret", "communities", "timeout", "retry_base", "retry_max", "max_age", "max_queued"}
        unknown = set(raw) - known - {"source", "secret_set"}
        if unknown:
            raise WebhookError(f"unknown webhook settings: {', '.join(sorted(unknown))}")
        url = raw.get("url")
        if not isinstance(url, str):
            raise WebhookError("url is required")
        check_url(url, allow_private=allow_private)
        events = raw.get("events")
        if not isinstance(events, list) or not events or not all(isinstance(e, str) for e in events):
            raise WebhookError("events must be a non-empty list of event types")
        bad = [e for e in events if e != "*" and e not in EVENTS]
        if bad:
            raise WebhookError(f"unknown events {bad}; known: {', '.join(sorted(EVENTS))}")
        secret = raw.get("secret")
        if secret is None and generate_secret:
            secret = secrets.token_urlsafe(32)
        if not isinstance(secret, str) or len(secret) < 16:
            raise WebhookError("secret must be a string of at least 16 characters")
        communities = raw.get("communities", [])
        if not isinstance(communities, list) or not all(isinstance(c, str) for c in communities):
            raise WebhookError("communities must be a list of community names")
        hook_id = raw.get("id", default_id)
        if not isinstance(hook_id, str) or not hook_id or len(hook_id) > 64 or not hook_id.replace("-", "").replace("_", "").isalnum():
            raise WebhookError("id must be 1-64 letters, digits, '-' or '_'")
        numbers: dict[str, float] = {}
        for key, default, low, high in (
            ("timeout", 10.0, 0.1, 60.0),
            ("retry_base", 10.0, 0.05, 3600.0),
            ("retry_max", 3600.0, 0.05, 86400.0),
            ("max_age", 86400.0, 1.0, 7 * 86400.0),
        ):
            value = raw.get(key, default)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
                raise WebhookError(f"{key} must be a number between {low} and {high}")
            numbers[key] = float(value)
        max_queued = raw.get("max_queued", 10000)
        if isinstance(max_queued, bool) or not isinstance(max_queued, int) or not 1 <= max_queued <= 1_000_000:
            raise WebhookError("max_queued must be an integer between 1 and 1000000")
        return cls(
            id=hook_id, url=url, events=tuple(dict.fromkeys(events)), secret=secret,
            communities=tuple(communities), source=source, max_queued=max_queued, **numbers,
        )


_HOST_RE = re.compile(r"^(?=.{1,253}$)([a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?)(\.[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?)*\.?$")


def check_url(url: str, *, allow_private: bool = True) -> None:
    """A webhook URL: http or https, a host name or IP address, a port in 1-65535, no user
    info. ``allow_private=False`` (setting ``webhook_private_addresses = false``) refuses
    loopback, private, link-local and unspecified addresses and ``localhost``."""
    if len(url) > 2048:
        raise WebhookError("url is longer than 2048 characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise WebhookError(f"url {url!r}: {exc}") from None
    host = parts.hostname or ""
    if parts.scheme not in ("http", "https") or not host:
        raise WebhookError(f"url must be an http:// or https:// URL with a host, got {url!r}")
    if port is not None and not 1 <= port <= 65535:
        raise WebhookError(f"url {url!r}: the port must be 1-65535")
    if parts.username is not None or parts.password is not None:
        raise WebhookError("url must not carry a user name or password (sign with the secret instead)")
    try:
        ip: ipaddress.IPv4Address | ipaddress.IPv6Address | None = ipaddress.ip_address(host)
    except ValueError:
        ip = None
        if not _HOST_RE.match(host):
            raise WebhookError(f"url {url!r}: {host!r} is not a host name") from None
    if allow_private:
        return
    if ip is None:
        if host.rstrip(".") == "localhost" or host.rstrip(".").endswith(".localhost"):
            raise WebhookError("url points at this machine (localhost); webhook_private_addresses is false")
        return
    if ip.is_loopback or ip.is_private or ip.is_link_local or ip.is_unspecified or ip.is_reserved or ip.is_multicast:
        raise WebhookError(f"url points at a private or loopback address ({ip}); webhook_private_addresses is false")


def from_config(raw: Any, allow_private: bool = True) -> list[Webhook]:
    """``[[webhooks]]`` tables; an error names the entry."""
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise WebhookError("[[webhooks]] must be an array of tables")
    hooks = []
    for n, item in enumerate(raw):
        try:
            hooks.append(Webhook.parse(item, source="config", default_id=f"config-{n + 1}", allow_private=allow_private))
        except WebhookError as exc:
            raise WebhookError(f"[[webhooks]] entry {n + 1}: {exc}") from None
    if len({h.id for h in hooks}) != len(hooks):
        raise WebhookError("[[webhooks]]: ids must differ")
    return hooks
