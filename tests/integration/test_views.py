"""Views and documented example queries, run as written on a table filled by the sink.

Expected numbers are computed here from the snapshots themselves (plain Python), never read
back from the database.
"""

from __future__ import annotations

import random
from collections import defaultdict
from datetime import datetime, timedelta
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from sessionizer.settings import Settings
from sinks.migrations import migrate
from tests.integration.conftest import MakeTopic, PgSchema
from tests.integration.sink_test_support import (
    make_snapshot,
    produce_snapshots,
    running_sink,
    sink_settings,
    wait_until,
)

QUERIES = Path(__file__).resolve().parents[2] / "sql" / "queries"
BASE = datetime.fromisoformat("2026-11-25T08:00:00.000+00:00")
PLANS: list[Any] = ["free", "pro", "team", None, "absent"]
SIZES: list[Any] = [3, 5, 6, 20, 21, 200, "12", "ten", None, "absent"]
VARIANTS: list[Any] = ["A", "B", None, "absent"]


def _ts(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _session(rng: random.Random, n: int) -> list[dict[str, Any]]:
    """The final snapshots of one session's batches (cumulative maps carried across)."""
    sid = f"sess-{n:03d}"
    metadata: dict[str, Any] = {}
    for key, choices in (("plan", PLANS), ("workspace_size", SIZES),
                         ("experiment_variant", VARIANTS)):
        value = rng.choice(choices)
        if value != "absent":
            metadata[key] = value
    if n % 7 == 0:
        metadata["workspace_id"] = "workspace_123"
    goals: dict[str, str] = {}
    features: dict[str, int] = {}
    start = BASE + timedelta(minutes=n, milliseconds=rng.randint(0, 999))
    batches = []
    for seq in range(rng.randint(1, 3)):
        if seq == 1 and metadata.get("plan") == "free":
            metadata = {**metadata, "plan": "pro"}  # upgraded: the latest batch must win
        for _ in range(rng.randint(0, 3)):
            name = rng.choice(["chat", "reports", "settings", "export"])
            features[name] = features.get(name, 0) + 1
        ended = start + timedelta(seconds=rng.randint(1, 1200), milliseconds=rng.randint(0, 999))
        if rng.random() < 0.25 and not goals:
            goals["signup"] = _ts(ended)
        tokens = rng.randint(0, 50_000)
        cost = Decimal(rng.randint(0, 9_999_999)) / 10_000
        batches.append(make_snapshot(
            sid, seq, rng.randint(1, 40),
            started_at=_ts(start), ended_at=_ts(ended), metadata=dict(metadata),
            goal_events=dict(goals), conversion_achieved=bool(goals),
            feature_interactions=dict(features), llm_token_usage=tokens,
            llm_cost_estimate=f"{cost:.4f}", closed=False,
            path_sequence=[f"/s{seq}", "/x"], path_timings=[0, 10],
            entry_point=f"/s{seq}", exit_point="/x",
        ))
        start = ended + timedelta(minutes=31)
    for earlier in batches[:-1]:
        earlier["closed"] = True
    return batches


def _millis(text: str) -> int:
    moment = datetime.fromisoformat(text)
    return int(moment.timestamp() * 1000)


def _expected_sessions(snapshots: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    by_session: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for snap in snapshots:
        by_session[snap["session_id"]].append(snap)
    result = {}
    for sid, batches in by_session.items():
        batches.sort(key=lambda s: s["batch_seq"])
        first, last = batches[0], batches[-1]
        started = min(_millis(b["started_at"]) for b in batches)
        ended = max(_millis(b["ended_at"]) for b in batches)
        workspace = last["metadata"].get("workspace_id")
        result[sid] = {
            "session_id": sid, "user_id": None,
            "workspace_id": None if workspace is None else str(workspace),
            "metadata": last["metadata"], "started_at": started, "ended_at": ended,
            "session_duration_ms": ended - started, "batch_count": len(batches),
            "last_batch_seq": last["batch_seq"], "entry_point": first["entry_point"],
            "exit_point": last["exit_point"],
            "conversion_achieved": any(b["conversion_achieved"] for b in batches),
            "goal_events": last["goal_events"], "interaction_summary":
                last["interaction_summary"], "feature_interactions": last["feature_interactions"],
            "llm_token_usage": sum(b["llm_token_usage"] for b in batches),
            "llm_cost_estimate": sum(Decimal(b["llm_cost_estimate"]) for b in batches),
        }
    return result


def _number(value: Any) -> Fraction | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return Fraction(value)
    try:
        return Fraction(value.strip()) if value.strip().isdigit() else None
    except (AttributeError, ValueError):
        return None


@pytest.fixture
async def filled(
    test_settings: Settings, pg_schema: PgSchema, pg_conn: asyncpg.Connection,
    make_topic: MakeTopic, kafka_bootstrap: str,
) -> dict[str, dict[str, Any]]:
    """60 sessions written by the sink (with older versions delivered after newer ones)."""
    settings = sink_settings(test_settings, pg_schema.name, sink_batch_size=50,
                             sink_batch_age_s=0.2)
    await migrate(settings.database_url, pg_schema.name)
    await make_topic(settings.sessions_topic, partitions=2)
    await make_topic(settings.dlq_topic)
    rng = random.Random(11)
    final = [snap for n in range(60) for snap in _session(rng, n)]
    stale = [make_snapshot(s["session_id"], s["batch_seq"], s["version"] - 1,
                           metadata={"plan": "stale", "experiment_variant": "stale"},
                           llm_token_usage=999_999)
             for s in final if s["version"] > 1]
    async with running_sink(settings):
        await produce_snapshots(kafka_bootstrap, settings.sessions_topic, final + stale)

        async def written() -> bool:
            return int(await pg_conn.fetchval(
                "SELECT count(*) FROM analytics_user_sessions")) == len(final)

        await wait_until(written, 60, "every batch written")
    return _expected_sessions(final)


def _row_as_expected(row: asyncpg.Record) -> dict[str, Any]:
    import json

    out = dict(row)
    for key in ("metadata", "goal_events", "interaction_summary", "feature_interactions"):
        out[key] = json.loads(out[key])
    out["started_at"] = int(out["started_at"].timestamp() * 1000)
    out["ended_at"] = int(out["ended_at"].timestamp() * 1000)
    return out


async def test_session_summary(filled: dict[str, dict[str, Any]],
                               pg_conn: asyncpg.Connection) -> None:
    rows = await pg_conn.fetch("SELECT * FROM analytics_session_summary ORDER BY session_id")
    assert {r["session_id"]: _row_as_expected(r) for r in rows} == filled
    assert any(s["batch_count"] > 1 for s in filled.values())


async def test_sessions_for_workspace_query(filled: dict[str, dict[str, Any]],
                                            pg_conn: asyncpg.Connection) -> None:
    rows = await pg_conn.fetch((QUERIES / "sessions_for_workspace.sql").read_text())
    expected = sorted(s for s, v in filled.items() if v["workspace_id"] == "workspace_123")
    assert expected and sorted(r["session_id"] for r in rows) == expected


def _by_plan(filled: dict[str, dict[str, Any]]) -> dict[Any, tuple[int, int]]:
    groups: dict[Any, list[bool]] = defaultdict(list)
    for s in filled.values():
        groups[s["metadata"].get("plan")].append(s["conversion_achieved"])
    return {plan: (len(c), sum(c)) for plan, c in groups.items()}


async def test_conversion_by_plan(filled: dict[str, dict[str, Any]],
                                  pg_conn: asyncpg.Connection) -> None:
    expected = _by_plan(filled)
    assert "stale" not in expected and len(expected) >= 3
    query = await pg_conn.fetch((QUERIES / "conversion_by_plan.sql").read_text())
    view = await pg_conn.fetch("SELECT * FROM analytics_conversion_by_plan")
    for rows in (query, view):
        assert {r["plan"]: (r["total_sessions"], r["conversions"]) for r in rows} == expected
        for r in rows:
            total, conversions = expected[r["plan"]]
            rate = Fraction(100 * conversions, total)
            assert abs(Fraction(str(r["conversion_rate"])) - rate) <= Fraction(1, 200)


def _by_team_size(filled: dict[str, dict[str, Any]]) -> dict[str, Fraction]:
    groups: dict[str, list[int]] = defaultdict(list)
    for s in filled.values():
        size = _number(s["metadata"].get("workspace_size"))
        if size is None:
            continue
        bucket = "small" if size <= 5 else "medium" if size <= 20 else "large"
        groups[bucket].append(len(s["feature_interactions"]))
    return {bucket: Fraction(sum(v), len(v)) for bucket, v in groups.items()}


async def test_feature_adoption_by_team_size(filled: dict[str, dict[str, Any]],
                                             pg_conn: asyncpg.Connection) -> None:
    expected = _by_team_size(filled)
    assert set(expected) == {"small", "medium", "large"}
    query = await pg_conn.fetch((QUERIES / "feature_adoption_by_team_size.sql").read_text())
    view = await pg_conn.fetch("SELECT * FROM analytics_feature_adoption_by_team_size")
    for rows in (query, view):
        got = {r["team_size"]: Fraction(str(r["avg_features_used"])) for r in rows}
        assert got.keys() == expected.keys()
        for bucket, value in expected.items():
            assert abs(got[bucket] - value) < Fraction(1, 10**12)
    # the gist's original query fails on this data: feature_interactions is an object
    with pytest.raises(asyncpg.PostgresError, match="non-array"):
        await pg_conn.fetch("SELECT AVG(jsonb_array_length(feature_interactions)) "
                            "FROM analytics_user_sessions")


async def test_ab_variant_comparison(filled: dict[str, dict[str, Any]],
                                     pg_conn: asyncpg.Connection) -> None:
    groups: dict[Any, list[dict[str, Any]]] = defaultdict(list)
    for s in filled.values():
        if "experiment_variant" in s["metadata"]:
            groups[s["metadata"]["experiment_variant"]].append(s)
    assert "stale" not in groups and len(groups) >= 2
    query = await pg_conn.fetch((QUERIES / "ab_variant_comparison.sql").read_text())
    view = await pg_conn.fetch("SELECT * FROM analytics_ab_variant_comparison")
    for rows, duration_column in ((query, "avg_session_duration"),
                                  (view, "avg_session_duration_ms")):
        assert {r["variant"] for r in rows} == set(groups)
        for r in rows:
            sessions = groups[r["variant"]]
            assert r["conversions"] == sum(s["conversion_achieved"] for s in sessions)
            mean = Fraction(sum(s["session_duration_ms"] for s in sessions), len(sessions))
            assert abs(Fraction(str(r[duration_column])) - mean) < Fraction(1, 10**9)
    for r in view:
        assert r["sessions"] == len(groups[r["variant"]])
