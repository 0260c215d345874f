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

import base64
import binascii
import hashlib
import hmac
import re
import time
from dataclasses import dataclass, field
from typing import Any

import jwt
import jwt.algorithms
import orjson

from rooms.model import Member, Role

ROLES = tuple(r.value for r in Role)
VERIFIED_MAX = 2_000  # verified tokens remembered per process (a reconnect storm's worth)
VERIFIED_TTL = 30.0  # seconds a verified token is trusted without verifying it again
_HMAC_DIGESTS = {"HS256": hashlib.sha256, "HS384": hashlib.sha384, "HS512": hashlib.sha512}
_SEGMENT = re.compile(r"[A-Za-z0-9_-]+\Z")  # one base64url segment, unpadded
_PLAIN_HEADER = frozenset({"alg", "typ", "kid"})
# Claims whose checks are left to PyJWT: a token carrying one takes PyJWT's path.
_CHECKED_BY_PYJWT = ("nbf", "aud", "iss", "jti")


def _unb64(segment: str) -> bytes:
    """One unpadded base64url segment of a token (``binascii.Error`` if it is not one)."""
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def _segment_json(segment: str) -> Any:
    return orjson.loads(_unb64(segment))


def _signed_by(key: bytes, digest: Any, signing_input: str, signature: str) -> bool:
    """Whether ``signature`` (base64url) is the HMAC of ``signing_input`` with ``key``."""
    return hmac.compare_digest(hmac.new(key, signing_input.encode(), digest).digest(), _unb64(signature))


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
    locale: str = ""  # the member's language and region ("es-MX"): claim ``locale``, else the client's


def locale_tag(value: Any) -> str:
    """A language tag as given (``es-MX``, ``en``), or "" for anything that is not one."""
    if not isinstance(value, str) or not 2 <= len(value) <= 16:
        return ""
    parts = value.replace("_", "-").split("-")
    if not parts[0].isalpha() or not all(p.isalnum() for p in parts):
        return ""
    return "-".join([parts[0].lower(), *(p.upper() if len(p) == 2 else p for p in parts[1:])])


_EC_CURVE_ALGORITHMS = {"secp256r1": "ES256", "secp384r1": "ES384", "secp521r1": "ES512"}


def load_public_key(pem: str) -> tuple[Any, tuple[str, ...]]:
    """Parse ``token_public_key`` (PEM) and return the key object and the algorithms its
    type signs with (RSA: RS256; EC: ES256/ES384/ES512 by curve). ``ValueError`` with a
    message naming the setting for anything else."""
    from cryptography.hazmat.primitives.asymmetric import ec, rsa
    from cryptography.hazmat.primitives.serialization import load_pem_public_key

    try:
        key = load_pem_public_key(pem.strip().encode())
    except (ValueError, TypeError) as exc:
        raise ValueError(
            "token_public_key is not a PEM public key (expected '-----BEGIN PUBLIC KEY-----' "
            f"with an RSA or EC key): {exc}"
        ) from None
    if isinstance(key, rsa.RSAPublicKey):
        if key.key_size < 2048:
            raise ValueError(f"token_public_key: an RSA key of {key.key_size} bits is too weak (at least 2048)")
        return key, ("RS256",)
    if isinstance(key, ec.EllipticCurvePublicKey):
        alg = _EC_CURVE_ALGORITHMS.get(key.curve.name)
        if alg is None:
            raise ValueError(f"token_public_key: EC curve {key.curve.name} is not supported (use P-256, P-384 or P-521)")
        return key, (alg,)
    raise ValueError(f"token_public_key: a {type(key).__name__} is not supported (use an RSA or EC key)")


class TokenVerifier:
    """Verifies tokens signed with the HS256 secret and/or the configured public key.

    ``algorithms`` empty: derived from the keys (HS256 with a secret, the public key's own
    algorithm with a public key). A token's ``alg`` picks the key: HMAC algorithms use the
    secret, the others the public key.
    """

    def __init__(self, secret: str, algorithms: tuple[str, ...] = (), public_key: str | None = None):
        if not secret and not public_key:
            raise ValueError("a token secret or public key is required")
        self._secret = secret
        self._public: Any = None
        derived: tuple[str, ...] = ("HS256",) if secret else ()
        if public_key:
            self._public, key_algorithms = load_public_key(public_key)
            derived += key_algorithms
        self._algorithms = list(algorithms) if algorithms else list(derived)
        # HMAC signatures are checked here with the secret prepared once (PyJWT prepares and
        # vets the key again for every token, which was most of a connect's CPU); claims
        # are still validated by PyJWT. A secret PyJWT would refuse keeps PyJWT's path.
        self._hmac_key: bytes | None = None
        if secret:
            try:
                self._hmac_key = jwt.algorithms.HMACAlgorithm(jwt.algorithms.HMACAlgorithm.SHA256).prepare_key(secret)
            except jwt.PyJWTError:
                self._hmac_key = None
        # Verified tokens (token -> claims), so a member reconnecting with the same token is
        # not verified again: bounded in size and in age; ``exp`` is checked on every use.
        self._verified: dict[str, tuple[float, dict[str, Any]]] = {}

    @property
    def algorithms(self) -> list[str]:
        return list(self._algorithms)

    def _key_and_alg(self, token: str) -> tuple[Any, str]:
        try:
            alg = jwt.get_unverified_header(token).get("alg")
        except jwt.PyJWTError as exc:
            raise TokenInvalid(str(exc)) from None
        if alg not in self._algorithms:
            raise TokenInvalid(f"token algorithm {alg!r} is not accepted (accepted: {', '.join(self._algorithms)})")
        key = self._secret if str(alg).startswith("HS") else self._public
        if not key:
            raise TokenInvalid(f"no key configured for algorithm {alg!r}")
        return key, str(alg)

    def _decode(self, token: str, now: float | None) -> dict[str, Any]:
        if not isinstance(token, str) or not token:
            raise TokenInvalid("token required")
        mono = time.monotonic()
        cached = self._verified.get(token)
        if cached is not None and mono - cached[0] < VERIFIED_TTL:
            claims = cached[1]
        else:
            claims = self._verify(token)
            verified = self._verified
            verified.pop(token, None)  # re-inserted last: the dict stays in age order
            while verified:  # drop the oldest while too many or too old
                oldest = next(iter(verified))
                if len(verified) < VERIFIED_MAX and mono - verified[oldest][0] < VERIFIED_TTL:
                    break
                del verified[oldest]
            verified[token] = (mono, claims)
        exp = claims.get("exp")
        if exp is not None:
            if isinstance(exp, bool) or not isinstance(exp, (int, float)):
                raise TokenInvalid("exp must be a number")
            if exp <= (now if now is not None else time.time()):
                raise TokenExpired("token expired")
        return claims

    def _plain_hmac_claims(self, token: str) -> dict[str, Any] | None:
        """The claims of a plain HMAC token whose every check is decided here, or None to
        leave the token to PyJWT (anything unusual, and every refusal: the verdicts and
        messages stay PyJWT's). Plain: a header of only ``alg`` (accepted, HMAC), ``typ``
        ("JWT") and ``kid`` (a string); a valid signature; a JSON object payload with a
        string ``sub``, an integer ``iat`` not in the future if any, and none of ``nbf``,
        ``aud``, ``iss``, ``jti``. For such a token PyJWT's checks cannot fail, so this
        saves its parsing (two base64 and JSON decodes, the claim validators)."""
        parts = token.split(".")
        if len(parts) != 3 or not all(_SEGMENT.match(part) for part in parts):
            return None
        hmac_key = self._hmac_key
        try:
            header = _segment_json(parts[0])
            if not isinstance(header, dict) or not header.keys() <= _PLAIN_HEADER:
                return None
            alg = header.get("alg")
            digest = _HMAC_DIGESTS.get(alg) if isinstance(alg, str) and alg in self._algorithms else None
            if digest is None or hmac_key is None or header.get("typ", "JWT") != "JWT":
                return None
            if not isinstance(header.get("kid", ""), str):
                return None
            if not _signed_by(hmac_key, digest, f"{parts[0]}.{parts[1]}", parts[2]):
                return None
            claims = _segment_json(parts[1])
        except (binascii.Error, ValueError, orjson.JSONDecodeError):
            return None
        if not isinstance(claims, dict) or not isinstance(claims.get("sub"), str):
            return None
        if any(name in claims for name in _CHECKED_BY_PYJWT):
            return None
        if "iat" in claims:
            iat = claims["iat"]
            if type(iat) is not int or iat > time.time():
                return None
        return claims

    def _verify(self, token: str) -> dict[str, Any]:
        """The token's claims once its signature and claims check out (not ``exp``)."""
        if self._hmac_key is not None:
            plain = self._plain_hmac_claims(token)
            if plain is not None:
                return plain
        key, alg = self._key_and_alg(token)
        options: dict[str, Any] = {"verify_exp": False, "require": ["sub"]}
        hmac_key = self._hmac_key
        digest = _HMAC_DIGESTS.get(alg) if hmac_key is not None else None
        if digest is not None:
            signing_input, _, signature = token.rpartition(".")
            assert hmac_key is not None
            try:
                signed = _signed_by(hmac_key, digest, signing_input, signature)
            except (binascii.Error, ValueError):
                raise TokenInvalid("Invalid crypto padding") from None
            if not signed:
                raise TokenInvalid("Signature verification failed")
            # Every other check stays PyJWT's (structure, nbf, iat, aud, iss, required sub).
            options = {
                "verify_signature": False, "verify_exp": False, "verify_nbf": True, "verify_iat": True,
                "verify_aud": True, "verify_iss": True, "verify_sub": True, "verify_jti": True,
                "require": ["sub"],
            }
        try:
            claims: dict[str, Any] = jwt.decode(token, key, algorithms=self._algorithms, options=options)  # type: ignore[arg-type]
        except jwt.PyJWTError as exc:
            raise TokenInvalid(str(exc)) from None
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
            locale=locale_tag(claims.get("locale")) or locale_tag(info.get("locale")),
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
