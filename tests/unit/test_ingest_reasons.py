"""SPEC 2.4: every rejection reason, accepted neighbours, and the priority of reasons."""

from __future__ import annotations

import json
from typing import Any

import pytest

from ingest.accepted_event import AcceptedEvent, Rejection, RejectReason
from ingest.validation import validate_record

SESSION = "sess-Ä1"


def document(**fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "event_id": "00000000-0000-4000-8000-000000000001",
        "session_id": SESSION,
        "type": "page_view",
        "path": "/",
        "ts": "2026-11-25T10:00:00Z",
    }
    for name, value in fields.items():
        if value is ...:
            base.pop(name, None)
        else:
            base[name] = value
    return base


def raw(**fields: Any) -> bytes:
    return json.dumps(document(**fields)).encode()


def reason(value: bytes, **options: Any) -> RejectReason | None:
    result = validate_record(value, **options)
    if isinstance(result, AcceptedEvent):
        return None
    assert isinstance(result, Rejection)
    assert result.message
    return result.reason


def with_unknown_field(literal: bytes) -> bytes:
    """A valid event carrying ``literal`` (raw JSON text) in an unknown field."""
    return raw()[:-1] + b', "extra": ' + literal + b"}"


# --- too_large ------------------------------------------------------------------------------


def _padded(size: int) -> bytes:
    value = raw(pad="")
    padded = value.replace(b'"pad": ""', b'"pad": "' + b"x" * (size - len(value)) + b'"')
    assert len(padded) == size
    return padded


def test_value_of_65536_bytes_accepted() -> None:
    assert reason(_padded(65_536)) is None


def test_value_of_65537_bytes_too_large() -> None:
    assert reason(_padded(65_537)) is RejectReason.TOO_LARGE


def test_too_large_wins_over_bad_json() -> None:
    assert reason(b"\xff" * 65_537) is RejectReason.TOO_LARGE
    assert reason(b"[" * 70_000) is RejectReason.TOO_LARGE


# --- bad_json -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        b"",
        b" ",
        b"\xef\xbb\xbf" + raw(),  # UTF-8 byte-order mark
        b"\xff\xfe" + json.dumps(document()).encode("utf-16-le"),
        json.dumps(document(path="/é"), ensure_ascii=False).encode("latin-1"),
        raw()[:-1] + b', "x": "\xed\xa0\x80"}',  # an encoded surrogate is not UTF-8
        raw()[:-1] + b', "x": "\xc0\xaf"}',  # overlong encoding
        b"not json",
        raw()[:-1],  # truncated
        raw() + b"{}",  # trailing data
        raw() + b"x",
        b"[" + raw() + b"]",  # not an object
        b'"a string"',
        b"42",
        b"null",
        b"true",
        b"{'single': 'quotes'}",
        raw()[:-1] + b', "x": "tab\there"}',  # raw control character in a string
        raw()[:-1] + b", }",  # trailing comma
    ],
)
def test_bad_json(value: bytes) -> None:
    assert reason(value) is RejectReason.BAD_JSON


@pytest.mark.parametrize(
    "literal",
    [b"NaN", b"-NaN", b"Infinity", b"-Infinity", b"1e400", b"-1e400", b"1.8e308", b"[1e999]"],
)
def test_bad_json_numbers(literal: bytes) -> None:
    assert reason(with_unknown_field(literal)) is RejectReason.BAD_JSON


def test_int64_bounds() -> None:
    assert reason(with_unknown_field(str(2**63 - 1).encode())) is None
    assert reason(with_unknown_field(str(-(2**63)).encode())) is None
    assert reason(with_unknown_field(str(2**63).encode())) is RejectReason.BAD_JSON
    assert reason(with_unknown_field(str(-(2**63) - 1).encode())) is RejectReason.BAD_JSON
    assert reason(with_unknown_field(b"9" * 5000)) is RejectReason.BAD_JSON


def test_float_range_bounds() -> None:
    assert reason(with_unknown_field(b"1.7976931348623157e308")) is None
    assert reason(with_unknown_field(b"-1.7976931348623157e308")) is None
    assert reason(with_unknown_field(b"1e-400")) is None  # underflow is not beyond the range


def _nested_arrays(levels: int) -> bytes:
    return b"[" * levels + b"]" * levels


def test_nesting_32_levels_accepted_33_rejected() -> None:
    # the top-level object is level 1, so 31 arrays inside it make 32 levels
    assert reason(with_unknown_field(_nested_arrays(31))) is None
    assert reason(with_unknown_field(_nested_arrays(32))) is RejectReason.BAD_JSON


def test_nesting_counts_objects_and_metadata_too() -> None:
    inner: Any = {}
    for _ in range(30):
        inner = {"k": inner}
    # top level (1) + metadata (2) + 30 nested objects = 32
    assert reason(raw(metadata=inner)) is None
    assert reason(raw(metadata={"k": inner})) is RejectReason.BAD_JSON


def test_brackets_inside_strings_do_not_nest() -> None:
    assert reason(raw(note="[" * 100 + "{" * 100)) is None


@pytest.mark.parametrize("levels", [1_000, 10_000, 32_000])
def test_very_deep_nesting_is_bad_json_not_a_crash(levels: int) -> None:
    assert reason(with_unknown_field(_nested_arrays(levels))) is RejectReason.BAD_JSON
    objects = min(levels, 10_000)  # 6 bytes a level: stay under 65,536 bytes
    assert reason(b'{"a":' * objects + b"1" + b"}" * objects) is RejectReason.BAD_JSON


def test_bad_json_wins_over_invalid_event() -> None:
    value = json.dumps(document(event_id="nope", type="nope"))[:-1] + ', "x": NaN}'
    assert reason(value.encode()) is RejectReason.BAD_JSON


def test_duplicate_keys_last_wins() -> None:
    value = raw(path=...)[:-1] + b', "path": 5, "path": "/b"}'
    result = validate_record(value)
    assert isinstance(result, AcceptedEvent)
    assert result.path == "/b"


# --- invalid_event over bad_timestamp over key_mismatch -------------------------------------


def test_invalid_event_wins_over_bad_timestamp_and_key() -> None:
    value = raw(event_id="nope", ts="yesterday")
    assert reason(value, key=b"other", check_key=True) is RejectReason.INVALID_EVENT


def test_bad_timestamp_wins_over_key_mismatch() -> None:
    value = raw(ts="2026-11-25")
    assert reason(value, key=b"other", check_key=True) is RejectReason.BAD_TIMESTAMP
    assert reason(value, key=None, check_key=True) is RejectReason.BAD_TIMESTAMP


# --- key_mismatch ---------------------------------------------------------------------------


def test_key_equal_to_session_id_as_sent_is_accepted() -> None:
    assert reason(raw(), key=SESSION.encode(), check_key=True) is None


@pytest.mark.parametrize(
    "key",
    [None, b"", b"other", SESSION.upper().encode(), SESSION.encode() + b" ", SESSION.encode()[:-1]],
)
def test_key_mismatch(key: bytes | None) -> None:
    result = validate_record(raw(), key=key, check_key=True)
    assert isinstance(result, Rejection)
    assert result.reason is RejectReason.KEY_MISMATCH
    assert result.fields == ("session_id",)


def test_key_not_checked_unless_asked() -> None:
    assert reason(raw(), key=b"other") is None
    assert reason(raw(), key=None) is None


def test_key_is_compared_with_the_session_id_as_sent_not_sanitized() -> None:
    # a session id with a character that sanitizing would touch is invalid anyway
    result = validate_record(raw(session_id="a\u0000"), key=b"a", check_key=True)
    assert isinstance(result, Rejection)
    assert result.reason is RejectReason.INVALID_EVENT


def test_stream_and_offline_agree_on_an_accepted_event() -> None:
    value = raw(received_at="2026-11-25T10:00:01Z")
    offline = validate_record(value)
    stream = validate_record(value, key=SESSION.encode(), check_key=True, record_timestamp_ms=5)
    assert isinstance(offline, AcceptedEvent)
    assert offline == stream


def test_tombstone_value_is_rejected_not_a_crash() -> None:
    result = validate_record(None, key=b"k", check_key=True)
    assert isinstance(result, Rejection)
    assert result.reason is RejectReason.BAD_JSON
