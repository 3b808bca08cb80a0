"""The services under test work end to end: Kafka round trip, Postgres round trip, fixtures."""

from __future__ import annotations

import uuid

import asyncpg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient

from sessionizer.settings import Settings
from tests.integration.conftest import MakeTopic, PgSchema, UniqueName


async def test_kafka_round_trip_keeps_keys_values_and_partition_order(
    kafka_bootstrap: str, make_topic: MakeTopic
) -> None:
    topic = await make_topic(partitions=3)
    sent = [(f"session-{i % 3}".encode(), f"event-{i}".encode()) for i in range(30)]
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    await producer.start()
    try:
        for key, value in sent:
            await producer.send_and_wait(topic, value=value, key=key)
    finally:
        await producer.stop()

    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=kafka_bootstrap,
        group_id=f"g-{uuid.uuid4().hex}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    received: list[tuple[bytes, bytes]] = []
    partitions_by_key: dict[bytes, set[int]] = {}
    try:
        while len(received) < len(sent):
            batches = await consumer.getmany(timeout_ms=10_000)
            assert batches, f"no records after {len(received)} of {len(sent)}"
            for tp, records in batches.items():
                for record in records:
                    assert record.key is not None and record.value is not None
                    received.append((record.key, record.value))
                    partitions_by_key.setdefault(record.key, set()).add(tp.partition)
    finally:
        await consumer.stop()

    assert sorted(received) == sorted(sent)
    # one key, one partition, and the order of each key's values is the order they were sent
    assert all(len(parts) == 1 for parts in partitions_by_key.values())
    for key in {k for k, _ in sent}:
        assert [v for k, v in received if k == key] == [v for k, v in sent if k == key]


async def test_make_topic_creates_the_partitions_asked_for(
    kafka_admin: AIOKafkaAdminClient, make_topic: MakeTopic, unique_name: UniqueName
) -> None:
    named = unique_name("explicit")
    assert await make_topic(named, partitions=2) == named
    topic = await make_topic(partitions=4)
    assert topic != named
    described = {t["topic"]: t for t in await kafka_admin.describe_topics([topic, named])}
    assert sorted(p["partition"] for p in described[topic]["partitions"]) == [0, 1, 2, 3]
    assert sorted(p["partition"] for p in described[named]["partitions"]) == [0, 1]


async def test_postgres_round_trip_in_the_test_schema(
    pg_schema: PgSchema, database_url: str
) -> None:
    conn = await asyncpg.connect(pg_schema.dsn)
    try:
        assert await conn.fetchval("select current_schema()") == pg_schema.name
        await conn.execute("create table items (id bigint primary key, body jsonb not null)")
        await conn.executemany(
            "insert into items (id, body) values ($1, $2::jsonb)",
            [(1, '{"a": 1}'), (2, '{"b": [1, 2]}')],
        )
        rows = await conn.fetch("select id, body::text from items order by id")
    finally:
        await conn.close()
    assert [(r["id"], r["body"]) for r in rows] == [(1, '{"a": 1}'), (2, '{"b": [1, 2]}')]

    # the table lives in the test's schema, not in public
    other = await asyncpg.connect(database_url)
    try:
        where = await other.fetchval(
            "select table_schema from information_schema.tables where table_name = 'items'"
            " and table_schema = $1",
            pg_schema.name,
        )
        in_public = await other.fetchval("select to_regclass('public.items')")
    finally:
        await other.close()
    assert where == pg_schema.name
    assert in_public is None


async def test_test_settings_are_isolated_per_test(
    test_settings: Settings, settings_base: Settings, kafka_bootstrap: str, pg_schema: PgSchema
) -> None:
    names = {test_settings.raw_topic, test_settings.sessions_topic, test_settings.dlq_topic}
    assert len(names) == 3
    assert test_settings.raw_topic != settings_base.raw_topic
    assert test_settings.worker_app_id != settings_base.worker_app_id
    assert test_settings.sink_group_id != settings_base.sink_group_id
    assert test_settings.kafka_bootstrap_servers == kafka_bootstrap
    conn = await asyncpg.connect(test_settings.database_url)
    try:
        assert await conn.fetchval("select current_schema()") == pg_schema.name
    finally:
        await conn.close()
