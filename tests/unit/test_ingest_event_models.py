"""The pydantic models (JSON Schema) and the hot-path validator state the same field rules."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from ingest.accepted_event import AcceptedEvent, Rejection, RejectReason
from ingest.event_models import RAW_EVENT_ADAPTER, raw_event_json_schema
from ingest.validation import validate_record
from sessionizer.cli import main
from tests.spec_examples import SPEC_EXAMPLES

EXAMPLES = SPEC_EXAMPLES
TYPES = [
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


def models_accept(value: bytes) -> bool:
    try:
        RAW_EVENT_ADAPTER.validate_json(value)
    except ValidationError:
        return False
    return True


def test_schema_command_prints_the_discriminated_schema(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schema", "events"]) == 0
    schema = json.loads(capsys.readouterr().out)
    assert schema == raw_event_json_schema()
    assert schema["discriminator"]["propertyName"] == "type"
    assert sorted(schema["discriminator"]["mapping"]) == sorted(TYPES)
    assert len(schema["oneOf"]) == len(TYPES)
    page_load = schema["$defs"]["PageLoadEvent"]
    assert set(page_load["required"]) == {"event_id", "session_id", "ts", "type", "page", "load_ms"}
    assert page_load["properties"]["load_ms"] == {
        "maximum": 3_600_000,
        "minimum": 0,
        "title": "Load Ms",
        "type": "integer",
    }
    context = schema["$defs"]["ContextEvent"]
    assert "metadata" in context["required"]


def test_schema_command_rejects_unknown_documents() -> None:
    with pytest.raises(SystemExit):
        main(["schema", "batches-of-nothing"])


def test_models_accept_every_example_line() -> None:
    for path in sorted(EXAMPLES.glob("*.events.jsonl")):
        for line in path.read_bytes().splitlines():
            if line.strip() and b"\\u0000" not in line and b"\\ud8" not in line:
                assert models_accept(line), (path.name, line[:100])


# --- agreement on generated events ----------------------------------------------------------
# Times are always valid here and strings hold no U+0000 or surrogates: those rules belong to
# validate_record alone (sanitizing, calendar checks, time arithmetic).

_text = st.one_of(
    st.sampled_from(["", "a", "/p", "x" * 64, "x" * 65, "x" * 128, "x" * 129, "y" * 2049]),
    st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\x00"), max_size=5),
)
_uuid = st.one_of(st.uuids().map(str), st.uuids().map(lambda u: str(u).upper()), _text)
_int = st.one_of(
    st.sampled_from([0, -1, 1, 3_600_000, 3_600_001, 10_000_000, 10_000_001]),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
)
_float = st.floats(allow_nan=False, allow_infinity=False)
_scalar = st.one_of(st.none(), st.booleans(), _int, _float, _text)
_metadata = st.dictionaries(st.text(max_size=3), _scalar, max_size=3)
_any_value = st.one_of(_scalar, _metadata, st.lists(_scalar, max_size=2))

_FIELD_VALUES: dict[str, st.SearchStrategy[Any]] = {
    "event_id": _uuid,
    "session_id": _text,
    "user_id": st.one_of(st.none(), _uuid),
    "path": _text,
    "name": _text,
    "page": _text,
    "load_ms": _int,
    "error_type": _text,
    "message": st.one_of(_text, _int),
    "model": _text,
    "tokens": _int,
    "cost": st.one_of(_int, _float, st.sampled_from([0.5, 1e6, 1_000_000.5, -0.0])),
    "prompt_tokens": _int,
    "completion_tokens": _int,
    "response_ms": _int,
    "stopped": st.one_of(st.booleans(), _int),
    "chat_id": _text,
    "message_id": _text,
    "finish_reason": _text,
    "metadata": st.one_of(_metadata, st.lists(_scalar, max_size=1)),
}


_VALID: dict[str, dict[str, Any]] = {
    "page_view": {"path": "/home"},
    "interaction": {"name": "button"},
    "feature_use": {"name": "chat"},
    "goal": {"name": "signup"},
    "page_load": {"page": "/home", "load_ms": 5},
    "error": {"error_type": "js", "message": "boom"},
    "llm_usage": {
        "model": "m",
        "tokens": 3,
        "cost": 0.25,
        "prompt_tokens": 1,
        "completion_tokens": 2,
        "response_ms": 9,
        "stopped": False,
        "chat_id": "c",
        "message_id": "m",
        "finish_reason": "stop",
    },
    "context": {"metadata": {"a": 1}},
    "session_end": {},
}


@st.composite
def generated_events(draw: st.DrawFn) -> dict[str, Any]:
    """A valid event of a random type, then 0..3 fields replaced, nulled or removed."""
    event_type = draw(st.sampled_from(TYPES))
    document: dict[str, Any] = {
        "event_id": "00000000-0000-4000-8000-000000000001",
        "session_id": "s",
        "type": event_type,
        "ts": "2026-11-25T10:00:00.123456+01:00",
        "user_id": None,
        "path": "/p",
        **_VALID[event_type],
    }
    if draw(st.booleans()):
        document["sent_at"] = "2026-11-25T10:00:00Z"
    for _ in range(draw(st.integers(0, 3))):
        name = draw(st.sampled_from([*_FIELD_VALUES, "type"]))
        action = draw(st.integers(0, 5))
        if action == 0:
            document.pop(name, None)
        elif action == 1:
            document[name] = None
        elif action == 2 or name == "type":
            document[name] = draw(_any_value if name != "type" else st.sampled_from(TYPES))
        else:
            document[name] = draw(_FIELD_VALUES[name])
    return document


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(generated_events())
def test_models_and_validate_record_agree(document: dict[str, Any]) -> None:
    value = json.dumps(document).encode()
    result = validate_record(value)
    if isinstance(result, Rejection):
        assert result.reason is RejectReason.INVALID_EVENT, result
    assert isinstance(result, AcceptedEvent) == models_accept(value), result


def test_agreement_on_an_event_the_generator_may_miss() -> None:
    value = json.dumps(
        {
            "event_id": "00000000-0000-4000-8000-000000000001",
            "session_id": "s",
            "type": "llm_usage",
            "ts": "2026-11-25T10:00:00Z",
            "model": "m",
            "tokens": 5,
            "cost": 1_000_000,
            "stopped": True,
        }
    ).encode()
    assert isinstance(validate_record(value), AcceptedEvent)
    assert models_accept(value)
    assert not models_accept(value.replace(b"1000000", b"1000000.01"))
    assert not isinstance(validate_record(value.replace(b"1000000", b"1000000.01")), AcceptedEvent)
