"""Counters of one process (read by the metrics endpoint)."""

from __future__ import annotations

import bisect


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
        self.redis_errors = 0  # failed Redis health pings
        self.post_seconds = LatencyHistogram()  # a member's post: command in to its answer

    def count_error(self, code: int) -> None:
        self.errors[code] = self.errors.get(code, 0) + 1

    def count_disconnect(self, code: int) -> None:
        self.disconnects[code] = self.disconnects.get(code, 0) + 1


POST_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class LatencyHistogram:
    """Cumulative Prometheus-style buckets (seconds), bumped on the hot path with one bisect."""

    def __init__(self, buckets: tuple[float, ...] = POST_BUCKETS) -> None:
        self.bounds = buckets
        self.counts = [0] * (len(buckets) + 1)
        self.sum = 0.0

    def observe(self, seconds: float) -> None:
        self.counts[bisect.bisect_left(self.bounds, seconds)] += 1
        self.sum += seconds

    def buckets(self) -> list[tuple[str, float]]:
        out = []
        total = 0
        for bound, count in zip((*self.bounds, float("inf")), self.counts, strict=True):
            total += count
            out.append(("+Inf" if bound == float("inf") else repr(bound), float(total)))
        return out
