"""SPEC 3 step 1: the gap rule closes a batch after a long silence (arrival time)."""

from __future__ import annotations

import pytest

from streams.session_fold import apply_event, flush_dirty, is_dirty
from streams.snapshot import format_ms, make_snapshot
from tests.unit.distinct_page_views import paths
from tests.unit.fold_events import BASE_MS, GAP_MS, event, fold, llm, page

MINUTE = 60_000
USER_1 = "6f1c2a1e-0000-4000-8000-000000000001"


@pytest.mark.parametrize(
    ("gap_ms", "silence_ms", "closes"),
    [
        (GAP_MS, GAP_MS + 1, True),
        (GAP_MS, GAP_MS, False),  # a gap must be longer than GAP
        (GAP_MS, 31 * MINUTE, True),
        (0, 10 * 24 * 60 * MINUTE, False),  # 0 disables the gap rule
        (1000, 1001, True),
    ],
)
def test_gap_closes_a_batch_with_events(gap_ms: int, silence_ms: int, closes: bool) -> None:
    first = page("/a", 0)
    second = page("/b", silence_ms)
    state, _ = fold([first], gap_ms=gap_ms)
    outcome = apply_event(state, second, gap_ms=gap_ms)
    closing = [s for s in outcome.snapshots if s["closed"]]
    if closes:
        assert outcome.state.batch_seq == 1
        assert len(closing) == 1
        assert closing[0]["batch_seq"] == 0
        assert closing[0]["version"] == 2  # one event + closing
        assert closing[0]["path_sequence"] == ["/a"]
        assert outcome.state.batch.path_sequence == ["/b"]
        assert outcome.state.batch.path_timings == [0]
        assert outcome.state.batch.started_at_ms == BASE_MS + silence_ms
        assert outcome.state.batch.version == 1
    else:
        assert outcome.state.batch_seq == 0
        assert closing == []
        assert outcome.state.batch.path_sequence == ["/a", "/b"]


def test_gap_closes_even_when_the_batch_was_already_flushed() -> None:
    state, _ = fold([page("/a", 0)])
    assert flush_dirty(state)
    assert not is_dirty(state)
    outcome = apply_event(state, page("/b", GAP_MS + 1), gap_ms=GAP_MS)
    assert [(s["batch_seq"], s["closed"], s["version"]) for s in outcome.snapshots] == [
        (0, True, 2)
    ]


def test_gap_is_measured_on_arrival_not_event_time() -> None:
    # Event times far apart, arrivals close: no gap.
    state, emitted = fold([page("/a", 0), page("/b", 2 * GAP_MS, arrival_ms=1000)])
    assert state.batch_seq == 0 and not any(s["closed"] for s in emitted)
    # Event times close, arrivals far apart: gap.
    state, emitted = fold([page("/a", 0), page("/b", 1000, arrival_ms=GAP_MS + 1)])
    assert state.batch_seq == 1 and [s["batch_seq"] for s in emitted if s["closed"]] == [0]


def test_gap_after_a_rotation_reuses_the_empty_batch() -> None:
    state, _ = fold(paths(50))
    assert state.batch_seq == 1 and state.batch.version == 0
    outcome = apply_event(state, page("/later", 50_000 + GAP_MS + 1), gap_ms=GAP_MS)
    assert outcome.snapshots == []  # nothing to close: batch 1 has no event
    assert outcome.state.batch_seq == 1
    assert outcome.state.batch.path_sequence == ["/later"]  # the carried path is gone
    assert outcome.state.batch.path_timings == [0]
    assert outcome.state.batch.started_at_ms == BASE_MS + 50_000 + GAP_MS + 1


def test_gap_keeps_cumulative_maps_and_resets_batch_fields() -> None:
    state, _ = fold(
        [
            page("/a", 0),
            event("interaction", 1, name="x"),
            event("feature_use", 2, name="f"),
            event("goal", 3, name="g"),
            event("page_load", 4, page="/a", load_ms=5),
            event("error", 5, error_type="js"),
            llm("0.5", 7, 6),
            event("context", 7, metadata={"k": "v"}, user_id=USER_1),
            page("/b", GAP_MS + 100),
        ]
    )
    snapshot = make_snapshot(state)
    assert snapshot["batch_seq"] == 1
    assert snapshot["interaction_summary"] == {"x": 1}
    assert snapshot["feature_interactions"] == {"f": 1}
    assert snapshot["goal_events"] == {"g": format_ms(BASE_MS + 3)}
    assert snapshot["metadata"] == {"k": "v"}
    assert snapshot["user_id"] == USER_1
    assert snapshot["page_load_times"] == {}
    assert snapshot["error_events"] == []
    assert snapshot["llm_interactions"] == []
    assert snapshot["llm_token_usage"] == 0
    assert snapshot["llm_cost_estimate"] == "0.0000"
    assert snapshot["path_sequence"] == ["/b"]
