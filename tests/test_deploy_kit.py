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


def _lock_pins() -> dict[str, str]:
    from packaging.utils import canonicalize_name

    pins: dict[str, str] = {}
    for line in (ROOT / "requirements.lock").read_text().splitlines():
        m = re.match(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)", line)
        if m:
            pins[canonicalize_name(m.group(1))] = m.group(2)
    return pins


def test_lock_file_satisfies_pyproject():
    """requirements.lock (pip-compile) pins every dependency and test tool pyproject names, at a
    version its specifier accepts; regenerate it with the command in docs/deployment.md."""
    import tomllib

    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    pins = _lock_pins()
    wanted = [Requirement(r) for r in project["dependencies"] + project["optional-dependencies"]["test"]]
    problems = []
    for req in wanted:
        if req.marker is not None and not req.marker.evaluate({"extra": "test"}):
            continue
        pinned = pins.get(canonicalize_name(req.name))
        if pinned is None:
            problems.append(f"{req.name}: not in requirements.lock")
        elif not req.specifier.contains(pinned, prereleases=True):
            problems.append(f"{req.name}: locked {pinned} does not meet {req.specifier}")
    assert not problems, problems
    header = (ROOT / "requirements.lock").read_text()
    assert "autogenerated by pip-compile" in header and "--extra=test" in header


def test_dockerfile_installs_with_the_lock_and_dockerignore_keeps_state_out():
    dockerfile = (DEPLOY / "docker" / "Dockerfile").read_text()
    assert "COPY requirements.lock" in dockerfile
    assert re.search(r"pip install --constraint requirements\.lock \.", dockerfile)
    ignored = {
        line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines() if line.strip() and not line.startswith("#")
    }
    for local_state in (".git", ".venv", "chatserver-data", "**/__pycache__", "*.env"):
        assert local_state in ignored, local_state
    # Nothing the Dockerfile copies is ignored.
    for source in re.findall(r"(?m)^COPY (.+) \S+$", dockerfile):
        for name in source.split():
            assert name not in ignored and name.split("/")[0] not in ignored, name


OBSERVABILITY = DEPLOY / "observability"
# Series Prometheus makes itself (not in /metrics): the scrape's own health.
PROMETHEUS_SERIES = {"up"}


def _promql_metric_names(expr: str) -> set[str]:
    """Metric names in a PromQL expression: identifiers that are not functions, keywords,
    label names (inside braces or by/without lists) or strings."""
    expr = re.sub(r'"[^"]*"', '""', expr)
    expr = re.sub(r"\{[^}]*\}", "", expr)
    expr = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", expr)
    expr = re.sub(r"\[[^\]]*\]", "", expr)
    names = set()
    for m in re.finditer(r"\b([a-zA-Z_:][a-zA-Z0-9_:]*)\b(\s*\()?", expr):
        word, call = m.group(1), m.group(2)
        if call or word in {"and", "or", "unless", "bool", "offset"} or re.fullmatch(r"\d+\w*", word):
            continue
        names.add(word)
    return names


def _alert_rules() -> list[dict]:
    import yaml

    doc = yaml.safe_load((OBSERVABILITY / "alerts.yml").read_text())
    return [rule for group in doc["groups"] for rule in group["rules"]]


def _dashboard_exprs() -> list[str]:
    import json

    dash = json.loads((OBSERVABILITY / "grafana-dashboard.json").read_text())
    return [t["expr"] for p in dash["panels"] for t in p["targets"]]


def test_alert_rules_pass_promtool():
    tool = shutil.which("promtool")
    assert tool, "promtool comes with Debian's prometheus package (.ci/run installs it)"
    result = subprocess.run([tool, "check", "rules", str(OBSERVABILITY / "alerts.yml")], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS: 5 rules found" in result.stdout
    # The rules' behaviour on made-up series (alerts.test.yml): each fires when it should.
    result = subprocess.run([tool, "test", "rules", str(OBSERVABILITY / "alerts.test.yml")], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and "SUCCESS" in result.stdout, result.stdout + result.stderr
    tested = set(re.findall(r"alertname: (\w+)", (OBSERVABILITY / "alerts.test.yml").read_text()))
    alerts = {rule["alert"] for rule in _alert_rules()}
    assert tested == alerts
    assert alerts == {
        "ChatCrisisCaseUnacknowledged", "ChatGatewayNotReady", "ChatWebhookBacklogGrowing",
        "ChatRedisErrors", "ChatConnectionRefusalsSpiking",
    }


def test_dashboard_panels_cover_the_operators_questions(tmp_path):
    import json

    import yaml

    # Every panel query is valid PromQL: promtool checks them as recording rules.
    records = [{"record": f"dashboard:query_{i}", "expr": e} for i, e in enumerate(_dashboard_exprs())]
    rules = tmp_path / "dashboard-queries.yml"
    rules.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": records}]}))
    tool = shutil.which("promtool")
    assert tool
    result = subprocess.run([tool, "check", "rules", str(rules)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr

    dash = json.loads((OBSERVABILITY / "grafana-dashboard.json").read_text())
    titles = {p["title"] for p in dash["panels"]}
    for wanted in ("Deliveries per second", "Post latency", "Connections", "Holds pending review",
                   "Crisis time to acknowledge", "Webhook backlog", "Redis errors and pub/sub resets",
                   "Connection refusals"):
        assert wanted in titles, wanted
    assert len({p["id"] for p in dash["panels"]}) == len(dash["panels"])
    assert all(p["targets"] and all(t["expr"] for t in p["targets"]) for p in dash["panels"])


def test_every_metric_the_dashboard_and_rules_name_is_exported(server):
    """Scrape a real server's /metrics: each name is a sample or a declared family (labelled
    families without samples yet, e.g. no crisis case open, are declared by # TYPE)."""
    import httpx

    text = httpx.get(server.url + "/metrics", timeout=10).text
    samples = set(re.findall(r"(?m)^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{| )", text))
    families = dict(re.findall(r"(?m)^# TYPE (\S+) (\S+)$", text))

    def exported(name: str) -> bool:
        if name in samples or families.get(name) in ("gauge", "untyped", "counter"):
            return True
        base, _, suffix = name.rpartition("_")
        if suffix in ("bucket", "sum", "count") and families.get(base) == "histogram":
            return True
        return suffix == "total" and families.get(base) == "counter"

    exprs = _dashboard_exprs() + [rule["expr"] for rule in _alert_rules()]
    named = set().union(*(_promql_metric_names(e) for e in exprs)) - PROMETHEUS_SERIES
    assert len(named) >= 14, named
    missing = sorted(n for n in named if not exported(n))
    assert not missing, f"named by deploy/observability but not in /metrics: {missing}"


K8S = DEPLOY / "k8s"


def _k8s_documents() -> dict[str, dict]:
    import yaml

    docs = {}
    for path in sorted(K8S.glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if doc:
                docs[doc["kind"]] = doc
    return docs


def test_kubernetes_manifests_validate_against_the_shipped_schemas():
    import kubernetes_validate
    import yaml

    files = sorted(K8S.glob("*.yaml"))
    assert {f.name for f in files} >= {"deployment.yaml", "service.yaml", "pdb.yaml", "configmap.yaml"}
    for version in ("1.29.0", kubernetes_validate.latest_version()):
        for path in files:
            for doc in yaml.safe_load_all(path.read_text()):
                kubernetes_validate.validate(doc, version, strict=True)  # raises on a bad field
    # The CLI the docs show, too.
    cli = Path(sys.executable).parent / "kubernetes-validate"
    result = subprocess.run([str(cli), "--strict", *map(str, files)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


def test_kubernetes_deployment_probes_drain_and_secrets():
    docs = _k8s_documents()
    deployment, service, pdb, configmap = docs["Deployment"], docs["Service"], docs["PodDisruptionBudget"], docs["ConfigMap"]
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert deployment["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert service["spec"]["selector"].items() <= labels.items()
    assert pdb["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert service["spec"]["sessionAffinity"] == "None" and "Session affinity" in (K8S / "service.yaml").read_text()
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    # preStop waits for the endpoints to drop the pod; then SIGTERM sends the 3001 goodbye
    # (uvicorn's graceful stop is 10 s): all inside the grace period.
    pre_stop = container["lifecycle"]["preStop"]["exec"]["command"]
    assert pre_stop[0] == "sleep" and pod["terminationGracePeriodSeconds"] >= int(pre_stop[1]) + 10 + 5
    secrets = {e["name"]: e["valueFrom"]["secretKeyRef"] for e in container["env"] if "secretKeyRef" in e.get("valueFrom", {})}
    assert set(secrets) == {"CHATSERVER_SECRET", "CHATSERVER_API_KEY", "CHATSERVER_REDIS_URL"}
    assert container["envFrom"][0]["configMapRef"]["name"] == configmap["metadata"]["name"]
    # Every ConfigMap key is a setting the server knows.
    from chatserver.config import Settings

    known = {f"CHATSERVER_{name.upper()}" for name in Settings.__dataclass_fields__}
    assert set(configmap["data"]) <= known, set(configmap["data"]) - known
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert pod["securityContext"]["runAsNonRoot"] is True
    mounts = {m["mountPath"] for m in container["volumeMounts"]}
    assert "/var/lib/chatserver" in mounts and "/tmp" in mounts
    assert "--data-dir" in container["args"] and "/var/lib/chatserver" in container["args"]


def _self_signed(prefix: Path) -> tuple[Path, Path]:
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "chat.example.org")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("chat.example.org")]), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = prefix / "fullchain.pem", prefix / "privkey.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    return cert_path, key_path


def test_nginx_tls_example_passes_nginx_t(tmp_path):
    """The commented TLS server of deploy/nginx/chatserver.conf, uncommented, with a
    certificate made here: `nginx -t` accepts it on this machine's nginx (Debian 12: 1.22,
    where a lone `http2 on;` is an unknown directive)."""
    from tests.harness import free_port

    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    assert Path(nginx).exists(), "nginx is not installed (.ci/run installs Debian's nginx)"
    site = (DEPLOY / "nginx" / "chatserver.conf").read_text()
    head, marker, example = site.partition("# TLS termination (example)")
    assert marker
    block = "\n".join(line[2:] if line.startswith("# ") else line.lstrip("#") for line in example.splitlines()[1:])
    block = block[block.index("server {"):]
    assert "ssl_certificate" in block and "listen 443 ssl" in block
    cert, key = _self_signed(tmp_path)
    block = block.replace("/etc/letsencrypt/live/chat.example.org/fullchain.pem", str(cert))
    block = block.replace("/etc/letsencrypt/live/chat.example.org/privkey.pem", str(key))
    block = re.sub(r"listen 443 ", f"listen 127.0.0.1:{free_port()} ", block)
    head = head.replace("listen 80;", f"listen 127.0.0.1:{free_port()};")
    shutil.copy(DEPLOY / "nginx" / "chatserver-locations.conf", tmp_path / "chatserver-locations.conf")
    conf_site = (head + block).replace("/etc/nginx/chatserver-locations.conf", str(tmp_path / "chatserver-locations.conf"))
    (tmp_path / "chatserver.conf").write_text(conf_site)
    main = tmp_path / "nginx.conf"
    main.write_text(
        f"""worker_processes 1;
error_log {tmp_path}/error.log warn;
pid {tmp_path}/nginx.pid;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {tmp_path}/body;
    proxy_temp_path {tmp_path}/proxy;
    fastcgi_temp_path {tmp_path}/fastcgi;
    uwsgi_temp_path {tmp_path}/uwsgi;
    scgi_temp_path {tmp_path}/scgi;
    include {tmp_path}/chatserver.conf;
}}
"""
    )
    result = subprocess.run(
        [nginx, "-t", "-p", str(tmp_path), "-e", str(tmp_path / "error.log"), "-c", str(main)],
        capture_output=True, text=True, timeout=60,
    )
    out = result.stdout + result.stderr
    assert result.returncode == 0 and "test is successful" in out, out
    assert "unknown directive" not in out and "[emerg]" not in out, out


def test_ci_script_installs_what_the_deploy_kit_tests_need():
    script = (ROOT / ".ci" / "run").read_text()
    assert subprocess.run(["bash", "-n", str(ROOT / ".ci" / "run")], timeout=30).returncode == 0
    install = re.search(r"apt-get install [^\n]*", script)
    assert install is not None
    for package in ("chromium", "nginx", "prometheus"):
        assert package in install.group(0), package
    assert "--constraint requirements.lock -e '.[test]'" in script
    assert "python -m build" in script
