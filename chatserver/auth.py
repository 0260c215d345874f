"""Connection and subscription tokens (JWT), and the member they describe.

Claims of a connection token:
- ``sub``: user id (required, non-empty)
- ``exp``: expiry (optional; with it, connect answers ``expires`` and the SDK refreshes)
- ``name``: display name in this community platform (pseudonymous is fine)
- ``communities``: ``{"<community>": "member" | "host" | "moderator" | "admin"}``
- ``info``: public info shown as ``conn_info`` (the server adds ``name`` and roles)
- ``invisible``: true to stay out of other members' presence lists
- ``meta``: never shown to clients
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import jwt

from rooms.model import Member, Role

ROLES = tuple(r.value for r in Role)


class TokenInvalid(Exception):
    """Bad signature, malformed token, or claims that do not fit."""


class TokenExpired(Exception):
    """A well-formed token whose ``exp`` has passed."""


@dataclass(frozen=True, slots=True)
class Identity:
    member: Member
    expires_at: int | None  # unix seconds, or None for no expiry
    invisible: bool = False
    meta: dict[str, Any] = field(default_factory=dict)
    channels: tuple[str, ...] = ()


class TokenVerifier:
    def __init__(self, secret: str, algorithms: tuple[str, ...] = ("HS256",), public_key: str | None = None):
        if not secret and not public_key:
            raise ValueError("a token secret or public key is required")
        self._key = public_key or secret
        self._algorithms = list(algorithms)

    def _decode(self, token: str, now: float | None) -> dict[str, Any]:
        if not isinstance(token, str) or not token:
            raise TokenInvalid("token required")
        try:
            claims = jwt.decode(
                token,
                self._key,
                algorithms=self._algorithms,
                options={"verify_exp": False, "require": ["sub"]},
            )
        except jwt.PyJWTError as exc:
            raise TokenInvalid(str(exc)) from None
        exp = claims.get("exp")
        if exp is not None:
            if isinstance(exp, bool) or not isinstance(exp, (int, float)):
                raise TokenInvalid("exp must be a number")
            if exp <= (now if now is not None else time.time()):
                raise TokenExpired("token expired")
        return claims

    def connection(self, token: str, now: float | None = None) -> Identity:
        claims = self._decode(token, now)
        user = claims.get("sub")
        if not isinstance(user, str) or not user or len(user) > 128:
            raise TokenInvalid("sub must be a non-empty string of at most 128 characters")
        communities_claim = claims.get("communities", {})
        if not isinstance(communities_claim, dict):
            raise TokenInvalid("communities must be an object of community -> role")
        communities: dict[str, Role] = {}
        for name, role in communities_claim.items():
            if not isinstance(role, str) or role not in ROLES:
                raise TokenInvalid(f"unknown role {role!r} for community {name!r}")
            communities[str(name)] = Role(role)
        name = claims.get("name") or user
        if not isinstance(name, str):
            raise TokenInvalid("name must be a string")
        info = claims.get("info") or {}
        if not isinstance(info, dict):
            raise TokenInvalid("info must be an object")
        meta = claims.get("meta") or {}
        channels = claims.get("channels") or []
        if not isinstance(channels, list) or not all(isinstance(c, str) for c in channels):
            raise TokenInvalid("channels must be a list of strings")
        exp = claims.get("exp")
        member = Member(user=user, name=name[:64], communities=communities, info=info)
        return Identity(
            member=member,
            expires_at=int(exp) if exp is not None else None,
            invisible=bool(claims.get("invisible", False)),
            meta=meta if isinstance(meta, dict) else {},
            channels=tuple(channels),
        )

    def subscription(self, token: str, user: str, channel: str, now: float | None = None) -> dict[str, Any]:
        claims = self._decode(token, now)
        if claims.get("sub") != user:
            raise TokenInvalid("subscription token is for another user")
        if claims.get("channel") != channel:
            raise TokenInvalid("subscription token is for another channel")
        return claims


def make_token(
    secret: str,
    user: str,
    *,
    name: str | None = None,
    communities: dict[str, str] | None = None,
    ttl: int | None = 3600,
    info: dict[str, Any] | None = None,
    invisible: bool = False,
    now: float | None = None,
    extra: dict[str, Any] | None = None,
) -> str:
    """Sign a connection token with HS256 (what ``chatserver token`` prints)."""
    issued = int(now if now is not None else time.time())
    claims: dict[str, Any] = {"sub": user, "iat": issued}
    if name:
        claims["name"] = name
    if communities:
        for role in communities.values():
            if role not in ROLES:
                raise ValueError(f"unknown role {role!r}; expected one of {', '.join(ROLES)}")
        claims["communities"] = communities
    if ttl:
        claims["exp"] = issued + int(ttl)
    if info:
        claims["info"] = info
    if invisible:
        claims["invisible"] = True
    if extra:
        claims.update(extra)
    return jwt.encode(claims, secret, algorithm="HS256")
