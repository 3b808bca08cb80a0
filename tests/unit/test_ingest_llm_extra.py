"""SPEC 2.1: llm_usage's optional fields (stopped, and what llm_extra holds)."""

from __future__ import annotations

from decimal import Decimal

from tests.unit.minimal_raw_events import accepted, raw, rejected_fields


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
