"""SPEC 2.1: integer fields (integer literals within bounds) and cost (an exact decimal)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from ingest.accepted_event import AcceptedEvent
from tests.unit.minimal_raw_events import accepted, raw, rejected_fields

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
