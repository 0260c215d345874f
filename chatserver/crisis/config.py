"""``[crisis]`` settings (defaults; a community may set ``settings.crisis.ack_timeout``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from chatserver.config import ConfigError

OUTCOMES = ("resources_given", "referred", "emergency_services", "talked_it_through", "false_alarm", "no_response", "other")


@dataclass(frozen=True, slots=True)
class CrisisConfig:
    ack_timeout: float = 300.0  # seconds before an unacknowledged case escalates
    sweep_interval: float = 1.0  # seconds between escalation sweeps (every process)
    closed_retention: int = 90 * 86400  # seconds a closed case is kept
    conversation_history_ttl: int = 90 * 86400  # a private conversation's history retention
    resources_linger: int = 7 * 86400  # seconds a member's page still gets her resources after her case closed
    concern_limit: int = 5  # "I'm worried about this person" marks per member ...
    concern_window: int = 3600  # ... per this many seconds

    @classmethod
    def from_section(cls, raw: Any) -> CrisisConfig:
        if raw is None:
            return cls()
        if not isinstance(raw, dict):
            raise ConfigError("[crisis] must be a table")
        known = {
            "ack_timeout", "sweep_interval", "closed_retention", "conversation_history_ttl",
            "resources_linger", "concern_limit", "concern_window",
        }
        unknown = set(raw) - known
        if unknown:
            raise ConfigError(f"[crisis]: unknown settings {sorted(unknown)}")
        values: dict[str, Any] = {}
        for key, value in raw.items():
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
                raise ConfigError(f"[crisis] {key} must be a positive number")
            values[key] = float(value) if key in ("ack_timeout", "sweep_interval") else int(value)
        return cls(**values)


def ack_timeout_of(config: CrisisConfig, community_settings: dict[str, Any]) -> float:
    """The community's ``settings.crisis.ack_timeout`` (seconds) or the server default."""
    own = community_settings.get("crisis")
    if isinstance(own, dict):
        value = own.get("ack_timeout")
        if isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0:
            return float(value)
    return config.ack_timeout
