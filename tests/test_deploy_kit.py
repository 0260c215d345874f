"""deploy/ stays consistent with what the tests run: the systemd unit passes
``systemd-analyze verify``, the compose file's nginx config is deploy/nginx's with the
container names, and the Dockerfile installs every package of the project."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

from tests.harness import ROOT

DEPLOY = ROOT / "deploy"


def test_systemd_unit_verifies(tmp_path):
    tool = shutil.which("systemd-analyze")
    assert tool, "systemd-analyze is part of systemd (installed on the CI machine)"
    unit = (DEPLOY / "systemd" / "chatserver@.service").read_text()
    # The unit names the install path; verify it against this venv's console script.
    executable = Path(sys.executable).parent / "chatserver"
    assert executable.exists()
    path = tmp_path / "chatserver@8001.service"
    path.write_text(unit.replace("/opt/chatserver/bin/chatserver", str(executable)))
    result = subprocess.run([tool, "verify", str(path)], capture_output=True, text=True, timeout=60)
    problems = [line for line in (result.stdout + result.stderr).splitlines() if line.strip()]
    assert result.returncode == 0 and problems == [], problems
    for hardening in ("User=chatserver", "ProtectSystem=strict", "NoNewPrivileges=true", "Restart=on-failure"):
        assert hardening in unit


def test_compose_nginx_config_is_the_shipped_one_with_container_names():
    shipped = (DEPLOY / "nginx" / "chatserver.conf").read_text()
    compose = (DEPLOY / "docker" / "nginx-compose.conf").read_text()

    def body(text: str) -> str:
        lines = [line for line in text.splitlines() if not line.startswith("#")]
        return re.sub(r"(?m)^    server \S+:\d+ ", "    server ADDR ", "\n".join(lines)).strip()

    assert body(shipped) == body(compose)
    assert "server gateway-1:8000 " in compose and "server gateway-2:8000" in compose
    services = (DEPLOY / "docker" / "compose.yaml").read_text()
    for name in ("gateway-1:", "gateway-2:", "nginx:", "cluster-init:", *(f"valkey-{i}:" for i in range(1, 7))):
        assert f"\n  {name}" in services, name


def test_dockerfile_installs_every_package():
    dockerfile = (DEPLOY / "docker" / "Dockerfile").read_text()
    pyproject = (ROOT / "pyproject.toml").read_text()
    include = re.search(r"include = \[(.*?)\]", pyproject)
    assert include is not None
    for package in re.findall(r'"(\w+)\*"', include.group(1)):
        if package != "loadtests":
            assert f"COPY {package} ./{package}" in dockerfile, package


def test_upstreams_never_mark_a_gateway_failed_and_proxies_are_trusted():
    """A refused WebSocket must not take a gateway out of rotation (max_fails=1 stranded
    nearly every member after a rolling restart), and every example trusts its proxy's
    X-Forwarded-For (otherwise all clients share nginx's address: 429 beyond
    max_connections_per_ip)."""
    for conf in (DEPLOY / "nginx" / "chatserver.conf", DEPLOY / "docker" / "nginx-compose.conf"):
        servers = re.findall(r"(?m)^    server (\S+)(.*);$", conf.read_text())
        assert len(servers) == 2, conf
        for _addr, params in servers:
            assert "max_fails=0" in params.split(), (conf, params)
    locations = (DEPLOY / "nginx" / "chatserver-locations.conf").read_text()
    assert locations.count("proxy_next_upstream error timeout http_502 http_503;") == 2
    compose = (DEPLOY / "docker" / "compose.yaml").read_text()
    trusted = re.search(r"CHATSERVER_TRUSTED_PROXIES: (\S+)", compose)
    assert trusted is not None
    assert f"ipv4_address: {trusted.group(1)}" in compose  # nginx has exactly that address
    unit = (DEPLOY / "systemd" / "chatserver@.service").read_text()
    assert "CHATSERVER_TRUSTED_PROXIES=127.0.0.1" in unit and "--host 127.0.0.1" in unit
