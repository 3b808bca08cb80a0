"""`sessionizer check` against a real Postgres schema filled by the sink's writer."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from ingest.traffic_simulator import SimulationConfig, TrafficSimulator
from sessionizer.commands.check import read_table
from sessionizer.settings import PROJECT_ROOT
from sinks.migrations import migrate
from sinks.postgres_sink import PostgresSink
from sinks.snapshot_rows import snapshot_to_row
from sinks.table_check import compare_tables, expected_columns
from streams.offline_fold import fold_lines
from tests.integration.conftest import PgSchema

GAP_MS = 30 * 60 * 1000


@dataclass
class Filled:
    schema: str
    database_url: str
    events_file: Path
    snapshots: list[dict[str, Any]]


@pytest.fixture
async def filled(pg_schema: PgSchema, database_url: str, tmp_path: Path) -> Filled:
    await migrate(database_url, pg_schema.name)
    simulator = TrafficSimulator(SimulationConfig(seed=99, sessions=150))
    events_file = tmp_path / "events.jsonl"
    events_file.write_bytes(b"".join(r.value + b"\n" for r in simulator.records()))
    snapshots = fold_lines(events_file.read_bytes().splitlines(), gap_ms=GAP_MS).snapshots
    rows = [snapshot_to_row(snapshot) for snapshot in snapshots]
    async with PostgresSink(database_url, pg_schema.name) as sink:
        for start in range(0, len(rows), 500):
            outcome = await sink.write(rows[start : start + 500])
            assert not outcome.rejected
    return Filled(pg_schema.name, database_url, events_file, snapshots)


async def _run_check(database_url: str, *args: str) -> tuple[int, str, str]:
    env = {**os.environ, "DATABASE_URL": database_url}
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "sessionizer.cli",
        "check",
        *args,
        cwd=PROJECT_ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    async with asyncio.timeout(180):
        out, err = await proc.communicate()
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def test_a_table_written_from_the_fold_matches(filled: Filled) -> None:
    rows = await read_table(filled.database_url, filled.schema)
    assert len(rows) == len(filled.snapshots) > 150
    result = compare_tables((expected_columns(s) for s in filled.snapshots), rows)
    assert result.all_match, [d.describe() for d in result.differences]

    code, out, err = await _run_check(
        filled.database_url, str(filled.events_file), "--schema", filled.schema
    )
    assert code == 0, out + err
    n = len(filled.snapshots)
    assert f"matched {n}, missing 0, extra 0, differing 0" in out


async def test_deliberate_mismatches_are_reported(filled: Filled, tmp_path: Path) -> None:
    changed, removed = filled.snapshots[3], filled.snapshots[7]
    conn = await asyncpg.connect(filled.database_url)
    try:
        table = f'"{filled.schema}".analytics_user_sessions'
        await conn.execute(
            f"UPDATE {table} SET version = version - 1, metadata = metadata || "
            '\'{"plan": "tampered"}\' WHERE session_id = $1 AND batch_seq = $2',
            changed["session_id"],
            changed["batch_seq"],
        )
        await conn.execute(
            f"DELETE FROM {table} WHERE session_id = $1 AND batch_seq = $2",
            removed["session_id"],
            removed["batch_seq"],
        )
        await conn.execute(
            f"INSERT INTO {table} (session_id, batch_seq, batch_id, version, closed) "
            "VALUES ('s-stray', 0, gen_random_uuid(), 1, false)"
        )
    finally:
        await conn.close()

    code, out, _ = await _run_check(
        filled.database_url, str(filled.events_file), "--schema", filled.schema, "--show", "5"
    )
    assert code == 1
    n = len(filled.snapshots)
    assert f"matched {n - 2}, missing 1, extra 1, differing 1" in out
    assert f"{removed['session_id']} batch {removed['batch_seq']}" in out
    assert "s-stray batch 0" in out
    version_line = next(line for line in out.splitlines() if " version: " in line)
    assert changed["session_id"] in version_line
    assert f"expected {changed['version']}, actual {changed['version'] - 1}" in (version_line)
    assert "tampered" in out  # the metadata difference is shown

    # the fold output given directly (--snapshots) says the same
    folded = tmp_path / "folded.jsonl"
    folded.write_text("".join(json.dumps(s) + "\n" for s in filled.snapshots))
    code, out, _ = await _run_check(
        filled.database_url, str(folded), "--snapshots", "--schema", filled.schema
    )
    assert code == 1
    assert f"matched {n - 2}, missing 1, extra 1, differing 1" in out


async def test_bad_arguments_and_missing_table(filled: Filled) -> None:
    code, _, err = await _run_check(filled.database_url, "--schema", filled.schema)
    assert code == 2
    assert "FILE or --from-topic" in err
    code, _, err = await _run_check(filled.database_url, "/no/such/file.jsonl")
    assert code == 2
    code, _, err = await _run_check(
        filled.database_url, str(filled.events_file), "--schema", "no_such_schema_x"
    )
    assert code == 1
    assert "sessionizer migrate" in err
