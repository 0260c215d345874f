"""Crisis metrics: time-to-acknowledge and time-to-contact histograms (observed by the
process that made the change) and open-case gauges per community (refreshed by the sweep)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.registry import Collector

from chatserver.stats import LatencyHistogram

BUCKETS = (15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0, 4 * 3600.0, 86400.0)


class CrisisMetrics(Collector):
    def __init__(self, looks: Callable[[], dict[str, int]] = dict) -> None:
        self.to_ack = LatencyHistogram(BUCKETS)
        self.to_contact = LatencyHistogram(BUCKETS)
        self.open: dict[str, tuple[int, int]] = {}  # community -> (not closed, unacknowledged)
        self.opened = 0
        self.escalated = 0
        self.concerns = 0  # "I'm worried about this person" marks accepted
        self.looks = looks  # community -> "may need a look" items (counted by moderation)

    def collect(self) -> Iterator[HistogramMetricFamily | GaugeMetricFamily | CounterMetricFamily]:
        for name, hist, what in (
            ("chat_crisis_time_to_ack_seconds", self.to_ack, "Seconds from a crisis case opening to its acknowledgement"),
            ("chat_crisis_time_to_contact_seconds", self.to_contact, "Seconds from a crisis case opening to a moderator in contact"),
        ):
            yield HistogramMetricFamily(name, what, buckets=hist.buckets(), sum_value=hist.sum)
        g = GaugeMetricFamily("chat_crisis_cases_open", "Crisis cases not closed", labels=["community"])
        u = GaugeMetricFamily("chat_crisis_cases_unacknowledged", "Crisis cases waiting for acknowledgement", labels=["community"])
        for community, (active, waiting) in sorted(self.open.items()):
            g.add_metric([community], active)
            u.add_metric([community], waiting)
        yield g
        yield u
        look = CounterMetricFamily(
            "chat_crisis_look", "Messages posted unchanged with a quiet 'may need a look' item for moderators", labels=["community"]
        )
        for community, count in sorted(self.looks().items()):
            look.add_metric([community], count)
        yield look
        yield CounterMetricFamily("chat_crisis_concerns", "'I'm worried about this person' marks by members", value=self.concerns)
