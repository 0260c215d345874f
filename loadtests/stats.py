"""Latency histograms that merge across processes, and small helpers for medians.

Buckets are log-linear with 16 steps per power of two (values in microseconds): exact up to
32 µs, then within about 3-6 %. Cheap enough to record every delivery, small enough to send
back over a pipe, and additive, so per-process histograms merge exactly.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Sequence


def bucket_of(value: int) -> int:
    if value < 32:
        return value if value > 0 else 0
    shift = value.bit_length() - 5
    return 16 * shift + (value >> shift)


def bucket_value(index: int) -> float:
    """A representative value (the bucket's midpoint) for a bucket index."""
    if index < 32:
        return float(index)
    shift = index // 16 - 1
    mantissa = index - 16 * shift
    return (mantissa + 0.5) * (1 << shift)


class Histogram:
    __slots__ = ("counts", "n", "max")

    def __init__(self) -> None:
        self.counts: dict[int, int] = {}
        self.n = 0
        self.max = 0

    def add(self, value: int) -> None:
        if value < 32:
            index = value if value > 0 else 0
        else:
            shift = value.bit_length() - 5
            index = 16 * shift + (value >> shift)
        counts = self.counts
        counts[index] = counts.get(index, 0) + 1
        self.n += 1
        if value > self.max:
            self.max = value

    def merge(self, other: Histogram) -> None:
        for index, count in other.counts.items():
            self.counts[index] = self.counts.get(index, 0) + count
        self.n += other.n
        self.max = max(self.max, other.max)

    def percentile(self, p: float) -> float:
        """The value at percentile ``p`` (0-100), in the histogram's unit."""
        if not self.n:
            return 0.0
        if p >= 100:
            return float(self.max)
        rank = p / 100 * self.n
        seen = 0
        for index in sorted(self.counts):
            seen += self.counts[index]
            if seen >= rank:
                return min(bucket_value(index), float(self.max))
        return float(self.max)

    def to_dict(self) -> dict[str, object]:
        return {"counts": self.counts, "n": self.n, "max": self.max}

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> Histogram:
        h = cls()
        h.counts = {int(k): int(v) for k, v in dict(data["counts"]).items()}  # type: ignore[call-overload]
        h.n = int(data["n"])  # type: ignore[call-overload]
        h.max = int(data["max"])  # type: ignore[call-overload]
        return h

    def summary_ms(self) -> dict[str, float]:
        """p50/p90/p99/p99.9/max in milliseconds."""
        return {
            "p50_ms": round(self.percentile(50) / 1000, 3),
            "p90_ms": round(self.percentile(90) / 1000, 3),
            "p99_ms": round(self.percentile(99) / 1000, 3),
            "p999_ms": round(self.percentile(99.9) / 1000, 3),
            "max_ms": round(self.max / 1000, 3),
        }


def merged(histograms: Iterable[Histogram]) -> Histogram:
    out = Histogram()
    for h in histograms:
        out.merge(h)
    return out


def median(values: Sequence[float]) -> float:
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else 0.0


def median_dict(runs: Sequence[dict[str, float]]) -> dict[str, float]:
    """Per-key medians of a list of flat numeric dicts (keys missing in a run are skipped)."""
    keys: list[str] = []
    for run in runs:
        for k in run:
            if k not in keys:
                keys.append(k)
    out: dict[str, float] = {}
    for k in keys:
        vals = [run[k] for run in runs if isinstance(run.get(k), (int, float)) and not isinstance(run.get(k), bool)]
        if vals:
            out[k] = statistics.median(vals)
    return out
