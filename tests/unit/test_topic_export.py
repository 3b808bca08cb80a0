"""The pure rule of `sessionizer export` for one record: what `fold` must see of it."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from ingest.accepted_event import AcceptedEvent, Rejection, RejectReason
from ingest.simulated_bad_records import FILE_KINDS
from ingest.simulated_wire import DUPLICATE, VALID
from ingest.topic_export import (
    FILLED,
    NOT_FILLED_TOO_LARGE,
    SKIPPED_EMPTY,
    SKIPPED_KEY_MISMATCH,
    SKIPPED_MULTILINE,
    WRITTEN,
    export_line,
)
from ingest.traffic_simulator import SimulationConfig, TrafficSimulator
from ingest.validation import MAX_VALUE_BYTES, validate_record

STAMP_MS = int(datetime(2026, 11, 25, 10, 0, 5, 250_000, tzinfo=UTC).timestamp() * 1000)
STAMP_TEXT = "2026-11-25T10:00:05.250Z"
KEY = b"s-1"


def _event(**extra: object) -> dict[str, object]:
    return {
        "event_id": "00000000-0000-4000-8000-000000000001",
        "session_id": "s-1",
        "type": "page_view",
        "ts": "2026-11-25T10:00:00.000Z",
        "path": "/a",
        **extra,
    }


def _stream_view(value: bytes, key: bytes | None = KEY) -> AcceptedEvent | Rejection:
    return validate_record(value, key=key, check_key=True, record_timestamp_ms=STAMP_MS)


def test_received_at_is_filled_from_the_record_timestamp() -> None:
    value = json.dumps(_event(), separators=(",", ":")).encode()
    line, outcomes = export_line(value, KEY, STAMP_MS)
    assert outcomes == [WRITTEN, FILLED]
    assert line is not None
    assert line.startswith(value[:-1])  # the original bytes are kept
    assert json.loads(line)["received_at"] == STAMP_TEXT
    assert validate_record(line) == _stream_view(value)
    # without the fill, a file would fold with ts as arrival: not what the stream saw
    assert validate_record(value) != _stream_view(value)


def test_a_present_received_at_is_kept_byte_for_byte() -> None:
    value = json.dumps(_event(received_at="2026-11-25T10:00:01.000Z")).encode()
    assert export_line(value, KEY, STAMP_MS) == (value, [WRITTEN])


def test_null_received_at_counts_as_absent() -> None:
    value = json.dumps(_event(received_at=None)).encode()
    line, outcomes = export_line(value, KEY, STAMP_MS)
    assert FILLED in outcomes and line is not None
    assert json.loads(line)["received_at"] == STAMP_TEXT
    assert validate_record(line) == _stream_view(value)


def test_key_mismatch_and_missing_key_are_left_out() -> None:
    value = json.dumps(_event()).encode()
    assert export_line(value, b"s-2", STAMP_MS) == (None, [SKIPPED_KEY_MISMATCH])
    assert export_line(value, None, STAMP_MS) == (None, [SKIPPED_KEY_MISMATCH])


def test_empty_values_are_left_out() -> None:
    assert export_line(b"", KEY, STAMP_MS) == (None, [SKIPPED_EMPTY])
    assert export_line(b" \t ", KEY, STAMP_MS) == (None, [SKIPPED_EMPTY])
    assert export_line(None, KEY, STAMP_MS) == (None, [SKIPPED_EMPTY])


def test_line_breaks_between_tokens_become_spaces() -> None:
    value = json.dumps(_event(), indent=2).encode()
    line, outcomes = export_line(value, KEY, STAMP_MS)
    assert line is not None and b"\n" not in line
    assert outcomes == [WRITTEN, FILLED]
    assert validate_record(line) == _stream_view(value)


def test_bad_values_are_written_as_they_are_unless_they_span_lines() -> None:
    for value in (b"{not json", b"[1, 2]", b'{"a": NaN}'):
        assert export_line(value, KEY, STAMP_MS) == (value, [WRITTEN])
    assert export_line(b"{\n not json", KEY, STAMP_MS) == (None, [SKIPPED_MULTILINE])
    huge = b"{\n" + b" " * MAX_VALUE_BYTES + b"}"
    line, _ = export_line(huge, KEY, STAMP_MS)
    assert line is not None and len(line) == len(huge) and b"\n" not in line
    checked = validate_record(line)
    assert isinstance(checked, Rejection) and checked.reason is RejectReason.TOO_LARGE


def test_an_empty_object_gets_a_lone_member() -> None:
    line, _ = export_line(b"{ }", KEY, STAMP_MS)
    assert line is not None
    assert json.loads(line) == {"received_at": STAMP_TEXT}
    checked = validate_record(line)
    assert isinstance(checked, Rejection) and checked.reason is RejectReason.INVALID_EVENT


def test_a_value_that_the_fill_would_make_too_large_is_kept_unfilled() -> None:
    event = _event()
    padding = MAX_VALUE_BYTES - len(json.dumps({**event, "pad": ""}).encode())
    value = json.dumps({**event, "pad": "x" * padding}).encode()
    assert len(value) == MAX_VALUE_BYTES
    assert export_line(value, KEY, STAMP_MS) == (value, [WRITTEN, NOT_FILLED_TOO_LARGE])


def test_every_simulated_record_folds_as_the_stream_sees_it() -> None:
    simulator = TrafficSimulator(
        SimulationConfig(
            seed=4, sessions=80, bad_share=0.08, bad_kinds=(*FILE_KINDS, RejectReason.KEY_MISMATCH)
        )
    )
    skipped = 0
    for record in simulator.records():
        stream_view = validate_record(
            record.value, key=record.key, check_key=True, record_timestamp_ms=record.timestamp_ms
        )
        line, _ = export_line(record.value, record.key, record.timestamp_ms)
        if line is None:
            skipped += 1
            assert record.kind == RejectReason.KEY_MISMATCH.value
            continue
        file_view = validate_record(line)
        if record.kind in (VALID, DUPLICATE):
            assert isinstance(stream_view, AcceptedEvent)
            assert file_view == stream_view
        else:
            assert isinstance(stream_view, Rejection) and isinstance(file_view, Rejection)
            assert file_view.reason is stream_view.reason
            assert file_view.reason.value == record.kind
    assert skipped == simulator.summary.bad[RejectReason.KEY_MISMATCH.value] > 0
