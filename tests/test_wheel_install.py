"""The release path: build the sdist and wheel of the distribution ``peerchat-server`` with
``python -m build``, install the wheel (dependencies pinned by requirements.lock) into a new
virtualenv outside the checkout, and run its ``chatserver run`` to ready: the static files,
Lua scripts and moderation data files must be in the wheel, not read from the checkout."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import httpx
import pytest

from chatserver import __version__
from tests.harness import ROOT, free_port

DIST = "peerchat-server"
PACKAGES = ("chatserver", "rooms", "presence", "moderation_hooks", "loadtests")
# Data files (not Python) that must ship: matches pyproject's [tool.setuptools.package-data].
DATA_SUFFIXES = (".lua", ".jsonl", ".npz", ".npy", ".json", ".safetensors", ".html", ".css", ".js", ".txt")


def _source_data_files() -> list[str]:
    files = []
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*"):
            rel = path.relative_to(ROOT)
            if path.is_file() and path.suffix in DATA_SUFFIXES and "__pycache__" not in rel.parts:
                files.append(rel.as_posix())
    return sorted(files)


def _clean_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CHATSERVER_", "PYTHON", "VIRTUAL_ENV"))}
    env["PYTHONUNBUFFERED"] = "1"
    return env


# A full install (dependencies from the pip cache, pinned by the lock): ~35 s on a quiet
# machine, minutes on a loaded one.
@pytest.mark.timeout(900)
def test_built_wheel_installs_outside_the_checkout_and_serves(tmp_path):
    assert not tmp_path.resolve().is_relative_to(ROOT)
    # Build from a copy so the checkout gets no build/ or egg-info litter.
    src = tmp_path / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, src / name)
    for package in PACKAGES:
        shutil.copytree(ROOT / package, src / package, ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "results"))
    started = time.monotonic()
    build = subprocess.run(
        # --no-isolation: this environment's setuptools (pyproject's build-system
        # requirement) instead of downloading one into two temporary environments.
        [sys.executable, "-m", "build", "--no-isolation", "--outdir", str(tmp_path / "dist"), str(src)],
        capture_output=True, text=True, timeout=300, env=_clean_env(),
    )
    assert build.returncode == 0, build.stdout[-3000:] + build.stderr[-3000:]
    wheels = list((tmp_path / "dist").glob("*.whl"))
    sdists = list((tmp_path / "dist").glob("*.tar.gz"))
    assert [w.name for w in wheels] == [f"peerchat_server-{__version__}-py3-none-any.whl"]
    # setuptools names the sdist peerchat_server-V (PEP 625, setuptools >= 69.3) or, older,
    # peerchat-server-V.
    assert [s.name for s in sdists] in (
        [f"peerchat_server-{__version__}.tar.gz"],
        [f"peerchat-server-{__version__}.tar.gz"],
    ), sdists
    names = set(zipfile.ZipFile(wheels[0]).namelist())
    missing = [f for f in _source_data_files() if f not in names]
    assert not missing, f"not in the wheel: {missing}"
    assert any(n.startswith("chatserver/lua/") for n in names) and "chatserver/static/index.html" in names

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    install = subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--constraint", str(ROOT / "requirements.lock"), str(wheels[0])],
        capture_output=True, text=True, timeout=600, env=_clean_env(),
    )
    assert install.returncode == 0, install.stdout[-3000:] + install.stderr[-3000:]
    print(f"build + venv + install: {time.monotonic() - started:.1f} s")

    run_dir = tmp_path / "run"
    run_dir.mkdir()
    where = subprocess.run(
        [str(venv / "bin" / "python"), "-c", "import chatserver, moderation_hooks; print(chatserver.__file__)"],
        capture_output=True, text=True, timeout=60, cwd=run_dir, env=_clean_env(),
    )
    assert where.returncode == 0 and Path(where.stdout.strip()).is_relative_to(venv), where
    version = subprocess.run([str(venv / "bin" / "chatserver"), "--version"], capture_output=True, text=True, timeout=60, cwd=run_dir, env=_clean_env())
    assert version.stdout.strip() == f"chatserver {__version__}"

    port = free_port()
    log = open(tmp_path / "server.log", "wb")
    proc = subprocess.Popen(
        [str(venv / "bin" / "chatserver"), "run", "--port", str(port), "--data-dir", str(run_dir / "data")],
        cwd=run_dir, env=_clean_env(), stdout=log, stderr=subprocess.STDOUT,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        ready = False
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                ready = httpx.get(base + "/readyz", timeout=1).status_code == 200
            except httpx.HTTPError:
                pass
            if ready:
                break
            time.sleep(0.1)
        assert ready, (tmp_path / "server.log").read_text(errors="replace")[-4000:]
        page = httpx.get(base + "/", timeout=5)
        assert page.status_code == 200 and "<html" in page.text
        assert httpx.get(base + "/js/main.js", timeout=5).status_code == 200
        assert httpx.get(base + "/vendor/centrifuge.js", timeout=5).status_code == 200
        # The demo room was created and history reads run the installed Lua scripts.
        key = (run_dir / "data" / "dev-api-key").read_text().strip()
        history = httpx.get(
            base + "/api/communities/demo/rooms/lobby/history",
            headers={"Authorization": f"Bearer {key}"}, timeout=5,
        )
        assert history.status_code == 200, history.text
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
        log.close()
    assert proc.returncode == 0, (tmp_path / "server.log").read_text(errors="replace")[-4000:]
