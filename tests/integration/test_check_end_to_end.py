"""End to end: `simulate --to-kafka` -> worker with its sink -> `check --from-topic` exits 0.

The tools of issue 6 checking the whole pipeline: simulated traffic (bad records and key
mismatches included) produced by the CLI, folded by a real worker that writes the table, and
the table compared with the offline fold of an export of the raw topic.
"""

from __future__ import annotations

import asyncio
import os
import time
from datetime import UTC, datetime
from pathlib import Path

import asyncpg

from ingest.accepted_event import RejectReason
from ingest.simulated_bad_records import FILE_KINDS
from ingest.traffic_simulator import SimulationConfig, TrafficSimulator
from sessionizer.settings import Settings
from sinks.migrations import migrate
from tests.integration.conftest import MakeTopic, PgSchema
from tests.integration.e2e_support import run_cli_env
from tests.integration.ingest_test_support import read_topic
from tests.integration.worker_subprocess import WorkerProcess, wait_caught_up

PARTITIONS = 3
SEED = 17
SESSIONS = 120


def _env(settings: Settings, database_url: str) -> dict[str, str]:
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
        }
    )
    return env


async def _cli(env: dict[str, str], *args: str) -> tuple[int, str, str]:
    return await run_cli_env(env, *args, timeout_s=300)


async def test_simulated_traffic_through_the_worker_checks_out(
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
        }
    )
    await make_topic(settings.raw_topic, partitions=PARTITIONS)
    await migrate(database_url, pg_schema.name)
    env = _env(settings, database_url)
    start_ms = (int(time.time()) - 3 * 3600) * 1000
    start = datetime.fromtimestamp(start_ms / 1000, tz=UTC).isoformat()

    code, _, err = await _cli(
        env,
        "simulate",
        "--to-kafka",
        "--seed",
        str(SEED),
        "--sessions",
        str(SESSIONS),
        "--bad-share",
        "0.03",
        "--start",
        start,
    )
    assert code == 0, err
    # The same generator in-process says what was sent (key_mismatch is drawn with --to-kafka).
    simulator = TrafficSimulator(
        SimulationConfig(
            seed=SEED,
            sessions=SESSIONS,
            bad_share=0.03,
            start_ms=start_ms,
            bad_kinds=(*FILE_KINDS, RejectReason.KEY_MISMATCH),
        )
    )
    records = list(simulator.records())
    assert f"{len(records)} records sent" in err
    assert simulator.summary.bad.get(RejectReason.KEY_MISMATCH.value, 0) > 0

    worker = WorkerProcess(settings, tmp_path, "worker", store="rocksdb://")
    worker._env.update(
        {
            "SESSIONIZER_WORKER_RUN_SINK": "true",
            "DATABASE_URL": database_url,
            "SESSIONIZER_DB_SCHEMA": pg_schema.name,
        }
    )
    worker.start()
    try:
        await wait_caught_up(settings, [worker])
        deadline = time.monotonic() + 120
        while True:
            code, out, err = await _cli(env, "check", "--from-topic")
            if code == 0 or time.monotonic() > deadline:
                break
            await asyncio.sleep(3)
        assert code == 0, f"{out}\n{err}\n{worker.log_tail()}"
        assert "missing 0, extra 0, differing 0" in out

        # every bad record, key mismatches included, was dead-lettered once
        dlq = await read_topic(settings.kafka_bootstrap_servers, settings.dlq_topic)
        reasons: dict[str, int] = {}
        for record in dlq:
            reason = record.headers["error.reason"].decode()
            reasons[reason] = reasons.get(reason, 0) + 1
        assert reasons == simulator.summary.bad

        # a tampered row makes check fail, naming the column
        conn = await asyncpg.connect(database_url)
        try:
            await conn.execute(
                f'UPDATE "{pg_schema.name}".analytics_user_sessions SET llm_token_usage = '
                "llm_token_usage + 1 WHERE ctid = (SELECT min(ctid) FROM "
                f'"{pg_schema.name}".analytics_user_sessions)'
            )
        finally:
            await conn.close()
        code, out, _ = await _cli(env, "check", "--from-topic")
        assert code == 1
        assert "differing 1" in out and "llm_token_usage" in out
    finally:
        status = worker.stop()
    assert status == 0, worker.log_tail()
