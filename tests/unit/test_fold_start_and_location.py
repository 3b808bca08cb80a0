"""SPEC 3 steps 2-3: a new session's state, the batch start, and the path location."""

from __future__ import annotations

import pytest

from ingest.accepted_event import AcceptedEvent
from streams.session_fold import apply_event
from streams.session_state import new_session_state
from streams.snapshot import make_snapshot
from tests.unit.fold_events import BASE_MS, GAP_MS, event, fold, page


def test_first_event_without_path_starts_the_batch() -> None:
    state, _ = fold([event("context", 0, metadata={}), page("/a", 500), page("/b", 3000)])
    snapshot = make_snapshot(state)
    assert snapshot["started_at"] == "2026-11-25T10:00:00.000Z"
    assert snapshot["path_timings"] == [500, 3000]


@pytest.mark.parametrize(
    ("events", "expected_paths", "expected_timings"),
    [
        ([page("/a", 0), page("/a", 10), page("/b", 20)], ["/a", "/b"], [0, 20]),
        ([page("/a", 0), event("interaction", 5, name="n", path="/c")], ["/a", "/c"], [0, 5]),
        ([page("/a", 1000), page("/b", 400)], ["/a", "/b"], [0, 0]),  # never negative
        ([page("/a", 0), page("/b", 10), page("/a", 20)], ["/a", "/b", "/a"], [0, 10, 20]),
        ([page("/a", 0), event("goal", 10, name="g")], ["/a"], [0]),
    ],
)
def test_location(
    events: list[AcceptedEvent], expected_paths: list[str], expected_timings: list[int]
) -> None:
    state, _ = fold(events)
    assert state.batch.path_sequence == expected_paths
    assert state.batch.path_timings == expected_timings


def test_ended_at_never_goes_back() -> None:
    state, _ = fold([page("/a", 0), page("/b", 5000), event("interaction", 2000, name="x")])
    snapshot = make_snapshot(state)
    assert snapshot["ended_at"] == "2026-11-25T10:00:05.000Z"
    assert snapshot["version"] == 3


def test_new_session_state_starts_empty() -> None:
    state = new_session_state("s-new")
    assert state.session_id == "s-new" and state.batch_seq == 0
    assert state.last_arrival_ms is None and state.user_id is None
    assert state.batch.version == 0 and state.batch.started_at_ms is None


def test_apply_event_creates_the_state_of_a_new_session() -> None:
    outcome = apply_event(None, page("/a", 0, session_id="s-brand-new"), gap_ms=GAP_MS)
    assert outcome.state.session_id == "s-brand-new"
    assert outcome.state.last_arrival_ms == BASE_MS
    assert not outcome.duplicate and outcome.snapshots == []
