"""A held item as stored (``HoldRecord``) and moderation's crisis signal: defined with the
other store records in ``chatserver.records`` (the stores and the features both use them)."""

from __future__ import annotations

from chatserver.records import CrisisSignal, HoldRecord

__all__ = ["CrisisSignal", "HoldRecord"]
