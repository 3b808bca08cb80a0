"""The one mapping between a batch snapshot (SPEC 5) and a row of ``analytics_user_sessions``.

:func:`snapshot_to_row` checks a decoded snapshot and turns it into the values the sink writes;
:func:`row_to_snapshot` turns a stored row back into the snapshot dict, so that the table can be
compared with the offline fold column by column (use :func:`comparable` on both sides: jsonb
keeps the value of a JSON number, not its spelling).
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sessionizer.errors import PermanentError

SNAPSHOT_KEYS = (
    "session_id", "batch_seq", "batch_id", "user_id", "started_at", "ended_at",
    "path_sequence", "path_timings", "entry_point", "exit_point", "interaction_summary",
    "goal_events", "feature_interactions", "page_load_times", "error_events",
    "llm_interactions", "llm_token_usage", "llm_cost_estimate", "metadata", "session_type",
    "conversion_achieved", "version", "closed",
)
"""Snapshot keys, in the order of the sink's columns (each key is its column's name)."""

JSON_OBJECT_KEYS = frozenset(
    {"interaction_summary", "goal_events", "feature_interactions", "page_load_times", "metadata"}
)
JSON_ARRAY_KEYS = frozenset({"error_events", "llm_interactions"})
UNLINKED_USER_KEY = "_unlinked_user_id"

_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
_COST = re.compile(r"^\d+\.\d{4}$")
_INT4_MAX = 2**31 - 1
_INT8_MAX = 2**63 - 1


class InvalidSnapshot(PermanentError):
    """A session-stream value that is not a snapshot of SPEC section 5."""


@dataclass(frozen=True)
class SnapshotRow:
    """Values of one row, typed as the sink sends them (jsonb values as compact JSON text)."""

    session_id: str
    batch_seq: int
    batch_id: uuid.UUID
    user_id: uuid.UUID | None
    started_at: datetime
    ended_at: datetime
    path_sequence: str
    path_timings: str
    entry_point: str | None
    exit_point: str | None
    interaction_summary: str
    goal_events: str
    feature_interactions: str
    page_load_times: str
    error_events: str
    llm_interactions: str
    llm_token_usage: int
    llm_cost_estimate: Decimal
    metadata: str
    session_type: str | None
    conversion_achieved: bool
    version: int
    closed: bool

    @property
    def key(self) -> tuple[str, int]:
        return (self.session_id, self.batch_seq)


_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def _json_text(value: Any) -> str:
    return _ENCODER.encode(value)


def _int(snapshot: Mapping[str, Any], key: str, maximum: int) -> int:
    value = snapshot[key]
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= maximum:
        raise InvalidSnapshot(f"{key} must be an integer from 0 to {maximum}")
    return value


def _bool(snapshot: Mapping[str, Any], key: str) -> bool:
    value = snapshot[key]
    if not isinstance(value, bool):
        raise InvalidSnapshot(f"{key} must be a boolean")
    return value


def _text(snapshot: Mapping[str, Any], key: str, *, nullable: bool) -> str | None:
    value = snapshot[key]
    if value is None and nullable:
        return None
    if not isinstance(value, str):
        raise InvalidSnapshot(f"{key} must be a string" + (" or null" if nullable else ""))
    return value


def _uuid(snapshot: Mapping[str, Any], key: str, *, nullable: bool) -> uuid.UUID | None:
    value = _text(snapshot, key, nullable=nullable)
    if value is None:
        return None
    try:
        parsed = uuid.UUID(value)
    except ValueError:
        raise InvalidSnapshot(f"{key} must be a UUID") from None
    if str(parsed) != value:
        raise InvalidSnapshot(f"{key} must be a UUID in lower-case 8-4-4-4-12 form")
    return parsed


def _time(snapshot: Mapping[str, Any], key: str) -> datetime:
    value = snapshot[key]
    if not isinstance(value, str) or not _TIME.match(value):
        raise InvalidSnapshot(f"{key} must be an RFC 3339 UTC time like 2026-01-01T00:00:00.000Z")
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise InvalidSnapshot(f"{key} is not a valid date-time") from None


def format_time(value: datetime) -> str:
    """A timestamp as SPEC output text: UTC, three fraction digits, ``Z``."""
    utc = value.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def snapshot_to_row(snapshot: Any) -> SnapshotRow:
    """Check a decoded snapshot (SPEC 5) and return its row values; raise InvalidSnapshot."""
    if not isinstance(snapshot, dict):
        raise InvalidSnapshot("a snapshot must be a JSON object")
    missing = [k for k in SNAPSHOT_KEYS if k not in snapshot]
    extra = sorted(set(snapshot) - set(SNAPSHOT_KEYS))
    if missing or extra:
        raise InvalidSnapshot(f"snapshot keys wrong: missing {missing}, unexpected {extra}")
    paths = snapshot["path_sequence"]
    if not isinstance(paths, list) or not all(isinstance(p, str) for p in paths):
        raise InvalidSnapshot("path_sequence must be an array of strings")
    timings = snapshot["path_timings"]
    if not isinstance(timings, list) or not all(
        isinstance(t, int) and not isinstance(t, bool) and 0 <= t <= _INT8_MAX for t in timings
    ):
        raise InvalidSnapshot("path_timings must be an array of non-negative integers")
    for key in JSON_OBJECT_KEYS:
        if not isinstance(snapshot[key], dict):
            raise InvalidSnapshot(f"{key} must be a JSON object")
    for key in JSON_ARRAY_KEYS:
        if not isinstance(snapshot[key], list):
            raise InvalidSnapshot(f"{key} must be a JSON array")
    cost = snapshot["llm_cost_estimate"]
    if not isinstance(cost, str) or not _COST.match(cost):
        raise InvalidSnapshot("llm_cost_estimate must be a decimal string with 4 decimals")
    try:
        jsonb = {k: _json_text(snapshot[k]) for k in JSON_OBJECT_KEYS | JSON_ARRAY_KEYS}
        # a lone surrogate (JSON "\ud800") cannot be sent as UTF-8: refuse it here, by name
        for key in ("session_id", "entry_point", "exit_point", "session_type"):
            if isinstance(snapshot[key], str):
                snapshot[key].encode("utf-8")
        for text in (*jsonb.values(), *paths):
            text.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidSnapshot("snapshot holds a lone surrogate (not valid Unicode text)") from None
    except ValueError as exc:
        raise InvalidSnapshot(f"snapshot holds a value JSON cannot carry: {exc}") from None
    session_id = _text(snapshot, "session_id", nullable=False)
    batch_id = _uuid(snapshot, "batch_id", nullable=False)
    assert session_id is not None and batch_id is not None
    return SnapshotRow(
        session_id=session_id,
        batch_seq=_int(snapshot, "batch_seq", _INT4_MAX),
        batch_id=batch_id,
        user_id=_uuid(snapshot, "user_id", nullable=True),
        started_at=_time(snapshot, "started_at"),
        ended_at=_time(snapshot, "ended_at"),
        path_sequence=_json_text(paths),
        path_timings=_json_text(timings),
        entry_point=_text(snapshot, "entry_point", nullable=True),
        exit_point=_text(snapshot, "exit_point", nullable=True),
        llm_token_usage=_int(snapshot, "llm_token_usage", _INT8_MAX),
        llm_cost_estimate=Decimal(cost),
        session_type=_text(snapshot, "session_type", nullable=True),
        conversion_achieved=_bool(snapshot, "conversion_achieved"),
        version=_int(snapshot, "version", _INT8_MAX),
        closed=_bool(snapshot, "closed"),
        **jsonb,
    )


def decode_snapshot(value: bytes | None) -> SnapshotRow:
    """A session-stream record value (UTF-8 JSON) as row values; raise InvalidSnapshot."""
    if value is None:
        raise InvalidSnapshot("record has no value")
    try:
        decoded = json.loads(value.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise InvalidSnapshot(f"value is not UTF-8 JSON: {exc}") from None
    return snapshot_to_row(decoded)


def _jsonb(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def row_to_snapshot(
    row: Mapping[str, Any], *, restore_unlinked_user: bool = True
) -> dict[str, Any]:
    """A stored row (asyncpg Record or mapping) back as the snapshot dict it was written from.

    With the Supabase profile a user id without a user is stored in
    ``metadata._unlinked_user_id``; ``restore_unlinked_user`` puts it back into ``user_id``.
    """
    metadata = dict(_jsonb(row["metadata"]))
    user_id = None if row["user_id"] is None else str(row["user_id"])
    if restore_unlinked_user and user_id is None and UNLINKED_USER_KEY in metadata:
        user_id = metadata.pop(UNLINKED_USER_KEY)
    cost: Decimal = row["llm_cost_estimate"]
    return {
        "session_id": row["session_id"],
        "batch_seq": row["batch_seq"],
        "batch_id": str(row["batch_id"]),
        "user_id": user_id,
        "started_at": format_time(row["started_at"]),
        "ended_at": format_time(row["ended_at"]),
        "path_sequence": list(row["path_sequence"]),
        "path_timings": list(row["path_timings"]),
        "entry_point": row["entry_point"],
        "exit_point": row["exit_point"],
        "interaction_summary": _jsonb(row["interaction_summary"]),
        "goal_events": _jsonb(row["goal_events"]),
        "feature_interactions": _jsonb(row["feature_interactions"]),
        "page_load_times": _jsonb(row["page_load_times"]),
        "error_events": _jsonb(row["error_events"]),
        "llm_interactions": _jsonb(row["llm_interactions"]),
        "llm_token_usage": row["llm_token_usage"],
        "llm_cost_estimate": f"{cost.quantize(Decimal('0.0001')):f}",
        "metadata": metadata,
        "session_type": row["session_type"],
        "conversion_achieved": row["conversion_achieved"],
        "version": row["version"],
        "closed": row["closed"],
    }


def comparable(value: Any) -> Any:
    """A JSON value with every number as a Decimal, for comparing a row with a snapshot.

    jsonb stores a number's value, not its spelling (``1e2`` comes back as ``100``), so
    compare ``comparable(row_to_snapshot(row)) == comparable(snapshot)``.
    """
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, Decimal):
        return value
    if isinstance(value, dict):
        return {k: comparable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [comparable(v) for v in value]
    raise TypeError(f"not a JSON value: {type(value).__name__}")


SELECT_ROWS_SQL = "SELECT {columns} FROM {{table}} ORDER BY session_id, batch_seq".format(
    columns=", ".join(SNAPSHOT_KEYS)
)
"""Query (format ``table``) that reads every row in the shape :func:`row_to_snapshot` takes."""
