#!/usr/bin/env python3
"""Vendor the centrifuge JavaScript SDK into the web client's static files.

The web client (chatserver/static/) is plain HTML, CSS and JavaScript modules; the only
third-party code is the browser build of the official ``centrifuge`` SDK from the npm
registry. This script fetches the pinned version with ``npm install`` into a temporary
directory, checks the registry's integrity hash against the one pinned here, and copies the
SDK's ready-made browser bundle (``dist/centrifuge.js``, which defines ``globalThis.Centrifuge``)
and its licence into ``chatserver/static/vendor/`` byte for byte. A manifest next to them
records the version, the npm integrity and the SHA-256 of every copied file.

The result is committed, so ``pip install`` carries it and users need no build step.

    python scripts/build_webclient.py            # fetch, verify, copy, write the manifest
    python scripts/build_webclient.py --check    # verify the committed files (no network)

To upgrade: set VERSION and INTEGRITY (``npm view centrifuge@<version> dist.integrity``), run
this script, then run the browser tests (``python -m pytest tests/browser``).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

PACKAGE = "centrifuge"
VERSION = "5.8.0"
# npm's Subresource Integrity of the published tarball (npm view centrifuge@5.8.0 dist.integrity)
INTEGRITY = "sha512-ENH1jz6VeRuGb3yHNhgB0V0SqRKX+iYdtM9Du/E59m484epjNPfsgJw4UbmOmjgSXGEita1UoOXlZ6Ba1ooT1g=="
# package file -> vendored file name
FILES = {
    "dist/centrifuge.js": "centrifuge.js",
    "LICENSE": "centrifuge.LICENSE.txt",
}

ROOT = Path(__file__).resolve().parent.parent
VENDOR = ROOT / "chatserver" / "static" / "vendor"
MANIFEST = VENDOR / "centrifuge.json"


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def fetch(workdir: Path) -> Path:
    """``npm install`` the pinned version into ``workdir``; return the package directory."""
    (workdir / "package.json").write_text(json.dumps({"name": "vendor-build", "private": True}))
    cmd = [
        "npm", "install", "--no-save", "--ignore-scripts", "--no-audit", "--no-fund",
        "--omit=dev", f"{PACKAGE}@{VERSION}",
    ]
    subprocess.run(cmd, cwd=workdir, check=True)
    lock = json.loads((workdir / "node_modules" / ".package-lock.json").read_text())
    entry = lock["packages"][f"node_modules/{PACKAGE}"]
    if entry.get("version") != VERSION:
        sys.exit(f"npm installed {PACKAGE} {entry.get('version')}, expected {VERSION}")
    if entry.get("integrity") != INTEGRITY:
        sys.exit(
            f"integrity mismatch for {PACKAGE}@{VERSION}:\n  got      {entry.get('integrity')}\n"
            f"  expected {INTEGRITY}"
        )
    return workdir / "node_modules" / PACKAGE


def build() -> None:
    with tempfile.TemporaryDirectory(prefix="webclient-build-") as tmp:
        package_dir = fetch(Path(tmp))
        VENDOR.mkdir(parents=True, exist_ok=True)
        files = {}
        for source, target in FILES.items():
            shutil.copyfile(package_dir / source, VENDOR / target)
            files[target] = {"from": f"{PACKAGE}/{source}", "sha256": sha256(VENDOR / target)}
    manifest = {
        "package": PACKAGE,
        "version": VERSION,
        "npm_integrity": INTEGRITY,
        "registry": "https://registry.npmjs.org/",
        "files": files,
        "built_by": "scripts/build_webclient.py",
    }
    MANIFEST.write_text(json.dumps(manifest, indent=2) + "\n")
    print(f"vendored {PACKAGE}@{VERSION} into {VENDOR.relative_to(ROOT)}")


def check() -> int:
    """Verify the committed vendor files against the manifest and the pinned version."""
    if not MANIFEST.exists():
        print(f"missing {MANIFEST.relative_to(ROOT)}: run scripts/build_webclient.py", file=sys.stderr)
        return 1
    manifest = json.loads(MANIFEST.read_text())
    problems = []
    if manifest.get("version") != VERSION or manifest.get("npm_integrity") != INTEGRITY:
        problems.append(f"manifest is for {manifest.get('version')}, script pins {VERSION}")
    for target, meta in manifest.get("files", {}).items():
        path = VENDOR / target
        if not path.exists():
            problems.append(f"missing {target}")
        elif sha256(path) != meta["sha256"]:
            problems.append(f"{target} differs from the manifest's checksum")
    for problem in problems:
        print(problem, file=sys.stderr)
    if not problems:
        print(f"{PACKAGE}@{VERSION}: vendored files match the manifest")
    return 1 if problems else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="verify the committed files, no network")
    args = parser.parse_args()
    if args.check:
        return check()
    build()
    return check()


if __name__ == "__main__":
    sys.exit(main())
