"""TokenVerifier: HMAC signatures checked with the secret prepared once, claims still checked
by PyJWT, verified tokens remembered (bounded) without weakening any check: the verdicts
match PyJWT's own for good, forged, tampered and claim-refused tokens."""

from __future__ import annotations

import base64
import time

import jwt
import pytest

from chatserver import auth
from chatserver.auth import TokenExpired, TokenInvalid, TokenVerifier, make_token

SECRET = "a-test-secret-of-at-least-32-bytes-long"


def _pyjwt_accepts(token: str) -> bool:
    try:
        jwt.decode(token, SECRET, algorithms=["HS256"], options={"verify_exp": False, "require": ["sub"]})
    except jwt.PyJWTError:
        return False
    return True


def _tampered(token: str) -> str:
    header, payload, signature = token.split(".")
    claims = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)).replace(b'"sam"', b'"eve"')
    return ".".join([header, base64.urlsafe_b64encode(claims).rstrip(b"=").decode(), signature])


def _signed(header: bytes, payload: bytes) -> str:
    """A token with exactly this header and payload, signed with ``SECRET`` (HS256)."""
    import hashlib
    import hmac

    def enc(raw: bytes) -> str:
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    signing_input = f"{enc(header)}.{enc(payload)}"
    signature = hmac.new(SECRET.encode(), signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{enc(signature)}"


def test_same_verdicts_as_pyjwt():
    now = int(time.time())
    cases = {
        "good": make_token(SECRET, "sam", communities={"c": "member"}),
        "good HS256 without exp": make_token(SECRET, "sam", ttl=None),
        "other secret": make_token("another-secret-of-at-least-32-bytes!!", "sam"),
        "tampered payload": _tampered(make_token(SECRET, "sam")),
        "audience nobody asked for": make_token(SECRET, "sam", extra={"aud": "elsewhere"}),
        "not yet valid": make_token(SECRET, "sam", extra={"nbf": now + 3600}),
        "iat not a number": make_token(SECRET, "sam", extra={"iat": "yesterday"}),
        "no sub": jwt.encode({"name": "x"}, SECRET, algorithm="HS256"),
        "alg none": jwt.encode({"sub": "sam"}, None, algorithm="none"),
        "HS512 (not accepted)": jwt.encode({"sub": "sam"}, SECRET * 2, algorithm="HS512"),
        "truncated signature": make_token(SECRET, "sam")[:-4],
        "garbage": "not.a.token",
        # The edges of the plain-token path (decided without PyJWT): same verdicts.
        "iat in the future": make_token(SECRET, "sam", extra={"iat": now + 3600}),
        "iat a float": make_token(SECRET, "sam", extra={"iat": now - 1.5}),
        "iat true": make_token(SECRET, "sam", extra={"iat": True}),
        "sub a number": jwt.encode({"sub": 7}, SECRET, algorithm="HS256"),
        "sub not ASCII": jwt.encode({"sub": "s\u00e5m"}, SECRET, algorithm="HS256"),
        "kid a string": jwt.encode({"sub": "sam"}, SECRET, algorithm="HS256", headers={"kid": "k1"}),
        "kid a number": _signed(b'{"alg":"HS256","kid":5}', b'{"sub":"sam"}'),
        "typ other": jwt.encode({"sub": "sam"}, SECRET, algorithm="HS256", headers={"typ": "at+jwt"}),
        "crit header": jwt.encode({"sub": "sam"}, SECRET, algorithm="HS256", headers={"crit": ["exp"]}),
        "jti a number": make_token(SECRET, "sam", extra={"jti": 12}),
        "issuer set": make_token(SECRET, "sam", extra={"iss": "someone"}),
        "payload an array": _signed(b'{"alg":"HS256","typ":"JWT"}', b'["sam"]'),
        "payload not JSON": _signed(b'{"alg":"HS256","typ":"JWT"}', b"sam"),
        "header not JSON": _signed(b"alg", b'{"sub":"sam"}'),
        "padded segment": make_token(SECRET, "sam") + "=",
    }
    verifier = TokenVerifier(SECRET)
    for label, token in cases.items():
        expected = _pyjwt_accepts(token)
        for attempt in range(2):  # the second answer may come from the verified cache
            try:
                verifier.connection(token)
                accepted = True
            except TokenInvalid:
                accepted = False
            assert accepted is expected, (label, attempt)


def test_remembered_token_still_expires_and_cache_is_bounded(monkeypatch):
    verifier = TokenVerifier(SECRET)
    now = time.time()
    token = make_token(SECRET, "sam", ttl=60, now=now)
    assert verifier.connection(token, now=now).member.user == "sam"
    assert token in verifier._verified
    with pytest.raises(TokenExpired):
        verifier.connection(token, now=now + 61)  # the remembered claims are checked again
    monkeypatch.setattr(auth, "VERIFIED_MAX", 8)
    for i in range(30):
        verifier.connection(make_token(SECRET, f"u{i}"))
    assert len(verifier._verified) <= 8
    # A token remembered longer than VERIFIED_TTL is verified again.
    monkeypatch.setattr(auth, "VERIFIED_TTL", 0.0)
    good = make_token(SECRET, "pat")
    verifier.connection(good)
    first = verifier._verified[good][0]
    verifier.connection(good)
    assert verifier._verified[good][0] >= first


def test_subscription_tokens_use_the_same_checks():
    verifier = TokenVerifier(SECRET)
    token = jwt.encode({"sub": "sam", "channel": "c:r"}, SECRET, algorithm="HS256")
    assert verifier.subscription(token, "sam", "c:r")["channel"] == "c:r"
    with pytest.raises(TokenInvalid):
        verifier.subscription(token, "sam", "c:other")
    with pytest.raises(TokenInvalid):
        verifier.subscription(_tampered(token), "eve", "c:r")
