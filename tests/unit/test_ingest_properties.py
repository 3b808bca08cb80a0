"""Properties: validate_record never raises, and what it accepts keeps the SPEC 2 guarantees."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ingest.accepted_event import AcceptedEvent, Rejection
from ingest.event_fields import METADATA_MAX_BYTES, metadata_size
from ingest.event_times import MAX_TIME_MS, MIN_TIME_MS
from ingest.validation import validate_record

# every code point, lone surrogates and U+0000 included
_any_char = st.characters(min_codepoint=0, max_codepoint=0x10FFFF, exclude_categories=())
_strings = st.text(_any_char, max_size=12)
_times = st.one_of(
    st.sampled_from(
        [
            "2026-11-25T10:00:00Z",
            "2026-11-25T10:00:00.999999-00:00",
            "2026-11-25T11:00:00.001+01:00",
            "9999-12-31T23:59:59.999Z",
            "2000-01-01T00:00:00Z",
            "1999-12-31T23:59:59Z",
            "2026-11-25T23:59:60Z",
            "2026-11-25",
        ]
    ),
    _strings,
)
_json_values = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(min_value=-(2**64), max_value=2**64),
        st.floats(),
        _strings,
        _times,
    ),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_strings, inner, max_size=3),
    max_leaves=8,
)
_FIELDS = [
    "event_id",
    "session_id",
    "type",
    "ts",
    "sent_at",
    "received_at",
    "user_id",
    "path",
    "name",
    "page",
    "load_ms",
    "error_type",
    "message",
    "model",
    "tokens",
    "cost",
    "prompt_tokens",
    "completion_tokens",
    "response_ms",
    "stopped",
    "chat_id",
    "message_id",
    "finish_reason",
    "metadata",
]
_TYPES = st.sampled_from(
    [
        "page_view",
        "interaction",
        "feature_use",
        "goal",
        "page_load",
        "error",
        "llm_usage",
        "context",
        "session_end",
    ]
)


@st.composite
def event_like_objects(draw: st.DrawFn) -> dict[str, Any]:
    """Objects with the event's field names and values of any JSON kind."""
    document: dict[str, Any] = {
        "event_id": draw(st.one_of(st.uuids().map(str), _strings)),
        "session_id": draw(_strings),
        "type": draw(st.one_of(_TYPES, _json_values)),
        "ts": draw(_times),
    }
    for name in draw(st.lists(st.sampled_from(_FIELDS), max_size=8)):
        document[name] = draw(
            st.one_of(_json_values, st.dictionaries(_strings, _json_values, max_size=4))
        )
    return document


def _check_accepted(event: AcceptedEvent) -> None:
    assert MIN_TIME_MS <= event.arrival_ms <= MAX_TIME_MS
    assert MIN_TIME_MS <= event.event_time_ms <= event.arrival_ms + 3_600_000
    strings = [
        value
        for value in (event.path, event.name, event.page, event.error_type, event.message)
        if value is not None
    ] + [value for value in event.llm_extra.values() if isinstance(value, str)]
    if event.metadata is not None:
        assert metadata_size(dict(event.metadata)) <= METADATA_MAX_BYTES
        strings.append(json.dumps(event.metadata, ensure_ascii=False))
    for text in [*strings, event.session_id]:
        assert "\x00" not in text
        text.encode("utf-8")  # raises on a lone surrogate
    assert event.event_id == event.event_id.lower()


def _check(result: object) -> None:
    assert isinstance(result, AcceptedEvent | Rejection)
    if isinstance(result, AcceptedEvent):
        _check_accepted(result)
    else:
        assert result.message


@settings(max_examples=300)
@given(st.binary(max_size=300), st.none() | st.binary(max_size=8), st.booleans())
def test_never_raises_for_arbitrary_bytes(value: bytes, key: bytes | None, check: bool) -> None:
    _check(validate_record(value, key=key, check_key=check))


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(_strings, _json_values, max_size=6))
def test_never_raises_for_arbitrary_json_objects(document: dict[str, Any]) -> None:
    value = json.dumps(document).encode("utf-8")  # lone surrogates escaped as \udxxx
    _check(validate_record(value))


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(
    event_like_objects(),
    st.none() | st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.booleans(),
)
def test_never_raises_for_event_like_objects(
    document: dict[str, Any], record_timestamp_ms: int | None, ensure_ascii: bool
) -> None:
    try:
        value = json.dumps(document, ensure_ascii=ensure_ascii).encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate cannot be UTF-8 unless escaped
        value = json.dumps(document).encode("utf-8")
    session_id = document["session_id"]
    key = session_id.encode("utf-8", "surrogatepass") if isinstance(session_id, str) else None
    offline = validate_record(value)
    stream = validate_record(
        value, key=key, check_key=True, record_timestamp_ms=record_timestamp_ms
    )
    _check(offline)
    _check(stream)
    if isinstance(stream, AcceptedEvent):
        # the key check and the record timestamp change nothing else
        assert isinstance(offline, AcceptedEvent)
        assert offline.session_id == stream.session_id
        assert offline.event_id == stream.event_id


@settings(max_examples=200)
@given(st.text(_any_char, max_size=40).map(lambda text: text.encode("utf-8", "surrogatepass")))
def test_never_raises_for_text_that_looks_like_json(value: bytes) -> None:
    _check(validate_record(b'{"event_id":' + value + b"}"))
