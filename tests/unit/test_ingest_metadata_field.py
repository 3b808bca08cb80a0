"""SPEC 2.1: metadata (an object, required on context, at most 8192 bytes after sanitizing)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.unit.minimal_raw_events import MINIMAL_BY_TYPE, accepted, raw, rejected_fields


def test_metadata_optional_everywhere_required_on_context() -> None:
    for event_type in MINIMAL_BY_TYPE:
        if event_type == "context":
            continue
        assert accepted(raw(event_type)).metadata is None
        assert accepted(raw(event_type, metadata={"a": [1, None]})).metadata == {"a": [1, None]}
    assert accepted(raw("context", metadata={})).metadata == {}
    assert rejected_fields(raw("context", metadata=...)) == ("metadata",)
    assert rejected_fields(raw("context", metadata=None)) == ("metadata",)


@pytest.mark.parametrize("bad", [[1], "x", 1, True])
def test_metadata_must_be_an_object(bad: Any) -> None:
    assert rejected_fields(raw("page_view", metadata=bad)) == ("metadata",)


def _metadata_of_size(size: int) -> dict[str, str]:
    # compact JSON {"k":"…"} is 8 bytes plus the value; "é" is 2 bytes of UTF-8
    filler = size - 8
    return {"k": "é" * (filler // 2) + "x" * (filler % 2)}


def test_metadata_size_limit_8192_bytes() -> None:
    exactly = _metadata_of_size(8192)
    assert len(json.dumps(exactly, separators=(",", ":"), ensure_ascii=False).encode()) == 8192
    assert accepted(raw("context", metadata=exactly)).metadata == exactly
    over = _metadata_of_size(8193)
    assert rejected_fields(raw("context", metadata=over)) == ("metadata",)


def test_metadata_size_measured_after_sanitizing() -> None:
    # 8192 bytes once the 10 U+0000 are gone (each would be 6 bytes as \u0000 in JSON)
    dirty = {"k": "\u0000" * 10 + "x" * 8184}
    assert accepted(raw("context", metadata=dirty)).metadata == {"k": "x" * 8184}


def test_metadata_size_counts_numbers_in_shortest_round_trip_form() -> None:
    # 1e15 is 4 bytes as written but 1000000000000000.0 (18 bytes) in shortest round-trip form
    value = b'{"n":[' + b",".join([b"1e15"] * 440) + b"]}"
    as_written = len(value)
    assert as_written < 8192
    event_value = raw("context").replace(json.dumps({"plan": "pro"}).encode(), value)
    assert rejected_fields(event_value) == ("metadata",)
    small = raw("context").replace(json.dumps({"plan": "pro"}).encode(), b'{"n":1e15}')
    assert accepted(small).metadata == {"n": 1e15}


def test_metadata_numbers() -> None:
    value = raw("context").replace(
        json.dumps({"plan": "pro"}).encode(), b'{"i":-7,"f":0.25,"b":true,"z":null}'
    )
    metadata = accepted(value).metadata
    assert metadata == {"i": -7, "f": 0.25, "b": True, "z": None}
    assert metadata is not None and type(metadata["f"]) is float
