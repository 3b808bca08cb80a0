"""SPEC 3 step 5: metadata merge and user_id replacement."""

from __future__ import annotations

from streams.snapshot import make_snapshot
from tests.unit.fold_events import event, fold, page


def test_metadata_merge_one_level_later_wins_null_kept() -> None:
    state, _ = fold(
        [
            event("context", 0, metadata={"plan": "free", "team": {"id": 1, "size": 3}}),
            event("page_view", 1, path="/x", metadata={"team": {"id": 2}, "org_id": None}),
            event("context", 2, metadata={"plan": "pro"}),
        ]
    )
    assert make_snapshot(state)["metadata"] == {"plan": "pro", "team": {"id": 2}, "org_id": None}


def test_user_id_is_replaced_only_by_a_non_null_one() -> None:
    first = "6f1c2a1e-0000-4000-8000-000000000001"
    second = "6f1c2a1e-0000-4000-8000-000000000002"
    state, _ = fold([event("context", 0, metadata={}, user_id=first), page("/a", 1)])
    assert make_snapshot(state)["user_id"] == first
    state, _ = fold([event("context", 2, metadata={}, user_id=None)], state=state)
    assert make_snapshot(state)["user_id"] == first
    state, _ = fold([page("/b", 3, user_id=second)], state=state)
    assert make_snapshot(state)["user_id"] == second
