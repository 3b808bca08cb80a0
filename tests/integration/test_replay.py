"""`sessionizer replay` on real Kafka and Postgres, workers as subprocesses.

Simulated traffic is folded by a worker (sink in-process) into the table; `check --from-topic`
proves it equals the offline fold. Then: replay refuses while the worker runs; --dry-run and a
replay without --yes change nothing; a replay from the start (after a row was altered as a
rule change would alter it, same version) empties the table and the worker state; a new worker
rebuilds exactly the rows of the first run; `replay --yes --run` does it all again with the
same result (replaying twice changes nothing), and the session stream then holds only rebuilt
snapshots.
"""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.structs import TopicPartition

from sessionizer.settings import Settings
from sinks.migrations import migrate
from streams.faust_app import changelog_topic_name
from streams.pipeline_drain import wait_drained
from tests.integration.conftest import MakeTopic, PgSchema
from tests.integration.e2e_support import run_cli_env
from tests.integration.ingest_test_support import read_topic
from tests.integration.session_stream_reference import latest_snapshots
from tests.integration.worker_subprocess import WorkerProcess, free_port

PARTITIONS = 3
SEED = 23
SESSIONS = 100
VOLATILE = ("id", "created_at", "updated_at")


def _env(settings: Settings, database_url: str, dev_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SESSIONIZER_")}
    env.update(
        {
            "KAFKA_BOOTSTRAP_SERVERS": settings.kafka_bootstrap_servers,
            "DATABASE_URL": database_url,
            "SESSIONIZER_RAW_TOPIC": settings.raw_topic,
            "SESSIONIZER_DLQ_TOPIC": settings.dlq_topic,
            "SESSIONIZER_SESSIONS_TOPIC": settings.sessions_topic,
            "SESSIONIZER_TOPIC_PARTITIONS": str(settings.topic_partitions),
            "SESSIONIZER_DB_SCHEMA": settings.db_schema,
            "SESSIONIZER_WORKER_APP_ID": settings.worker_app_id,
            "SESSIONIZER_SINK_GROUP_ID": settings.sink_group_id,
            "SESSIONIZER_WORKER_DATA_DIR": str(settings.worker_data_dir),
            "SESSIONIZER_WORKER_WEB_PORT": str(free_port()),
            "SESSIONIZER_FLUSH_INTERVAL_S": str(settings.flush_interval_s),
            "SESSIONIZER_WORKER_SESSION_TIMEOUT_S": str(settings.worker_session_timeout_s),
            "SESSIONIZER_DEV_DIR": str(dev_dir),
        }
    )
    return env


async def _cli(env: dict[str, str], *args: str) -> tuple[int, str, str]:
    return await run_cli_env(env, *args, timeout_s=400)


async def _rows(database_url: str, schema: str) -> dict[tuple[str, int], dict[str, Any]]:
    """Every row, all columns but id/created_at/updated_at, keyed by (session_id, batch_seq)."""
    conn = await asyncpg.connect(database_url)
    try:
        records = await conn.fetch(f'SELECT * FROM "{schema}".analytics_user_sessions')
    finally:
        await conn.close()
    rows = {}
    for record in records:
        row = {k: v for k, v in record.items() if k not in VOLATILE}
        rows[(row["session_id"], row["batch_seq"])] = row
    return rows


async def _committed(settings: Settings, group: str, topic: str) -> dict[int, int]:
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap_servers)
    await admin.start()
    try:
        offsets = await admin.list_consumer_group_offsets(group)
    finally:
        await admin.close()
    return {tp.partition: m.offset for tp, m in offsets.items() if tp.topic == topic}


async def _offsets(settings: Settings, topic: str) -> tuple[dict[int, int], dict[int, int]]:
    """(start, end) offsets of each partition of ``topic``."""
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap_servers)
    await consumer.start()
    try:
        metadata = await consumer._client.fetch_all_metadata()
        tps = [TopicPartition(topic, p) for p in sorted(metadata.partitions_for_topic(topic))]
        start = await consumer.beginning_offsets(tps)
        end = await consumer.end_offsets(tps)
    finally:
        await consumer.stop()
    return (
        {tp.partition: o for tp, o in start.items()},
        {tp.partition: o for tp, o in end.items()},
    )


async def _drain_and_check(
    settings: Settings, env: dict[str, str], worker: WorkerProcess | None
) -> None:
    if worker is not None:
        await wait_drained(settings, lambda _: None, timeout_s=240, alive=worker.alive)
    code, out, err = await _cli(env, "check", "--from-topic")
    tail = worker.log_tail() if worker is not None else ""
    assert code == 0, f"{out}\n{err}\n{tail}"
    assert "missing 0, extra 0, differing 0" in out


def _worker(settings: Settings, tmp_path: Path, database_url: str) -> WorkerProcess:
    worker = WorkerProcess(settings, tmp_path, "worker", store="rocksdb://")
    worker._env.update(
        {
            "SESSIONIZER_WORKER_RUN_SINK": "true",
            "DATABASE_URL": database_url,
            "SESSIONIZER_DB_SCHEMA": settings.db_schema,
            "SESSIONIZER_SINK_GROUP_ID": settings.sink_group_id,
        }
    )
    return worker


async def test_replay_rebuilds_the_same_table(
    test_settings: Settings,
    make_topic: MakeTopic,
    pg_schema: PgSchema,
    database_url: str,
    tmp_path: Path,
) -> None:
    settings = test_settings.model_copy(
        update={
            "topic_partitions": PARTITIONS,
            "flush_interval_s": 1.0,
            "worker_batch_size": 500,
            "worker_session_timeout_s": 10.0,
            "db_schema": pg_schema.name,
            # the data dir WorkerProcess gives the worker named "worker": replay must find it
            "worker_data_dir": tmp_path / "worker-data",
        }
    )
    await make_topic(settings.raw_topic, partitions=PARTITIONS)
    await migrate(database_url, pg_schema.name)
    env = _env(settings, database_url, tmp_path / "dev")
    start_ms = (int(time.time()) - 3 * 3600) * 1000
    start = datetime.fromtimestamp(start_ms / 1000, tz=UTC).isoformat()
    code, _, err = await _cli(
        env, "simulate", "--to-kafka", "--seed", str(SEED), "--sessions", str(SESSIONS),
        "--bad-share", "0.03", "--start", start,
    )  # fmt: skip
    assert code == 0, err
    _, raw_end = await _offsets(settings, settings.raw_topic)

    worker = _worker(settings, tmp_path, database_url)
    worker.start()
    try:
        await _drain_and_check(settings, env, worker)
        first = await _rows(database_url, pg_schema.name)
        assert len(first) >= SESSIONS

        # refused while the worker (and its sink) run: nothing changes
        code, out, err = await _cli(env, "replay", "--yes")
        assert code == 1, out + err
        assert "refusing to replay" in err and settings.worker_app_id in err
        assert await _rows(database_url, pg_schema.name) == first
    finally:
        assert worker.stop() == 0, worker.log_tail()

    # a rule change would alter a row's content without changing its version
    altered_key = min(first)
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute(
            f'UPDATE "{pg_schema.name}".analytics_user_sessions SET llm_token_usage = '
            "llm_token_usage + 7 WHERE session_id = $1 AND batch_seq = $2",
            *altered_key,
        )
    finally:
        await conn.close()
    altered = await _rows(database_url, pg_schema.name)
    assert altered != first
    changelog = changelog_topic_name(settings)
    committed = await _committed(settings, settings.worker_app_id, settings.raw_topic)
    assert committed == raw_end
    changelog_before = await _offsets(settings, changelog)
    stores = sorted((settings.worker_data_dir).glob("v*/tables/sessions-*.db"))
    assert stores, "the worker kept its table in RocksDB under its data dir"

    # --dry-run, and a replay without --yes, change nothing
    code, out, err = await _cli(env, "replay", "--dry-run")
    assert code == 0, out + err
    assert f"delete {len(first)} of {len(first)} rows" in out
    assert f"{sum(raw_end.values())} records to replay" in out
    code, out, err = await _cli(env, "replay")
    assert code == 2 and "--yes" in err, out + err
    # a replay from a timestamp needs --yes-i-know; its dry run names the sessions it scanned
    middle = datetime.fromtimestamp(start_ms / 1000 + 1800, tz=UTC).isoformat()
    code, out, err = await _cli(env, "replay", "--yes", "--from-timestamp", middle)
    assert code == 2 and "--yes-i-know" in err, out + err
    code, out, err = await _cli(env, "replay", "--dry-run", "--from-timestamp", middle)
    assert code == 0 and "sessions seen at or after the start" in out, out + err
    assert await _rows(database_url, pg_schema.name) == altered
    assert await _committed(settings, settings.worker_app_id, settings.raw_topic) == committed
    assert await _offsets(settings, changelog) == changelog_before
    assert sorted(settings.worker_data_dir.glob("v*/tables/sessions-*.db")) == stores

    # replay from the start: table, state and offsets reset
    _, sessions_end = await _offsets(settings, settings.sessions_topic)
    code, out, err = await _cli(env, "replay", "--yes")
    assert code == 0, out + err
    assert f"{len(first)} rows deleted" in out
    assert await _rows(database_url, pg_schema.name) == {}
    assert await _committed(settings, settings.worker_app_id, settings.raw_topic) == {
        p: 0 for p in raw_end
    }
    start_after, end_after = await _offsets(settings, changelog)
    assert len(end_after) == PARTITIONS and start_after == end_after  # empty
    assert not list(settings.worker_data_dir.glob("v*/tables/sessions-*.db"))
    assert await _committed(settings, settings.sink_group_id, settings.sessions_topic) == (
        sessions_end
    )
    assert (await _offsets(settings, settings.sessions_topic))[0] == sessions_end

    # the worker rebuilds exactly the first run's rows (the altered one too)
    worker = _worker(settings, tmp_path, database_url)
    worker.start()
    try:
        await _drain_and_check(settings, env, worker)
    finally:
        assert worker.stop() == 0, worker.log_tail()
    assert await _rows(database_url, pg_schema.name) == first

    # replay again, with --run: nothing changes
    _, mark = await _offsets(settings, settings.sessions_topic)
    code, out, err = await _cli(env, "replay", "--yes", "--run", "--timeout", "240")
    assert code == 0, out + err
    assert "worker lag 0" in err and f"{len(first)} rows in the table now" in out
    await _drain_and_check(settings, env, None)
    assert await _rows(database_url, pg_schema.name) == first

    # the session stream holds only the rebuilt snapshots of the last replay
    assert (await _offsets(settings, settings.sessions_topic))[0] == mark
    stream = await read_topic(settings.kafka_bootstrap_servers, settings.sessions_topic)
    latest = latest_snapshots(record.value for record in stream)
    assert set(latest) == set(first)
    for key, snapshot in latest.items():
        assert snapshot["version"] == first[key]["version"]
        assert snapshot["llm_token_usage"] == first[key]["llm_token_usage"]


async def test_replay_from_a_timestamp_rebuilds_the_sessions_after_it(
    test_settings: Settings,
    make_topic: MakeTopic,
    pg_schema: PgSchema,
    database_url: str,
    tmp_path: Path,
) -> None:
    """Rows of sessions seen at or after the start go; the others stay; sessions wholly after
    the start are rebuilt exactly (those spanning it are not: see `replay --help`)."""
    settings = test_settings.model_copy(
        update={
            "topic_partitions": PARTITIONS,
            "flush_interval_s": 1.0,
            "worker_batch_size": 500,
            "worker_session_timeout_s": 10.0,
            "db_schema": pg_schema.name,
            "worker_data_dir": tmp_path / "worker-data",
        }
    )
    await make_topic(settings.raw_topic, partitions=PARTITIONS)
    await migrate(database_url, pg_schema.name)
    env = _env(settings, database_url, tmp_path / "dev")
    start_ms = (int(time.time()) - 3 * 3600) * 1000
    start = datetime.fromtimestamp(start_ms / 1000, tz=UTC).isoformat()
    code, _, err = await _cli(
        env, "simulate", "--to-kafka", "--seed", str(SEED + 1), "--sessions", "60",
        "--sessions-per-minute", "2", "--bad-share", "0", "--start", start,
    )  # fmt: skip
    assert code == 0, err

    worker = _worker(settings, tmp_path, database_url)
    worker.start()
    try:
        await _drain_and_check(settings, env, worker)
    finally:
        assert worker.stop() == 0, worker.log_tail()
    before = await _rows(database_url, pg_schema.name)

    # the oracle, from the records themselves: per partition the first offset at or after T
    cut_ms = start_ms + 15 * 60_000
    records = await read_topic(settings.kafka_bootstrap_servers, settings.raw_topic)
    first: dict[int, int] = {}
    for record in records:
        if record.timestamp_ms >= cut_ms and record.partition not in first:
            first[record.partition] = record.offset
    after: set[str] = set()
    before_cut: set[str] = set()
    for record in records:
        assert record.key is not None
        starts = first.get(record.partition)
        (after if starts is not None and record.offset >= starts else before_cut).add(
            record.key.decode()
        )
    wholly_after = after - before_cut
    untouched = {key for key in before if key[0] not in after}
    assert wholly_after and untouched and after & before_cut, "the seed covers every case"

    cut = datetime.fromtimestamp(cut_ms / 1000, tz=UTC).isoformat()
    code, out, err = await _cli(env, "replay", "--from-timestamp", cut, "--yes", "--yes-i-know")
    assert code == 0, out + err
    rows = await _rows(database_url, pg_schema.name)
    assert rows == {key: before[key] for key in untouched}
    _, raw_end = await _offsets(settings, settings.raw_topic)
    assert await _committed(settings, settings.worker_app_id, settings.raw_topic) == {
        p: first.get(p, raw_end[p]) for p in raw_end
    }

    worker = _worker(settings, tmp_path, database_url)
    worker.start()
    try:
        await wait_drained(settings, lambda _: None, timeout_s=240, alive=worker.alive)
    finally:
        assert worker.stop() == 0, worker.log_tail()
    rebuilt = await _rows(database_url, pg_schema.name)
    for key, row in before.items():
        if key[0] in wholly_after or key in untouched:
            assert rebuilt.get(key) == row, key
