"""The pure part of the collector: body parsing, received_at stamping, per-event validation."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from ingest.accepted_event import AcceptedEvent
from ingest.collector_body import (
    MAX_BODY_BYTES,
    MAX_EVENTS,
    BodyError,
    collect_events,
    encode_event,
    format_received_at,
    parse_body,
)
from ingest.validation import validate_record

RECEIVED_MS = 1_764_064_800_120  # 2025-11-25T10:00:00.120Z


def event(**fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "event_id": "0b9f6f7e-6a35-4c0b-9a55-0d5c7c1c2a11",
        "session_id": "s-1",
        "type": "page_view",
        "ts": "2025-11-25T09:59:59.000Z",
        "path": "/home",
    }
    base.update(fields)
    return base


def test_one_object_or_an_array() -> None:
    one = event()
    assert parse_body(json.dumps(one).encode()) == [one]
    assert parse_body(json.dumps([one, 1, "x"]).encode()) == [one, 1, "x"]
    assert parse_body(b"[]") == []


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        (b"{", 400, "bad_json"),
        (b"", 400, "bad_json"),
        (b"\xff{}", 400, "bad_json"),
        ("\ufeff{}".encode(), 400, "bad_json"),
        (b'"text"', 400, "bad_json"),
        (b"12", 400, "bad_json"),
        (b"[" * 100_000 + b"]" * 100_000, 400, "bad_json"),
        (json.dumps([{}] * (MAX_EVENTS + 1)).encode(), 413, "too_many_events"),
        (b" " * (MAX_BODY_BYTES + 1), 413, "body_too_large"),
    ],
)
def test_refused_bodies(body: bytes, status: int, code: str) -> None:
    with pytest.raises(BodyError) as caught:
        parse_body(body)
    assert (caught.value.status, caught.value.code) == (status, code)
    assert caught.value.message


def test_exactly_the_limits_are_accepted() -> None:
    assert len(parse_body(json.dumps([{}] * MAX_EVENTS).encode())) == MAX_EVENTS
    padded = b"{}" + b" " * (MAX_BODY_BYTES - 2)
    assert parse_body(padded) == [{}]


def test_received_at_is_rfc3339_utc_with_milliseconds() -> None:
    for ms in (0, 5, RECEIVED_MS, 253_402_300_799_999):
        expected = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=ms)
        text = format_received_at(ms)
        assert text == expected.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"
    assert format_received_at(RECEIVED_MS) == "2025-11-25T10:00:00.120Z"


def test_encode_stamps_received_at_over_the_clients_and_keeps_unicode() -> None:
    value = encode_event(event(received_at="2000-01-01T00:00:00Z", path="/ü"), "STAMP")
    assert value is not None
    assert "/ü".encode() in value and b"\\u00fc" not in value
    assert b" " not in value  # compact
    decoded = json.loads(value)
    assert decoded["received_at"] == "STAMP"
    assert list(decoded) == ["event_id", "session_id", "type", "ts", "path", "received_at"]


def test_lone_surrogates_stay_escapes_so_validation_sanitizes_them() -> None:
    body = b'{"event_id": "0b9f6f7e-6a35-4c0b-9a55-0d5c7c1c2a11", "session_id": "s",'
    body += b' "type": "page_view", "ts": "2025-11-25T09:59:59Z", "path": "/a\\ud800b"}'
    [parsed] = parse_body(body)
    value = encode_event(parsed, format_received_at(RECEIVED_MS))
    assert value is not None
    assert b"\\ud800" in value
    checked = validate_record(value)
    assert isinstance(checked, AcceptedEvent)
    assert checked.path == "/a\ufffdb"


def test_collect_keeps_indexes_keys_and_stamps() -> None:
    events = [
        event(),
        event(session_id="s-\ud800"),  # session_id is never sanitized: invalid_event
        [1],
        event(event_id="0B9F6F7E-6A35-4C0B-9A55-0D5C7C1C2A12", session_id="s-ß", cost=float("nan")),
        event(metadata={"pad": "x" * 70_000}),
        event(ts="yesterday"),
        event(session_id="s-2", ts="2025-11-25T12:00:00+02:00"),
    ]
    collected, rejected = collect_events(events, RECEIVED_MS)

    assert [(r.index, r.rejection.reason.value) for r in rejected] == [
        (1, "invalid_event"),
        (2, "bad_json"),
        (3, "bad_json"),
        (4, "too_large"),
        (5, "bad_timestamp"),
    ]
    assert [c.index for c in collected] == [0, 6]
    assert [c.key for c in collected] == [b"s-1", b"s-2"]
    for item in collected:
        assert item.timestamp_ms == RECEIVED_MS
        assert json.loads(item.value)["received_at"] == "2025-11-25T10:00:00.120Z"
        assert validate_record(item.value, key=item.key, check_key=True) == item.event
    assert rejected[0].as_json()["reason"] == "invalid_event"
    assert set(rejected[0].as_json()) == {"index", "reason", "message"}
