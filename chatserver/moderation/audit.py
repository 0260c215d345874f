"""The audit log: one Redis stream per community, every non-allow verdict and every
moderator action (who, what, to whom, why, when, the original text).

Entries are appended with ``XADD ... MINID <now - retention>`` (exact trimming: the log holds
original texts, so old entries must really go), the stream is capped at ``max_entries``
(``XTRIM MAXLEN``, oldest first: a size bound whatever the rate of entries), and the key
expires ``retention`` seconds after the last append, so a quiet community's log disappears too. Reading walks the stream
newest first and filters in Python, scanning at most ``MAX_SCAN`` entries per request.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

import msgpack

from chatserver.records import iso

MAX_SCAN = 20_000
_BATCH = 500


@dataclass(frozen=True, slots=True)
class Actor:
    """Who acted: a member over RPC, an API client, or the server itself."""

    user: str
    name: str = ""
    role: str = ""  # member | host | moderator | admin | api | system
    via: str = "rpc"  # rpc | api | system

    def to_dict(self) -> dict[str, str]:
        return {"user": self.user, "name": self.name or self.user, "role": self.role, "via": self.via}


SYSTEM = Actor("system", "system", "system", "system")




def parse_time(value: str) -> int:
    """Unix milliseconds from ``"1717000000000"`` or an ISO 8601 time; ValueError if neither."""
    value = value.strip()
    if value.isdigit():
        return int(value)
    try:
        dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"not a time: {value!r} (use unix milliseconds or ISO 8601)") from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return int(dt.timestamp() * 1000)


@dataclass(frozen=True, slots=True)
class AuditFilter:
    action: str = ""  # exact, or a prefix before a dot ("hold" matches "hold.approve")
    actor: str = ""
    target: str = ""  # target user
    channel: str = ""
    since_ms: int | None = None
    until_ms: int | None = None
    limit: int = 100

    def matches(self, entry: dict[str, Any]) -> bool:
        action = entry.get("action", "")
        if self.action and action != self.action and not action.startswith(self.action + "."):
            return False
        if self.actor and entry.get("actor", {}).get("user") != self.actor:
            return False
        if self.target and entry.get("target", {}).get("user") != self.target:
            return False
        return not (self.channel and entry.get("target", {}).get("channel") != self.channel)


class AuditStore(Protocol):
    async def audit_append(self, community: str, packed: bytes, min_id_ms: int, retention: int, max_len: int) -> str: ...

    async def audit_range(self, community: str, high: str, low: str, count: int) -> list[tuple[str, bytes | None]]: ...


AuditListener = Callable[[str, dict[str, Any]], None]  # (community, entry); must not block


class AuditLog:
    def __init__(
        self,
        store: AuditStore,
        retention: int,
        max_entries: int = 100_000,
        retention_of: Callable[[str], int] | None = None,
    ) -> None:
        self.store = store
        self.retention = retention
        self.max_entries = max_entries
        self._retention_of = retention_of  # community -> its ``audit_ttl`` (seconds)
        self.appended = 0
        self._listeners: list[AuditListener] = []

    def add_listener(self, listener: AuditListener) -> None:
        """``listener(community, entry)`` after every append (webhooks follow the log)."""
        self._listeners.append(listener)

    def retention_for(self, community: str) -> int:
        return self._retention_of(community) if self._retention_of is not None else self.retention

    async def append(
        self,
        community: str,
        action: str,
        actor: Actor,
        *,
        target: dict[str, Any] | None = None,
        reason: str = "",
        text: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> str:
        now_ms = int(time.time() * 1000)
        entry: dict[str, Any] = {"action": action, "actor": actor.to_dict(), "ts": now_ms}
        if target:
            entry["target"] = {k: v for k, v in target.items() if v not in (None, "")}
        if reason:
            entry["reason"] = reason
        if text is not None:
            entry["text"] = text
        if details:
            entry["details"] = details
        retention = self.retention_for(community)
        min_id = max(0, now_ms - retention * 1000)
        entry_id = await self.store.audit_append(
            community, msgpack.packb(entry, use_bin_type=True), min_id, retention, self.max_entries
        )
        self.appended += 1
        entry["id"] = entry_id
        for listener in self._listeners:
            listener(community, entry)
        return entry_id

    async def read(self, community: str, flt: AuditFilter) -> list[dict[str, Any]]:
        high = f"{flt.until_ms}-99999999" if flt.until_ms is not None else "+"
        oldest = int(time.time() * 1000) - self.retention_for(community) * 1000
        low = f"{max(flt.since_ms or 0, oldest, 0)}-0"
        out: list[dict[str, Any]] = []
        scanned = 0
        while scanned < MAX_SCAN and len(out) < flt.limit:
            batch = await self.store.audit_range(community, high, low, _BATCH)
            if not batch:
                break
            for entry_id, raw in batch:
                scanned += 1
                if raw is None:
                    continue
                entry = msgpack.unpackb(raw, raw=False)
                entry["id"] = entry_id
                entry["time"] = iso(entry.get("ts", 0) / 1000)
                if flt.matches(entry):
                    out.append(entry)
                    if len(out) >= flt.limit:
                        break
            last = batch[-1][0]
            ms, _, seq = last.partition("-")
            high = f"{ms}-{int(seq) - 1}" if int(seq) > 0 else f"{int(ms) - 1}-99999999"
            if len(batch) < _BATCH:
                break
        return out
