"""The ``[qa]`` config section: defaults for new sessions, limits, vote batching, retention."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from chatserver.config import ConfigError
from rooms.qa.model import Settings

_DOMAIN_KEYS = {
    "question_interval": (int, float),
    "premoderation": (bool,),
    "max_question_length": (int,),
    "max_answer_length": (int,),
    "max_title_length": (int,),
    "max_questions": (int,),
    "max_people": (int,),
}
_OWN_KEYS = {"vote_batch_ms": (int,), "retention_days": (int, float)}


@dataclass(frozen=True, slots=True)
class QaConfig:
    rules: Settings = field(default_factory=Settings)
    vote_batch_ms: int = 250  # one count event per board per process per this many ms at most
    retention: int = 30 * 24 * 3600  # seconds Q&A state outlives its last change

    @classmethod
    def from_section(cls, raw: dict[str, Any] | None) -> QaConfig:
        raw = raw or {}
        if not isinstance(raw, dict):
            raise ConfigError("[qa] must be a table")
        domain: dict[str, Any] = {}
        own: dict[str, Any] = {}
        for key, value in raw.items():
            types = _DOMAIN_KEYS.get(key) or _OWN_KEYS.get(key)
            if types is None:
                known = ", ".join(sorted({**_DOMAIN_KEYS, **_OWN_KEYS}))
                raise ConfigError(f"unknown setting qa.{key} (known: {known})")
            if isinstance(value, bool) and bool not in types or not isinstance(value, types):
                raise ConfigError(f"qa.{key}: expected {' or '.join(t.__name__ for t in types)}, got {value!r}")
            (domain if key in _DOMAIN_KEYS else own)[key] = value
        try:
            rules = Settings(**domain)
        except ValueError as exc:
            raise ConfigError(f"qa: {exc}") from None
        batch = own.get("vote_batch_ms", 250)
        if not 10 <= batch <= 10_000:
            raise ConfigError("qa.vote_batch_ms must be between 10 and 10000")
        days = own.get("retention_days", 30)
        if days <= 0:
            raise ConfigError("qa.retention_days must be positive")
        return cls(rules, batch, int(days * 24 * 3600))
