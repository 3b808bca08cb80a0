"""The traffic simulator: determinism, and what the offline fold makes of its output."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from typing import Any

import pytest

from ingest.accepted_event import AcceptedEvent, Rejection, RejectReason
from ingest.simulated_bad_records import FILE_KINDS, MISMATCH_KEY_PREFIX
from ingest.simulated_wire import DUPLICATE, VALID, SimulatedRecord
from ingest.traffic_simulator import SimulationConfig, TrafficSimulator
from ingest.validation import validate_record
from streams.offline_fold import FoldResult, fold_lines

GAP_MS = 30 * 60 * 1000
EVENT_TYPES = {
    "page_view",
    "interaction",
    "feature_use",
    "goal",
    "page_load",
    "error",
    "llm_usage",
    "context",
    "session_end",
}


def _generate(config: SimulationConfig) -> tuple[list[SimulatedRecord], TrafficSimulator]:
    simulator = TrafficSimulator(config)
    return list(simulator.records()), simulator


def _file_bytes(config: SimulationConfig) -> bytes:
    records, _ = _generate(config)
    return b"".join(record.value + b"\n" for record in records)


@dataclass
class Simulated:
    records: list[SimulatedRecord]
    simulator: TrafficSimulator
    fold: FoldResult


@pytest.fixture(scope="module")
def simulated() -> Simulated:
    config = SimulationConfig(seed=42, sessions=400, bad_share=0.02, duplicate_share=0.02)
    records, simulator = _generate(config)
    result = fold_lines((record.value for record in records), gap_ms=GAP_MS)
    return Simulated(records, simulator, result)


def test_same_seed_gives_the_same_bytes() -> None:
    config = SimulationConfig(seed=7, sessions=150)
    assert _file_bytes(config) == _file_bytes(config)


def test_another_seed_gives_other_bytes() -> None:
    first = _file_bytes(SimulationConfig(seed=7, sessions=150))
    second = _file_bytes(SimulationConfig(seed=8, sessions=150))
    assert first != second


def test_events_bound_gives_exactly_that_many_records() -> None:
    records, simulator = _generate(SimulationConfig(seed=3, events=2500))
    assert len(records) == 2500
    assert simulator.summary.events == 2500
    assert simulator.summary.records == Counter(record.kind for record in records)
    assert simulator.summary.sessions == len({record.key for record in records})


def test_cut_run_is_a_prefix_of_a_longer_one() -> None:
    short = _file_bytes(SimulationConfig(seed=11, events=1000))
    longer = _file_bytes(SimulationConfig(seed=11, events=3000))
    assert longer.startswith(short)


def test_every_line_is_one_json_line(simulated: Simulated) -> None:
    for record in simulated.records:
        assert b"\n" not in record.value and b"\r" not in record.value


def test_fold_counts_equal_what_the_simulator_generated(simulated: Simulated) -> None:
    summary = simulated.fold.summary
    generated = simulated.simulator.summary
    assert summary.events == len(simulated.records) == generated.events
    assert summary.accepted == generated.records[VALID]
    assert summary.duplicates == generated.records[DUPLICATE] > 0
    assert dict(summary.rejected) == generated.bad
    assert set(summary.rejected) == {kind.value for kind in FILE_KINDS}
    assert summary.sessions == generated.sessions == 400


def test_every_bad_record_is_rejected_for_its_own_reason(simulated: Simulated) -> None:
    for record in simulated.records:
        checked = validate_record(record.value)
        if record.kind in (VALID, DUPLICATE):
            assert isinstance(checked, AcceptedEvent), (record.value[:200], checked)
        else:
            assert isinstance(checked, Rejection)
            assert checked.reason.value == record.kind, (record.value[:200], checked)


def test_fold_yields_every_session_type(simulated: Simulated) -> None:
    types = Counter(snapshot["session_type"] for snapshot in simulated.fold.snapshots)
    assert {"bounce", "standard", "exploration", "conversion"} <= set(types)


def _batches(snapshots: list[dict[str, Any]]) -> dict[tuple[str, int], dict[str, Any]]:
    return {(s["session_id"], s["batch_seq"]): s for s in snapshots}


def test_fold_yields_rotated_and_gap_closed_batches(simulated: Simulated) -> None:
    batches = _batches(simulated.fold.snapshots)
    rotated = gap_closed = 0
    for snapshot in batches.values():
        if not snapshot["closed"]:
            continue
        if len(snapshot["path_sequence"]) == 50:
            rotated += 1
        else:
            gap_closed += 1
    assert rotated > 0
    assert gap_closed > 0
    assert max(len(s["path_sequence"]) for s in simulated.fold.snapshots) == 50


def test_traffic_holds_every_event_type_and_both_kinds_of_visitor(simulated: Simulated) -> None:
    lines = [json.loads(r.value) for r in simulated.records if r.kind == VALID]
    assert {line["type"] for line in lines} == EVENT_TYPES
    assert any("sent_at" in line for line in lines)
    with_received_at = sum("received_at" in line for line in lines)
    assert 0.7 * len(lines) < with_received_at < len(lines)
    snapshots = simulated.fold.snapshots
    assert any(s["user_id"] is None for s in snapshots)
    assert any(s["user_id"] is not None for s in snapshots)
    signed_up = [
        s for s in snapshots if s["session_id"].startswith("anon-") and s["user_id"] is not None
    ]
    assert signed_up, "some anonymous sessions sign up"
    keys = set().union(*(s["metadata"] for s in snapshots))
    assert any(s["metadata"].get("experiment_variant", "") is None for s in snapshots)
    assert {"workspace_id", "plan", "team_id", "workspace_size", "experiment_variant"} <= keys


def test_llm_usage_has_tokens_and_costs(simulated: Simulated) -> None:
    snapshots = simulated.fold.snapshots
    with_llm = [s for s in snapshots if s["llm_token_usage"] > 0]
    assert with_llm
    assert all(float(s["llm_cost_estimate"]) > 0 for s in with_llm)
    detail = with_llm[0]["llm_interactions"][0]
    assert {"model", "tokens", "cost", "timestamp"} <= set(detail)


def test_sessions_hold_idle_gaps_and_skewed_clocks(simulated: Simulated) -> None:
    assert simulated.simulator.summary.idle_gaps > 0
    skewed = 0
    for record in simulated.records:
        if record.kind != VALID:
            continue
        line = json.loads(record.value)
        event = validate_record(record.value)
        assert isinstance(event, AcceptedEvent)
        if "sent_at" in line and event.event_time_ms != event.arrival_ms:
            skewed += 1
    assert skewed > 0


def test_key_mismatch_records_are_keyed_by_another_id() -> None:
    kinds = (*FILE_KINDS, RejectReason.KEY_MISMATCH)
    records, simulator = _generate(
        SimulationConfig(seed=5, sessions=120, bad_share=0.05, bad_kinds=kinds)
    )
    mismatched = [r for r in records if r.kind == RejectReason.KEY_MISMATCH.value]
    assert len(mismatched) == simulator.summary.bad[RejectReason.KEY_MISMATCH.value] > 0
    for record in mismatched:
        assert record.key.startswith(MISMATCH_KEY_PREFIX)
        checked = validate_record(
            record.value, key=record.key, check_key=True, record_timestamp_ms=record.timestamp_ms
        )
        assert isinstance(checked, Rejection)
        assert checked.reason is RejectReason.KEY_MISMATCH
    for record in records:
        if record.kind in (VALID, DUPLICATE):
            checked = validate_record(
                record.value,
                key=record.key,
                check_key=True,
                record_timestamp_ms=record.timestamp_ms,
            )
            assert isinstance(checked, AcceptedEvent)


def test_record_timestamp_is_received_at_else_ts(simulated: Simulated) -> None:
    for record in simulated.records[:3000]:
        if record.kind != VALID:
            continue
        event = validate_record(record.value)
        assert isinstance(event, AcceptedEvent)
        assert event.arrival_ms == record.timestamp_ms


def test_no_bad_records_when_share_is_zero() -> None:
    records, simulator = _generate(
        SimulationConfig(seed=1, sessions=100, bad_share=0.0, duplicate_share=0.0)
    )
    assert {record.kind for record in records} == {VALID}
    assert simulator.summary.bad == {}


@pytest.mark.parametrize(
    "changes",
    [
        {"sessions": None},
        {"events": 5},
        {"bad_share": 1.5},
        {"sessions_per_minute": 0},
        {"metadata_keys": ("favourite_colour",)},
    ],
)
def test_bad_config_is_refused(changes: dict[str, Any]) -> None:
    settings: dict[str, Any] = {"seed": 1, "sessions": 10, **changes}
    with pytest.raises(ValueError):
        SimulationConfig(**settings)
