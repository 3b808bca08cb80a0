"""The pure comparison behind `sessionizer check`: rows as asyncpg returns them vs snapshots."""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

import pytest

from sinks.table_check import (
    COMPARED_COLUMNS,
    actual_columns,
    canonical,
    compare_tables,
    expected_columns,
)
from tests.spec_examples import SPEC_EXAMPLES

EXAMPLES = SPEC_EXAMPLES


def _expected_snapshots(name: str) -> list[dict[str, Any]]:
    path = EXAMPLES / f"{name}.expected.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _as_stored_row(snapshot: dict[str, Any]) -> dict[str, Any]:
    """The row asyncpg would return for a snapshot written by the sink (built by hand here).

    jsonb comes back as text (no codec), uuid as UUID, timestamptz as aware datetime, arrays as
    lists, numeric as Decimal; the generated columns as Postgres computes them.
    """
    started = datetime.fromisoformat(snapshot["started_at"])
    ended = datetime.fromisoformat(snapshot["ended_at"])
    paths = list(snapshot["path_sequence"])
    row: dict[str, Any] = {
        "session_id": snapshot["session_id"],
        "batch_seq": snapshot["batch_seq"],
        "batch_id": uuid.UUID(snapshot["batch_id"]),
        "user_id": None if snapshot["user_id"] is None else uuid.UUID(snapshot["user_id"]),
        "started_at": started,
        "ended_at": ended,
        "path_sequence": paths,
        "path_timings": list(snapshot["path_timings"]),
        "entry_point": snapshot["entry_point"],
        "exit_point": snapshot["exit_point"],
        "llm_token_usage": snapshot["llm_token_usage"],
        "llm_cost_estimate": Decimal(snapshot["llm_cost_estimate"]),
        "session_type": snapshot["session_type"],
        "conversion_achieved": snapshot["conversion_achieved"],
        "version": snapshot["version"],
        "closed": snapshot["closed"],
        "session_duration_ms": round((ended - started).total_seconds() * 1000),
        "pages_visited": len(paths),
        "bounce_session": len(paths) == 1,
    }
    for key in (
        "interaction_summary",
        "goal_events",
        "feature_interactions",
        "page_load_times",
        "error_events",
        "llm_interactions",
        "metadata",
    ):
        row[key] = json.dumps(snapshot[key])
    return row


@pytest.fixture
def snapshots() -> list[dict[str, Any]]:
    return _expected_snapshots("02-rotation") + _expected_snapshots("01-basic-shape")


def _compare(snapshots: list[dict[str, Any]], rows: list[dict[str, Any]], keep: int = 20) -> Any:
    return compare_tables(
        (expected_columns(s) for s in snapshots),
        (actual_columns(r) for r in rows),
        keep=keep,
    )


def test_rows_written_from_the_snapshots_match(snapshots: list[dict[str, Any]]) -> None:
    result = _compare(snapshots, [_as_stored_row(s) for s in snapshots])
    assert result.all_match
    assert result.matched == len(snapshots) >= 4
    assert (result.missing, result.extra, result.differing) == (0, 0, 0)


def test_generated_columns_are_computed_from_the_snapshot() -> None:
    basic = _expected_snapshots("01-basic-shape")[0]
    columns = expected_columns(basic)
    # 10:00:00.000 to 10:00:11.000 in the example's expected output
    assert columns["session_duration_ms"] == 11_000
    assert columns["pages_visited"] == 2
    assert columns["bounce_session"] is False
    assert set(columns) == set(COMPARED_COLUMNS)


def test_a_lower_version_is_a_difference(snapshots: list[dict[str, Any]]) -> None:
    rows = [_as_stored_row(s) for s in snapshots]
    rows[1]["version"] -= 1
    result = _compare(snapshots, rows)
    assert not result.all_match
    assert (result.matched, result.differing) == (len(snapshots) - 1, 1)
    [difference] = result.differences
    assert difference.column == "version"
    assert difference.expected == snapshots[1]["version"]
    assert difference.actual == snapshots[1]["version"] - 1
    assert (difference.session_id, difference.batch_seq) == (
        snapshots[1]["session_id"],
        snapshots[1]["batch_seq"],
    )
    assert "version" in difference.describe()


def test_missing_and_extra_rows_are_counted(snapshots: list[dict[str, Any]]) -> None:
    rows = [_as_stored_row(s) for s in snapshots[1:]]
    stranger = _as_stored_row(snapshots[0])
    stranger["session_id"] = "s-not-in-the-fold"
    rows.append(stranger)
    result = _compare(snapshots, rows)
    assert (result.missing, result.extra, result.differing) == (1, 1, 0)
    assert result.missing_keys == [(snapshots[0]["session_id"], snapshots[0]["batch_seq"])]
    assert result.extra_keys == [("s-not-in-the-fold", snapshots[0]["batch_seq"])]
    assert not result.all_match


def test_jsonb_number_spelling_does_not_matter() -> None:
    basic = _expected_snapshots("01-basic-shape")[0]
    row = _as_stored_row(basic)
    # jsonb gives the value back, not the spelling: 0.006 may read as 0.0060, 1200 as 1200.0
    details = json.loads(row["llm_interactions"])
    text = json.dumps(details).replace('"cost": 0.006', '"cost": 0.0060')
    assert text != json.dumps(details)
    row["llm_interactions"] = text
    assert _compare([basic], [row]).all_match


def test_a_boolean_never_equals_a_number() -> None:
    assert canonical(True) != canonical(1)
    assert canonical({"a": [1, 2.5]}) == canonical({"a": [Decimal("1.0"), Decimal("2.50")]})
    basic = _expected_snapshots("01-basic-shape")[0]
    row = _as_stored_row(basic)
    row["closed"] = 0
    result = _compare([basic], [row])
    assert [d.column for d in result.differences] == ["closed"]


def test_a_wrong_generated_column_is_reported() -> None:
    basic = _expected_snapshots("01-basic-shape")[0]
    row = _as_stored_row(basic)
    row["session_duration_ms"] += 1
    row["bounce_session"] = True
    result = _compare([basic], [row])
    assert result.differing == 1
    assert {d.column for d in result.differences} == {"session_duration_ms", "bounce_session"}
    assert result.differing_columns == {"session_duration_ms": 1, "bounce_session": 1}


def test_a_user_kept_in_metadata_counts_as_the_user_id() -> None:
    basic = _expected_snapshots("01-basic-shape")[0]
    assert basic["user_id"] is not None
    row = _as_stored_row(basic)
    metadata = json.loads(row["metadata"])
    metadata["_unlinked_user_id"] = basic["user_id"]
    row["metadata"] = json.dumps(metadata)
    row["user_id"] = None
    assert _compare([basic], [row]).all_match


def test_kept_lists_are_capped_but_counts_are_complete(snapshots: list[dict[str, Any]]) -> None:
    rows = [_as_stored_row(s) for s in snapshots]
    for row in rows:
        row["version"] += 5
        row["path_timings"] = [*row["path_timings"], 1]
    result = _compare(snapshots, rows, keep=3)
    assert result.differing == len(snapshots)
    assert len(result.differences) == 3
    assert result.differing_columns == {"version": len(snapshots), "path_timings": len(snapshots)}


def test_a_row_the_sink_could_not_write_is_a_difference_not_a_crash() -> None:
    basic = _expected_snapshots("01-basic-shape")[0]
    row = _as_stored_row(basic)
    row["ended_at"] = None
    row["session_duration_ms"] = None
    result = _compare([basic], [row])
    assert result.differing == 1
    assert {d.column for d in result.differences} == {"ended_at", "session_duration_ms"}
