"""A worker killed with SIGKILL halfway and started again reaches the offline fold's result."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from sessionizer.settings import Settings
from tests.integration.conftest import MakeTopic
from tests.integration.seeded_raw_events import generate_events, produce, write_jsonl
from tests.integration.session_stream_reference import fold_file_with_cli, wait_stream_equals
from tests.integration.test_worker import HOUR_MS, PARTITIONS, worker_settings
from tests.integration.worker_subprocess import (
    WorkerProcess,
    group_lag,
    scrape_metric,
    wait_caught_up,
    wait_events_processed,
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


async def test_a_failing_batch_stops_the_worker_and_loses_nothing(
    test_settings: Settings,
    make_topic: MakeTopic,
    kafka_admin: AIOKafkaAdminClient,
    tmp_path: Path,
) -> None:
    """Snapshots too large for the session stream: the first batch fails, the worker exits
    at once with status 1 (its offsets not committed); once the topic is fixed, a restart
    gives the offline fold's result."""
    settings = worker_settings(test_settings)
    await make_topic(settings.raw_topic, partitions=PARTITIONS)
    await kafka_admin.create_topics(
        [
            NewTopic(
                settings.sessions_topic,
                PARTITIONS,
                1,
                topic_configs={"max.message.bytes": "300"},
            )
        ]
    )
    start_ms = int(time.time() * 1000) - 3 * HOUR_MS
    events = generate_events(31, sessions=50, events_per_session=20, start_ms=start_ms)
    await produce(settings.kafka_bootstrap_servers, settings.raw_topic, events)

    first = WorkerProcess(settings, tmp_path, "worker", store="rocksdb://")
    first.start()
    assert first.process is not None
    status = await asyncio.to_thread(first.process.wait, 120)
    assert status == 1
    assert "micro-batch failed, exiting at once" in first.log_path.read_text()
    assert await group_lag(settings) == len(events), "nothing of the failed batch committed"

    await kafka_admin.alter_configs(
        [
            ConfigResource(
                ConfigResourceType.TOPIC,
                settings.sessions_topic,
                configs={"max.message.bytes": "1048588"},
            )
        ]
    )
    second = WorkerProcess(settings, tmp_path, "worker", store="rocksdb://")
    second.start()
    try:
        await wait_caught_up(settings, [second])
        write_jsonl(tmp_path / "events.jsonl", events)
        expected = fold_file_with_cli(tmp_path / "events.jsonl", settings.gap_ms)
        await wait_stream_equals(settings, expected, [second])
    finally:
        assert second.stop() == 0, second.log_tail()
