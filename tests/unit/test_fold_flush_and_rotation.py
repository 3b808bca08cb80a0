"""SPEC 3 steps 7-8: a flush on every 5th path, and rotation to a new batch at 50 paths."""

from __future__ import annotations

from streams.session_fold import apply_event, final_snapshot, flush_dirty
from streams.snapshot import encode_snapshot
from tests.unit.distinct_page_views import paths
from tests.unit.fold_events import BASE_MS, GAP_MS, event, fold, llm, page

# --- 7. Flush every 5th path ----------------------------------------------------------------


def test_flush_on_every_fifth_path() -> None:
    state = None
    flushed_at: list[int] = []
    for i, item in enumerate(paths(23)):
        outcome = apply_event(state, item, gap_ms=GAP_MS)
        state = outcome.state
        if outcome.snapshots:
            assert [s["version"] for s in outcome.snapshots] == [i + 1]
            assert len(outcome.snapshots[0]["path_sequence"]) == i + 1
            flushed_at.append(i + 1)
    assert flushed_at == [5, 10, 15, 20]


def test_no_flush_when_no_path_was_appended() -> None:
    state, _ = fold(paths(5))
    for item in (page("/p4", 10_000), event("interaction", 10_001, name="x", path="/p4")):
        assert apply_event(state, item, gap_ms=GAP_MS).snapshots == []


# --- 8. Rotation --------------------------------------------------------------------------


def test_49_paths_do_not_rotate() -> None:
    state, emitted = fold(paths(49))
    assert state.batch_seq == 0
    assert len(state.batch.path_sequence) == 49
    assert not any(s["closed"] for s in emitted)


def test_rotation_at_exactly_50_paths() -> None:
    state, _ = fold([event("interaction", 0, name="btn"), *paths(49)])
    outcome = apply_event(state, page("/last", 60_000), gap_ms=GAP_MS)
    assert len(outcome.snapshots) == 1  # the closing snapshot only, no second flush
    closing = outcome.snapshots[0]
    assert closing["closed"] is True
    assert closing["batch_seq"] == 0
    assert closing["version"] == 52  # 51 events + closing
    assert len(closing["path_sequence"]) == 50 and closing["exit_point"] == "/last"
    assert closing["ended_at"] == "2026-11-25T10:01:00.000Z"
    batch = outcome.state.batch
    assert outcome.state.batch_seq == 1
    assert batch.path_sequence == ["/last"] and batch.path_timings == [0]
    assert batch.started_at_ms == batch.ended_at_ms == BASE_MS + 60_000
    assert batch.version == 0 and not batch.dirty and not batch.closed
    assert final_snapshot(outcome.state) is None
    assert flush_dirty(outcome.state) == []
    nxt = apply_event(outcome.state, page("/next", 61_000), gap_ms=GAP_MS)
    assert nxt.state.batch.path_sequence == ["/last", "/next"]
    assert nxt.state.batch.path_timings == [0, 1000]
    snapshot = final_snapshot(nxt.state)
    assert snapshot is not None
    assert snapshot["version"] == 1 and snapshot["interaction_summary"] == {"btn": 1}


def test_closed_batch_never_changes() -> None:
    state, emitted = fold(paths(50))
    closing = [s for s in emitted if s["closed"]]
    assert len(closing) == 1
    frozen = encode_snapshot(closing[0])
    state, later = fold(
        [
            event("interaction", 60_000, name="x"),
            event("goal", 60_001, name="g"),
            llm("1", at_ms=60_002),
            event("context", 60_003, metadata={"k": 1}),
            *paths(120, start=100),
            page("/after-gap", 10 * GAP_MS),
        ],
        state=state,
    )
    assert encode_snapshot(closing[0]) == frozen
    assert all(s["batch_seq"] != 0 for s in later)
