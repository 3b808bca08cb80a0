"""SPEC 3 step 6: version, dirty, and duplicate event ids (the last 512 are remembered)."""

from __future__ import annotations

import json

import pytest

from ingest.accepted_event import AcceptedEvent
from ingest.validation import validate_record
from streams.session_fold import apply_event, final_snapshot, flush_dirty, is_dirty
from streams.session_state import new_session_state
from streams.snapshot import make_snapshot
from streams.state_codec import encode_state
from tests.unit.fold_events import (
    GAP_MS,
    SESSION,
    event,
    fold,
    fold_to_batches,
    fresh_id,
    llm,
    page,
)


def test_version_counts_applied_events_and_marks_dirty() -> None:
    state = new_session_state(SESSION)
    assert not is_dirty(state) and final_snapshot(state) is None
    state, _ = fold([page("/a", 0), event("interaction", 1, name="x")], state=state)
    assert state.batch.version == 2 and is_dirty(state)
    assert [s["version"] for s in flush_dirty(state)] == [2]
    assert flush_dirty(state) == []
    snapshot = final_snapshot(state)
    assert snapshot is not None and snapshot["version"] == 2 and snapshot["closed"] is False


def test_duplicate_changes_nothing() -> None:
    original = page("/a", 0)
    state, _ = fold([original, llm("0.5", tokens=3, at_ms=1)])
    before = encode_state(state)
    again = apply_event(
        state,
        llm("9", tokens=100, at_ms=GAP_MS * 3, event_id=original.event_id),
        gap_ms=GAP_MS,
    )
    assert again.duplicate is True
    assert again.snapshots == []
    assert again.state is state
    assert encode_state(state) == before


def test_duplicate_with_upper_case_id_after_validation() -> None:
    def raw(event_id: str) -> bytes:
        return json.dumps(
            {
                "event_id": event_id,
                "session_id": "s-dups",
                "type": "llm_usage",
                "ts": "2026-11-25T10:00:01.000Z",
                "model": "m",
                "tokens": 100,
                "cost": 0.25,
            }
        ).encode()

    lower = validate_record(raw("0a0b0c0d-0000-4000-8000-00000000abcd"))
    upper = validate_record(raw("0A0B0C0D-0000-4000-8000-00000000ABCD"))
    assert isinstance(lower, AcceptedEvent) and isinstance(upper, AcceptedEvent)
    state, _ = fold([lower])
    outcome = apply_event(state, upper, gap_ms=GAP_MS)
    assert outcome.duplicate
    assert make_snapshot(state)["llm_token_usage"] == 100


@pytest.mark.parametrize(("later_events", "duplicate"), [(511, True), (512, False)])
def test_only_the_last_512_accepted_ids_are_remembered(later_events: int, duplicate: bool) -> None:
    first = event("interaction", 0, name="x")
    state, _ = fold([first] + [event("interaction", i + 1, name="x") for i in range(later_events)])
    outcome = apply_event(state, first, gap_ms=GAP_MS)
    assert outcome.duplicate is duplicate
    assert len(state.recent_event_ids) == 512
    expected_count = later_events + 1 + (0 if duplicate else 1)
    assert make_snapshot(state)["interaction_summary"] == {"x": expected_count}


def test_duplicates_are_not_remembered_again() -> None:
    a, b = page("/a", 0), page("/b", 1)
    state, _ = fold([a, b])
    apply_event(state, a, gap_ms=GAP_MS)
    assert state.recent_event_ids.as_list() == [a.event_id, b.event_id]
    assert len(state.recent_event_ids) == 2


def test_arrival_of_a_duplicate_does_not_move_the_gap_clock() -> None:
    a = page("/a", 0)
    state, _ = fold([a])
    apply_event(state, page("/a", 0, arrival_ms=GAP_MS, event_id=a.event_id), gap_ms=GAP_MS)
    outcome = apply_event(state, page("/b", GAP_MS + 10), gap_ms=GAP_MS)
    assert outcome.state.batch_seq == 1


def test_fold_to_batches_matches_stream_and_final() -> None:
    ids = [fresh_id() for _ in range(3)]
    batches = fold_to_batches(
        [page("/a", 0, event_id=ids[0]), page("/b", GAP_MS + 1, event_id=ids[1])]
    )
    assert [(b["batch_seq"], b["closed"], b["version"]) for b in batches] == [
        (0, True, 2),
        (1, False, 1),
    ]
