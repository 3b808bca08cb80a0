"""Helpers for the end-to-end tests of issue 6 (not a test module).

The whole pipeline as an operator runs it: ``sessionizer simulate --to-kafka`` (a seeded run,
also replayed in-process to know what was sent), ``sessionizer worker`` subprocesses with
their in-process Postgres sink (so SIGKILL is real), a private Postgres the test may stop and
start, ``sessionizer check --from-topic`` and ``sessionizer replay`` as CLI subprocesses, the
DLQ read back and compared with the offline fold's rejections of the raw topic.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
from aiokafka import AIOKafkaConsumer
from aiokafka.structs import TopicPartition

from ingest.accepted_event import RejectReason
from ingest.simulated_bad_records import FILE_KINDS
from ingest.topic_export import SKIPPED_KEY_MISMATCH, export_line
from ingest.topic_export import read_topic as export_records
from ingest.traffic_simulator import SimulationConfig, TrafficSimulator
from sessionizer.devstack.postgres_stack import PostgresStack
from sessionizer.settings import PROJECT_ROOT, Settings
from streams.offline_fold import OfflineFold
from tests.integration.ingest_test_support import ReadRecord, read_topic
from tests.integration.worker_subprocess import SESSIONIZER, WorkerProcess, free_port

VOLATILE_COLUMNS = ("id", "created_at", "updated_at")


# --- the CLI -----------------------------------------------------------------------------


def cli_env(settings: Settings) -> dict[str, str]:
    """The environment of a ``sessionizer`` subprocess working on ``settings``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SESSIONIZER_")}
    env.update(
        {
            "KAFKA_BOOTSTRAP_SERVERS": settings.kafka_bootstrap_servers,
            "DATABASE_URL": settings.database_url,
            "SESSIONIZER_RAW_TOPIC": settings.raw_topic,
            "SESSIONIZER_DLQ_TOPIC": settings.dlq_topic,
            "SESSIONIZER_SESSIONS_TOPIC": settings.sessions_topic,
            "SESSIONIZER_TOPIC_PARTITIONS": str(settings.topic_partitions),
            "SESSIONIZER_DB_SCHEMA": settings.db_schema,
            "SESSIONIZER_WORKER_APP_ID": settings.worker_app_id,
            "SESSIONIZER_SINK_GROUP_ID": settings.sink_group_id,
            "SESSIONIZER_WORKER_DATA_DIR": str(settings.worker_data_dir),
            "SESSIONIZER_GAP_MS": str(settings.gap_ms),
            "SESSIONIZER_FLUSH_INTERVAL_S": str(settings.flush_interval_s),
            "SESSIONIZER_WORKER_SESSION_TIMEOUT_S": str(settings.worker_session_timeout_s),
            "SESSIONIZER_WORKER_WEB_PORT": str(free_port()),
            "SESSIONIZER_DEV_DIR": str(settings.dev_dir),
        }
    )
    return env


async def run_cli(settings: Settings, *args: str, timeout_s: float = 400.0) -> tuple[int, str, str]:
    """``sessionizer ARGS`` for ``settings``: (exit status, stdout, stderr)."""
    return await run_cli_env(cli_env(settings), *args, timeout_s=timeout_s)


async def run_cli_env(
    env: dict[str, str], *args: str, timeout_s: float = 400.0
) -> tuple[int, str, str]:
    """``sessionizer ARGS`` as a subprocess with environment ``env``: (status, stdout, stderr)."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "sessionizer.cli",
        *args,
        cwd=PROJECT_ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    async with asyncio.timeout(timeout_s):
        out, err = await proc.communicate()
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def check_table(settings: Settings, *, context: str = "") -> str:
    """``sessionizer check --from-topic`` must exit 0 with every batch matched; its stdout.

    ``context`` is added to the failure message (e.g. where the workers' logs are).
    """
    code, out, err = await run_cli(settings, "check", "--from-topic", "--show", "5")
    assert code == 0, f"check failed (exit {code}):\n{out}\n{err}\n{context}"
    assert "missing 0, extra 0, differing 0" in out, out
    return out


# --- simulated traffic -----------------------------------------------------------------


@dataclass
class SimulatedTraffic:
    """One seeded ``simulate --to-kafka`` run: the CLI arguments and what it sends."""

    seed: int
    sessions: int
    bad_share: float
    start_ms: int
    rate: float | None = None
    expected: TrafficSimulator = field(init=False)
    record_count: int = field(init=False)

    def __post_init__(self) -> None:
        # The same generator in-process (key_mismatch is drawn with --to-kafka).
        self.expected = TrafficSimulator(
            SimulationConfig(
                seed=self.seed,
                sessions=self.sessions,
                bad_share=self.bad_share,
                start_ms=self.start_ms,
                bad_kinds=(*FILE_KINDS, RejectReason.KEY_MISMATCH),
            )
        )
        self.record_count = sum(1 for _ in self.expected.records())

    @property
    def bad(self) -> dict[str, int]:
        """Bad records generated, by the reason the worker must give."""
        return self.expected.summary.bad

    def argv(self) -> list[str]:
        start = datetime.fromtimestamp(self.start_ms / 1000, tz=UTC).isoformat()
        args = [
            "simulate", "--to-kafka", "--seed", str(self.seed), "--sessions", str(self.sessions),
            "--bad-share", str(self.bad_share), "--start", start,
        ]  # fmt: skip
        if self.rate is not None:
            args += ["--rate", str(self.rate)]
        return args

    def start(self, settings: Settings, log_path: Path) -> subprocess.Popen[bytes]:
        """The CLI producing the traffic, as a subprocess (its output in ``log_path``)."""
        with log_path.open("ab") as log:
            return subprocess.Popen(
                [str(SESSIONIZER), *self.argv()],
                env=cli_env(settings),
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=PROJECT_ROOT,
            )


# --- workers ---------------------------------------------------------------------------


def sink_worker(settings: Settings, folder: Path, name: str) -> WorkerProcess:
    """A ``sessionizer worker`` subprocess with its in-process Postgres sink (the default)."""
    worker = WorkerProcess(settings, folder, name, store="rocksdb://")
    worker._env.update(
        {
            "SESSIONIZER_WORKER_RUN_SINK": "true",
            "DATABASE_URL": settings.database_url,
            "SESSIONIZER_DB_SCHEMA": settings.db_schema,
            "SESSIONIZER_SINK_GROUP_ID": settings.sink_group_id,
            "SESSIONIZER_SINK_RETRY_MAX_S": str(settings.sink_retry_max_s),
        }
    )
    return worker


def worker_data_dir(folder: Path, name: str) -> Path:
    """The data dir :class:`WorkerProcess` gives the worker called ``name``."""
    return folder / f"{name}-data"


# --- a Postgres of the test's own ----------------------------------------------------


@contextlib.asynccontextmanager
async def private_postgres(settings: Settings) -> AsyncIterator[PostgresStack]:
    """A Postgres cluster of its own (folder, port) that the test may stop and start.

    The shared Postgres is never touched. The folder is outside pytest's ``tmp_path`` (the
    unprivileged server user must be able to enter every folder above it).
    """
    folder = Path(tempfile.mkdtemp(prefix="sessionizer-e2e-pg-"))
    os.chmod(folder, 0o755)
    stack = PostgresStack(
        settings.model_copy(update={"dev_dir": folder, "dev_postgres_port": free_port()})
    )
    await stack.start()
    try:
        yield stack
    finally:
        await stack.stop()
        shutil.rmtree(folder, ignore_errors=True)


async def table_rows(settings: Settings) -> dict[tuple[str, int], dict[str, Any]]:
    """Every row, all columns but id/created_at/updated_at, keyed by (session_id, batch_seq)."""
    conn = await asyncpg.connect(settings.database_url)
    try:
        records = await conn.fetch(f'SELECT * FROM "{settings.db_schema}".analytics_user_sessions')
    finally:
        await conn.close()
    rows = {}
    for record in records:
        row = {k: v for k, v in record.items() if k not in VOLATILE_COLUMNS}
        rows[(row["session_id"], row["batch_seq"])] = row
    return rows


# --- Kafka positions -------------------------------------------------------------------


async def end_offsets(settings: Settings, topic: str) -> dict[int, int]:
    """The end offset of each partition of ``topic`` (empty when it does not exist)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap_servers)
    await consumer.start()
    try:
        metadata = await consumer._client.fetch_all_metadata()
        partitions = sorted(metadata.partitions_for_topic(topic) or ())
        if not partitions:
            return {}
        ends = await consumer.end_offsets([TopicPartition(topic, p) for p in partitions])
    finally:
        await consumer.stop()
    return {tp.partition: offset for tp, offset in ends.items()}


# --- the DLQ against the offline fold -------------------------------------------------


async def fold_rejections(settings: Settings) -> Counter[str]:
    """Records of the raw topic the offline fold rejects, by reason.

    The raw topic is exported as ``sessionizer export`` does (key_mismatch records, which a
    file cannot show, are left out and counted by the export) and folded as ``sessionizer
    fold`` does: fold's rejections plus the export's key mismatches.
    """
    fold = OfflineFold(gap_ms=settings.gap_ms)
    rejected: Counter[str] = Counter()
    async for record in export_records(settings, settings.raw_topic):
        line, outcomes = export_line(record.value, record.key, record.timestamp_ms)
        if SKIPPED_KEY_MISMATCH in outcomes:
            rejected[RejectReason.KEY_MISMATCH.value] += 1
        if line is not None:
            fold.add_line(line)
    rejected.update(fold.result().summary.rejected)
    return rejected


@dataclass(frozen=True)
class DlqContents:
    """DLQ records by reason: every record, and distinct raw records (source coordinates)."""

    records: Counter[str]
    distinct: Counter[str]

    @property
    def resent(self) -> int:
        """Records that are a raw record's second (or later) DLQ copy."""
        return sum(self.records.values()) - sum(self.distinct.values())


async def dlq_contents(
    settings: Settings, raw: list[ReadRecord], *, after: dict[int, int] | None = None
) -> DlqContents:
    """Read the DLQ (from the ``after`` offsets, else its start); check every record.

    Each DLQ record must name a raw record (``source.*`` headers) whose key and value it
    carries unchanged.
    """
    by_source = {(r.partition, r.offset): r for r in raw}
    records: Counter[str] = Counter()
    sources: dict[tuple[int, int], str] = {}
    for record in await read_topic(settings.kafka_bootstrap_servers, settings.dlq_topic):
        if after is not None and record.offset < after.get(record.partition, 0):
            continue
        headers = record.headers
        reason = headers["error.reason"].decode()
        assert headers["source.topic"].decode() == settings.raw_topic, headers
        assert headers["error.message"], headers
        source = (int(headers["source.partition"]), int(headers["source.offset"]))
        original = by_source.get(source)
        assert original is not None, f"DLQ record names no raw record: {headers}"
        assert (record.key, record.value) == (original.key, original.value), source
        assert sources.setdefault(source, reason) == reason, f"{source}: two reasons"
        records[reason] += 1
    return DlqContents(records, Counter(sources.values()))
