"""A newcomer's rough edges (issue 26): the README's client snippet runs as a file, the
/api/tokens 409 is documented and answered, and no install instruction names the package
index's unrelated `chatserver` project."""

from __future__ import annotations

import re
import subprocess
import sys

from tests.harness import ROOT, SECRET, ServerProcess


def _readme_client() -> str:
    readme = (ROOT / "README.md").read_text()
    marker = readme.index("<!-- client.py:")
    block = re.search(r"```python\n(.*?)```", readme[marker:], re.S)
    assert block is not None
    return block.group(1)


def test_readme_client_snippet_runs_as_a_file(server, tmp_path):
    readme = (ROOT / "README.md").read_text()
    assert "pip install centrifuge-python" in readme
    server.make_room("demo", "lobby")
    (tmp_path / "client.py").write_text(_readme_client())
    # The token as the README makes it: `chatserver token` with the server's secret.
    made = subprocess.run(
        [sys.executable, "-m", "chatserver", "token", "--user", "alice", "--name", "Alice", "--community", "demo=member"],
        capture_output=True, text=True, timeout=60, cwd=ROOT, env={"CHATSERVER_SECRET": SECRET, "PATH": "/usr/bin:/bin"},
    )
    assert made.returncode == 0, made.stderr
    (tmp_path / "token.txt").write_text(made.stdout)
    ran = subprocess.run(
        [sys.executable, "client.py"], capture_output=True, text=True, timeout=60, cwd=tmp_path,
        env={"CHATSERVER_PORT": str(server.port), "PATH": "/usr/bin:/bin"},
    )
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert ran.stdout.strip().splitlines()[-1] == "Alice: hello", ran.stdout


def test_api_tokens_409_with_only_a_public_key_is_documented():
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    docs = (ROOT / "docs" / "http-api.md").read_text()
    row = next(line for line in docs.splitlines() if line.startswith("| `POST /api/tokens`"))
    assert "409" in row and "token_public_key" in row, row
    pem = ec.generate_private_key(ec.SECP256R1()).public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()
    s = ServerProcess(None, env={"CHATSERVER_SECRET": "", "CHATSERVER_TOKEN_PUBLIC_KEY": pem})
    try:
        s.wait_ready()
        r = s.api("POST", "/api/tokens", {"user": "alice", "communities": {}})
        assert r.status_code == 409 and r.json()["error"]["code"] == "conflict", r.text
    finally:
        s.stop()


def test_no_install_instruction_names_the_unrelated_chatserver_project():
    texts = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")), *sorted((ROOT / "deploy").rglob("*")), ROOT / "CHANGELOG.md"]
    offenders = []
    for path in texts:
        if path.is_file():
            for n, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
                if re.search(r"pip install\s+(-U\s+|--upgrade\s+)?chatserver\b(?![-_])", line) and "not" not in line.lower():
                    offenders.append(f"{path.relative_to(ROOT)}:{n}: {line.strip()}")
    assert not offenders, offenders
    assert "pip install peerchat-server" in (ROOT / "deploy" / "systemd" / "chatserver@.service").read_text()
