"""SPEC 2.1: text fields (required where the type needs them, 1..N code points) and message."""

from __future__ import annotations

from typing import Any

import pytest

from tests.unit.minimal_raw_events import MINIMAL_BY_TYPE, accepted, raw, rejected_fields

# --- text fields: required where the type needs them, 1..N code points ----------------------

TEXT_FIELDS = [
    # (type, field, max length, required)
    ("page_view", "path", 2048, True),
    ("goal", "path", 2048, False),
    ("interaction", "name", 128, True),
    ("feature_use", "name", 128, True),
    ("goal", "name", 128, True),
    ("page_load", "page", 2048, True),
    ("error", "error_type", 128, True),
    ("llm_usage", "model", 128, True),
    ("llm_usage", "chat_id", 128, False),
    ("llm_usage", "message_id", 128, False),
    ("llm_usage", "finish_reason", 64, False),
]


@pytest.mark.parametrize(("event_type", "field", "high", "required"), TEXT_FIELDS)
def test_text_field_bounds(event_type: str, field: str, high: int, required: bool) -> None:
    for good in ("a", "é" * high, "😀" * high):
        event = accepted(raw(event_type, **{field: good}))
        stored = event.llm_extra[field] if field in event.llm_extra else getattr(event, field)
        assert stored == good
    for bad in ("", "a" * (high + 1), "😀" * (high + 1), 3, True, ["a"]):
        assert rejected_fields(raw(event_type, **{field: bad})) == (field,)
    for absent in (..., None):
        if required:
            assert rejected_fields(raw(event_type, **{field: absent})) == (field,)
        else:
            accepted(raw(event_type, **{field: absent}))


def test_path_optional_on_every_other_type() -> None:
    for event_type in MINIMAL_BY_TYPE:
        if event_type != "page_view":
            assert accepted(raw(event_type)).path is None
            assert accepted(raw(event_type, path="/p")).path == "/p"


def test_length_is_checked_after_sanitizing() -> None:
    # 2049 code points before sanitizing, 2048 after: accepted
    assert accepted(raw(path="\u0000" + "a" * 2048)).path == "a" * 2048
    # only U+0000: empty after sanitizing, so too short
    assert rejected_fields(raw(path="\u0000")) == ("path",)


# --- message --------------------------------------------------------------------------------


def test_message_optional_and_cut_to_1000_code_points() -> None:
    assert accepted(raw("error")).message is None
    assert accepted(raw("error", message=None)).message is None
    assert accepted(raw("error", message="")).message == ""
    assert accepted(raw("error", message="😀" * 1500)).message == "😀" * 1000
    assert accepted(raw("error", message="m" * 1000)).message == "m" * 1000
    # sanitized before the cut: the U+0000 does not take one of the 1000 places
    assert accepted(raw("error", message="\u0000" + "m" * 1001)).message == "m" * 1000


@pytest.mark.parametrize("bad", [1, False, ["m"], {"m": 1}])
def test_message_rejected(bad: Any) -> None:
    assert rejected_fields(raw("error", message=bad)) == ("message",)


def test_message_ignored_on_other_types() -> None:
    assert accepted(raw("page_view", message=5)).message is None
