"""Helpers for the Postgres sink, migration and view tests (not a test module)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from decimal import Decimal
from typing import Any

import asyncpg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from sessionizer.settings import Settings
from sinks.session_stream_sink import SessionStreamSink
from sinks.snapshot_rows import SELECT_ROWS_SQL, row_to_snapshot

BATCH_NAMESPACE = uuid.UUID("9e05bf9a-aea3-586d-a760-652c572132f7")


def batch_id(session_id: str, batch_seq: int) -> str:
    return str(uuid.uuid5(BATCH_NAMESPACE, f"{session_id}:{batch_seq}"))


def make_snapshot(session_id: str, batch_seq: int = 0, version: int = 1,
                  **overrides: Any) -> dict[str, Any]:
    """A valid SPEC 5 snapshot whose content depends on ``version`` (so versions differ)."""
    paths = [f"/p{i}" for i in range(1 + version % 4)]
    snapshot: dict[str, Any] = {
        "session_id": session_id,
        "batch_seq": batch_seq,
        "batch_id": batch_id(session_id, batch_seq),
        "user_id": None,
        "started_at": "2026-11-25T10:00:00.000Z",
        "ended_at": f"2026-11-25T10:{version % 60:02d}:{version % 59:02d}.{version % 1000:03d}Z",
        "path_sequence": paths,
        "path_timings": [i * 1000 for i in range(len(paths))],
        "entry_point": paths[0],
        "exit_point": paths[-1],
        "interaction_summary": {"btn": version},
        "goal_events": {},
        "feature_interactions": {"chat": version},
        "page_load_times": {"/p0": 100 + version},
        "error_events": [],
        "llm_interactions": [{"model": "m", "tokens": version, "cost": 0.001,
                              "timestamp": "2026-11-25T10:00:01.000Z"}],
        "llm_token_usage": version,
        "llm_cost_estimate": f"{Decimal(version) / 1000:.4f}",
        "metadata": {"v": version},
        "session_type": "standard",
        "conversion_achieved": False,
        "version": version,
        "closed": False,
    }
    snapshot.update(overrides)
    return snapshot


def encode(snapshot: dict[str, Any]) -> bytes:
    return json.dumps(snapshot, ensure_ascii=False).encode("utf-8")


def sink_settings(test_settings: Settings, schema: str, **overrides: Any) -> Settings:
    update: dict[str, Any] = {
        "db_schema": schema, "sink_retry_initial_s": 0.1, "sink_retry_max_s": 1.0,
    }
    update.update(overrides)
    return test_settings.model_copy(update=update)


async def produce(bootstrap: str, topic: str,
                  records: Iterable[tuple[bytes | None, bytes]]) -> int:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=5, acks="all")
    await producer.start()
    count = 0
    try:
        for key, value in records:
            await producer.send(topic, key=key, value=value)
            count += 1
        await producer.flush()
    finally:
        await producer.stop()
    return count


async def produce_snapshots(bootstrap: str, topic: str, snapshots: Iterable[dict[str, Any]]) -> int:
    return await produce(
        bootstrap, topic, ((s["session_id"].encode(), encode(s)) for s in snapshots)
    )


@contextlib.asynccontextmanager
async def running_sink(settings: Settings) -> AsyncIterator[SessionStreamSink]:
    """Run the sink loop in a task; stop it (and surface its errors) on exit."""
    stop = asyncio.Event()
    sink = SessionStreamSink(settings, stop)
    task = asyncio.create_task(sink.run())
    try:
        yield sink
    finally:
        stop.set()
        await asyncio.wait_for(task, timeout=60)


async def wait_until(check: Callable[[], Awaitable[bool]], timeout_s: float,
                     what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if await check():
            return
        await asyncio.sleep(0.25)
    raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")


async def stored_snapshots(conn: asyncpg.Connection, schema: str) -> dict[tuple[str, int],
                                                                           dict[str, Any]]:
    rows = await conn.fetch(SELECT_ROWS_SQL.format(table=f'"{schema}".analytics_user_sessions'))
    return {(r["session_id"], r["batch_seq"]): row_to_snapshot(r) for r in rows}


async def row_count(conn: asyncpg.Connection, schema: str) -> int:
    return int(await conn.fetchval(f'SELECT count(*) FROM "{schema}".analytics_user_sessions'))


async def read_topic(bootstrap: str, topic: str, expected: int,
                     timeout_s: float = 20.0) -> list[Any]:
    """Every record of ``topic`` (reading from the start until ``expected`` or the timeout)."""
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap,
                                auto_offset_reset="earliest", enable_auto_commit=False)
    await consumer.start()
    records: list[Any] = []
    try:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and len(records) < expected:
            fetched = await consumer.getmany(timeout_ms=500)
            for batch in fetched.values():
                records.extend(batch)
        # a little longer, to see records beyond the expected ones
        fetched = await consumer.getmany(timeout_ms=1000)
        for batch in fetched.values():
            records.extend(batch)
    finally:
        await consumer.stop()
    return records


AUTH_STANDIN_SQL = """
SELECT pg_advisory_xact_lock(4242424242);
CREATE SCHEMA IF NOT EXISTS auth;
CREATE TABLE IF NOT EXISTS auth.users (id uuid PRIMARY KEY, email text);
CREATE OR REPLACE FUNCTION auth.uid() RETURNS uuid LANGUAGE sql STABLE AS
  $$ SELECT nullif(current_setting('request.jwt.claim.sub', true), '')::uuid $$;
DO $do$ BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'authenticated') THEN
    CREATE ROLE authenticated NOLOGIN;
  END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'anon') THEN
    CREATE ROLE anon NOLOGIN;
  END IF;
END $do$;
GRANT USAGE ON SCHEMA auth TO authenticated, anon;
"""


async def install_auth_standin(database_url: str) -> None:
    """A small stand-in for Supabase's auth schema: auth.users, auth.uid(), the roles."""
    conn = await asyncpg.connect(database_url)
    try:
        async with conn.transaction():
            await conn.execute(AUTH_STANDIN_SQL)
    finally:
        await conn.close()
