"""SPEC 2.1: every field rule, with accepted and rejected cases (offline mode, no key check)."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest

from ingest.accepted_event import AcceptedEvent, Rejection, RejectReason
from ingest.validation import validate_record

EVENT_ID = "0b7e4c8e-3f1a-4d2b-9c6e-5a4f3e2d1c0b"
USER_ID = "6F1C2A1E-ABCD-4000-8000-00000000000F"
TS = "2026-11-25T10:00:00.000Z"

MINIMAL_BY_TYPE: dict[str, dict[str, Any]] = {
    "page_view": {"path": "/home"},
    "interaction": {"name": "nav_button"},
    "feature_use": {"name": "chat"},
    "goal": {"name": "signup"},
    "page_load": {"page": "/home", "load_ms": 120},
    "error": {"error_type": "js"},
    "llm_usage": {"model": "gpt-4o", "tokens": 12, "cost": 0.5},
    "context": {"metadata": {"plan": "pro"}},
    "session_end": {},
}


def raw(event_type: str = "page_view", **fields: Any) -> bytes:
    """A minimal valid event of ``event_type`` with ``fields`` set (``...`` removes a field)."""
    document: dict[str, Any] = {
        "event_id": EVENT_ID,
        "session_id": "s-1",
        "type": event_type,
        "ts": TS,
        **MINIMAL_BY_TYPE.get(event_type, {}),
    }
    for name, value in fields.items():
        if value is ...:
            document.pop(name, None)
        else:
            document[name] = value
    return json.dumps(document).encode("utf-8")


def accepted(value: bytes) -> AcceptedEvent:
    result = validate_record(value)
    assert isinstance(result, AcceptedEvent), result
    return result


def rejected_fields(value: bytes) -> tuple[str, ...]:
    result = validate_record(value)
    assert isinstance(result, Rejection), result
    assert result.reason is RejectReason.INVALID_EVENT, result
    for name in result.fields:
        assert name in result.message
    return result.fields


# --- event_id -------------------------------------------------------------------------------


def test_event_id_is_stored_lower_case() -> None:
    event = accepted(raw(event_id=EVENT_ID.upper()))
    assert event.event_id == EVENT_ID


@pytest.mark.parametrize(
    "bad",
    [
        ...,
        None,
        "",
        "not-a-uuid",
        EVENT_ID.replace("-", ""),
        "{" + EVENT_ID + "}",
        EVENT_ID + "0",
        EVENT_ID[:-1] + "g",
        " " + EVENT_ID,
        12,
        ["x"],
    ],
)
def test_event_id_rejected(bad: Any) -> None:
    assert rejected_fields(raw(event_id=bad)) == ("event_id",)


# --- session_id -----------------------------------------------------------------------------


@pytest.mark.parametrize("good", ["x", "s" * 128, "😀" * 128, "Sess ion/ÄÖ"])
def test_session_id_accepted_as_sent(good: str) -> None:
    assert accepted(raw(session_id=good)).session_id == good


@pytest.mark.parametrize(
    "bad", [..., None, "", "s" * 129, "😀" * 129, "a\u0000b", "a\ud800b", "\udfff", 5, True]
)
def test_session_id_rejected(bad: Any) -> None:
    assert rejected_fields(raw(session_id=bad)) == ("session_id",)


# --- type -----------------------------------------------------------------------------------


@pytest.mark.parametrize("event_type", sorted(MINIMAL_BY_TYPE))
def test_every_type_accepted(event_type: str) -> None:
    assert accepted(raw(event_type)).type == event_type


@pytest.mark.parametrize("bad", ["PAGE_VIEW", "page-view", "click", "", 1, ...])
def test_type_rejected(bad: Any) -> None:
    assert rejected_fields(raw("page_view", type=bad)) == ("type",)


# --- user_id --------------------------------------------------------------------------------


def test_user_id_optional_null_and_lower_cased() -> None:
    assert accepted(raw(user_id=None)).user_id is None
    assert accepted(raw()).user_id is None
    assert accepted(raw(user_id=USER_ID)).user_id == USER_ID.lower()


@pytest.mark.parametrize("bad", ["user-1", "", 7, {"id": USER_ID}])
def test_user_id_rejected(bad: Any) -> None:
    assert rejected_fields(raw(user_id=bad)) == ("user_id",)


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


# --- integers -------------------------------------------------------------------------------

INTEGER_FIELDS = [
    ("page_load", "load_ms", 3_600_000, True),
    ("llm_usage", "tokens", 10_000_000, True),
    ("llm_usage", "prompt_tokens", 10_000_000, False),
    ("llm_usage", "completion_tokens", 10_000_000, False),
    ("llm_usage", "response_ms", 10_000_000, False),
]


def _integer_value(event: AcceptedEvent, field: str) -> Any:
    return event.llm_extra[field] if field in event.llm_extra else getattr(event, field)


@pytest.mark.parametrize(("event_type", "field", "high", "required"), INTEGER_FIELDS)
def test_integer_field_bounds(event_type: str, field: str, high: int, required: bool) -> None:
    for good in (0, 1, high):
        assert _integer_value(accepted(raw(event_type, **{field: good})), field) == good
    for bad in (-1, high + 1, "12", True, False, 1.5, [1]):
        assert rejected_fields(raw(event_type, **{field: bad})) == (field,)
    if required:
        assert rejected_fields(raw(event_type, **{field: ...})) == (field,)
        assert rejected_fields(raw(event_type, **{field: None})) == (field,)


@pytest.mark.parametrize("literal", ["1.0", "1e3", "1E0", "-0.0", "10.00"])
def test_integer_must_be_an_integer_literal(literal: str) -> None:
    value = raw("page_load").replace(b'"load_ms": 120', b'"load_ms": ' + literal.encode())
    assert literal.encode() in value
    assert rejected_fields(value) == ("load_ms",)


def test_integer_literal_minus_zero_is_zero() -> None:
    value = raw("page_load").replace(b'"load_ms": 120', b'"load_ms": -0')
    assert accepted(value).load_ms == 0


# --- cost -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("literal", "expected"),
    [
        ("0", Decimal(0)),
        ("0.0", Decimal(0)),
        ("0.006", Decimal("0.006")),
        ("0.1", Decimal("0.1")),  # exact: not the binary float 0.1000000000000000055...
        ("1e-3", Decimal("0.001")),
        ("12.345678901234567890123", Decimal("12.345678901234567890123")),
        ("1000000", Decimal(1_000_000)),
        ("1000000.000", Decimal(1_000_000)),
        ("1E6", Decimal(1_000_000)),
    ],
)
def test_cost_kept_as_exact_decimal(literal: str, expected: Decimal) -> None:
    value = raw("llm_usage").replace(b'"cost": 0.5', b'"cost": ' + literal.encode())
    assert literal.encode() in value
    cost = accepted(value).cost
    assert isinstance(cost, Decimal)
    assert cost == expected
    assert str(cost) == literal or literal in ("1e-3", "1E6")


@pytest.mark.parametrize("literal", ["-0.01", "-1", "1000000.0001", "1000001", "1e7"])
def test_cost_out_of_range_rejected(literal: str) -> None:
    value = raw("llm_usage").replace(b'"cost": 0.5', b'"cost": ' + literal.encode())
    assert rejected_fields(value) == ("cost",)


@pytest.mark.parametrize("bad", ["0.5", True, ..., None, [0.5]])
def test_cost_rejected(bad: Any) -> None:
    assert rejected_fields(raw("llm_usage", cost=bad)) == ("cost",)


# --- stopped --------------------------------------------------------------------------------


def test_stopped_boolean() -> None:
    assert accepted(raw("llm_usage", stopped=True)).llm_extra == {"stopped": True}
    assert accepted(raw("llm_usage", stopped=False)).llm_extra == {"stopped": False}
    for bad in (1, 0, "true"):
        assert rejected_fields(raw("llm_usage", stopped=bad)) == ("stopped",)


def test_llm_extra_holds_only_present_optional_fields() -> None:
    event = accepted(
        raw(
            "llm_usage",
            prompt_tokens=10,
            completion_tokens=2,
            response_ms=300,
            stopped=None,
            chat_id="c1",
            message_id="m1",
            finish_reason="stop",
        )
    )
    assert dict(event.llm_extra) == {
        "prompt_tokens": 10,
        "completion_tokens": 2,
        "response_ms": 300,
        "chat_id": "c1",
        "message_id": "m1",
        "finish_reason": "stop",
    }
    assert (event.model, event.tokens, event.cost) == ("gpt-4o", 12, Decimal("0.5"))


# --- metadata -------------------------------------------------------------------------------


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


# --- null, unknown fields, fields of other types --------------------------------------------


def test_null_counts_as_absent() -> None:
    event = accepted(raw("llm_usage", chat_id=None, path=None, user_id=None, metadata=None))
    assert event.path is None and event.metadata is None and "chat_id" not in event.llm_extra


def test_unknown_fields_and_fields_of_other_types_are_ignored() -> None:
    event = accepted(
        raw("page_view", load_ms="bad", tokens=-1, cost="x", name=None, model=7, extra={"a": 1})
    )
    assert (event.load_ms, event.tokens, event.cost, event.name, event.model) == (None,) * 5
    assert accepted(raw("interaction", page=3)).page is None


def test_top_level_field_names_match_as_written() -> None:
    # "Path" is an unknown field, so page_view has no path
    value = raw("page_view", path=..., Path="/x")
    assert rejected_fields(value) == ("path",)


def test_message_names_every_invalid_field_in_order() -> None:
    result = validate_record(raw("page_load", event_id="x", page="", load_ms=-5, user_id="u"))
    assert isinstance(result, Rejection)
    assert result.reason is RejectReason.INVALID_EVENT
    assert result.fields == ("event_id", "page", "load_ms", "user_id")
    for name in result.fields:
        assert name in result.message


def test_invalid_type_still_reports_common_fields() -> None:
    result = validate_record(raw("nope", event_id=..., path=""))
    assert isinstance(result, Rejection)
    assert set(result.fields) == {"event_id", "type", "path"}
