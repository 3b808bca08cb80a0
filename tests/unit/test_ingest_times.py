"""SPEC 2.3: RFC 3339 parsing, arrival time, skew correction, the 1-hour clamp, the range."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from ingest.accepted_event import AcceptedEvent, Rejection, RejectReason
from ingest.rfc3339 import BadDateTime, parse_rfc3339_ms
from ingest.validation import validate_record


def ms(
    year: int,
    month: int,
    day: int,
    hour: int = 0,
    minute: int = 0,
    second: int = 0,
    microsecond: int = 0,
    tz: timezone = UTC,
) -> int:
    """Epoch ms computed with the standard library (independent of the code under test)."""
    moment = datetime(year, month, day, hour, minute, second, microsecond, tzinfo=tz)
    return (moment - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(milliseconds=1)


def raw(**fields: Any) -> bytes:
    document: dict[str, Any] = {
        "event_id": "00000000-0000-4000-8000-000000000001",
        "session_id": "s-1",
        "type": "page_view",
        "path": "/",
        "ts": "2026-11-25T10:00:00Z",
    }
    for name, value in fields.items():
        if value is ...:
            document.pop(name, None)
        else:
            document[name] = value
    return json.dumps(document).encode()


def accepted(value: bytes, **options: Any) -> AcceptedEvent:
    result = validate_record(value, **options)
    assert isinstance(result, AcceptedEvent), result
    return result


def bad_timestamp(value: bytes, **options: Any) -> Rejection:
    result = validate_record(value, **options)
    assert isinstance(result, Rejection), result
    assert result.reason is RejectReason.BAD_TIMESTAMP, result
    return result


# --- the parser -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-25T10:00:00Z", ms(2026, 11, 25, 10)),
        ("2026-11-25t10:00:00z", ms(2026, 11, 25, 10)),
        ("2026-11-25T10:00:00.5Z", ms(2026, 11, 25, 10, 0, 0, 500_000)),
        ("2026-11-25T10:00:00.12Z", ms(2026, 11, 25, 10, 0, 0, 120_000)),
        ("2026-11-25T10:00:00.123999Z", ms(2026, 11, 25, 10, 0, 0, 123_000)),  # truncated
        ("2026-11-25T10:00:00.999999999999Z", ms(2026, 11, 25, 10, 0, 0, 999_000)),
        ("2026-11-25T12:00:00+02:00", ms(2026, 11, 25, 10)),
        ("2026-11-25T04:30:00-05:30", ms(2026, 11, 25, 10)),
        ("2026-11-25T10:00:00-00:00", ms(2026, 11, 25, 10)),
        ("2026-11-25T10:00:00+00:00", ms(2026, 11, 25, 10)),
        ("2026-11-26T00:30:00.9999+14:30", ms(2026, 11, 25, 10, 0, 0, 999_000)),
        ("2024-02-29T23:59:59.999Z", ms(2024, 2, 29, 23, 59, 59, 999_000)),
        ("2000-01-01T00:00:00Z", ms(2000, 1, 1)),
        ("1969-12-31T23:59:59.999Z", -1),
        ("9999-12-31T23:59:59.999Z", ms(9999, 12, 31, 23, 59, 59, 999_000)),
        ("0001-01-01T00:00:00Z", ms(1, 1, 1)),
    ],
)
def test_parse_accepts(text: str, expected: int) -> None:
    assert parse_rfc3339_ms(text) == expected


def test_parse_with_offset_and_microseconds_matches_datetime() -> None:
    tz = timezone(timedelta(hours=-7, minutes=-15))
    expected = ms(2031, 7, 4, 23, 59, 58, 987_000, tz=tz)
    assert parse_rfc3339_ms("2031-07-04T23:59:58.987654-07:15") == expected


@pytest.mark.parametrize(
    "text",
    [
        "2026-11-25",  # a date alone
        "2026-11-25T10:00:00",  # no offset
        "2026-11-25T10:00:00.123",  # no offset
        "2026-11-25 10:00:00Z",  # a space
        " 2026-11-25T10:00:00Z",
        "2026-11-25T10:00:00Z ",
        "2026-11-25T23:59:60Z",  # second 60
        "2026-11-25T24:00:00Z",
        "2026-11-25T10:60:00Z",
        "2026-02-29T10:00:00Z",  # not a leap year
        "2100-02-29T10:00:00Z",
        "2026-04-31T10:00:00Z",
        "2026-13-01T10:00:00Z",
        "2026-00-01T10:00:00Z",
        "2026-11-00T10:00:00Z",
        "2026-11-25T10:00Z",  # no seconds
        "2026-11-25T10:00:00.Z",  # "." without digits
        "2026-11-25T10:00:00,5Z",
        "2026-11-25T10:00:00+0200",
        "2026-11-25T10:00:00+02",
        "2026-11-25T10:00:00+24:00",
        "2026-11-25T10:00:00+02:60",
        "2026-11-25T10:00:00UTC",
        "26-11-25T10:00:00Z",
        "+2026-11-25T10:00:00Z",
        "２０２６-11-25T10:00:00Z",  # non-ASCII digits
        "",
    ],
)
def test_parse_rejects_text(text: str) -> None:
    with pytest.raises(BadDateTime):
        parse_rfc3339_ms(text)


@pytest.mark.parametrize("value", [1764064800000, 1.5, True, None, ["2026-11-25T10:00:00Z"]])
def test_parse_rejects_non_strings(value: object) -> None:
    with pytest.raises(BadDateTime):
        parse_rfc3339_ms(value)


# --- times in events ------------------------------------------------------------------------


@pytest.mark.parametrize("field", ["ts", "sent_at", "received_at"])
@pytest.mark.parametrize(
    "bad", [1764064800000, "2026-11-25", "2026-11-25T10:00:00", "2026-11-25T23:59:60Z", True]
)
def test_bad_time_fields(field: str, bad: Any) -> None:
    assert bad_timestamp(raw(**{field: bad})).fields == (field,)


def test_ts_required_null_is_absent() -> None:
    assert bad_timestamp(raw(ts=...)).fields == ("ts",)
    assert bad_timestamp(raw(ts=None)).fields == ("ts",)
    accepted(raw(sent_at=None, received_at=None))


def test_offline_arrival_falls_back_to_ts() -> None:
    event = accepted(raw(ts="2026-11-25T12:00:00.250+02:00"))
    assert event.arrival_ms == event.event_time_ms == ms(2026, 11, 25, 10, 0, 0, 250_000)


def test_arrival_is_received_at_then_record_timestamp() -> None:
    record_ts = ms(2026, 11, 25, 10, 0, 5)
    event = accepted(raw(), record_timestamp_ms=record_ts)
    assert event.arrival_ms == record_ts
    assert event.event_time_ms == ms(2026, 11, 25, 10)
    event = accepted(raw(received_at="2026-11-25T10:00:07Z"), record_timestamp_ms=record_ts)
    assert event.arrival_ms == ms(2026, 11, 25, 10, 0, 7)


def test_record_timestamp_minus_one_means_none() -> None:
    event = accepted(raw(), record_timestamp_ms=-1)
    assert event.arrival_ms == ms(2026, 11, 25, 10)


def test_sent_at_corrects_client_clock_skew() -> None:
    # SPEC example 06: client clock 2 h ahead
    event = accepted(
        raw(
            ts="2026-11-25T12:00:00.000Z",
            sent_at="2026-11-25T12:00:01.000Z",
            received_at="2026-11-25T10:00:01.500Z",
        )
    )
    assert event.arrival_ms == ms(2026, 11, 25, 10, 0, 1, 500_000)
    assert event.event_time_ms == ms(2026, 11, 25, 10, 0, 0, 500_000)


def test_sent_at_with_record_timestamp_and_offline() -> None:
    value = raw(ts="2026-11-25T10:00:00Z", sent_at="2026-11-25T10:00:30Z")
    event = accepted(value, record_timestamp_ms=ms(2026, 11, 25, 9, 0, 40))
    assert event.event_time_ms == ms(2026, 11, 25, 9, 0, 10)
    event = accepted(value)  # offline: arrival = ts
    assert event.event_time_ms == ms(2026, 11, 25, 9, 59, 30)


def test_event_time_clamped_when_more_than_one_hour_after_arrival() -> None:
    arrival = ms(2026, 11, 25, 10)
    received = "2026-11-25T10:00:00Z"
    exactly = accepted(raw(ts="2026-11-25T11:00:00Z", received_at=received))
    assert exactly.event_time_ms == arrival + 3_600_000
    over = accepted(raw(ts="2026-11-25T11:00:00.001Z", received_at=received))
    assert over.event_time_ms == arrival
    # SPEC example 06, third line: 3 h ahead, no sent_at
    clamped = accepted(raw(ts="2026-11-25T13:00:00Z", received_at="2026-11-25T10:00:10Z"))
    assert clamped.event_time_ms == ms(2026, 11, 25, 10, 0, 10)


def test_event_time_in_the_past_is_kept() -> None:
    event = accepted(raw(ts="2026-11-24T10:00:00Z", received_at="2026-11-25T10:00:00Z"))
    assert event.event_time_ms == ms(2026, 11, 24, 10)


def test_range_bounds() -> None:
    accepted(raw(ts="2000-01-01T00:00:00Z"))
    accepted(raw(ts="2000-01-01T01:00:00+01:00"))
    accepted(raw(ts="9999-12-31T23:59:59.999Z"))
    accepted(raw(ts="9999-12-31T23:59:59.9999999Z"))
    bad_timestamp(raw(ts="1999-12-31T23:59:59.999Z"))
    bad_timestamp(raw(ts="2000-01-01T00:59:59.999+01:00"))
    bad_timestamp(raw(ts="9999-12-31T23:59:59.999-00:01"))
    bad_timestamp(raw(ts="0000-01-01T00:00:00Z"))
    bad_timestamp(raw(), record_timestamp_ms=ms(1999, 12, 31))


def test_arithmetic_leaving_the_range_is_rejected() -> None:
    # ts - sent_at pushes event time before 2000
    result = bad_timestamp(
        raw(ts="2026-11-25T10:00:00Z", sent_at="9000-01-01T00:00:00Z", received_at=None)
    )
    assert result.fields == ("ts", "sent_at")
    # and beyond 9999: rejected, although the 1-hour clamp would bring it back
    bad_timestamp(raw(ts="9999-12-31T00:00:00Z", sent_at="2000-01-01T00:00:00Z"))
    bad_timestamp(
        raw(ts="9999-12-31T23:59:59-01:00", received_at="2026-11-25T10:00:00Z"),
    )
    # far in the future but inside the range: clamped to arrival
    event = accepted(raw(ts="9999-12-31T00:00:00Z", received_at="2026-11-25T10:00:00Z"))
    assert event.event_time_ms == ms(2026, 11, 25, 10)
    # ts before 2000 corrected into the range by sent_at: accepted
    corrected = accepted(
        raw(
            ts="1980-01-01T00:00:00Z",
            sent_at="1980-01-01T00:00:02Z",
            received_at="2026-11-25T10:00:02Z",
        )
    )
    assert corrected.event_time_ms == ms(2026, 11, 25, 10)


def test_received_at_out_of_range_is_rejected() -> None:
    assert bad_timestamp(raw(received_at="1990-01-01T00:00:00Z")).fields == ("received_at",)
