"""Snapshots per second written by the Postgres sink, for several batch sizes.

For each batch size: N distinct snapshots are produced to a fresh topic first, then the sink
(the real consumer loop of ``sessionizer sink``) is started; the time from its partition
assignment to the last row committed in Postgres gives the rate. ``writer`` is the same for
:class:`sinks.postgres_sink.PostgresSink` alone (no Kafka). Median of ``--runs`` runs each.

    .venv/bin/python bench/sink_bench.py [--runs 3] [--sizes 1,100,1000]

Uses KAFKA_BOOTSTRAP_SERVERS / DATABASE_URL (default: the local stack), a throwaway schema
and topics, removed afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import asyncpg
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from sessionizer.settings import Settings
from sinks.migrations import migrate
from sinks.postgres_sink import PostgresSink
from sinks.session_stream_sink import SessionStreamSink
from sinks.snapshot_rows import snapshot_to_row
from tests.integration.sink_test_support import encode, make_snapshot

COUNTS = {1: 1_000, 100: 10_000, 1000: 20_000}


async def _fresh_schema(settings: Settings) -> str:
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    await migrate(settings.database_url, schema)
    return schema


async def _drop_schema(settings: Settings, schema: str) -> None:
    conn = await asyncpg.connect(settings.database_url)
    try:
        await conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
    finally:
        await conn.close()


async def writer_rate(settings: Settings, batch: int, count: int) -> float:
    schema = await _fresh_schema(settings)
    rows = [snapshot_to_row(make_snapshot(f"w{i}", 0, 1 + i % 7)) for i in range(count)]
    try:
        async with PostgresSink(settings.database_url, schema) as sink:
            started = time.perf_counter()
            for i in range(0, count, batch):
                await sink.write(rows[i:i + batch])
            return count / (time.perf_counter() - started)
    finally:
        await _drop_schema(settings, schema)


async def sink_rate(settings: Settings, admin: AIOKafkaAdminClient, batch: int,
                    count: int) -> float:
    schema = await _fresh_schema(settings)
    token = uuid.uuid4().hex[:10]
    topic, dlq = f"bench-sessions-{token}", f"bench-dlq-{token}"
    await admin.create_topics([NewTopic(topic, 1, 1), NewTopic(dlq, 1, 1)])
    try:
        producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap_servers,
                                    linger_ms=20, acks="all")
        await producer.start()
        try:
            for i in range(count):
                snap = make_snapshot(f"k{i}", 0, 1 + i % 7)
                await producer.send(topic, key=snap["session_id"].encode(), value=encode(snap))
            await producer.flush()
        finally:
            await producer.stop()
        run_settings = settings.model_copy(update={
            "db_schema": schema, "sessions_topic": topic, "dlq_topic": dlq,
            "sink_group_id": f"bench-{token}", "sink_batch_size": batch,
            "sink_batch_age_s": 0.5,
        })
        stop = asyncio.Event()
        sink = SessionStreamSink(run_settings, stop)
        task = asyncio.create_task(sink.run())
        while not sink.assignment():
            if task.done():
                await task
            await asyncio.sleep(0.005)
        started = time.perf_counter()
        while sink.snapshots_written < count:
            if task.done():
                await task
            await asyncio.sleep(0.005)
        elapsed = time.perf_counter() - started
        stop.set()
        await task
        return count / elapsed
    finally:
        await admin.delete_topics([topic, dlq])
        await _drop_schema(settings, schema)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3, help="runs per batch size (median)")
    parser.add_argument("--sizes", default="1,100,1000", help="batch sizes, comma separated")
    parser.add_argument("--scale", type=float, default=1.0, help="multiply snapshot counts")
    args = parser.parse_args()
    settings = Settings()
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap_servers)
    await admin.start()
    try:
        print(f"{'batch':>6} {'snapshots':>9} {'sink snapshots/s':>17} {'writer snapshots/s':>19}")
        for size in (int(s) for s in args.sizes.split(",")):
            count = max(size, int(COUNTS.get(size, 10_000) * args.scale))
            sink = [await sink_rate(settings, admin, size, count) for _ in range(args.runs)]
            writer = [await writer_rate(settings, size, count) for _ in range(args.runs)]
            print(f"{size:>6} {count:>9} {statistics.median(sink):>17,.0f} "
                  f"{statistics.median(writer):>19,.0f}", flush=True)
    finally:
        await admin.close()


if __name__ == "__main__":
    asyncio.run(main())
