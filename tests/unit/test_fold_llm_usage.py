"""SPEC 3 step 4, llm_usage: the detail list and its cap, token totals, exact decimal costs."""

from __future__ import annotations

import json

import pytest

from streams.snapshot import make_snapshot
from tests.unit.fold_events import fold, llm, page


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
