"""The sink loop: session stream (Kafka) → ``analytics_user_sessions`` (Postgres).

Snapshots are collected into a batch until it holds ``sink_batch_size`` records or its first
record is ``sink_batch_age_s`` old. Within a batch only the highest ``version`` per
(session_id, batch_seq) is kept. The batch is written in one statement (see
:mod:`sinks.postgres_sink`); while Postgres is unreachable the write is retried with backoff
and jitter and nothing is consumed further. Rows Postgres rejects for good, and values that
are not snapshots, go to the DLQ topic (original key and value, headers of SPEC 1 with
``error.reason`` ``db_rejected`` or ``invalid_snapshot``). Consumer offsets are committed only
after the database commit and the DLQ acknowledgements, so a crash replays, never loses.

Entry points: :func:`run_sink` (runs until ``stop`` is set) and :class:`SessionStreamSink`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRebalanceListener
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import CommitFailedError, KafkaError
from aiokafka.structs import TopicPartition

from ingest.kafka_topics import ensure_topics
from sessionizer.errors import TransientError
from sessionizer.settings import Settings
from sinks.postgres_sink import PostgresSink, WriteOutcome
from sinks.retry_policy import Backoff, OutageLog, sleep_or_stop
from sinks.snapshot_rows import InvalidSnapshot, SnapshotRow, decode_snapshot

log = logging.getLogger(__name__)

REASON_DB_REJECTED = "db_rejected"
REASON_INVALID_SNAPSHOT = "invalid_snapshot"
_MESSAGE_MAX_CHARS = 1000


@dataclass(frozen=True)
class Rejected:
    """A session-stream record that goes to the DLQ, and why."""

    record: Any  # aiokafka ConsumerRecord
    reason: str
    message: str


def dlq_headers(rejected: Rejected) -> list[tuple[str, bytes]]:
    """SPEC 1 DLQ headers for a rejected session-stream record."""
    record = rejected.record
    text = rejected.message[:_MESSAGE_MAX_CHARS].encode("utf-8", "backslashreplace")
    timestamp = record.timestamp if record.timestamp is not None else -1
    return [
        ("error.reason", rejected.reason.encode("ascii")),
        ("error.message", text),
        ("source.topic", record.topic.encode("utf-8", "backslashreplace")),
        ("source.partition", str(record.partition).encode("ascii")),
        ("source.offset", str(record.offset).encode("ascii")),
        ("source.timestamp", str(timestamp).encode("ascii")),
    ]


@dataclass
class PendingBatch:
    """Records consumed but not yet written: the best snapshot per key, and the offsets."""

    rows: dict[tuple[str, int], tuple[SnapshotRow, Any]] = field(default_factory=dict)
    invalid: list[Rejected] = field(default_factory=list)
    first_offsets: dict[TopicPartition, int] = field(default_factory=dict)
    next_offsets: dict[TopicPartition, int] = field(default_factory=dict)
    records: int = 0
    started: float | None = None

    def add(self, record: Any) -> None:
        tp = TopicPartition(record.topic, record.partition)
        self.first_offsets.setdefault(tp, record.offset)
        self.next_offsets[tp] = record.offset + 1
        self.records += 1
        if self.started is None:
            self.started = time.monotonic()
        try:
            row = decode_snapshot(record.value)
        except InvalidSnapshot as exc:
            self.invalid.append(Rejected(record, REASON_INVALID_SNAPSHOT, str(exc)))
            return
        held = self.rows.get(row.key)
        if held is None or held[0].version <= row.version:
            self.rows[row.key] = (row, record)

    def age_s(self) -> float:
        return 0.0 if self.started is None else time.monotonic() - self.started

    def __len__(self) -> int:
        return self.records


class _FlushOnRevoke(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, sink: SessionStreamSink) -> None:
        self._sink = sink

    async def on_partitions_revoked(self, revoked: Iterable[TopicPartition]) -> None:
        await self._sink.flush_before_revoke()

    async def on_partitions_assigned(self, assigned: Iterable[TopicPartition]) -> None:
        return None


class SessionStreamSink:
    """Consumes the session stream and upserts snapshots; see the module docstring."""

    def __init__(self, settings: Settings, stop: asyncio.Event) -> None:
        self.settings = settings
        self.stop = stop
        self.pending = PendingBatch()
        self.snapshots_written = 0
        self.dlq_records = 0
        self._db_outage = OutageLog(log, "Postgres")
        self._dlq_outage = OutageLog(log, "Kafka (sink DLQ)")
        self._consumer: Any = None
        self._producer: Any = None
        self._postgres: PostgresSink | None = None
        self._flush_lock = asyncio.Lock()  # the main loop and a rebalance never flush at once

    @property
    def statements(self) -> int:
        """Upsert statements sent to Postgres so far."""
        return 0 if self._postgres is None else self._postgres.statements

    def assignment(self) -> set[TopicPartition]:
        """Partitions of the session stream this sink holds now (empty before it joined)."""
        return set() if self._consumer is None else set(self._consumer.assignment())

    async def run(self) -> None:
        """Consume and write until ``stop`` is set; flush what is pending on the way out."""
        s = self.settings
        async with PostgresSink(s.database_url, s.db_schema) as postgres:
            self._postgres = postgres
            self._producer = AIOKafkaProducer(
                bootstrap_servers=s.kafka_bootstrap_servers, acks="all",
                enable_idempotence=True, linger_ms=s.producer_linger_ms,
            )
            self._consumer = AIOKafkaConsumer(
                bootstrap_servers=s.kafka_bootstrap_servers, group_id=s.sink_group_id,
                enable_auto_commit=False, auto_offset_reset="earliest",
                isolation_level="read_committed", max_poll_records=s.sink_batch_size,
            )
            await self._producer.start()
            try:
                await self._consumer.start()
                try:
                    self._consumer.subscribe([s.sessions_topic], listener=_FlushOnRevoke(self))
                    log.info("sink consuming %s into schema %s (batch %d, age %.2f s)",
                             s.sessions_topic, s.db_schema, s.sink_batch_size, s.sink_batch_age_s)
                    await self._loop()
                finally:
                    await self._consumer.stop()
            finally:
                await self._producer.stop()
                self._postgres = None

    async def _loop(self) -> None:
        s = self.settings
        while not self.stop.is_set():
            wait_s = s.sink_batch_age_s - self.pending.age_s() if self.pending else 0.5
            room = max(1, s.sink_batch_size - len(self.pending))
            fetched = await self._consumer.getmany(
                timeout_ms=int(max(0.0, min(wait_s, 0.5)) * 1000), max_records=room
            )
            for records in fetched.values():
                for record in records:
                    self.pending.add(record)
            if self.pending and (
                len(self.pending) >= s.sink_batch_size or self.pending.age_s() >= s.sink_batch_age_s
            ):
                await self.flush()
        if self.pending:
            await self.flush(retry_until_stopped=False)

    async def flush(self, *, retry_until_stopped: bool = True) -> bool:
        """Write the pending batch, DLQ its rejects, commit its offsets. False: not written."""
        async with self._flush_lock:
            return await self._flush(retry_until_stopped)

    async def _flush(self, retry_until_stopped: bool) -> bool:
        batch = self.pending
        if not batch:
            return True
        rows = [row for row, _record in batch.rows.values()]
        records = {row.key: record for row, record in batch.rows.values()}
        outcome = await self._write_with_retry(rows, retry_until_stopped)
        if outcome is None:
            self._rewind(batch)
            return False
        rejected = list(batch.invalid)
        rejected += [Rejected(records[row.key], REASON_DB_REJECTED, message)
                     for row, message in outcome.rejected]
        if rejected and not await self._send_dlq_with_retry(rejected, retry_until_stopped):
            self._rewind(batch)
            return False
        self.pending = PendingBatch()
        self.snapshots_written += outcome.written
        self.dlq_records += len(rejected)
        try:
            await self._consumer.commit(dict(batch.next_offsets))
        except (CommitFailedError, KafkaError) as exc:
            # The rows are in Postgres; the records will be consumed again (harmlessly).
            log.warning("sink could not commit offsets (%s); records will be replayed", exc)
        return True

    async def _write_with_retry(
        self, rows: list[SnapshotRow], retry_until_stopped: bool
    ) -> WriteOutcome | None:
        assert self._postgres is not None
        backoff = Backoff(self.settings.sink_retry_initial_s, self.settings.sink_retry_max_s)
        while True:
            try:
                outcome = await self._postgres.write(rows)
            except TransientError as exc:
                self._db_outage.failed(exc)
                if not retry_until_stopped or await sleep_or_stop(backoff.next_delay(), self.stop):
                    return None
                continue
            self._db_outage.succeeded()
            return outcome

    async def _send_dlq_with_retry(self, rejected: list[Rejected], retry: bool) -> bool:
        backoff = Backoff(self.settings.sink_retry_initial_s, self.settings.sink_retry_max_s)
        while True:
            try:
                acks = [
                    await self._producer.send(
                        self.settings.dlq_topic, key=r.record.key, value=r.record.value,
                        headers=dlq_headers(r),
                    )
                    for r in rejected
                ]
                await asyncio.gather(*acks)
                self._dlq_outage.succeeded()
                return True
            except KafkaError as exc:
                self._dlq_outage.failed(exc)
                if not retry or await sleep_or_stop(backoff.next_delay(), self.stop):
                    return False

    def _rewind(self, batch: PendingBatch) -> None:
        """Forget an unwritten batch and seek back, so its records are consumed again."""
        self.pending = PendingBatch()
        assigned = self._consumer.assignment()
        for tp, offset in batch.first_offsets.items():
            if tp in assigned:
                with contextlib.suppress(KafkaError, AssertionError, ValueError):
                    self._consumer.seek(tp, offset)

    async def flush_before_revoke(self) -> None:
        """On a rebalance: write what is pending if Postgres answers, else leave it to replay."""
        if self.pending:
            await self.flush(retry_until_stopped=False)


async def run_sink(settings: Settings, stop: asyncio.Event) -> None:
    """Run the sink until ``stop`` is set (for ``sessionizer sink`` and the worker).

    Kafka unreachable (at start, or a fault the consumer does not survive) restarts the sink
    with backoff: what was not committed is consumed again, so nothing is lost.
    """
    backoff = Backoff(settings.sink_retry_initial_s, settings.sink_retry_max_s)
    outage = OutageLog(log, "Kafka (sink)")
    while not stop.is_set():
        sink = SessionStreamSink(settings, stop)
        try:
            await _create_missing_topics(settings)
            await sink.run()
            return
        except (KafkaError, TransientError) as exc:
            outage.failed(exc)
            if sink.snapshots_written:
                backoff.reset()
            if await sleep_or_stop(backoff.next_delay(), stop):
                return


async def _create_missing_topics(settings: Settings) -> None:
    """Create the session stream and the DLQ topic when missing (existing ones are kept as is)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap_servers)
    try:
        await admin.start()
        existing = set(await admin.list_topics())
    except (KafkaError, OSError) as exc:
        raise TransientError(f"Kafka unreachable: {exc!r}") from exc
    finally:
        await admin.close()
    missing = [t for t in (settings.sessions_topic, settings.dlq_topic) if t not in existing]
    if missing:
        await ensure_topics(settings, dict.fromkeys(missing))


@contextlib.asynccontextmanager
async def sink_in_background(settings: Settings) -> AsyncIterator[asyncio.Task[None]]:
    """Run :func:`run_sink` as a background task; stop it and wait for it on exit.

    For ``sessionizer worker``: ``async with sink_in_background(settings) as task: ...``
    (``task.done()`` tells whether the sink died; its exception is raised on exit).
    """
    stop = asyncio.Event()
    task = asyncio.create_task(run_sink(settings, stop), name="postgres-sink")
    try:
        yield task
    finally:
        stop.set()
        await task
