"""Postgres stopped for 20 s mid-stream: the sink waits, loses nothing, resumes by itself.

The test stops and starts a real Postgres. It never stops the shared one (other tests use it):
it runs a private cluster of its own, with the project's devstack module (Debian's server
binaries, installed by ``sessionizer dev up`` if missing), on a free port, whatever
``DATABASE_URL`` says. Kafka is the one under test.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import socket
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest
from aiokafka import AIOKafkaConsumer
from aiokafka.structs import TopicPartition

from sessionizer.devstack.postgres_stack import PostgresStack
from sessionizer.settings import Settings
from sinks.migrations import migrate
from sinks.snapshot_rows import comparable
from tests.integration.conftest import MakeTopic
from tests.integration.sink_test_support import (
    make_snapshot,
    produce_snapshots,
    read_topic,
    running_sink,
    sink_settings,
    stored_snapshots,
    wait_until,
)

OUTAGE_S = 20.0


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.asynccontextmanager
async def private_postgres(settings: Settings) -> AsyncIterator[PostgresStack]:
    # a folder the unprivileged server user can enter (pytest's tmp_path is private to root)
    folder = Path(tempfile.mkdtemp(prefix="sessionizer-outage-"))
    os.chmod(folder, 0o755)
    stack = PostgresStack(settings.model_copy(
        update={"dev_dir": folder, "dev_postgres_port": _free_port()}))
    await stack.start()
    try:
        yield stack
    finally:
        await stack.stop()
        shutil.rmtree(folder, ignore_errors=True)


async def test_postgres_down_for_20_seconds_mid_stream_loses_nothing(
    test_settings: Settings, make_topic: MakeTopic, kafka_bootstrap: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="sinks.session_stream_sink")
    async with private_postgres(test_settings) as postgres:
        schema = "outage"
        settings = sink_settings(test_settings, schema, database_url=postgres.database_url,
                                 sink_batch_size=200, sink_batch_age_s=0.2,
                                 sink_retry_max_s=2.0)
        await migrate(settings.database_url, schema)
        await make_topic(settings.sessions_topic, partitions=3)
        await make_topic(settings.dlq_topic)
        keys = [(f"s{i}", seq) for i in range(300) for seq in (0, 1)]
        before = [make_snapshot(sid, seq, 1) for sid, seq in keys]
        during = [make_snapshot(sid, seq, v) for v in (2, 3) for sid, seq in keys]
        after = [make_snapshot(sid, seq, 4) for sid, seq in keys[::2]]

        async with running_sink(settings) as sink:
            await produce_snapshots(kafka_bootstrap, settings.sessions_topic, before)
            conn = await asyncpg.connect(settings.database_url)
            try:
                async def first_written() -> bool:
                    return int(await conn.fetchval(
                        f"SELECT count(*) FROM {schema}.analytics_user_sessions")) == len(keys)

                await wait_until(first_written, 60, "the first snapshots")
            finally:
                await conn.close()

            await postgres.stop()
            await produce_snapshots(kafka_bootstrap, settings.sessions_topic, during)
            await asyncio.sleep(OUTAGE_S)
            written_while_down = sink.snapshots_written
            await postgres.start()
            await produce_snapshots(kafka_bootstrap, settings.sessions_topic, after)

            conn = await asyncpg.connect(settings.database_url)
            try:
                expected = {key: 4 if i % 2 == 0 else 3 for i, key in enumerate(keys)}

                async def all_written() -> bool:
                    stored = await stored_snapshots(conn, schema)
                    return all(stored.get(k, {}).get("version") == v for k, v in expected.items())

                await wait_until(all_written, 90, "every snapshot after the restart")
                stored = await stored_snapshots(conn, schema)
            finally:
                await conn.close()

        assert written_while_down == len(keys)  # nothing counted as written while down
        assert len(stored) == len(keys)
        for (sid, seq), version in expected.items():
            assert comparable(stored[(sid, seq)]) == comparable(make_snapshot(sid, seq, version))
        assert sink.dlq_records == 0
        assert await read_topic(kafka_bootstrap, settings.dlq_topic, 0, timeout_s=1) == []
        # offsets were committed once Postgres had the rows
        consumer = AIOKafkaConsumer(bootstrap_servers=kafka_bootstrap,
                                    group_id=settings.sink_group_id, enable_auto_commit=False)
        await consumer.start()
        try:
            partitions = [TopicPartition(settings.sessions_topic, p) for p in range(3)]
            ends = await consumer.end_offsets(partitions)
            committed = {tp: await consumer.committed(tp) for tp in partitions}
        finally:
            await consumer.stop()
        assert committed == ends
        # logged once when it went down and once when it came back, not at every retry
        messages = [r.getMessage() for r in caplog.records]
        assert sum("Postgres unavailable" in m for m in messages) == 1, messages
        assert sum("Postgres available again" in m for m in messages) == 1, messages
