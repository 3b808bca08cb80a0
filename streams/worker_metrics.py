"""The worker's counters: the INFO stats line and the Prometheus ``/metrics`` page.

Counting is plain integer arithmetic on the hot path; Prometheus metric families are built
only when ``/metrics`` is scraped (a custom collector), so a scrape never slows the fold.
Consumer lag is measured outside (it needs Kafka) and stored here with :meth:`set_lag`.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from ingest.accepted_event import RejectReason

PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


@dataclass(slots=True)
class CounterValues:
    """A copy of the counters at one moment."""

    events: int = 0
    accepted: int = 0
    duplicates: int = 0
    replayed: int = 0
    snapshots: int = 0
    batches: int = 0
    table_writes: int = 0
    rejected: Counter[str] = field(default_factory=Counter)


class WorkerMetrics:
    """Counters of one worker process, and the lag last measured."""

    def __init__(self) -> None:
        self.values = CounterValues()
        self.lag: dict[int, int] = {}
        self.rocksdb_memory: dict[str, int] = {}
        self._last = CounterValues()
        self._last_at = time.monotonic()
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(_Collector(self))

    # -- counting (hot path) -------------------------------------------------------------
    def count_batch(self, events: int) -> None:
        self.values.batches += 1
        self.values.events += events

    def count_rejected(self, reason: RejectReason) -> None:
        self.values.rejected[reason.value] += 1

    def set_lag(self, lag: Mapping[int, int]) -> None:
        """Lag per raw-topic partition assigned to this worker (replaces the previous)."""
        self.lag = dict(lag)

    def set_rocksdb_memory(self, figures: Mapping[str, int]) -> None:
        """RocksDB's own memory by kind (:mod:`streams.rocksdb_memory`), last measured."""
        self.rocksdb_memory = dict(figures)

    # -- reporting -----------------------------------------------------------------------
    def stats_line(self) -> str:
        """One line about the interval since the previous call, for the INFO log."""
        now = time.monotonic()
        elapsed = max(now - self._last_at, 1e-9)
        cur, last = self.values, self._last
        rejected = cur.rejected - last.rejected
        reasons = ", ".join(f"{r} {n}" for r, n in sorted(rejected.items())) or "none"
        total_lag = sum(self.lag.values())
        line = (
            f"{(cur.events - last.events) / elapsed:.1f} events/s "
            f"({cur.events - last.events} events in {elapsed:.1f} s, {cur.events} in all); "
            f"accepted {cur.accepted - last.accepted}; rejected {sum(rejected.values())} "
            f"({reasons}); duplicates {cur.duplicates - last.duplicates}; "
            f"replayed {cur.replayed - last.replayed}; "
            f"snapshots sent {cur.snapshots - last.snapshots}; "
            f"consumer lag {total_lag} over {len(self.lag)} partitions"
        )
        self._last = CounterValues(
            cur.events,
            cur.accepted,
            cur.duplicates,
            cur.replayed,
            cur.snapshots,
            cur.batches,
            cur.table_writes,
            Counter(cur.rejected),
        )
        self._last_at = now
        return line

    def prometheus_text(self) -> bytes:
        """The Prometheus text exposition of every metric."""
        return bytes(generate_latest(self.registry))


class _Collector:
    """Builds the metric families from the counters at scrape time."""

    def __init__(self, metrics: WorkerMetrics) -> None:
        self._metrics = metrics

    def collect(self) -> Iterator[Metric]:
        values = self._metrics.values
        simple = (
            ("events", "Raw records consumed.", values.events),
            ("accepted", "Valid, new events folded into a session.", values.accepted),
            ("duplicates", "Valid events dropped as duplicates.", values.duplicates),
            (
                "replayed",
                "Records read again after a restart whose effect was already stored.",
                values.replayed,
            ),
            ("snapshots_sent", "Batch snapshots sent to the session stream.", values.snapshots),
            ("batches", "Micro-batches processed.", values.batches),
            ("table_writes", "Session states written to the table.", values.table_writes),
        )
        for name, doc, value in simple:
            yield CounterMetricFamily(f"sessionizer_worker_{name}", doc, value=value)
        rejected = CounterMetricFamily(
            "sessionizer_worker_rejected", "Records sent to the DLQ, by reason.", labels=["reason"]
        )
        for reason in RejectReason:
            rejected.add_metric([reason.value], values.rejected.get(reason.value, 0))
        yield rejected
        lag = GaugeMetricFamily(
            "sessionizer_worker_consumer_lag",
            "Raw records not processed yet, per assigned partition.",
            labels=["partition"],
        )
        for partition, value in sorted(self._metrics.lag.items()):
            lag.add_metric([str(partition)], value)
        yield lag
        yield GaugeMetricFamily(
            "sessionizer_worker_consumer_lag_total",
            "Raw records not processed yet, over the partitions assigned to this worker.",
            value=sum(self._metrics.lag.values()),
        )
        rocksdb = GaugeMetricFamily(
            "sessionizer_worker_rocksdb_memory_bytes",
            "RocksDB's own memory over the open table partitions, by kind (block_cache, "
            "memtables, table_readers).",
            labels=["kind"],
        )
        for kind, value in sorted(self._metrics.rocksdb_memory.items()):
            rocksdb.add_metric([kind], value)
        yield rocksdb
