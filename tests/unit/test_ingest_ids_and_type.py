"""SPEC 2.1: event_id, session_id, type and user_id, accepted and rejected (offline mode)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.unit.minimal_raw_events import EVENT_ID, MINIMAL_BY_TYPE, accepted, raw, rejected_fields

USER_ID = "6F1C2A1E-ABCD-4000-8000-00000000000F"


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
