"""A worker killed with SIGKILL halfway and started again reaches the offline fold's result."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from sessionizer.settings import Settings
from tests.integration.conftest import MakeTopic
from tests.integration.test_worker import HOUR_MS, PARTITIONS, worker_settings
from tests.integration.worker_test_support import (
    WorkerProcess,
    fold_file_with_cli,
    generate_events,
    produce,
    scrape_metric,
    wait_caught_up,
    wait_events_processed,
    wait_stream_equals,
    write_jsonl,
)


@pytest.mark.parametrize("store", ["rocksdb://", "memory://"])
async def test_sigkill_halfway_then_restart_gives_the_offline_fold(
    store: str, test_settings: Settings, make_topic: MakeTopic, tmp_path: Path
) -> None:
    settings = worker_settings(test_settings)
    await make_topic(settings.raw_topic, partitions=PARTITIONS)
    start_ms = int(time.time() * 1000) - 3 * HOUR_MS
    events = generate_events(23, sessions=500, events_per_session=44, start_ms=start_ms)
    assert len(events) >= 20_000
    await produce(settings.kafka_bootstrap_servers, settings.raw_topic, events)

    first = WorkerProcess(settings, tmp_path, "worker", store=store)
    first.start()
    try:
        await wait_events_processed([first], len(events) // 2)
    finally:
        first.kill()
    assert first.process is not None and first.process.returncode == -9

    # Same data folder (RocksDB files as SIGKILL left them), same consumer group.
    second = WorkerProcess(settings, tmp_path, "worker", store=store)
    second.start()
    try:
        await wait_caught_up(settings, [second])
        write_jsonl(tmp_path / "events.jsonl", events)
        expected = fold_file_with_cli(tmp_path / "events.jsonl", settings.gap_ms)
        await wait_stream_equals(settings, expected, [second])
    finally:
        status = second.stop()
    assert status == 0, second.log_tail()


async def test_sigkill_while_one_hot_session_replays_more_than_its_recent_ids(
    test_settings: Settings, make_topic: MakeTopic, tmp_path: Path
) -> None:
    """One session only: after the restart far more than its last 512 event ids are read
    again, so only the raw offset stored with the state keeps them from counting twice."""
    settings = worker_settings(test_settings)
    await make_topic(settings.raw_topic, partitions=PARTITIONS)
    start_ms = int(time.time() * 1000) - 3 * HOUR_MS
    events = generate_events(29, sessions=1, events_per_session=16_000, start_ms=start_ms)
    assert len(events) >= 8_000
    await produce(settings.kafka_bootstrap_servers, settings.raw_topic, events)

    first = WorkerProcess(settings, tmp_path, "worker", store="rocksdb://")
    first.start()
    try:
        await wait_events_processed([first], len(events) // 2)
    finally:
        first.kill()
    second = WorkerProcess(settings, tmp_path, "worker", store="rocksdb://")
    second.start()
    try:
        await wait_caught_up(settings, [second])
        write_jsonl(tmp_path / "events.jsonl", events)
        expected = fold_file_with_cli(tmp_path / "events.jsonl", settings.gap_ms)
        await wait_stream_equals(settings, expected, [second])
        replayed = await scrape_metric(second, "sessionizer_worker_replayed_total")
    finally:
        status = second.stop()
    assert status == 0, second.log_tail()
    print(f"replayed after restart: {replayed}")
