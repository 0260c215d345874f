"""The ``[moderation]`` config section: hook definitions, pipelines and policy, in layers.

Layers, weakest first: the global section, ``[moderation.communities.<c>]`` from the file,
the community's overrides set through the HTTP API, ``[moderation.rooms."<c>:<r>"]`` from the
file, the room's API overrides. A layer may set ``pipeline`` (the ordered hook names; it
replaces the one below), ``hooks.<name>`` (settings merged into the hook's settings, tables
merged key by key, lists replaced) and the policy keys in ``POLICY_LIMITS``.

Only the global section defines hooks with ``use`` (a built-in type, an entry point name or a
dotted path): overrides from the HTTP API can choose and tune hooks, never import code.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

BUILTIN_TYPES = ("crisis", "flood", "rules", "links", "pii", "new_member")
DEFAULT_PIPELINE = ("crisis", "flood", "rules", "links", "pii", "new_member")
HOOK_KEYS = ("use", "timeout", "on_failure", "thread")  # not passed to the hook
FAILURE_ACTIONS = ("hold", "reject", "allow")

# Policy keys a layer may set: (low, high) bounds, in seconds or counts.
POLICY_LIMITS: dict[str, tuple[int, int]] = {
    "hold_expiry": (1, 30 * 86_400),  # a held message nobody reviews expires after this
    "report_threshold": (1, 1000),  # distinct reporters that hide a message pending review
    "kick_block": (0, 7 * 86_400),  # seconds a kicked member may not rejoin the room
    # A reporter's standing (issue 23): only reports by members with at least this many
    # posts in the community and an account this old (seconds) count toward hiding.
    "report_min_posts": (0, 1_000_000),
    "report_min_age": (0, 3650 * 86_400),
    "report_cap": (1, 100_000),  # reports per reporter per hour (then 111)
}
# Global-only settings and their bounds.
GLOBAL_LIMITS: dict[str, tuple[int, int]] = {
    "mute_min": (1, 28 * 86_400),
    "mute_max": (60, 366 * 86_400),
    "audit_retention": (3600, 3650 * 86_400),
    "audit_max_entries": (100, 100_000_000),  # per community stream, oldest trimmed first
    "denied_window": (1, 86_400),  # refused mod.* calls: one audit summary per actor per window
    "hold_retention": (3600, 365 * 86_400),
    "recent_window": (60, 30 * 86_400),  # how far back "remove recent messages" looks by default
}


class ModerationConfigError(ValueError):
    """The moderation config does not fit; the message names the key."""


@dataclass(frozen=True, slots=True)
class Policy:
    hold_expiry: int = 86_400
    report_threshold: int = 3
    kick_block: int = 300
    report_min_posts: int = 1
    report_min_age: int = 0
    report_cap: int = 30
    escalate: bool = True  # a hold with no room moderator online goes to <community>/mod

    def updated(self, values: Mapping[str, Any]) -> Policy:
        return replace(self, **dict(values))

    def to_dict(self) -> dict[str, Any]:
        return {
            "hold_expiry": self.hold_expiry,
            "report_threshold": self.report_threshold,
            "kick_block": self.kick_block,
            "report_min_posts": self.report_min_posts,
            "report_min_age": self.report_min_age,
            "report_cap": self.report_cap,
            "escalate": self.escalate,
        }


@dataclass(frozen=True, slots=True)
class HookDefinition:
    name: str
    use: str  # built-in type or entry point name, or "module:attr" / "module.attr"
    timeout: float = 1.0
    on_failure: str = "hold"
    thread: bool | None = None  # None: sync third-party hooks run in a thread, built-ins inline
    settings: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Layer:
    pipeline: tuple[str, ...] | None = None
    hooks: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    policy: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = dict(self.policy)
        if self.pipeline is not None:
            out["pipeline"] = list(self.pipeline)
        if self.hooks:
            out["hooks"] = {k: dict(v) for k, v in self.hooks.items()}
        return out


@dataclass(frozen=True, slots=True)
class ModerationConfig:
    definitions: Mapping[str, HookDefinition]
    pipeline: tuple[str, ...] = DEFAULT_PIPELINE
    policy: Policy = Policy()
    communities: Mapping[str, Layer] = field(default_factory=dict)
    rooms: Mapping[str, Layer] = field(default_factory=dict)
    mute_min: int = 60
    mute_max: int = 28 * 86_400
    audit_retention: int = 45 * 86_400
    audit_max_entries: int = 100_000
    denied_window: int = 60
    hold_retention: int = 7 * 86_400
    recent_window: int = 3600


@dataclass(frozen=True, slots=True)
class ResolvedHook:
    """One hook of one room's pipeline, with its settings after all layers."""

    name: str
    use: str
    timeout: float
    on_failure: str
    thread: bool | None
    settings: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class RoomModeration:
    hooks: tuple[ResolvedHook, ...]
    policy: Policy


def deep_merge(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def _bounded(key: str, value: Any, limits: tuple[int, int], where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ModerationConfigError(f"{where}.{key} must be an integer, got {value!r}")
    low, high = limits
    if not low <= value <= high:
        raise ModerationConfigError(f"{where}.{key} must be between {low} and {high}, got {value}")
    return value


def _names(value: Any, where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise ModerationConfigError(f"{where} must be a list of hook names")
    if len(set(value)) != len(value):
        raise ModerationConfigError(f"{where} names a hook twice")
    return tuple(value)


def _hook_meta(name: str, raw: Mapping[str, Any], where: str, allow_use: bool) -> dict[str, Any]:
    meta: dict[str, Any] = {}
    if "use" in raw:
        if not allow_use:
            raise ModerationConfigError(f"{where}: 'use' may only be set in the config file's [moderation.hooks.{name}]")
        if not isinstance(raw["use"], str) or not raw["use"]:
            raise ModerationConfigError(f"{where}.use must be a non-empty string")
        meta["use"] = raw["use"]
    if "timeout" in raw:
        t = raw["timeout"]
        if isinstance(t, bool) or not isinstance(t, (int, float)) or not 0 < t <= 60:
            raise ModerationConfigError(f"{where}.timeout must be a number of seconds in (0, 60]")
        meta["timeout"] = float(t)
    if "on_failure" in raw:
        if raw["on_failure"] not in FAILURE_ACTIONS:
            raise ModerationConfigError(f"{where}.on_failure must be one of {', '.join(FAILURE_ACTIONS)}")
        meta["on_failure"] = raw["on_failure"]
    if "thread" in raw:
        if not isinstance(raw["thread"], bool):
            raise ModerationConfigError(f"{where}.thread must be true or false")
        meta["thread"] = raw["thread"]
    return meta


def parse_layer(raw: Any, where: str, known_hooks: Mapping[str, HookDefinition]) -> Layer:
    """A community or room layer (from the file or the HTTP API). Never imports code."""
    if not isinstance(raw, Mapping):
        raise ModerationConfigError(f"{where} must be a table")
    pipeline = None
    hooks: dict[str, Mapping[str, Any]] = {}
    policy: dict[str, Any] = {}
    for key, value in raw.items():
        if key == "pipeline":
            pipeline = _names(value, f"{where}.pipeline")
            for name in pipeline:
                if name not in known_hooks:
                    raise ModerationConfigError(f"{where}.pipeline: no hook named {name!r} (known: {', '.join(sorted(known_hooks))})")
        elif key == "hooks":
            if not isinstance(value, Mapping):
                raise ModerationConfigError(f"{where}.hooks must be a table of hook name -> settings")
            for name, settings in value.items():
                if name not in known_hooks:
                    raise ModerationConfigError(f"{where}.hooks: no hook named {name!r}")
                if not isinstance(settings, Mapping):
                    raise ModerationConfigError(f"{where}.hooks.{name} must be a table")
                _hook_meta(name, settings, f"{where}.hooks.{name}", allow_use=False)
                hooks[name] = dict(settings)
        elif key in POLICY_LIMITS:
            policy[key] = _bounded(key, value, POLICY_LIMITS[key], where)
        elif key == "escalate":
            if not isinstance(value, bool):
                raise ModerationConfigError(f"{where}.escalate must be true or false")
            policy[key] = value
        else:
            raise ModerationConfigError(f"{where}: unknown key {key!r}")
    return Layer(pipeline, hooks, policy)


def parse_config(raw: Mapping[str, Any] | None) -> ModerationConfig:
    """Parse the raw ``[moderation]`` table (None or empty: the defaults)."""
    raw = dict(raw or {})
    where = "moderation"
    definitions: dict[str, HookDefinition] = {
        name: HookDefinition(name, name) for name in BUILTIN_TYPES
    }
    hooks_raw = raw.pop("hooks", {})
    if not isinstance(hooks_raw, Mapping):
        raise ModerationConfigError("moderation.hooks must be a table of hook name -> settings")
    for name, body in hooks_raw.items():
        if not isinstance(body, Mapping):
            raise ModerationConfigError(f"moderation.hooks.{name} must be a table")
        meta = _hook_meta(name, body, f"moderation.hooks.{name}", allow_use=True)
        use = meta.get("use", name if name in BUILTIN_TYPES else "")
        if not use:
            raise ModerationConfigError(
                f"moderation.hooks.{name}: not a built-in hook ({', '.join(BUILTIN_TYPES)}); "
                "set use = \"<entry point>\" or \"package.module:attribute\""
            )
        settings = {k: v for k, v in body.items() if k not in HOOK_KEYS}
        definitions[name] = HookDefinition(
            name,
            use,
            meta.get("timeout", 1.0),
            meta.get("on_failure", "hold"),
            meta.get("thread"),
            settings,
        )
    pipeline = _names(raw.pop("pipeline", list(DEFAULT_PIPELINE)), "moderation.pipeline")
    for name in pipeline:
        if name not in definitions:
            raise ModerationConfigError(f"moderation.pipeline: no hook named {name!r}")
    policy = Policy()
    policy_values: dict[str, Any] = {}
    globals_: dict[str, int] = {}
    communities_raw = raw.pop("communities", {})
    rooms_raw = raw.pop("rooms", {})
    for key, value in raw.items():
        if key in POLICY_LIMITS:
            policy_values[key] = _bounded(key, value, POLICY_LIMITS[key], where)
        elif key == "escalate":
            if not isinstance(value, bool):
                raise ModerationConfigError("moderation.escalate must be true or false")
            policy_values[key] = value
        elif key in GLOBAL_LIMITS:
            globals_[key] = _bounded(key, value, GLOBAL_LIMITS[key], where)
        else:
            raise ModerationConfigError(f"moderation: unknown key {key!r}")
    policy = policy.updated(policy_values)
    if not isinstance(communities_raw, Mapping) or not isinstance(rooms_raw, Mapping):
        raise ModerationConfigError("moderation.communities and moderation.rooms must be tables")
    communities = {
        str(c): parse_layer(v, f"moderation.communities.{c}", definitions) for c, v in communities_raw.items()
    }
    rooms = {}
    for channel, v in rooms_raw.items():
        if ":" not in str(channel):
            raise ModerationConfigError(f"moderation.rooms: {channel!r} is not \"<community>:<room>\"")
        rooms[str(channel)] = parse_layer(v, f'moderation.rooms."{channel}"', definitions)
    config = ModerationConfig(definitions, pipeline, policy, communities, rooms, **globals_)
    if config.mute_min > config.mute_max:
        raise ModerationConfigError("moderation.mute_min must not exceed mute_max")
    return config


def resolve(config: ModerationConfig, layers: list[Layer]) -> RoomModeration:
    """The pipeline and policy of one room, given its layers (weakest first, after global)."""
    pipeline = config.pipeline
    overrides: dict[str, dict[str, Any]] = {}
    policy = config.policy
    for layer in layers:
        if layer.pipeline is not None:
            pipeline = layer.pipeline
        for name, settings in layer.hooks.items():
            overrides[name] = deep_merge(overrides.get(name, {}), settings)
        if layer.policy:
            policy = policy.updated(layer.policy)
    hooks = []
    for name in pipeline:
        d = config.definitions.get(name)
        if d is None:
            raise ModerationConfigError(f"pipeline names unknown hook {name!r}")
        over = overrides.get(name, {})
        settings = deep_merge(d.settings, {k: v for k, v in over.items() if k not in HOOK_KEYS})
        hooks.append(
            ResolvedHook(
                name,
                d.use,
                float(over.get("timeout", d.timeout)),
                str(over.get("on_failure", d.on_failure)),
                over.get("thread", d.thread),
                settings,
            )
        )
    return RoomModeration(tuple(hooks), policy)
