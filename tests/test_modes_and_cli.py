"""Development vs production mode, the development sign-in's Host and media-type checks,
and the `chatserver token` command (reads, never writes; concurrent starts are safe)."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import httpx
import jwt
import pytest

from chatserver.config import ConfigError, Settings, resolve_secrets
from tests.harness import API_KEY, ROOT, SECRET


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHATSERVER_")}
    env.update(extra)
    return env


def run(*args: str, env: dict[str, str], timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "chatserver", *args], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=timeout)


@pytest.mark.parametrize(
    "env, words",
    [
        ({"CHATSERVER_SECRET": SECRET}, ["CHATSERVER_API_KEY", "production mode needs both"]),
        ({"CHATSERVER_API_KEY": API_KEY}, ["CHATSERVER_SECRET", "production mode needs both"]),
        ({"CHATSERVER_SECRET": "short", "CHATSERVER_API_KEY": API_KEY}, ["CHATSERVER_SECRET", "at least 32"]),
        ({"CHATSERVER_SECRET": SECRET, "CHATSERVER_API_KEY": "short-key"}, ["CHATSERVER_API_KEY", "at least 32"]),
    ],
)
def test_half_configured_or_weak_production_refuses_to_start(tmp_path, env, words):
    out = run("run", "--redis-url", "redis://127.0.0.1:1/0", "--data-dir", str(tmp_path / "d"), env=clean_env(**env))
    assert out.returncode == 2, out.stderr
    for word in words:
        assert word in out.stderr, out.stderr
    assert "Traceback" not in out.stderr
    assert not (tmp_path / "d").exists()  # nothing generated


def test_mode_rules(tmp_path):
    # Neither: development, both generated (>= 32 bytes) and kept.
    dev = resolve_secrets(Settings(data_dir=str(tmp_path)))
    assert dev.dev is True and len(dev.secret) >= 32 and len(dev.api_key) >= 32
    again = resolve_secrets(Settings(data_dir=str(tmp_path)))
    assert (again.secret, again.api_key) == (dev.secret, dev.api_key)
    # Both: production.
    prod = resolve_secrets(Settings(data_dir=str(tmp_path / "p"), secret=SECRET, api_key=API_KEY))
    assert prod.dev is False and not (tmp_path / "p").exists()
    # A public key counts as the token key.
    pk = resolve_secrets(Settings(data_dir=str(tmp_path / "k"), token_public_key="PEM", api_key=API_KEY))
    assert pk.dev is False and pk.secret == ""
    # --dev with only one configured: development, the other generated.
    forced = resolve_secrets(Settings(data_dir=str(tmp_path / "f"), api_key="short", dev=True))
    assert forced.dev is True and forced.api_key == "short" and len(forced.secret) >= 32
    with pytest.raises(ConfigError):
        resolve_secrets(Settings(data_dir=str(tmp_path), secret=SECRET, dev=False))


def test_concurrent_starts_share_one_generated_secret(tmp_path):
    """Six processes resolve the development secrets of the same 150 fresh data dirs, in
    the same order, starting at the same instant (what concurrent `chatserver run` starts
    do): none fails, none reads a half-written file, all get the same values."""
    start_at = time.time() + 2
    code = (
        "import time\n"
        "from chatserver.config import Settings, resolve_secrets\n"
        f"time.sleep(max(0, {start_at} - time.time()))\n"
        "for i in range(150):\n"
        f"    s = resolve_secrets(Settings(data_dir={str(tmp_path)!r} + f'/d{{i}}'))\n"
        "    print(i, s.secret, s.api_key)\n"
    )
    procs = [subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, env=clean_env(), stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(6)]
    results = [p.communicate(timeout=120) for p in procs]
    assert all(p.returncode == 0 for p in procs), [err[-2000:] for _, err in results]
    outputs = {out for out, _ in results}
    assert len(outputs) == 1
    assert all(len(line.split()) == 3 for line in outputs.pop().splitlines())  # no empty value read
    leftovers = [p for d in tmp_path.iterdir() for p in d.iterdir() if p.name.startswith(".")]
    assert not leftovers  # no temporary files left behind


def test_token_command_never_writes_a_secret(tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    out = subprocess.run([sys.executable, "-m", "chatserver", "token", "--user", "x"], cwd=elsewhere,
                         env=clean_env(PYTHONPATH=str(ROOT)), capture_output=True, text=True, timeout=60)
    assert out.returncode != 0 and out.stdout == ""
    assert str(elsewhere / "chatserver-data" / "dev-secret") in out.stderr  # where it looked
    assert "CHATSERVER_SECRET" in out.stderr and "--data-dir" in out.stderr  # what to pass
    assert list(elsewhere.iterdir()) == []
    # Concurrent token commands: all fail the same clean way, none writes.
    procs = [subprocess.Popen([sys.executable, "-m", "chatserver", "token", "--user", "x"], cwd=elsewhere,
                              env=clean_env(PYTHONPATH=str(ROOT)), stderr=subprocess.PIPE, text=True)
             for _ in range(4)]
    errs = [p.communicate(timeout=60)[1] for p in procs]
    assert all(p.returncode == 2 for p in procs) and not any("Traceback" in e for e in errs)
    assert list(elsewhere.iterdir()) == []


def test_token_command_reads_the_dev_secret_of_a_data_dir(tmp_path):
    resolve_secrets(Settings(data_dir=str(tmp_path)))  # what `chatserver run` does first
    secret = (tmp_path / "dev-secret").read_text().strip()
    out = run("token", "--user", "x", "--data-dir", str(tmp_path), env=clean_env())
    assert out.returncode == 0, out.stderr
    assert jwt.decode(out.stdout.strip(), secret, algorithms=["HS256"])["sub"] == "x"


@pytest.fixture(scope="module")
def devserver(valkey):
    from tests.harness import ServerProcess

    s = ServerProcess(valkey.url, args=["--dev"], name="dev-host-check")
    s.wait_ready()
    yield s
    s.stop()


def test_dev_token_checks_host_and_content_type(devserver):
    url = devserver.url + "/dev/token"
    body = b'{"name": "Ann", "community": "demo", "role": "admin"}'
    json_type = {"Content-Type": "application/json"}
    # DNS rebinding: a foreign name for this address.
    r = httpx.post(url, content=body, headers={**json_type, "Host": "attacker.example"})
    assert r.status_code == 403 and "attacker.example" in r.json()["error"]["message"]
    assert "token" not in r.json()
    r = httpx.get(devserver.url + "/dev/communities", headers={"Host": "attacker.example:80"})
    assert r.status_code == 403
    # A cross-site "simple" POST: text/plain, or no type at all.
    for headers in ({"Content-Type": "text/plain"}, {"Content-Type": "application/x-www-form-urlencoded"}, {}):
        r = httpx.post(url, content=body, headers=headers)
        assert r.status_code == 415, (headers, r.text)
        assert "application/json" in r.json()["error"]["message"]
    # This server's own names work.
    for host in (f"127.0.0.1:{devserver.port}", f"localhost:{devserver.port}", f"LOCALHOST:{devserver.port}"):
        r = httpx.post(url, content=body, headers={**json_type, "Host": host})
        assert r.status_code == 200, (host, r.text)
        assert r.json()["role"] == "admin"
    r = httpx.post(url, content=body, headers={"Content-Type": "application/json; charset=utf-8"})
    assert r.status_code == 200
