"""`sessionizer migrate`: idempotent, refuses unknown migrations, comments everything."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import asyncpg
import pytest

from sessionizer.errors import ConfigError
from sinks.migrations import PROFILES, load_migrations, migrate
from sinks.postgres_sink import PostgresSink
from sinks.snapshot_rows import snapshot_to_row
from tests.integration.conftest import PgSchema
from tests.integration.sink_test_support import make_snapshot

ROOT = Path(__file__).resolve().parents[2]
ALL_CORE = [m.label for m in load_migrations("core")]


def _cli(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SESSIONIZER_")}
    env["DATABASE_URL"] = database_url
    return subprocess.run(
        [sys.executable, "-m", "sessionizer.cli", "migrate", *args],
        env=env, cwd=ROOT, capture_output=True, text=True, timeout=120, check=False,
    )


async def test_cli_migrates_an_empty_schema_then_has_nothing_to_do(
    database_url: str, pg_schema: PgSchema, pg_conn: asyncpg.Connection
) -> None:
    first = _cli(database_url, "--schema", pg_schema.name)
    assert first.returncode == 0, first.stderr
    assert [line.removeprefix("applied ") for line in first.stdout.splitlines()] == ALL_CORE
    second = _cli(database_url, "--schema", pg_schema.name)
    assert second.returncode == 0, second.stderr
    assert "up to date" in second.stdout and "applied" not in second.stdout.replace(
        "migrations applied", "")
    recorded = await pg_conn.fetch(
        "SELECT profile, number, name FROM sessionizer_migrations ORDER BY profile, number")
    assert [f"{r['profile']}/{r['number']:04d}_{r['name']}" for r in recorded] == ALL_CORE
    assert await pg_conn.fetchval("SELECT to_regclass('analytics_user_sessions')") is not None


async def test_refuses_a_database_with_an_unknown_migration(
    database_url: str, pg_schema: PgSchema, pg_conn: asyncpg.Connection
) -> None:
    await migrate(database_url, pg_schema.name)
    await pg_conn.execute(
        "INSERT INTO sessionizer_migrations (profile, number, name, checksum) "
        "VALUES ('core', 999, 'from_the_future', 'x')")
    with pytest.raises(ConfigError, match="does not know"):
        await migrate(database_url, pg_schema.name)
    result = _cli(database_url, "--schema", pg_schema.name)
    assert result.returncode != 0 and "does not know" in result.stderr


async def test_refuses_a_changed_migration(
    database_url: str, pg_schema: PgSchema, pg_conn: asyncpg.Connection
) -> None:
    await migrate(database_url, pg_schema.name)
    await pg_conn.execute(
        "UPDATE sessionizer_migrations SET checksum = 'edited' WHERE number = 1")
    with pytest.raises(ConfigError, match="changed"):
        await migrate(database_url, pg_schema.name)


async def _uncommented(conn: asyncpg.Connection, schema: str) -> list[str]:
    relations = await conn.fetch(
        """SELECT c.relname, c.relkind, obj_description(c.oid, 'pg_class') AS comment
           FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
           WHERE n.nspname = $1 AND c.relkind IN ('r', 'v', 'm', 'p')""", schema)
    columns = await conn.fetch(
        """SELECT c.relname, a.attname, col_description(c.oid, a.attnum) AS comment
           FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
           JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
           WHERE n.nspname = $1 AND c.relkind IN ('r', 'v', 'm', 'p')""", schema)
    assert len(relations) >= 6 and len(columns) > 40  # the objects exist at all
    return [f"{r['relname']}" for r in relations if not (r["comment"] or "").strip()] + [
        f"{c['relname']}.{c['attname']}" for c in columns if not (c["comment"] or "").strip()]


async def test_every_table_view_and_column_has_a_comment(
    database_url: str, pg_schema: PgSchema, pg_conn: asyncpg.Connection
) -> None:
    await migrate(database_url, pg_schema.name)
    assert await _uncommented(pg_conn, pg_schema.name) == []


async def test_table_shape_generated_columns_and_checks(
    database_url: str, pg_schema: PgSchema, pg_conn: asyncpg.Connection
) -> None:
    await migrate(database_url, pg_schema.name)
    types = dict(await pg_conn.fetch(
        """SELECT column_name, data_type FROM information_schema.columns
           WHERE table_schema = $1 AND table_name = 'analytics_user_sessions'""",
        pg_schema.name))
    assert types["session_duration_ms"] == "bigint"
    assert types["version"] == "bigint" and types["closed"] == "boolean"
    precision = await pg_conn.fetchrow(
        """SELECT numeric_precision, numeric_scale FROM information_schema.columns
           WHERE table_schema = $1 AND table_name = 'analytics_user_sessions'
             AND column_name = 'llm_cost_estimate'""", pg_schema.name)
    assert tuple(precision) == (14, 4)
    long_batch = make_snapshot("s-long", started_at="2026-01-01T00:00:00.000Z",
                               ended_at="2026-03-01T00:00:00.250Z", path_sequence=[],
                               path_timings=[], entry_point=None, exit_point=None)
    async with PostgresSink(database_url, pg_schema.name) as sink:
        outcome = await sink.write([snapshot_to_row(long_batch)])
        assert outcome.rejected == [] and outcome.written == 1
        too_many = make_snapshot("s-big", path_sequence=[f"/{i}" for i in range(101)],
                                 path_timings=[0] * 101)
        bad = await sink.write([snapshot_to_row(too_many)])
        assert bad.written == 0 and "check_path_sequence_size" in bad.rejected[0][1]
    row = await pg_conn.fetchrow(
        "SELECT session_duration_ms, pages_visited, bounce_session FROM analytics_user_sessions")
    assert row["session_duration_ms"] == (59 * 86400 * 1000) + 250  # > 2^31 ms
    assert row["pages_visited"] == 0 and row["bounce_session"] is False
    uniques = {r["indexdef"].split(" USING ")[1] for r in await pg_conn.fetch(
        "SELECT indexdef FROM pg_indexes WHERE schemaname = $1 AND indexdef LIKE 'CREATE UNIQUE%'",
        pg_schema.name) if " USING " in r["indexdef"]}
    assert "btree (session_id, batch_seq)" in uniques and "btree (batch_id)" in uniques


def test_every_profile_has_migrations() -> None:
    for profile in PROFILES:
        assert load_migrations(profile), profile
