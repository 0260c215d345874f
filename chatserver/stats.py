"""Counters of one process (read by the metrics endpoint)."""

from __future__ import annotations


class Stats:
    def __init__(self) -> None:
        self.commands: dict[str, int] = {}
        self.errors: dict[int, int] = {}
        self.disconnects: dict[int, int] = {}
        self.subscriptions = 0
        self.published = 0
        self.slow_closes = 0
        self.redis_ping = 0.0
        self.recoveries = {True: 0, False: 0}

    def count_error(self, code: int) -> None:
        self.errors[code] = self.errors.get(code, 0) + 1

    def count_disconnect(self, code: int) -> None:
        self.disconnects[code] = self.disconnects.get(code, 0) + 1
