"""bench/e2e: the simulated events (generated once, cached), what they fold to, and the stack.

The events are :class:`ingest.traffic_simulator.TrafficSimulator` records (1 % bad, 1 %
duplicates, realistic session mix). Generating 1,000,000 takes about half a minute, so they are
cached under ``.dev/bench/`` with the offline fold's expectation (rows and the sum of their
versions): the table is complete when ``count(*)`` and ``sum(version)`` reach both (a row's
version never goes down and never passes the fold's, so equal sums mean every row is final).
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import struct
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from ingest.accepted_event import Rejection
from ingest.traffic_simulator import SimulationConfig, TrafficSimulator
from ingest.validation import validate_record
from sessionizer.settings import PROJECT_ROOT
from sinks.migrations import migrate, quote_ident
from streams.session_fold import apply_event, final_snapshot
from streams.session_state import SessionState

CACHE_DIR = PROJECT_ROOT / ".dev" / "bench"
_RECORD = struct.Struct(">HIq")  # key length, value length, timestamp ms


@dataclass(frozen=True, slots=True)
class Record:
    key: bytes
    value: bytes
    timestamp_ms: int


@dataclass(frozen=True, slots=True)
class Expected:
    """What the offline fold of the records gives: rows, their version sum, and counts."""

    rows: int
    version_sum: int
    sessions: int
    accepted: int
    rejected: int
    duplicates: int


@dataclass(frozen=True, slots=True)
class GoalMark:
    """A goal event (record ``index``) and the row version that shows it in Postgres."""

    index: int
    session_id: str
    batch_seq: int
    version: int


def simulate(events: int, seed: int) -> list[Record]:
    config = SimulationConfig(seed=seed, events=events)
    return [
        Record(r.key, r.value, r.timestamp_ms) for r in TrafficSimulator(config).records()
    ]


def fold(records: list[Record], gap_ms: int) -> tuple[Expected, list[GoalMark]]:
    """The offline fold of ``records`` as the stream sees them (key and record timestamp)."""
    states: dict[str, SessionState] = {}
    latest: dict[tuple[str, int], int] = {}
    goals: list[GoalMark] = []
    accepted = rejected = duplicates = 0
    for index, record in enumerate(records):
        checked = validate_record(
            record.value, key=record.key, check_key=True, record_timestamp_ms=record.timestamp_ms
        )
        if isinstance(checked, Rejection):
            rejected += 1
            continue
        outcome = apply_event(states.get(checked.session_id), checked, gap_ms=gap_ms)
        if outcome.duplicate:
            duplicates += 1
            continue
        accepted += 1
        states[checked.session_id] = outcome.state
        for snapshot in outcome.snapshots:
            key = (snapshot["session_id"], snapshot["batch_seq"])
            latest[key] = max(latest.get(key, 0), snapshot["version"])
        if checked.type == "goal" and outcome.snapshots:
            last = outcome.snapshots[-1]
            goals.append(GoalMark(index, last["session_id"], last["batch_seq"], last["version"]))
    for state in states.values():
        final = final_snapshot(state)
        if final is not None:
            key = (final["session_id"], final["batch_seq"])
            latest[key] = max(latest.get(key, 0), final["version"])
    expected = Expected(
        len(latest), sum(latest.values()), len(states), accepted, rejected, duplicates
    )
    return expected, goals


def _write_cache(path: Path, records: list[Record]) -> None:
    tmp = path.with_suffix(".tmp")
    with tmp.open("wb") as out:
        for r in records:
            out.write(_RECORD.pack(len(r.key), len(r.value), r.timestamp_ms))
            out.write(r.key)
            out.write(r.value)
    tmp.replace(path)


def _read_cache(path: Path) -> Iterator[Record]:
    data = path.read_bytes()
    view = memoryview(data)
    at = 0
    size = _RECORD.size
    while at < len(data):
        key_len, value_len, timestamp_ms = _RECORD.unpack_from(data, at)
        at += size
        key = bytes(view[at : at + key_len])
        at += key_len
        yield Record(key, bytes(view[at : at + value_len]), timestamp_ms)
        at += value_len


def load_events(events: int, seed: int, gap_ms: int, say: Any) -> tuple[list[Record], Expected]:
    """The ``events`` simulated records of ``seed`` and their fold (cached on disk)."""
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    stem = CACHE_DIR / f"e2e-seed{seed}-{events}-gap{gap_ms}"
    data_path, meta_path = stem.with_suffix(".bin"), stem.with_suffix(".json")
    if data_path.exists() and meta_path.exists():
        records = list(_read_cache(data_path))
        expected = Expected(**json.loads(meta_path.read_text()))
        say(f"{len(records):,} events read from {data_path}")
        return records, expected
    started = time.monotonic()
    records = simulate(events, seed)
    say(f"{len(records):,} events simulated in {time.monotonic() - started:.0f} s")
    started = time.monotonic()
    expected, _ = fold(records, gap_ms)
    say(f"offline fold in {time.monotonic() - started:.0f} s: {expected}")
    _write_cache(data_path, records)
    meta_path.write_text(json.dumps(dataclasses.asdict(expected)))
    return records, expected


# --- Kafka -------------------------------------------------------------------------------


async def create_topic(bootstrap: str, name: str, partitions: int) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(name, partitions, 1)])
        for _ in range(50):
            if name in set(await admin.list_topics()):
                return
            await asyncio.sleep(0.1)
    finally:
        await admin.close()


async def delete_topics_with(bootstrap: str, token: str) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        names = [n for n in await admin.list_topics() if token in n]
        if names:
            await admin.delete_topics(names)
    finally:
        await admin.close()


def bench_producer(bootstrap: str) -> AIOKafkaProducer:
    return AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", enable_idempotence=True, linger_ms=10,
        max_batch_size=262_144, max_request_size=1_048_576,
    )


async def produce_all(bootstrap: str, topic: str, records: list[Record]) -> float:
    """Produce in order and wait for every ack; returns events/s."""
    producer = bench_producer(bootstrap)
    await producer.start()
    started = time.monotonic()
    try:
        pending = []
        for r in records:
            pending.append(
                await producer.send(topic, r.value, key=r.key, timestamp_ms=r.timestamp_ms)
            )
            if len(pending) >= 20_000:
                await asyncio.gather(*pending)
                pending.clear()
        await asyncio.gather(*pending)
    finally:
        await producer.stop()
    return len(records) / max(time.monotonic() - started, 1e-9)


async def end_offsets_total(bootstrap: str, topic: str) -> int:
    """Messages in ``topic`` (sum of end offsets; 0 when it does not exist)."""
    from aiokafka import AIOKafkaConsumer
    from aiokafka.structs import TopicPartition

    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        await consumer._client.force_metadata_update()
        partitions = consumer.partitions_for_topic(topic) or set()
        if not partitions:
            return 0
        ends = await consumer.end_offsets([TopicPartition(topic, p) for p in partitions])
        return int(sum(ends.values()))
    finally:
        await consumer.stop()


# --- Postgres ------------------------------------------------------------------------------


async def create_schema(database_url: str, schema: str) -> None:
    await migrate(database_url, schema)


async def drop_schema(database_url: str, schema: str) -> None:
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute(f"DROP SCHEMA IF EXISTS {quote_ident(schema)} CASCADE")
    finally:
        await conn.close()


def table_name(schema: str) -> str:
    return f"{quote_ident(schema)}.analytics_user_sessions"


async def rows_written(conn: Any, schema: str) -> int:
    """Rows inserted plus rows updated in the table (Postgres statistics, settled)."""
    last = -1
    for _ in range(20):
        await conn.execute("SELECT pg_stat_clear_snapshot()")
        value = await conn.fetchval(
            "SELECT n_tup_ins + n_tup_upd FROM pg_stat_user_tables "
            "WHERE schemaname = $1 AND relname = 'analytics_user_sessions'",
            schema,
        )
        now = int(value or 0)
        if now == last and now > 0:
            return now
        last = now
        await asyncio.sleep(0.6)
    return last
