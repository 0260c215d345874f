#!/usr/bin/env python3
"""Vendor the web client's one third-party library, and the browser tests' accessibility
engine, from the npm registry at pinned versions.

- ``centrifuge`` (the official SDK): its browser build ``dist/centrifuge.js`` (defines
  ``globalThis.Centrifuge``) and licence go to ``chatserver/static/vendor/``. The web client is
  plain HTML, CSS and JavaScript modules; this is the only code it does not write itself.
- ``axe-core`` (Deque's accessibility rules engine): ``axe.min.js`` and its licence go to
  ``tests/browser/vendor/``. Only the browser tests load it (injected into the page under test);
  it is never served to users.

For each package this script runs ``npm install`` in a temporary directory, checks the
registry's integrity hash against the one pinned here, copies the files byte for byte, and
writes a manifest beside them with the version, the npm integrity and the SHA-256 of every
copied file. The results are committed, so neither users nor CI need npm.

    python scripts/build_webclient.py                     # fetch, verify, copy every package
    python scripts/build_webclient.py --package axe-core  # only one
    python scripts/build_webclient.py --check             # verify the committed files (no network)

To upgrade: change the package's version and integrity below (``npm view <package>@<version>
dist.integrity``), run this script, then run the browser tests (``python -m pytest tests/browser``).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Vendored:
    package: str
    version: str
    integrity: str  # npm's Subresource Integrity of the published tarball
    files: dict[str, str]  # file in the package -> vendored file name
    directory: Path
    manifest_name: str
    license: str = ""

    @property
    def manifest(self) -> Path:
        return self.directory / self.manifest_name


PACKAGES = [
    Vendored(
        package="centrifuge",
        version="5.8.0",
        integrity="sha512-ENH1jz6VeRuGb3yHNhgB0V0SqRKX+iYdtM9Du/E59m484epjNPfsgJw4UbmOmjgSXGEita1UoOXlZ6Ba1ooT1g==",
        files={"dist/centrifuge.js": "centrifuge.js", "LICENSE": "centrifuge.LICENSE.txt"},
        directory=ROOT / "chatserver" / "static" / "vendor",
        manifest_name="centrifuge.json",
    ),
    Vendored(
        package="axe-core",
        version="4.14.1",
        integrity="sha512-FHfa+lmNjQZfJz1q8wKqIDwC6DExcHt/pkjNQb09a3NPjCKg2rhu5qb2S4r76ASyFNNtuFooJpZe37OgudVGtQ==",
        files={"axe.min.js": "axe.min.js", "LICENSE": "axe-core.LICENSE.txt"},
        directory=ROOT / "tests" / "browser" / "vendor",
        manifest_name="axe-core.json",
        license="MPL-2.0",
    ),
]


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def fetch(spec: Vendored, workdir: Path) -> Path:
    """``npm install`` the pinned version into ``workdir``; return the package directory."""
    (workdir / "package.json").write_text(json.dumps({"name": "vendor-build", "private": True}))
    cmd = [
        "npm", "install", "--no-save", "--ignore-scripts", "--no-audit", "--no-fund",
        "--omit=dev", f"{spec.package}@{spec.version}",
    ]
    subprocess.run(cmd, cwd=workdir, check=True)
    lock = json.loads((workdir / "node_modules" / ".package-lock.json").read_text())
    entry = lock["packages"][f"node_modules/{spec.package}"]
    if entry.get("version") != spec.version:
        sys.exit(f"npm installed {spec.package} {entry.get('version')}, expected {spec.version}")
    if entry.get("integrity") != spec.integrity:
        sys.exit(
            f"integrity mismatch for {spec.package}@{spec.version}:\n  got      {entry.get('integrity')}\n"
            f"  expected {spec.integrity}"
        )
    return workdir / "node_modules" / spec.package


def build(spec: Vendored) -> None:
    with tempfile.TemporaryDirectory(prefix="vendor-build-") as tmp:
        package_dir = fetch(spec, Path(tmp))
        spec.directory.mkdir(parents=True, exist_ok=True)
        files = {}
        for source, target in spec.files.items():
            shutil.copyfile(package_dir / source, spec.directory / target)
            files[target] = {"from": f"{spec.package}/{source}", "sha256": sha256(spec.directory / target)}
    manifest = {
        "package": spec.package,
        "version": spec.version,
        "npm_integrity": spec.integrity,
        "registry": "https://registry.npmjs.org/",
        "files": files,
        "built_by": "scripts/build_webclient.py",
    }
    if spec.license:
        manifest["license"] = spec.license
    spec.manifest.write_text(json.dumps(manifest, indent=2) + "\n")
    print(f"vendored {spec.package}@{spec.version} into {spec.directory.relative_to(ROOT)}")


def check(spec: Vendored) -> list[str]:
    """Problems with the committed files of one package (empty when they match)."""
    if not spec.manifest.exists():
        return [f"missing {spec.manifest.relative_to(ROOT)}: run scripts/build_webclient.py"]
    manifest = json.loads(spec.manifest.read_text())
    problems = []
    if manifest.get("version") != spec.version or manifest.get("npm_integrity") != spec.integrity:
        problems.append(f"{spec.manifest_name} is for {manifest.get('version')}, the script pins {spec.version}")
    if set(manifest.get("files", {})) != set(spec.files.values()):
        problems.append(f"{spec.manifest_name} lists other files than the script vendors")
    for target, meta in manifest.get("files", {}).items():
        path = spec.directory / target
        if not path.exists():
            problems.append(f"missing {path.relative_to(ROOT)}")
        elif sha256(path) != meta["sha256"]:
            problems.append(f"{path.relative_to(ROOT)} differs from the manifest's checksum")
    return problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="verify the committed files, no network")
    parser.add_argument("--package", choices=[p.package for p in PACKAGES], help="only this package")
    args = parser.parse_args()
    chosen = [p for p in PACKAGES if args.package in (None, p.package)]
    if not args.check:
        for spec in chosen:
            build(spec)
    failed = False
    for spec in chosen:
        problems = check(spec)
        for problem in problems:
            print(problem, file=sys.stderr)
        if problems:
            failed = True
        else:
            print(f"{spec.package}@{spec.version}: vendored files match the manifest")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
