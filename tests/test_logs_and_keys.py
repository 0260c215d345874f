"""What the server logs (bad frames, query strings, access lines) and asymmetric tokens
(RS256/ES256 with token_public_key), against real server processes."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from tests.harness import (
    API_KEY,
    ROOT,
    SECRET,
    RawClient,
    raw_handshake,
    read_close_code,
    token,
    ws_frame,
)


def raw_ws(port: int) -> socket.socket:
    return raw_handshake(socket.create_connection(("127.0.0.1", port)))


def test_invalid_utf8_text_frames_log_one_line_without_traceback(spawn, valkey):
    s = spawn(valkey.url)
    for _ in range(5):
        sock = raw_ws(s.port)
        sock.sendall(ws_frame(b'{"id":1,"connect":{"name":"\xff\xfe"}}', opcode=1))
        assert read_close_code(sock, timeout=5) == 1007
        sock.close()
    time.sleep(0.3)
    log = s.log_path.read_text()
    assert "Traceback" not in log and "ERROR" not in log, log
    lines = [line for line in log.splitlines() if "not valid UTF-8" in line]
    assert len(lines) == 1, lines  # five bad frames, one line (rate limited)
    assert "WARNING" in lines[0]


async def test_bad_tokens_and_malformed_frames_log_one_line_per_address(spawn, valkey):
    """A client looping with a bad token, or sending garbage, is refused every time (3500,
    3501) but logged once a minute per address, with a count of what was held back."""
    s = spawn(valkey.url)
    for i in range(6):
        c = await RawClient.open(s.ws_url)
        try:
            await c.send({"id": 1, "connect": {"token": f"not-a-token-{i}"}})
            assert (await c.wait_closed(timeout=5)).code == 3500
        finally:
            await c.close()
    for _ in range(6):
        c = await RawClient.open(s.ws_url)
        try:
            await c.send_raw("{this is not json")
            assert (await c.wait_closed(timeout=5)).code == 3501
        finally:
            await c.close()
    time.sleep(0.3)
    log = s.log_path.read_text()
    assert len([line for line in log.splitlines() if "invalid token from 127.0.0.1" in line]) == 1, log
    assert len([line for line in log.splitlines() if "sent a malformed frame" in line]) == 1, log
    assert "Traceback" not in log


async def test_query_values_never_logged_and_access_lines_opt_in(spawn, valkey):
    quiet = spawn(valkey.url)
    noisy = spawn(valkey.url, env={"CHATSERVER_ACCESS_LOG": "true"})
    for s in (quiet, noisy):
        c = await RawClient.open(s.ws_url + "?token=SEKRIT-TOKEN-VALUE&format=json")
        assert "connect" in await c.connect(token("q"))
        await c.close()
    time.sleep(0.3)
    quiet_log = quiet.log_path.read_text()
    noisy_log = noisy.log_path.read_text()
    assert "SEKRIT" not in quiet_log and "SEKRIT" not in noisy_log
    # Off by default: no per-connection lines at all.
    assert "WebSocket" not in quiet_log and "connection open" not in quiet_log, quiet_log
    # Opted in: the access line is there, its query values are not.
    accepted = [line for line in noisy_log.splitlines() if "[accepted]" in line]
    assert accepted and "token=…" in accepted[0] and "format=…" in accepted[0], noisy_log


def _pem(private_key) -> str:
    return private_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()


async def test_rs256_and_es256_tokens_end_to_end(spawn, valkey):
    claims = {"sub": "asym", "name": "Asym", "communities": {"demo": "member"}, "exp": int(time.time()) + 600}
    for private, alg in (
        (rsa.generate_private_key(public_exponent=65537, key_size=2048), "RS256"),
        (ec.generate_private_key(ec.SECP256R1()), "ES256"),
    ):
        s = spawn(valkey.url, env={"CHATSERVER_TOKEN_PUBLIC_KEY": _pem(private)})
        good = await RawClient.open(s.ws_url)
        reply = await good.connect(jwt.encode(claims, private, algorithm=alg))
        assert reply["connect"]["client"], reply
        sub = await good.call("subscribe", {"channel": "demo:lobby"})
        assert "subscribe" in sub, sub
        await good.close()
        # The configured HS256 secret still works next to the public key.
        hs = await RawClient.open(s.ws_url)
        assert "connect" in await hs.connect(token("hs-user"))
        await hs.close()
        # Signed by another key of the same type: invalid token, close 3500.
        other = (
            rsa.generate_private_key(public_exponent=65537, key_size=2048)
            if alg == "RS256"
            else ec.generate_private_key(ec.SECP256R1())
        )
        bad = await RawClient.open(s.ws_url)
        try:
            await bad.connect(jwt.encode(claims, other, algorithm=alg))
        except Exception:
            pass
        assert (await bad.wait_closed(5)).code == 3500
        await bad.close()


def test_nonsense_public_key_refuses_to_start(tmp_path):
    env = dict(
        os.environ,
        CHATSERVER_SECRET=SECRET,
        CHATSERVER_API_KEY=API_KEY,
        CHATSERVER_TOKEN_PUBLIC_KEY="-----BEGIN PUBLIC KEY-----\nnot a key\n-----END PUBLIC KEY-----\n",
    )
    out = subprocess.run(
        [sys.executable, "-m", "chatserver", "run", "--redis-url", "redis://127.0.0.1:1/0", "--data-dir", str(tmp_path)],
        env=env, cwd=ROOT, capture_output=True, text=True, timeout=60,
    )
    assert out.returncode == 2, out.stderr
    assert "token_public_key is not a PEM public key" in out.stderr
    assert "Traceback" not in out.stderr
