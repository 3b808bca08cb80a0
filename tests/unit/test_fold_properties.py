"""Properties of the fold (SPEC 3 and 7) over generated event streams of one session."""

from __future__ import annotations

import itertools
import uuid
from collections import defaultdict
from decimal import Decimal
from typing import Any

from hypothesis import event, given, settings
from hypothesis import strategies as st

from ingest.accepted_event import AcceptedEvent, EventType
from streams.session_fold import Snapshot, apply_event, flush_dirty
from streams.session_state import SessionState
from streams.snapshot import encode_snapshot
from streams.state_codec import decode_state, encode_state
from tests.unit.fold_events import BASE_MS, SESSION, fold, fold_to_batches, last_per_batch

GAP = 60_000
PATHS = [f"/p{i}" for i in range(7)]
NAMES = ["a", "b", "c"]
USERS = [None, None, "6f1c2a1e-0000-4000-8000-000000000001", "6f1c2a1e-0000-4000-8000-000000000002"]
STEP_KINDS = ["page_view"] * 5 + [
    "burst",  # many page views with changing paths, so that batches rotate
    "burst",
    "burst",
    "interaction",
    "feature_use",
    "goal",
    "page_load",
    "error",
    "llm_usage",
    "llm_usage",
    "context",
    "session_end",
]
DELTAS = [0, 1, 250, 1000, 1000, 3000, 20_000, 59_999, GAP, GAP + 1, GAP + 1, 10 * GAP]
SKEWS = [0, 0, 0, 0, -1500, 800]

metadata_values = st.none() | st.integers(-5, 5) | st.text(max_size=3) | st.just({"n": [1]})
steps = st.fixed_dictionaries(
    {
        "kind": st.sampled_from(STEP_KINDS),
        "delta": st.sampled_from(DELTAS),
        "skew": st.sampled_from(SKEWS),
        "path": st.sampled_from([*PATHS, None, None]),
        "name": st.sampled_from(NAMES),
        "burst": st.integers(10, 70),
        "tokens": st.integers(0, 10_000),
        "cost": st.decimals(min_value=0, max_value=1000, places=4),
        "message": st.none() | st.text(max_size=5),
        "metadata": st.none()
        | st.dictionaries(st.sampled_from(NAMES), metadata_values, max_size=2),
        "user": st.sampled_from(USERS),
        "extra": st.dictionaries(st.sampled_from(["chat_id", "finish_reason"]), st.just("x")),
    }
)


def build_events(raw_steps: list[dict[str, Any]]) -> list[AcceptedEvent]:
    """Turn drawn steps into accepted events with unique ids and advancing arrival times."""
    events: list[AcceptedEvent] = []
    arrival = 0
    last_path = 0

    def add(kind: EventType, skew: int, **fields: Any) -> None:
        events.append(
            AcceptedEvent(
                event_id=str(uuid.UUID(int=len(events) + 1)),
                session_id=SESSION,
                type=kind,
                event_time_ms=BASE_MS + arrival + skew,
                arrival_ms=BASE_MS + arrival,
                **fields,
            )
        )

    for step in raw_steps:
        arrival += step["delta"]
        kind = step["kind"]
        common: dict[str, Any] = {"metadata": step["metadata"], "user_id": step["user"]}
        if kind == "burst":
            for _ in range(step["burst"]):
                last_path += 1
                arrival += 100
                add("page_view", 0, path=f"/b{last_path % 9}")
        elif kind == "page_view":
            add("page_view", step["skew"], path=step["path"] or PATHS[0], **common)
        elif kind in ("interaction", "feature_use", "goal"):
            add(kind, step["skew"], name=step["name"], path=step["path"], **common)
        elif kind == "page_load":
            add(kind, step["skew"], page=step["path"] or "chat_response", load_ms=step["tokens"])
        elif kind == "error":
            add(kind, step["skew"], error_type=step["name"], message=step["message"], **common)
        elif kind == "llm_usage":
            add(
                kind,
                step["skew"],
                model=step["name"],
                tokens=step["tokens"],
                cost=step["cost"],
                llm_extra=step["extra"],
                path=step["path"],
            )
        else:
            add(kind, step["skew"], path=step["path"], **common)
    return events


event_streams = st.lists(steps, min_size=4, max_size=60).map(build_events)


def encoded(snapshots: list[Snapshot]) -> list[bytes]:
    return [encode_snapshot(s) for s in snapshots]


@settings(max_examples=100, deadline=None)
@given(events=event_streams, flushes=st.lists(st.booleans(), max_size=400))
def test_final_snapshots_do_not_depend_on_interval_flushes(
    events: list[AcceptedEvent], flushes: list[bool]
) -> None:
    plain = fold_to_batches(events, gap_ms=GAP)
    flushed = fold_to_batches(events, gap_ms=GAP, flush_after=flushes)
    assert encoded(flushed) == encoded(plain)


@settings(max_examples=100, deadline=None)
@given(events=event_streams)
def test_stream_view_equals_offline_view(events: list[AcceptedEvent]) -> None:
    """Everything emitted, plus one interval flush at the end, is what the offline fold prints."""
    state, emitted = fold(events, gap_ms=GAP)
    emitted += flush_dirty(state)
    assert all(s["version"] >= 1 for s in emitted)
    assert encoded(last_per_batch(emitted, None)) == encoded(fold_to_batches(events, gap_ms=GAP))


@settings(max_examples=100, deadline=None)
@given(events=event_streams, data=st.data())
def test_reapplying_a_prefix_changes_nothing(
    events: list[AcceptedEvent], data: st.DataObject
) -> None:
    cut = data.draw(st.integers(0, len(events)), label="cut")
    prefix = data.draw(st.integers(0, cut), label="prefix")
    state: SessionState | None = None
    emitted: list[Snapshot] = []
    for item in events[:cut]:
        outcome = apply_event(state, item, gap_ms=GAP)
        state, emitted = outcome.state, emitted + outcome.snapshots
    before = None if state is None else encode_state(state)
    for item in events[:prefix]:
        outcome = apply_event(state, item, gap_ms=GAP)
        assert outcome.duplicate and outcome.snapshots == []
        assert encode_state(outcome.state) == before
    for item in events[cut:]:
        outcome = apply_event(state, item, gap_ms=GAP)
        state, emitted = outcome.state, emitted + outcome.snapshots
    assert encoded(last_per_batch(emitted, state)) == encoded(fold_to_batches(events, gap_ms=GAP))


@settings(max_examples=100, deadline=None)
@given(events=event_streams)
def test_totals_equal_the_sums_over_accepted_events(events: list[AcceptedEvent]) -> None:
    batches = fold_to_batches(events, gap_ms=GAP)
    event(f"batches: {min(len(batches), 4)}")
    event(f"rotations: {min(sum(len(b['path_sequence']) == 50 for b in batches), 2)}")
    llm_events = [e for e in events if e.type == "llm_usage"]
    assert sum(b["llm_token_usage"] for b in batches) == sum(e.tokens or 0 for e in llm_events)
    assert sum(Decimal(b["llm_cost_estimate"]) for b in batches) == sum(
        (e.cost or Decimal(0) for e in llm_events), Decimal(0)
    )
    assert sum(len(b["llm_interactions"]) for b in batches) <= len(llm_events)
    assert all(len(b["llm_interactions"]) <= 100 and len(b["error_events"]) <= 20 for b in batches)
    applied = sum(b["version"] - (1 if b["closed"] else 0) for b in batches)
    assert applied == len(events)  # every event lands in exactly one printed batch


@settings(max_examples=100, deadline=None)
@given(events=event_streams, flushes=st.lists(st.booleans(), max_size=400))
def test_emitted_versions_increase_per_batch(
    events: list[AcceptedEvent], flushes: list[bool]
) -> None:
    state: SessionState | None = None
    emitted: list[Snapshot] = []
    for item, flush in zip(events, flushes + [False] * len(events), strict=False):
        outcome = apply_event(state, item, gap_ms=GAP)
        state = outcome.state
        emitted += outcome.snapshots
        if flush:
            emitted += flush_dirty(state)
    versions: dict[int, list[int]] = defaultdict(list)
    closed: set[int] = set()
    last_seq = 0
    for snapshot in emitted:
        seq = snapshot["batch_seq"]
        assert seq >= last_seq  # batches are emitted in order
        assert seq not in closed  # nothing after the closing snapshot
        last_seq = seq
        versions[seq].append(snapshot["version"])
        if snapshot["closed"]:
            closed.add(seq)
    for seq_versions in versions.values():
        assert all(a < b for a, b in itertools.pairwise(seq_versions))


@settings(max_examples=100, deadline=None)
@given(events=event_streams, data=st.data())
def test_state_roundtrips_and_folding_continues_identically(
    events: list[AcceptedEvent], data: st.DataObject
) -> None:
    cut = data.draw(st.integers(1, len(events)), label="cut")
    state, _ = fold(events[:cut], gap_ms=GAP)
    copy = decode_state(encode_state(state))
    assert copy == state
    assert copy.batch.error_events.maxlen == state.batch.error_events.maxlen
    assert copy.batch.llm_interactions.maxlen == state.batch.llm_interactions.maxlen
    assert copy.recent_event_ids.capacity == state.recent_event_ids.capacity
    assert copy.recent_event_ids.as_list() == state.recent_event_ids.as_list()
    assert encode_state(copy) == encode_state(state)
    rest = events[cut:] + events[: min(cut, 3)]  # the tail, then a few duplicates
    original_end, original_emitted = fold(rest, gap_ms=GAP, state=state)
    copy_end, copy_emitted = fold(rest, gap_ms=GAP, state=copy)
    assert encoded(copy_emitted) == encoded(original_emitted)
    assert encode_state(copy_end) == encode_state(original_end)
    assert encoded(last_per_batch([], copy_end)) == encoded(last_per_batch([], original_end))
