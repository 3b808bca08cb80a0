"""SPEC 2.2: U+0000 removed and lone surrogates replaced, in every string but session_id."""

from __future__ import annotations

import json
from typing import Any

import pytest

from ingest.accepted_event import AcceptedEvent
from ingest.sanitize import clean_json_value, has_forbidden_code_points, sanitize_text
from ingest.validation import validate_record


def raw(event_type: str, **fields: Any) -> bytes:
    document = {
        "event_id": "00000000-0000-4000-8000-000000000001",
        "session_id": "s-1",
        "type": event_type,
        "ts": "2026-11-25T10:00:00Z",
        **fields,
    }
    # ensure_ascii (the default) writes U+0000 as \u0000 and a lone surrogate as \udxxx
    return json.dumps(document).encode()


def accepted(value: bytes) -> AcceptedEvent:
    result = validate_record(value)
    assert isinstance(result, AcceptedEvent), result
    return result


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("plain", "plain"),
        ("a\u0000b", "ab"),
        ("\u0000\u0000", ""),
        ("a\ud800b", "a\ufffdb"),
        ("\udc00", "\ufffd"),
        ("\udbff\u0000\ud800", "\ufffd\ufffd"),
        ("😀", "😀"),
    ],
)
def test_sanitize_text(text: str, expected: str) -> None:
    assert sanitize_text(text) == expected
    assert has_forbidden_code_points(text) == (text != expected)


def test_escaped_surrogate_pair_is_one_character_and_kept() -> None:
    value = raw("page_view", path="x").replace(b'"x"', b'"/\\ud83d\\ude00"')
    assert accepted(value).path == "/😀"


def test_escaped_lone_surrogates_are_replaced() -> None:
    for escape, expected in [
        (b"\\ud83d", "/\ufffd"),
        (b"\\ude00", "/\ufffd"),
        (b"\\ude00\\ud83d", "/\ufffd\ufffd"),  # reversed pair: two lone surrogates
        (b"\\ud83d\\u0000\\ude00", "/\ufffd\ufffd"),  # U+0000 removed after pairing
    ]:
        value = raw("page_view", path="x").replace(b'"x"', b'"/' + escape + b'"')
        assert accepted(value).path == expected


@pytest.mark.parametrize(
    ("event_type", "field"),
    [
        ("page_view", "path"),
        ("interaction", "name"),
        ("page_load", "page"),
        ("error", "error_type"),
        ("error", "message"),
        ("llm_usage", "model"),
        ("llm_usage", "chat_id"),
        ("llm_usage", "finish_reason"),
    ],
)
def test_every_text_field_is_sanitized(event_type: str, field: str) -> None:
    required: dict[str, dict[str, Any]] = {
        "page_view": {"path": "/"},
        "interaction": {"name": "n"},
        "page_load": {"page": "/", "load_ms": 1},
        "error": {"error_type": "e"},
        "llm_usage": {"model": "m", "tokens": 1, "cost": 0},
    }
    fields = {**required[event_type], field: "a\u0000b\ud800c"}
    event = accepted(raw(event_type, **fields))
    stored = event.llm_extra[field] if field in event.llm_extra else getattr(event, field)
    assert stored == "ab\ufffdc"


def test_metadata_values_and_keys_at_every_depth() -> None:
    # SPEC example 08, third line
    metadata = {"k\u0000ey": "v\u0000al", "nested": {"x": "\ud83d", "l\ud800": ["\u0000a", 1]}}
    event = accepted(raw("context", metadata=metadata))
    assert event.metadata == {"key": "val", "nested": {"x": "\ufffd", "l\ufffd": ["a", 1]}}


def test_metadata_keys_equal_after_sanitizing_keep_the_later_value() -> None:
    event = accepted(raw("context", metadata={"key": 1, "k\u0000ey": 2}))
    assert event.metadata == {"key": 2}


def test_ids_and_times_are_strings_too() -> None:
    # every string value but session_id is sanitized before it is checked
    event = accepted(
        raw(
            "page_view",
            path="/",
            event_id="00000000-0000-4000-8000-00000000000\u00001",
            user_id="\u00006F1C2A1E-0000-4000-8000-000000000001",
        )
    )
    assert event.event_id == "00000000-0000-4000-8000-000000000001"
    assert event.user_id == "6f1c2a1e-0000-4000-8000-000000000001"
    value = raw("page_view", path="/").replace(b'10:00:00Z"', b'10:00:00\\u0000Z"')
    assert accepted(value).event_time_ms == accepted(raw("page_view", path="/")).event_time_ms


def test_unicode_escapes_without_forbidden_characters_are_unchanged() -> None:
    event = accepted(raw("page_view", path="/é\u00e9\u2028\u0001"))
    assert event.path == "/éé\u2028\u0001"


def test_clean_json_value_converts_decimals_and_copies() -> None:
    from decimal import Decimal

    source: dict[str, Any] = {"a": [Decimal("0.5"), {"b": Decimal("1E+2")}], "c": True}
    cleaned = clean_json_value(source, sanitize=False)
    assert cleaned == {"a": [0.5, {"b": 100.0}], "c": True}
    assert type(cleaned["a"][0]) is float
    assert cleaned is not source and cleaned["a"] is not source["a"]
