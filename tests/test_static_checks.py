"""Lint and types are part of the test suite: ruff on everything, mypy --strict on the
domain packages (rooms, moderation_hooks, presence)."""

from __future__ import annotations

import subprocess
import sys

from tests.harness import ROOT


def test_ruff_clean():
    out = subprocess.run([sys.executable, "-m", "ruff", "check", "."], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr


def test_mypy_strict_domain():
    out = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--ignore-missing-imports", "rooms", "moderation_hooks", "presence"],
        cwd=ROOT, capture_output=True, text=True,
    )
    assert out.returncode == 0, out.stdout + out.stderr
