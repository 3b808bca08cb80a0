"""The worker's counters as Prometheus text and as the INFO stats line."""

from __future__ import annotations

import re

from ingest.accepted_event import RejectReason
from streams.worker_metrics import WorkerMetrics


def sample(text: str, name: str) -> float:
    match = re.search(rf"^{re.escape(name)} (\S+)$", text, re.MULTILINE)
    assert match, name
    return float(match.group(1))


def test_prometheus_text_has_every_counter_and_the_lag() -> None:
    metrics = WorkerMetrics()
    metrics.count_batch(10)
    metrics.values.accepted += 7
    metrics.values.duplicates += 1
    metrics.count_rejected(RejectReason.BAD_JSON)
    metrics.count_rejected(RejectReason.BAD_JSON)
    metrics.values.snapshots += 3
    metrics.set_lag({0: 5, 3: 2})
    metrics.set_rocksdb_memory({"block_cache": 1024, "memtables": 2048, "table_readers": 0})
    text = metrics.prometheus_text().decode()

    assert sample(text, "sessionizer_worker_events_total") == 10
    assert sample(text, "sessionizer_worker_accepted_total") == 7
    assert sample(text, "sessionizer_worker_duplicates_total") == 1
    assert sample(text, "sessionizer_worker_snapshots_sent_total") == 3
    assert sample(text, 'sessionizer_worker_rejected_total{reason="bad_json"}') == 2
    assert sample(text, 'sessionizer_worker_rejected_total{reason="too_large"}') == 0
    assert sample(text, 'sessionizer_worker_consumer_lag{partition="0"}') == 5
    assert sample(text, "sessionizer_worker_consumer_lag_total") == 7
    assert sample(text, 'sessionizer_worker_rocksdb_memory_bytes{kind="memtables"}') == 2048
    assert sample(text, 'sessionizer_worker_rocksdb_memory_bytes{kind="block_cache"}') == 1024


def test_stats_line_reports_the_interval_only() -> None:
    metrics = WorkerMetrics()
    metrics.count_batch(4)
    metrics.count_rejected(RejectReason.KEY_MISMATCH)
    first = metrics.stats_line()
    assert "(4 events in" in first
    assert "rejected 1 (key_mismatch 1)" in first

    metrics.count_batch(2)
    metrics.values.duplicates += 2
    metrics.set_lag({1: 9})
    second = metrics.stats_line()
    assert "(2 events in" in second and "6 in all" in second
    assert "rejected 0 (none)" in second
    assert "duplicates 2" in second
    assert "consumer lag 9 over 1 partitions" in second
    assert re.match(r"[\d.]+ events/s", second)
