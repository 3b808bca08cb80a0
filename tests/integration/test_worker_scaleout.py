"""Several workers in one group: partitions shared, state handed over through the changelog."""

from __future__ import annotations

import time
from pathlib import Path

from sessionizer.settings import Settings
from tests.integration.conftest import MakeTopic
from tests.integration.seeded_raw_events import generate_events, produce, write_jsonl
from tests.integration.session_stream_reference import fold_file_with_cli, wait_stream_equals
from tests.integration.test_worker import HOUR_MS, PARTITIONS, worker_settings
from tests.integration.worker_subprocess import (
    WorkerProcess,
    scrape_metric,
    wait_caught_up,
    wait_events_processed,
)


async def test_two_workers_started_together_give_the_offline_fold(
    test_settings: Settings, make_topic: MakeTopic, tmp_path: Path
) -> None:
    settings = worker_settings(test_settings)
    await make_topic(settings.raw_topic, partitions=PARTITIONS)
    start_ms = int(time.time() * 1000) - 3 * HOUR_MS
    events = generate_events(37, sessions=500, events_per_session=44, start_ms=start_ms)
    assert len(events) >= 20_000
    workers = [WorkerProcess(settings, tmp_path, f"w{n}", store="rocksdb://") for n in (1, 2)]
    for worker in workers:
        worker.start()
    try:
        await produce(settings.kafka_bootstrap_servers, settings.raw_topic, events)
        await wait_caught_up(settings, workers)
        write_jsonl(tmp_path / "events.jsonl", events)
        expected = fold_file_with_cli(tmp_path / "events.jsonl", settings.gap_ms)
        await wait_stream_equals(settings, expected, workers)
        counts = [await scrape_metric(w, "sessionizer_worker_events_total") for w in workers]
        assert all(count is not None and count > 0 for count in counts), counts
        assert sum(c or 0 for c in counts) >= len(events)
    finally:
        statuses = [worker.stop() for worker in workers]
    assert statuses == [0, 0], [w.log_tail() for w in workers]


async def test_partitions_move_to_a_joining_worker_and_back_after_a_sigkill(
    test_settings: Settings, make_topic: MakeTopic, tmp_path: Path
) -> None:
    """w1 alone; w2 joins at 1/3 (a rebalance hands it half the sessions' state); w1 is killed
    at 2/3 (after the session timeout w2 restores w1's partitions from the changelog)."""
    settings = worker_settings(test_settings)
    await make_topic(settings.raw_topic, partitions=PARTITIONS)
    start_ms = int(time.time() * 1000) - 3 * HOUR_MS
    events = generate_events(41, sessions=500, events_per_session=44, start_ms=start_ms)
    await produce(settings.kafka_bootstrap_servers, settings.raw_topic, events)
    w1 = WorkerProcess(settings, tmp_path, "w1", store="rocksdb://")
    w2 = WorkerProcess(settings, tmp_path, "w2", store="memory://")
    w1.start()
    try:
        await wait_events_processed([w1], len(events) // 3)
        w2.start()
        await wait_events_processed([w1, w2], 2 * len(events) // 3)
        w1.kill()
        await wait_caught_up(settings, [w2])
        write_jsonl(tmp_path / "events.jsonl", events)
        expected = fold_file_with_cli(tmp_path / "events.jsonl", settings.gap_ms)
        await wait_stream_equals(settings, expected, [w2])
    finally:
        w1.kill()
        status = w2.stop()
    assert status == 0, w2.log_tail()


async def test_partitions_come_back_to_a_worker_that_had_them_before(
    test_settings: Settings, make_topic: MakeTopic, tmp_path: Path
) -> None:
    """w1 (RocksDB) loses half its partitions when w2 joins and gets them back when w2
    stops: it reopens its local partition stores and catches up from the changelog."""
    settings = worker_settings(test_settings)
    await make_topic(settings.raw_topic, partitions=PARTITIONS)
    start_ms = int(time.time() * 1000) - 3 * HOUR_MS
    events = generate_events(47, sessions=500, events_per_session=44, start_ms=start_ms)
    await produce(settings.kafka_bootstrap_servers, settings.raw_topic, events)
    w1 = WorkerProcess(settings, tmp_path, "w1", store="rocksdb://")
    w2 = WorkerProcess(settings, tmp_path, "w2", store="rocksdb://")
    w1.start()
    try:
        await wait_events_processed([w1], len(events) // 4)
        w2.start()
        await wait_events_processed([w2], 1000)  # w2 owns partitions and changed sessions
        assert w2.stop() == 0, w2.log_tail()
        await wait_caught_up(settings, [w1])
        write_jsonl(tmp_path / "events.jsonl", events)
        expected = fold_file_with_cli(tmp_path / "events.jsonl", settings.gap_ms)
        await wait_stream_equals(settings, expected, [w1])
    finally:
        w2.kill()
        status = w1.stop()
    assert status == 0, w1.log_tail()
