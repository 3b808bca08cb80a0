"""SPEC section 3, step by step, on AcceptedEvents built directly."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from ingest.accepted_event import AcceptedEvent
from ingest.validation import validate_record
from streams.session_fold import apply_event, final_snapshot, flush_dirty, is_dirty
from streams.session_state import new_session_state
from streams.snapshot import SNAPSHOT_KEYS, batch_id, encode_snapshot, format_ms, make_snapshot
from streams.state_codec import encode_state
from tests.unit.fold_events import (
    BASE_MS,
    GAP_MS,
    SESSION,
    event,
    fold,
    fold_to_batches,
    fresh_id,
    llm,
    page,
)

MINUTE = 60_000
USER_1 = "6f1c2a1e-0000-4000-8000-000000000001"


def paths(count: int, *, start: int = 0, step_ms: int = 1000) -> list[AcceptedEvent]:
    """``count`` page views with pairwise different paths, one per ``step_ms``."""
    return [page(f"/p{start + i}", (start + i) * step_ms) for i in range(count)]


# --- 1. Gap -------------------------------------------------------------------------------


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


# --- 2./3. Start and location -------------------------------------------------------------


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


# --- 4. By type ---------------------------------------------------------------------------


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


def test_llm_cap_keeps_the_last_100_and_totals_stay_exact() -> None:
    events = [page("/chat", 0)]
    events += [llm("0.1" if i % 2 else "0.2", tokens=i + 1, at_ms=i) for i in range(101)]
    state, _ = fold(events)
    snapshot = make_snapshot(state)
    assert len(snapshot["llm_interactions"]) == 100
    assert [d["tokens"] for d in snapshot["llm_interactions"]] == list(range(2, 102))
    assert snapshot["llm_token_usage"] == sum(range(1, 102))
    assert snapshot["llm_cost_estimate"] == "15.2000"  # 51 x 0.2 + 50 x 0.1


def test_llm_detail_carries_optional_fields() -> None:
    extra = {"prompt_tokens": 3, "completion_tokens": 4, "stopped": True, "chat_id": "c1"}
    state, _ = fold([llm("0.006", tokens=7, at_ms=9000, llm_extra=extra)])
    assert make_snapshot(state)["llm_interactions"] == [
        {"model": "m", "tokens": 7, "cost": 0.006, "timestamp": "2026-11-25T10:00:09.000Z"} | extra
    ]


@pytest.mark.parametrize(
    ("costs", "expected"),
    [
        (["0.1"] + ["0.2"] * 10, "2.1000"),
        (["0.1", "0.2"], "0.3000"),
        (["0.00005"], "0.0000"),  # half-even: ties go to the even digit
        (["0.00015"], "0.0002"),
        (["0.0001", "0.00015"], "0.0002"),
        (["0.00025", "0.00000000000000000000000000000001"], "0.0003"),  # exact, no rounding
        (["0.015"], "0.0150"),
        (["2"], "2.0000"),
        (["1000000"] * 3, "3000000.0000"),
        (["0.1"] * 10_000, "1000.0000"),  # a float sum would drift
        (["1E-7"] * 3, "0.0000"),
    ],
)
def test_cost_total_is_an_exact_decimal(costs: list[str], expected: str) -> None:
    state, _ = fold([llm(cost, at_ms=i) for i, cost in enumerate(costs[:100])])
    for i, cost in enumerate(costs[100:]):
        state, _ = fold([llm(cost, at_ms=i)], state=state)
    assert make_snapshot(state)["llm_cost_estimate"] == expected


@pytest.mark.parametrize(
    ("cost", "shown"),
    [("0.006", 0.006), ("2", 2), ("0.25", 0.25), ("1E-7", 1e-7), ("1000000", 1_000_000)],
)
def test_llm_detail_cost_is_the_events_number(cost: str, shown: float) -> None:
    state, _ = fold([llm(cost)])
    detail = make_snapshot(state)["llm_interactions"][0]
    assert detail["cost"] == shown
    assert json.loads(json.dumps(detail["cost"])) == json.loads(cost.lower())


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


# --- 5. Context ---------------------------------------------------------------------------


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


# --- 6. Version, dirty, duplicates ---------------------------------------------------------


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
    assert len(state.recent_event_ids) == len(state.recent_event_id_set) == 512
    expected_count = later_events + 1 + (0 if duplicate else 1)
    assert make_snapshot(state)["interaction_summary"] == {"x": expected_count}


def test_duplicates_are_not_remembered_again() -> None:
    a = page("/a", 0)
    state, _ = fold([a, page("/b", 1)])
    apply_event(state, a, gap_ms=GAP_MS)
    assert list(state.recent_event_ids) == [a.event_id, state.recent_event_ids[1]]
    assert len(state.recent_event_ids) == 2


def test_arrival_of_a_duplicate_does_not_move_the_gap_clock() -> None:
    a = page("/a", 0)
    state, _ = fold([a])
    apply_event(state, page("/a", 0, arrival_ms=GAP_MS, event_id=a.event_id), gap_ms=GAP_MS)
    outcome = apply_event(state, page("/b", GAP_MS + 10), gap_ms=GAP_MS)
    assert outcome.state.batch_seq == 1


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


# --- derived fields -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("events", "expected"),
    [
        ([page("/a", 0)], "bounce"),
        ([page("/a", 0), event("interaction", 1, name="x")], "bounce"),
        ([page("/a", 0), event("interaction", 1, name="x"), event("interaction", 2, name="y")],
         "standard"),
        ([event("context", 0, metadata={})], "standard"),  # no path at all
        (paths(5), "standard"),
        (paths(6), "exploration"),
        ([page("/a", 0), event("goal", 1, name="g")], "conversion"),
        ([*paths(7), event("goal", 9000, name="g")], "conversion"),
        # interactions of an earlier batch count (the summary is cumulative)
        ([event("interaction", 0, name="x"), event("interaction", 1, name="x"),
          page("/b", GAP_MS + 10)], "standard"),
        # a goal of an earlier batch counts too
        ([event("goal", 0, name="g"), page("/b", GAP_MS + 10)], "conversion"),
    ],
)  # fmt: skip
def test_session_type(events: list[AcceptedEvent], expected: str) -> None:
    state, _ = fold(events)
    snapshot = make_snapshot(state)
    assert snapshot["session_type"] == expected
    assert snapshot["conversion_achieved"] is (expected == "conversion")


def test_batch_id_matches_the_spec_examples() -> None:
    # Values from /work/shared/spec/examples (01-basic-shape, 02-rotation).
    assert batch_id("s-basic", 0) == "c90aa597-9bd9-57c3-8a61-ded63d67d674"
    assert batch_id("s-rotate", 1) == "cc00ac99-2fff-5046-be5e-5a221e98afdc"
    assert batch_id("s-rotate", 2) == "faaaa630-ca0f-50d5-9abb-d25bd8d740a8"


def test_snapshot_has_exactly_the_spec_keys() -> None:
    state, _ = fold([page("/a", 0), page("/b", 1)])
    snapshot = make_snapshot(state)
    assert set(snapshot) == set(SNAPSHOT_KEYS)
    assert len(SNAPSHOT_KEYS) == 23
    assert snapshot["entry_point"] == "/a" and snapshot["exit_point"] == "/b"
    assert snapshot["batch_id"] == batch_id(SESSION, 0)


@pytest.mark.parametrize(
    "moment",
    [
        datetime(2000, 1, 1, tzinfo=UTC),
        datetime(2026, 11, 25, 10, 0, 0, 120_000, tzinfo=UTC),
        datetime(2028, 2, 29, 23, 59, 59, 999_000, tzinfo=UTC),
        datetime(9999, 12, 31, 23, 59, 59, 999_000, tzinfo=UTC),
    ],
)
def test_times_are_rfc3339_utc_with_milliseconds(moment: datetime) -> None:
    epoch_ms = (moment - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(milliseconds=1)
    text = format_ms(epoch_ms)
    assert text == moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
    assert datetime.fromisoformat(text.replace("Z", "+00:00")) == moment


def test_snapshot_encoding_is_canonical() -> None:
    state, _ = fold([page("/é", 0), event("context", 1, metadata={"b": 1, "a": "ü"})])
    encoded = encode_snapshot(make_snapshot(state))
    assert encoded.startswith(b'{"batch_id":')
    assert "/é".encode() in encoded and b"\\u" not in encoded
    assert b", " not in encoded and b": " not in encoded
    assert json.loads(encoded) == make_snapshot(state)


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


def test_fold_to_batches_matches_stream_and_final() -> None:
    ids = [fresh_id() for _ in range(3)]
    batches = fold_to_batches(
        [page("/a", 0, event_id=ids[0]), page("/b", GAP_MS + 1, event_id=ids[1])]
    )
    assert [(b["batch_seq"], b["closed"], b["version"]) for b in batches] == [
        (0, True, 2),
        (1, False, 1),
    ]
