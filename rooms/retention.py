"""Privacy settings of a community and its rooms (no I/O): how long each kind of record is
kept and how long a member may edit their message; and the pseudonym an erased member's
records keep.

A room's ``extra`` settings override its community's ``settings``, which override the
server's defaults. Values are whole seconds; docs/privacy.md lists every kind of data.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

from rooms.model import Community, Room

EDIT_WINDOW = 15 * 60
QA_TTL = 30 * 86_400

# name -> (lowest, highest) accepted value in seconds
LIMITS: dict[str, tuple[int, int]] = {
    "edit_window": (0, 7 * 86_400),
    "audit_ttl": (3600, 3650 * 86_400),
    "records_ttl": (60, 365 * 86_400),
    "qa_ttl": (60, 3650 * 86_400),
    "keep_original_text": (0, 365 * 86_400),
}


def setting(community: Community | None, room: Room | None, name: str, default: int) -> int:
    """The value of ``name`` for ``room`` (or the whole ``community``), clamped to its limits;
    ``default`` when neither sets it (or sets something that is not a number)."""
    low, high = LIMITS[name]
    for source in (room.settings.extra if room is not None else None, community.settings if community else None):
        value: Any = source.get(name) if source else None
        if isinstance(value, bool) and name == "keep_original_text":
            # ``keep_original_text = true`` keeps originals as long as resolved records.
            return -1 if value else 0
        if isinstance(value, int) and not isinstance(value, bool):
            return max(low, min(high, value))
    return default


PSEUDONYM_PREFIX = "erased-"


def pseudonym(user: str, key: bytes) -> str:
    """The name an erased member's audit entries and sanctions keep: a keyed hash of their
    id (the server can tell a returning banned id from it; nobody can turn it back)."""
    digest = hmac.new(key, user.encode(), hashlib.sha256).hexdigest()[:20]
    return PSEUDONYM_PREFIX + digest


def pseudonym_key(secret: str, api_key: str) -> bytes:
    """The key of ``pseudonym``: derived from the server's token secret (or API key)."""
    return hashlib.sha256(b"chatserver-pseudonym\0" + (secret or api_key or "chatserver").encode()).digest()
