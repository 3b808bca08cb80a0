"""SPEC 3 step 4 by event type: counts, goals, page loads, errors, and which types flush.

The llm_usage rules (caps and exact costs) are in test_fold_llm_usage.py.
"""

from __future__ import annotations

import pytest

from ingest.accepted_event import AcceptedEvent
from streams.session_fold import apply_event, is_dirty
from streams.snapshot import make_snapshot
from tests.unit.distinct_page_views import paths
from tests.unit.fold_events import GAP_MS, event, fold, page


def test_counts_are_cumulative_across_rotation() -> None:
    events = [event("interaction", 0, name="btn"), event("feature_use", 0, name="f")]
    events += paths(60)
    events += [event("interaction", 70_000, name="btn")]
    state, _ = fold(events)
    assert state.batch_seq == 1
    assert make_snapshot(state)["interaction_summary"] == {"btn": 2}
    assert make_snapshot(state)["feature_interactions"] == {"f": 1}


def test_goal_keeps_the_earliest_time_and_flushes() -> None:
    state, _ = fold([page("/a", 0)])
    first = apply_event(state, event("goal", 20_000, name="signup"), gap_ms=GAP_MS)
    assert len(first.snapshots) == 1 and not first.snapshots[0]["closed"]
    assert first.snapshots[0]["goal_events"] == {"signup": "2026-11-25T10:00:20.000Z"}
    earlier = apply_event(state, event("goal", 5_000, name="signup"), gap_ms=GAP_MS)
    assert earlier.snapshots[0]["goal_events"] == {"signup": "2026-11-25T10:00:05.000Z"}
    later = apply_event(state, event("goal", 30_000, name="signup"), gap_ms=GAP_MS)
    assert later.snapshots[0]["goal_events"] == {"signup": "2026-11-25T10:00:05.000Z"}
    assert later.snapshots[0]["conversion_achieved"] is True
    assert later.snapshots[0]["version"] == 4


def test_page_load_latest_wins() -> None:
    state, _ = fold(
        [
            event("page_load", 0, page="/a", load_ms=100),
            event("page_load", 1, page="chat_response", load_ms=7),
            event("page_load", 2, page="/a", load_ms=50),
        ]
    )
    assert make_snapshot(state)["page_load_times"] == {"/a": 50, "chat_response": 7}


@pytest.mark.parametrize(
    ("events", "expected_page"),
    [
        ([event("error", 0, error_type="js")], None),
        ([page("/a", 0), event("error", 0, error_type="js")], "/a"),
        ([page("/a", 0), event("error", 0, error_type="js", path="/b")], "/b"),
    ],
)
def test_error_page(events: list[AcceptedEvent], expected_page: str | None) -> None:
    state, _ = fold(events)
    assert make_snapshot(state)["error_events"][-1]["page"] == expected_page


def test_error_time_message_and_cap() -> None:
    events = [page("/chat", 0)]
    events += [event("error", 1000 * i, error_type="js", message=f"e{i}") for i in range(21)]
    events += [event("error", 99_000, error_type="net")]
    state, _ = fold(events)
    errors = make_snapshot(state)["error_events"]
    assert len(errors) == 20
    assert [e.get("message") for e in errors[:-1]] == [f"e{i}" for i in range(2, 21)]
    assert errors[-1] == {"type": "net", "page": "/chat", "time": 99_000}  # no message key
    assert errors[0]["time"] == 2000


def test_session_end_flushes() -> None:
    state, _ = fold([page("/a", 0), event("interaction", 1, name="x")])
    outcome = apply_event(state, event("session_end", 2), gap_ms=GAP_MS)
    assert [(s["version"], s["closed"]) for s in outcome.snapshots] == [(3, False)]
    assert not is_dirty(state)


@pytest.mark.parametrize("kind_fields", [("page_view", {"path": "/a"}), ("context", {})])
def test_plain_events_do_not_flush(kind_fields: tuple[str, dict[str, object]]) -> None:
    kind, fields = kind_fields
    state, _ = fold([page("/z", 0)])
    outcome = apply_event(state, event(kind, 1, **fields), gap_ms=GAP_MS)  # type: ignore[arg-type]
    assert outcome.snapshots == []
    assert is_dirty(state)
