"""The sink against the real Postgres and Kafka: version guard, batching, poisoned rows."""

from __future__ import annotations

import json
import math
import random
from typing import Any

import asyncpg

from sessionizer.settings import Settings
from sinks.migrations import migrate
from sinks.postgres_sink import PostgresSink
from sinks.snapshot_rows import comparable, snapshot_to_row
from tests.integration.conftest import MakeTopic, PgSchema
from tests.integration.sink_test_support import (
    encode,
    make_snapshot,
    produce,
    produce_snapshots,
    read_topic,
    row_count,
    running_sink,
    sink_settings,
    stored_snapshots,
    wait_until,
)


async def test_row_content_equals_the_snapshot(
    database_url: str, pg_schema: PgSchema, pg_conn: asyncpg.Connection
) -> None:
    await migrate(database_url, pg_schema.name)
    odd = make_snapshot(
        "s-ünïcode ✓", 3, 7, user_id="6f1c2a1e-0000-4000-8000-000000000001",
        goal_events={"signup": "2026-11-25T10:00:03.120Z"}, conversion_achieved=True,
        session_type="conversion", closed=True, path_sequence=[], path_timings=[],
        entry_point=None, exit_point=None, session_type_extra=None,
        metadata={"nested": {"a": [1, 2.5, None, True]}, "big": 1e300, "tiny": 1.5e-7,
                  "int": 2**62, "emoji": "😀", "null": None},
        error_events=[{"type": "js", "page": None, "time": 0}],
        llm_cost_estimate="123456.0001", llm_token_usage=2**40,
    )
    del odd["session_type_extra"]
    plain = make_snapshot("s-plain", 0, 1)
    async with PostgresSink(database_url, pg_schema.name) as sink:
        outcome = await sink.write([snapshot_to_row(odd), snapshot_to_row(plain)])
    assert outcome.written == 2 and outcome.rejected == [] and outcome.statements == 1
    stored = await stored_snapshots(pg_conn, pg_schema.name)
    assert comparable(stored[("s-ünïcode ✓", 3)]) == comparable(odd)
    assert comparable(stored[("s-plain", 0)]) == comparable(plain)
    assert set(stored[("s-plain", 0)]) == set(plain)


async def test_a_lower_version_never_overwrites_a_higher_one(
    database_url: str, pg_schema: PgSchema, pg_conn: asyncpg.Connection
) -> None:
    await migrate(database_url, pg_schema.name)
    async with PostgresSink(database_url, pg_schema.name) as sink:
        await sink.write([snapshot_to_row(make_snapshot("s", 0, 5))])
        stamp = await pg_conn.fetchval("SELECT updated_at FROM analytics_user_sessions")
        await sink.write([snapshot_to_row(make_snapshot("s", 0, 3))])
        await sink.write([snapshot_to_row(make_snapshot("s", 0, 5, metadata={"x": 1}))])
        after_lower = await stored_snapshots(pg_conn, pg_schema.name)
        assert comparable(after_lower[("s", 0)]) == comparable(make_snapshot("s", 0, 5))
        assert await pg_conn.fetchval("SELECT updated_at FROM analytics_user_sessions") == stamp
        await sink.write([snapshot_to_row(make_snapshot("s", 0, 6))])
    after_higher = await stored_snapshots(pg_conn, pg_schema.name)
    assert after_higher[("s", 0)]["version"] == 6
    assert comparable(after_higher[("s", 0)]) == comparable(make_snapshot("s", 0, 6))


async def test_out_of_order_and_duplicated_snapshots_end_at_the_highest_version(
    test_settings: Settings, pg_schema: PgSchema, pg_conn: asyncpg.Connection,
    make_topic: MakeTopic, kafka_bootstrap: str,
) -> None:
    settings = sink_settings(test_settings, pg_schema.name, sink_batch_size=37,
                             sink_batch_age_s=0.2)
    await migrate(settings.database_url, pg_schema.name)
    await make_topic(settings.sessions_topic, partitions=3)
    await make_topic(settings.dlq_topic)
    rng = random.Random(5)
    highest = {(f"s{i}", seq): rng.randint(3, 12) for i in range(40) for seq in (0, 1)}
    snapshots = [make_snapshot(sid, seq, v) for (sid, seq), top in highest.items()
                 for v in range(1, top + 1) for _copy in range(2)]
    rng.shuffle(snapshots)
    # the highest version arrives early for some keys, so lower ones come after it
    assert any(snapshots.index(make_snapshot(sid, seq, top)) < len(snapshots) // 2
               for (sid, seq), top in highest.items())
    async with running_sink(settings) as sink:
        await produce_snapshots(kafka_bootstrap, settings.sessions_topic, snapshots[:300])
        await produce_snapshots(kafka_bootstrap, settings.sessions_topic, snapshots[300:])

        async def all_at_highest() -> bool:
            stored = await stored_snapshots(pg_conn, pg_schema.name)
            return len(stored) == len(highest) and all(
                stored[key]["version"] == top for key, top in highest.items())

        await wait_until(all_at_highest, 60, "every row at its highest version")
    stored = await stored_snapshots(pg_conn, pg_schema.name)
    for (sid, seq), top in highest.items():
        assert comparable(stored[(sid, seq)]) == comparable(make_snapshot(sid, seq, top))
    assert sink.dlq_records == 0
    assert await read_topic(kafka_bootstrap, settings.dlq_topic, 0, timeout_s=1) == []


async def test_ten_thousand_snapshots_are_written_in_few_statements(
    test_settings: Settings, pg_schema: PgSchema, pg_conn: asyncpg.Connection,
    make_topic: MakeTopic, kafka_bootstrap: str,
) -> None:
    batch_size = 1000
    settings = sink_settings(test_settings, pg_schema.name, sink_batch_size=batch_size,
                             sink_batch_age_s=5.0)
    await migrate(settings.database_url, pg_schema.name)
    await make_topic(settings.sessions_topic, partitions=2)
    await make_topic(settings.dlq_topic)
    snapshots = [make_snapshot(f"s{i}", 0, v) for v in range(1, 6) for i in range(2000)]
    assert len(snapshots) == 10_000
    await produce_snapshots(kafka_bootstrap, settings.sessions_topic, snapshots)
    async with running_sink(settings) as sink:

        async def all_written() -> bool:
            return int(await pg_conn.fetchval(
                "SELECT count(*) FROM analytics_user_sessions WHERE version = 5")) == 2000

        await wait_until(all_written, 90, "2,000 rows at version 5")
    bound = math.ceil(len(snapshots) / batch_size) + 2
    assert sink.snapshots_written >= 2000
    assert sink.statements <= bound, sink.statements
    # independent of the sink's own count: rows last written by the same statement share xmin
    transactions = await pg_conn.fetchval(
        "SELECT count(DISTINCT xmin::text) FROM analytics_user_sessions")
    assert transactions <= bound


async def test_one_poisoned_snapshot_goes_to_the_dlq_and_the_others_are_written(
    test_settings: Settings, pg_schema: PgSchema, pg_conn: asyncpg.Connection,
    make_topic: MakeTopic, kafka_bootstrap: str,
) -> None:
    settings = sink_settings(test_settings, pg_schema.name, sink_batch_size=500,
                             sink_batch_age_s=0.5)
    await migrate(settings.database_url, pg_schema.name)
    await make_topic(settings.sessions_topic)
    await make_topic(settings.dlq_topic)
    snapshots = [make_snapshot(f"s{i:04d}", 0, 1) for i in range(1000)]
    poisoned = make_snapshot("s-poison", 0, 1, path_sequence=[f"/{i}" for i in range(101)],
                             path_timings=list(range(101)))
    snapshots.insert(617, poisoned)
    await produce_snapshots(kafka_bootstrap, settings.sessions_topic, snapshots)
    async with running_sink(settings) as sink:

        async def done() -> bool:
            return sink.dlq_records >= 1 and await row_count(pg_conn, pg_schema.name) >= 1000

        await wait_until(done, 60, "999 rows and one DLQ record")
    assert await row_count(pg_conn, pg_schema.name) == 1000
    assert await pg_conn.fetchval(
        "SELECT count(*) FROM analytics_user_sessions WHERE session_id = 's-poison'") == 0
    dlq = await read_topic(kafka_bootstrap, settings.dlq_topic, 1)
    assert len(dlq) == 1
    record: Any = dlq[0]
    headers = {k: v.decode() for k, v in record.headers}
    assert record.key == b"s-poison" and record.value == encode(poisoned)
    assert headers["error.reason"] == "db_rejected"
    assert "check_path_sequence_size" in headers["error.message"]
    assert headers["source.topic"] == settings.sessions_topic
    assert headers["source.partition"] == "0" and headers["source.offset"] == "617"
    assert int(headers["source.timestamp"]) > 0


async def test_values_that_are_not_snapshots_go_to_the_dlq(
    test_settings: Settings, pg_schema: PgSchema, pg_conn: asyncpg.Connection,
    make_topic: MakeTopic, kafka_bootstrap: str,
) -> None:
    settings = sink_settings(test_settings, pg_schema.name, sink_batch_age_s=0.2)
    await migrate(settings.database_url, pg_schema.name)
    await make_topic(settings.sessions_topic)
    await make_topic(settings.dlq_topic)
    missing_key = make_snapshot("s-missing")
    del missing_key["closed"]
    surrogate = make_snapshot("s-surrogate", metadata={"note": "\ud800"})
    bad: list[tuple[bytes | None, bytes]] = [
        (b"x", b"not json"), (b"y", b"\xff\xfe"), (b"s-missing", encode(missing_key)),
        (b"z", encode(make_snapshot("z", version=-1))),
        (b"s-surrogate", json.dumps(surrogate).encode()),
    ]
    nul = make_snapshot("s-nul", metadata={"note": "a\u0000b"})
    good = make_snapshot("s-good")
    await produce(kafka_bootstrap, settings.sessions_topic,
                  [*bad, (b"s-nul", encode(nul)), (b"s-good", encode(good))])
    async with running_sink(settings) as sink:

        async def done() -> bool:
            return sink.dlq_records >= 6 and await row_count(pg_conn, pg_schema.name) >= 1

        await wait_until(done, 30, "6 DLQ records and one row")
    dlq = await read_topic(kafka_bootstrap, settings.dlq_topic, 6)
    reasons = {r.key: dict(r.headers)["error.reason"] for r in dlq}
    assert sorted((r.key, r.value) for r in dlq) == sorted([*bad, (b"s-nul", encode(nul))])
    assert reasons.pop(b"s-nul") == b"db_rejected"  # Postgres text cannot hold U+0000
    assert set(reasons.values()) == {b"invalid_snapshot"}
    assert any(b"closed" in dict(r.headers)["error.message"] for r in dlq)
    assert list((await stored_snapshots(pg_conn, pg_schema.name)).keys()) == [("s-good", 0)]
