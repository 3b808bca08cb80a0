"""bench/e2e: one measurement each: the two ceilings, the pipeline, the latency at one rate."""

from __future__ import annotations

import asyncio
import signal
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
from aiokafka import AIOKafkaConsumer
from aiokafka.structs import TopicPartition

from bench.e2e_data import (
    Expected,
    GoalMark,
    Record,
    bench_producer,
    create_schema,
    drop_schema,
    end_offsets_total,
    rows_written,
    table_name,
)
from bench.e2e_worker import (
    RunNames,
    WorkerGroup,
    start_profiler,
)
from ingest.validation import validate_record
from sessionizer.settings import Settings

FETCH_RECORDS = 10_000


# --- ceilings --------------------------------------------------------------------------------


async def read_topic_rate(bootstrap: str, topic: str, total: int, *, decode: bool) -> float:
    """events/s of one plain consumer reading ``topic`` from offset 0 to its end."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, group_id=None,
        max_partition_fetch_bytes=4 * 1_048_576, fetch_max_bytes=64 * 1_048_576,
    )
    await consumer.start()
    try:
        await consumer._client.force_metadata_update()
        partitions = consumer.partitions_for_topic(topic) or set()
        tps = [TopicPartition(topic, p) for p in sorted(partitions)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        seen = 0
        started = time.perf_counter()
        while seen < total:
            batches = await consumer.getmany(timeout_ms=1000, max_records=FETCH_RECORDS)
            for records in batches.values():
                seen += len(records)
                if decode:
                    for r in records:
                        validate_record(
                            r.value, key=r.key, check_key=True, record_timestamp_ms=r.timestamp
                        )
        return seen / (time.perf_counter() - started)
    finally:
        await consumer.stop()


# --- the pipeline ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PipelineResult:
    events_per_s: float
    seconds: float  # first event processed .. table complete
    startup_s: float  # worker spawned .. first event processed
    lag_zero_s: float  # first event .. every event folded
    cpu_s_per_million: float
    peak_rss_mib: float
    rows_per_event: float
    changelog_per_event: float
    snapshots_per_event: float


async def _table_state(conn: Any, schema: str) -> tuple[int, int]:
    row = await conn.fetchrow(
        f"SELECT count(*) AS n, coalesce(sum(version), 0) AS v FROM {table_name(schema)}"
    )
    return int(row["n"]), int(row["v"])


async def run_pipeline(
    base: Settings, names: RunNames, expected: Expected, events: int, *, partitions: int,
    say: Any, timeout_s: float, profile: Path | None = None,
    worker_env: dict[str, str] | None = None, workers: int = 1,
) -> PipelineResult:
    """The workers from offset 0 until every event is folded and the table equals the fold."""
    await create_schema(base.database_url, names.schema)
    worker = WorkerGroup(base, names, partitions=partitions, count=workers, extra_env=worker_env)
    conn = await asyncpg.connect(base.database_url)
    try:
        spawned = time.perf_counter()
        worker.start()
        profiler = None if profile is None else start_profiler(worker.pids[0], profile)
        first_at = cpu_at_first = None
        folded_at = None
        deadline = spawned + timeout_s
        while True:
            worker.check_alive()
            now = time.perf_counter()
            if now > deadline:
                raise RuntimeError(f"pipeline not complete after {timeout_s:.0f} s")
            if first_at is None:
                count = await worker.metric("sessionizer_worker_events_total")
                if count:
                    first_at, cpu_at_first = time.perf_counter(), worker.cpu_seconds()
                    say(f"  first events after {first_at - spawned:.1f} s")
                await asyncio.sleep(0.05)
                continue
            if folded_at is None:
                count = await worker.metric("sessionizer_worker_events_total")
                if count is not None and count >= events:
                    folded_at = time.perf_counter()
            rows, version_sum = await _table_state(conn, names.schema)
            if rows == expected.rows and version_sum == expected.version_sum:
                done_at = time.perf_counter()
                break
            await asyncio.sleep(0.1)
        cpu = worker.cpu_seconds() - (cpu_at_first or 0.0)
        if profiler is not None:
            profiler.send_signal(signal.SIGINT)
            profiler.wait(30)
        _, peak_kib = worker.memory_kib()
        if folded_at is None:
            folded_at = done_at
        written = await rows_written(conn, names.schema)
        changelog = await end_offsets_total(base.kafka_bootstrap_servers, names.changelog_topic)
        snapshots = await end_offsets_total(base.kafka_bootstrap_servers, names.sessions_topic)
        seconds = done_at - first_at
        return PipelineResult(
            events_per_s=events / seconds,
            seconds=seconds,
            startup_s=first_at - spawned,
            lag_zero_s=folded_at - first_at,
            cpu_s_per_million=cpu / events * 1e6,
            peak_rss_mib=peak_kib / 1024,
            rows_per_event=written / events,
            changelog_per_event=changelog / events,
            snapshots_per_event=snapshots / events,
        )
    finally:
        worker.stop()
        await conn.close()
        await drop_schema(base.database_url, names.schema)


# --- latency ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LatencyResult:
    rate: float  # events/s asked for
    achieved_rate: float  # events/s actually sent
    goals: int  # goal rows observed
    p50_ms: float
    p99_ms: float
    max_ms: float


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(share * (len(ordered) - 1))))
    return ordered[index]


async def _wait_ready(worker: WorkerGroup, conn: Any, names: RunNames, bootstrap: str,
                      warmup: Record, timeout_s: float) -> None:
    """Send one goal event and wait for its row: the worker and its sink are running."""
    producer = bench_producer(bootstrap)
    await producer.start()
    try:
        await (await producer.send(names.raw_topic, warmup.value, key=warmup.key,
                                   timestamp_ms=warmup.timestamp_ms))
    finally:
        await producer.stop()
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        worker.check_alive()
        if await conn.fetchval(f"SELECT count(*) FROM {table_name(names.schema)}"):
            return
        await asyncio.sleep(0.2)
    raise RuntimeError(f"worker not ready after {timeout_s:.0f} s:\n{worker.log_tail()}")


async def run_latency(
    base: Settings, names: RunNames, records: list[Record], goals: list[GoalMark],
    warmup: Record, rate: float, *, partitions: int, poll_s: float, say: Any,
    worker_env: dict[str, str] | None = None, workers: int = 1,
) -> LatencyResult:
    """Send ``records`` at ``rate`` on a schedule; time each goal from schedule to its row.

    Latency runs from the *scheduled* send time of the goal event (not the moment the
    sender got to it), so a sender or pipeline that falls behind shows up in the figures
    (no coordinated omission). Rows are polled every ``poll_s``: that is the resolution.
    """
    await create_schema(base.database_url, names.schema)
    worker = WorkerGroup(base, names, partitions=partitions, count=workers, extra_env=worker_env)
    conn = await asyncpg.connect(base.database_url)
    latencies: list[float] = []
    try:
        worker.start()
        await _wait_ready(worker, conn, names, base.kafka_bootstrap_servers, warmup, 120.0)
        if workers > 1:
            await worker.wait_balanced(partitions, 120.0)
        by_index = {g.index: g for g in goals}
        scheduled: dict[tuple[str, int], list[tuple[int, float]]] = {}
        producer = bench_producer(base.kafka_bootstrap_servers)
        await producer.start()
        sending_done = asyncio.Event()
        start = time.perf_counter() + 0.2
        sent_at_end = 0.0

        async def send_all() -> None:
            nonlocal sent_at_end
            try:
                for index, r in enumerate(records):
                    due = start + index / rate
                    delay = due - time.perf_counter()
                    if delay > 0.002:
                        await asyncio.sleep(delay)
                    mark = by_index.get(index)
                    if mark is not None:
                        scheduled.setdefault((mark.session_id, mark.batch_seq), []).append(
                            (mark.version, due)
                        )
                    await producer.send(names.raw_topic, r.value, key=r.key,
                                        timestamp_ms=r.timestamp_ms)
                await producer.flush()
                sent_at_end = time.perf_counter()
            finally:
                sending_done.set()

        sender = asyncio.create_task(send_all())
        table = table_name(names.schema)
        give_up = start + len(records) / rate + 60.0
        while True:
            worker.check_alive()
            keys = [k for k, marks in scheduled.items() if marks]
            if keys:
                rows = await conn.fetch(
                    f"SELECT session_id, batch_seq, version FROM {table} "
                    "WHERE (session_id, batch_seq) IN "
                    "(SELECT * FROM unnest($1::text[], $2::int[]))",
                    [k[0] for k in keys], [k[1] for k in keys],
                )
                seen_at = time.perf_counter()
                for row in rows:
                    marks = scheduled[(row["session_id"], row["batch_seq"])]
                    done = [m for m in marks if m[0] <= row["version"]]
                    for _, due in done:
                        latencies.append((seen_at - due) * 1000)
                    marks[:] = [m for m in marks if m[0] > row["version"]]
            if sending_done.is_set() and not any(scheduled.values()):
                break
            if time.perf_counter() > give_up:
                missing = sum(len(m) for m in scheduled.values())
                say(f"  {missing} goal rows not seen 60 s after the last send")
                break
            await asyncio.sleep(poll_s)
        await sender
        await producer.stop()
        achieved = len(records) / max(sent_at_end - start, 1e-9)
        return LatencyResult(
            rate=rate, achieved_rate=achieved, goals=len(latencies),
            p50_ms=_percentile(latencies, 0.50), p99_ms=_percentile(latencies, 0.99),
            max_ms=max(latencies, default=float("nan")),
        )
    finally:
        worker.stop()
        await conn.close()
        await drop_schema(base.database_url, names.schema)
