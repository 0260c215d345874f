"""Reading a hook's settings with clear errors: wrong types and unknown keys are named."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

ROLE_NAMES = ("member", "host", "moderator", "admin")


class SettingsReader:
    """Take typed values out of a settings mapping; ``done()`` rejects keys nobody read."""

    def __init__(self, owner: str, settings: Mapping[str, Any]) -> None:
        if not isinstance(settings, Mapping):
            raise ValueError(f"{owner}: settings must be a table, got {type(settings).__name__}")
        self.owner = owner
        self.settings = settings
        self.seen: set[str] = set()

    def _get(self, key: str) -> Any:
        self.seen.add(key)
        return self.settings.get(key)

    def has(self, key: str) -> bool:
        return key in self.settings

    def number(self, key: str, default: float, *, low: float, high: float) -> float:
        value = self._get(key)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(f"{self.owner}.{key} must be a number, got {value!r}")
        if not low <= value <= high:
            raise ValueError(f"{self.owner}.{key} must be between {low:g} and {high:g}, got {value!r}")
        return float(value)

    def integer(self, key: str, default: int, *, low: int, high: int) -> int:
        value = self._get(key)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"{self.owner}.{key} must be an integer, got {value!r}")
        if not low <= value <= high:
            raise ValueError(f"{self.owner}.{key} must be between {low} and {high}, got {value!r}")
        return value

    def boolean(self, key: str, default: bool) -> bool:
        value = self._get(key)
        if value is None:
            return default
        if not isinstance(value, bool):
            raise ValueError(f"{self.owner}.{key} must be true or false, got {value!r}")
        return value

    def string(self, key: str, default: str, choices: tuple[str, ...] | None = None) -> str:
        value = self._get(key)
        if value is None:
            return default
        if not isinstance(value, str):
            raise ValueError(f"{self.owner}.{key} must be a string, got {value!r}")
        if choices is not None and value not in choices:
            raise ValueError(f"{self.owner}.{key} must be one of {', '.join(choices)}, got {value!r}")
        return value

    def str_list(self, key: str, default: list[str]) -> list[str]:
        value = self._get(key)
        if value is None:
            return list(default)
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ValueError(f"{self.owner}.{key} must be a list of strings, got {value!r}")
        return list(value)

    def roles(self, key: str, default: list[str]) -> list[str]:
        roles = self.str_list(key, default)
        for role in roles:
            if role not in ROLE_NAMES:
                raise ValueError(f"{self.owner}.{key}: unknown role {role!r}; expected {', '.join(ROLE_NAMES)}")
        return roles

    def table(self, key: str) -> Mapping[str, Any]:
        value = self._get(key)
        if value is None:
            return {}
        if not isinstance(value, Mapping):
            raise ValueError(f"{self.owner}.{key} must be a table, got {value!r}")
        return value

    def tables(self, key: str) -> list[Mapping[str, Any]]:
        value = self._get(key)
        if value is None:
            return []
        if not isinstance(value, list) or not all(isinstance(v, Mapping) for v in value):
            raise ValueError(f"{self.owner}.{key} must be a list of tables")
        return list(value)

    def done(self) -> None:
        unknown = sorted(set(self.settings) - self.seen)
        if unknown:
            raise ValueError(f"{self.owner}: unknown setting(s) {', '.join(unknown)}")
