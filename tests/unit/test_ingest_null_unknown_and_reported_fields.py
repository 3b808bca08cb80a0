"""SPEC 2.1: null counts as absent, unknown fields are ignored, what a rejection names."""

from __future__ import annotations

from ingest.accepted_event import Rejection, RejectReason
from ingest.validation import validate_record
from tests.unit.minimal_raw_events import accepted, raw, rejected_fields


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
