"""Helpers for the produce and collector tests (not a test module).

Reading a topic back from the real broker, raw events built by the tests themselves, the
SPEC 8 record timestamp computed independently of the code under test (``datetime``), and a
private broker (its own folder and ports) that a test may stop and start without disturbing
the shared one.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer
from aiokafka.structs import TopicPartition

from sessionizer.devstack.kafka_stack import KafkaStack
from sessionizer.settings import Settings


@dataclass(frozen=True)
class ReadRecord:
    partition: int
    offset: int
    key: bytes | None
    value: bytes
    timestamp_ms: int
    headers: dict[str, bytes]


async def read_topic(bootstrap: str, topic: str, *, timeout_s: float = 30.0) -> list[ReadRecord]:
    """Every record of ``topic`` now, in partition then offset order."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, auto_offset_reset="earliest"
    )
    await consumer.start()
    try:
        partitions = consumer.partitions_for_topic(topic)
        for _ in range(100):
            if partitions:
                break
            await asyncio.sleep(0.1)
            await consumer._client.force_metadata_update()
            partitions = consumer.partitions_for_topic(topic)
        assert partitions, f"topic {topic} does not exist"
        tps = [TopicPartition(topic, p) for p in sorted(partitions)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        ends = await consumer.end_offsets(tps)
        records: list[ReadRecord] = []
        async with asyncio.timeout(timeout_s):
            while [tp for tp in tps if await consumer.position(tp) < ends[tp]]:
                batches = await consumer.getmany(timeout_ms=500)
                for batch in batches.values():
                    for message in batch:
                        records.append(
                            ReadRecord(
                                message.partition,
                                message.offset,
                                message.key,
                                message.value,
                                message.timestamp,
                                {k: v for k, v in message.headers},
                            )
                        )
        return sorted(records, key=lambda r: (r.partition, r.offset))
    finally:
        await consumer.stop()


def rfc3339_ms(text: str) -> int:
    """Epoch ms of an RFC 3339 time (test oracle; fractions truncated to ms)."""
    moment = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    return int(moment.timestamp()) * 1000 + moment.microsecond // 1000


def page_view(session_id: str, ts: str, path: str, **extra: Any) -> dict[str, Any]:
    return {
        "event_id": str(uuid.uuid4()),
        "session_id": session_id,
        "type": "page_view",
        "ts": ts,
        "path": path,
        **extra,
    }


def line(event: dict[str, Any]) -> bytes:
    return json.dumps(event, ensure_ascii=False).encode("utf-8")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextlib.asynccontextmanager
async def private_broker(base: Settings, folder: Path) -> AsyncIterator[KafkaStack]:
    """A broker of its own (folder, ports) for tests that stop Kafka; stopped at the end.

    ``stack.settings`` are ``base`` pointed at it (``kafka_bootstrap_servers`` included).
    """
    port, controller_port = free_port(), free_port()
    settings = base.model_copy(
        update={
            "dev_dir": folder,
            "dev_kafka_port": port,
            "dev_kafka_controller_port": controller_port,
            "dev_kafka_heap": "384m",
            "kafka_bootstrap_servers": f"127.0.0.1:{port}",
        }
    )
    stack = KafkaStack(settings)
    await stack.start()
    try:
        yield stack
    finally:
        await stack.stop()
