"""Garbage-collector settings for a server process that keeps many long-lived objects.

CPython's cyclic collector runs a young collection every 700 net container allocations and,
from time to time, a full one over every tracked object. A gateway with thousands of
connections holds hundreds of thousands of long-lived objects (protocols, parsers, dicts),
and message handling allocates fast, so full collections kept rescanning the same objects:
a py-spy profile of the many-rooms load test showed ``gc_collect_main`` at about a quarter of
the server's CPU. After startup ``apply()``:

- ``gc.freeze()``: everything allocated during startup (modules, the app, the catalog) goes
  to the permanent generation, which collections never scan;
- raises the young-generation threshold (fewer, slightly larger young collections, and far
  fewer short-lived objects promoted to the old generation just because a collection
  happened to run while they were alive).

Reference cycles are still collected. ``CHATSERVER_GC_THRESHOLD`` ("g0,g1,g2") overrides the
thresholds; ``CHATSERVER_GC_THRESHOLD=default`` keeps CPython's.
"""

from __future__ import annotations

import gc
import logging
import os

log = logging.getLogger("chatserver.gc")

THRESHOLDS = (20_000, 20, 40)


def thresholds_from_env(value: str | None) -> tuple[int, int, int] | None:
    """Parse ``CHATSERVER_GC_THRESHOLD``; None means keep CPython's defaults."""
    if value is None or not value.strip():
        return THRESHOLDS
    if value.strip().lower() == "default":
        return None
    parts = [p.strip() for p in value.split(",")]
    if len(parts) != 3 or not all(p.isdigit() for p in parts):
        raise ValueError(f"CHATSERVER_GC_THRESHOLD must be 'g0,g1,g2' integers or 'default', got {value!r}")
    g0, g1, g2 = (int(p) for p in parts)
    return g0, g1, g2


def apply() -> None:
    try:
        thresholds = thresholds_from_env(os.environ.get("CHATSERVER_GC_THRESHOLD"))
    except ValueError as exc:
        log.error("%s; keeping the built-in GC settings", exc)
        thresholds = THRESHOLDS
    if thresholds is None:
        return
    gc.collect()
    gc.freeze()
    gc.set_threshold(*thresholds)
    log.debug("gc: froze %d startup objects, thresholds %s", gc.get_freeze_count(), thresholds)
