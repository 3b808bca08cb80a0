"""A minimal valid raw event per type, and the verdict checks of the SPEC 2.1 field tests.

Offline mode: ``validate_record`` without a record key, so no key check.
"""

from __future__ import annotations

import json
from typing import Any

from ingest.accepted_event import AcceptedEvent, Rejection, RejectReason
from ingest.validation import validate_record

EVENT_ID = "0b7e4c8e-3f1a-4d2b-9c6e-5a4f3e2d1c0b"
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
