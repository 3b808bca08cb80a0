"""`produce` while its (private) broker restarts: the producer's retries write nothing twice."""

from __future__ import annotations

import asyncio
from collections import Counter, defaultdict
from pathlib import Path

from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.structs import TopicPartition

from sessionizer.settings import Settings
from tests.integration.ingest_test_support import private_broker, read_topic
from tests.integration.test_produce import run_produce, write_mixed_file


async def records_on(admin: AIOKafkaAdminClient, consumer: AIOKafkaConsumer, topic: str) -> int:
    """How many records the topic holds now (0 while it does not exist)."""
    if topic not in await admin.list_topics():
        return 0
    described = await admin.describe_topics([topic])
    tps = [TopicPartition(topic, p["partition"]) for p in described[0]["partitions"]]
    ends = await consumer.end_offsets(tps)
    return sum(ends.values())


async def test_broker_restart_during_produce_delivers_every_line_once(
    test_settings: Settings, tmp_path: Path
) -> None:
    expected = write_mixed_file(tmp_path / "events.jsonl", 200_000)
    async with private_broker(test_settings, tmp_path / "kafka") as broker:
        settings = broker.settings
        bootstrap = settings.kafka_bootstrap_servers
        produce = asyncio.create_task(
            run_produce(settings, "--timeout", "180", str(expected.path), timeout_s=600)
        )
        watcher = AIOKafkaConsumer(bootstrap_servers=bootstrap)
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
        await watcher.start()
        await admin.start()
        try:
            async with asyncio.timeout(120):
                while await records_on(admin, watcher, settings.raw_topic) < 5000:
                    assert not produce.done(), (await produce).stderr
                    await asyncio.sleep(0.1)
        finally:
            await watcher.stop()
            await admin.close()
        await broker.stop()
        stopped_at = await asyncio.sleep(3, result=produce.done())
        await broker.start()
        result = await produce

        assert not stopped_at, "the broker stopped only after produce had finished"
        assert result.returncode == 0, result.stderr
        records = await read_topic(bootstrap, settings.raw_topic, timeout_s=120)
    counts = Counter(r.value for r in records)
    assert len(counts) == len(expected.valid)
    assert set(counts.values()) == {1}
    by_session: dict[str, list[bytes]] = defaultdict(list)
    for _, value, session, _ in expected.valid:
        by_session[session].append(value)
    got: dict[str, list[bytes]] = defaultdict(list)
    for record in records:
        assert record.key is not None
        got[record.key.decode()].append(record.value)
    assert got == by_session


async def test_broker_gone_for_good_stops_produce_with_where_to_continue(
    test_settings: Settings, tmp_path: Path
) -> None:
    expected = write_mixed_file(tmp_path / "events.jsonl", 200_000)
    async with private_broker(test_settings, tmp_path / "kafka") as broker:
        settings = broker.settings
        bootstrap = settings.kafka_bootstrap_servers
        produce = asyncio.create_task(
            run_produce(settings, "--timeout", "5", str(expected.path), timeout_s=300)
        )
        watcher = AIOKafkaConsumer(bootstrap_servers=bootstrap)
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
        await watcher.start()
        await admin.start()
        try:
            async with asyncio.timeout(120):
                while await records_on(admin, watcher, settings.raw_topic) < 5000:
                    assert not produce.done(), (await produce).stderr
                    await asyncio.sleep(0.1)
        finally:
            await watcher.stop()
            await admin.close()
        await broker.stop()
        result = await produce

    assert result.returncode == 1
    assert "stopped:" in result.stderr and "--start-line" in result.stderr
    resume = int(result.stderr.split("continue with --start-line ")[1].split()[0])
    assert 1 < resume <= 200_000, result.stderr[-3000:]
