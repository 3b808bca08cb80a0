"""Kafka down for a while under a running worker: nothing is lost, work resumes by itself."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from sessionizer.settings import Settings
from tests.integration.ingest_test_support import private_broker
from tests.integration.seeded_raw_events import generate_events, produce, write_jsonl
from tests.integration.session_stream_reference import fold_file_with_cli, wait_stream_equals
from tests.integration.test_worker import HOUR_MS, PARTITIONS, worker_settings
from tests.integration.worker_subprocess import WorkerProcess, wait_caught_up, wait_events_processed

OUTAGE_S = 20.0


async def test_broker_down_mid_stream_then_back_gives_the_offline_fold(
    test_settings: Settings, tmp_path: Path
) -> None:
    async with private_broker(test_settings, tmp_path / "kafka") as broker:
        settings = worker_settings(broker.settings)
        admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap_servers)
        await admin.start()
        try:
            await admin.create_topics([NewTopic(settings.raw_topic, PARTITIONS, 1)])
        finally:
            await admin.close()
        await asyncio.sleep(1.0)
        start_ms = int(time.time() * 1000) - 3 * HOUR_MS
        events = generate_events(43, sessions=300, events_per_session=40, start_ms=start_ms)
        await produce(settings.kafka_bootstrap_servers, settings.raw_topic, events)

        worker = WorkerProcess(settings, tmp_path, "worker", store="rocksdb://")
        worker.start()
        try:
            await wait_events_processed([worker], len(events) // 3)
            await broker.stop()
            await asyncio.sleep(OUTAGE_S)
            assert worker.alive(), f"the worker gave up during the outage:\n{worker.log_tail()}"
            await broker.start()
            await wait_caught_up(settings, [worker], timeout_s=300)
            write_jsonl(tmp_path / "events.jsonl", events)
            expected = fold_file_with_cli(tmp_path / "events.jsonl", settings.gap_ms)
            await wait_stream_equals(settings, expected, [worker], timeout_s=120)
        finally:
            status = worker.stop()
        assert status == 0, worker.log_tail()
