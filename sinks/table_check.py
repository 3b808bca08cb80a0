"""Compare the rows of ``analytics_user_sessions`` with the snapshots the offline fold gives.

Rows and snapshots are matched on (``session_id``, ``batch_seq``) and compared on every column
but ``id``, ``created_at`` and ``updated_at``: the snapshot's columns (read back from the row
with :func:`sinks.snapshot_rows.row_to_snapshot`, compared as JSON values, numbers by value)
and the generated columns ``session_duration_ms``, ``pages_visited`` and ``bounce_session``,
computed from the snapshot the way the table computes them. Pure: rows come in as mappings.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from sinks.snapshot_rows import SNAPSHOT_KEYS, format_time, row_to_snapshot

GENERATED_COLUMNS = ("session_duration_ms", "pages_visited", "bounce_session")
COMPARED_COLUMNS = SNAPSHOT_KEYS + GENERATED_COLUMNS
"""Every column compared, in table order of the snapshot, then the generated ones."""

BatchKey = tuple[str, int]


@dataclass(frozen=True, slots=True)
class ColumnDifference:
    """One column of one batch whose stored value differs from the fold's."""

    session_id: str
    batch_seq: int
    column: str
    expected: Any
    actual: Any

    def describe(self, width: int = 200) -> str:
        return (
            f"{self.session_id} batch {self.batch_seq} {self.column}: "
            f"expected {_shorten(self.expected, width)}, actual {_shorten(self.actual, width)}"
        )


@dataclass(slots=True)
class TableComparison:
    """Counts of a comparison, with the first keys and differences of each kind."""

    matched: int = 0
    missing: int = 0  # in the fold, not in the table
    extra: int = 0  # in the table, not in the fold
    differing: int = 0  # in both, some column differs
    missing_keys: list[BatchKey] = field(default_factory=list)
    extra_keys: list[BatchKey] = field(default_factory=list)
    differences: list[ColumnDifference] = field(default_factory=list)
    differing_columns: dict[str, int] = field(default_factory=dict)  # column -> rows

    @property
    def all_match(self) -> bool:
        return self.missing == 0 and self.extra == 0 and self.differing == 0

    def describe(self) -> str:
        return (
            f"matched {self.matched}, missing {self.missing}, extra {self.extra}, "
            f"differing {self.differing}"
        )


def _shorten(value: Any, width: int) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str, sort_keys=True)
    return text if len(text) <= width else text[: width - 3] + "..."


def canonical(value: Any) -> Any:
    """A JSON value in a form where ``==`` is JSON equality: numbers by value, and a boolean
    never equal to a number (Python's ``True == 1`` would hide such a difference)."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return ("boolean", value)
    if isinstance(value, int | Decimal):
        return Decimal(value)
    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, Mapping):
        return {key: canonical(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [canonical(item) for item in value]
    return ("other", repr(value))


def _parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text)


def expected_columns(snapshot: Mapping[str, Any]) -> dict[str, Any]:
    """A fold snapshot as the row it should be: its keys plus the generated columns."""
    columns = {key: snapshot[key] for key in SNAPSHOT_KEYS}
    started, ended = snapshot["started_at"], snapshot["ended_at"]
    if started is None or ended is None:
        duration = None
    else:
        delta = _parse_time(ended) - _parse_time(started)
        duration = (delta.days * 86_400 + delta.seconds) * 1000 + delta.microseconds // 1000
    paths = len(snapshot["path_sequence"])
    columns["session_duration_ms"] = duration
    columns["pages_visited"] = paths
    columns["bounce_session"] = paths == 1
    return columns


def _plain(value: Any) -> Any:
    """One stored value as JSON-like data, whatever it holds (NULLs included)."""
    if isinstance(value, datetime):
        return format_time(value)
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, Decimal):  # numeric(14,4): the snapshot's four-decimal text
        return f"{value.quantize(Decimal('0.0001')):f}"
    if isinstance(value, str):
        try:
            return json.loads(value) if value[:1] in ("{", "[") else value
        except ValueError:
            return value
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    return value


def actual_columns(row: Mapping[str, Any]) -> dict[str, Any]:
    """A stored row (with the generated columns selected too) in the same form.

    A row the sink could not have written (NULL times, say) is still read, column by column,
    so that it shows up as a difference instead of stopping the check.
    """
    try:
        columns = row_to_snapshot(row)
    except (TypeError, AttributeError, ValueError, KeyError):
        columns = {key: _plain(row.get(key)) for key in SNAPSHOT_KEYS}
    for name in GENERATED_COLUMNS:
        columns[name] = row[name]
    return columns


def compare_batch(expected: Mapping[str, Any], actual: Mapping[str, Any]) -> list[ColumnDifference]:
    """Every column of one batch whose values differ (both in :func:`expected_columns` form)."""
    differences = []
    for column in COMPARED_COLUMNS:
        want, have = expected.get(column), actual.get(column)
        if canonical(want) != canonical(have):
            differences.append(
                ColumnDifference(expected["session_id"], expected["batch_seq"], column, want, have)
            )
    return differences


def compare_tables(
    expected: Iterable[Mapping[str, Any]],
    actual: Iterable[Mapping[str, Any]],
    *,
    keep: int = 20,
) -> TableComparison:
    """Compare expected rows with actual rows (both in :func:`expected_columns` form).

    ``keep``: how many missing keys, extra keys and column differences to keep for display
    (the counts are always complete).
    """
    wanted: dict[BatchKey, Mapping[str, Any]] = {}
    for columns in expected:
        wanted[(columns["session_id"], columns["batch_seq"])] = columns
    result = TableComparison()
    seen: set[BatchKey] = set()
    for columns in actual:
        key = (columns["session_id"], columns["batch_seq"])
        seen.add(key)
        want = wanted.get(key)
        if want is None:
            result.extra += 1
            if len(result.extra_keys) < keep:
                result.extra_keys.append(key)
            continue
        differences = compare_batch(want, columns)
        if not differences:
            result.matched += 1
            continue
        result.differing += 1
        for difference in differences:
            counts = result.differing_columns
            counts[difference.column] = counts.get(difference.column, 0) + 1
            if len(result.differences) < keep:
                result.differences.append(difference)
    for key in sorted(wanted.keys() - seen):
        result.missing += 1
        if len(result.missing_keys) < keep:
            result.missing_keys.append(key)
    return result
