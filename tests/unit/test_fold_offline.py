"""`sessionizer fold` end to end: a large generated file, and the CLI's behaviour."""

from __future__ import annotations

import io
import json
import os
import random
import re
import subprocess
import sys
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from sessionizer.cli import main
from tests.spec_examples import SPEC_EXAMPLES

GAP_MS = 1_800_000
EXAMPLES = SPEC_EXAMPLES
START = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)
PATH_COUNTS = [1, 2, 7, 30, 48, 49, 50, 51, 98, 99, 100, 147, 148, 149, 160, 199, 250, 320]
ROTATING_APPEND = 50  # the 50th path of a batch closes it ...
APPENDS_PER_LATER_BATCH = 49  # ... and later batches start with the carried path


def _ts(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass
class SessionPlan:
    """What the generator built for one session, and what fold must therefore print."""

    session_id: str
    lines: list[str] = field(default_factory=list)
    batches: int = 0
    rotations: int = 0
    gap_closings: int = 0
    open_final: bool = False  # the last batch received events and is not closed
    accepted: int = 0
    duplicates: int = 0
    tokens: int = 0
    cost: Decimal = Decimal(0)


@dataclass
class GeneratedFile:
    text: str
    sessions: dict[str, SessionPlan]
    rejected: Counter[str]
    rejected_lines: dict[int, str]  # line number -> reason
    events: int  # non-blank lines


def _plan_session(rng: random.Random, number: int, target_events: int) -> SessionPlan:
    plan = SessionPlan(session_id=f"sess-{number:05d}")
    moment = START + timedelta(seconds=rng.randrange(0, 3600))
    previous_batch_has_events = False
    batch_has_events = False
    segments = 0

    def emit(document: dict[str, Any]) -> None:
        nonlocal batch_has_events
        event_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        document = {"event_id": event_id, "session_id": plan.session_id, **document}
        document["ts"] = _ts(moment)
        plan.lines.append(json.dumps(document))
        plan.accepted += 1
        batch_has_events = True
        if rng.random() < 0.02:  # the same event again, now and then with an upper-case id
            again = dict(document)
            if rng.random() < 0.5:
                again["event_id"] = event_id.upper()
            plan.lines.append(json.dumps(again))
            plan.duplicates += 1

    while plan.accepted < target_events or segments == 0:
        if segments:  # a silence longer than GAP before every segment but the first
            moment += timedelta(milliseconds=GAP_MS + rng.choice([1, 1000, 3_600_000]))
            plan.gap_closings += previous_batch_has_events
        segments += 1
        path_count = rng.choice(PATH_COUNTS)
        batch_has_events = False
        for index in range(path_count):
            appends = index + 1  # every page view of the loop adds a new path
            here = f"/{plan.session_id}/p{index}"
            moment += timedelta(milliseconds=rng.randrange(1, 20_000))
            emit({"type": "page_view", "path": here})
            rotates = appends == ROTATING_APPEND or (
                appends > ROTATING_APPEND
                and (appends - ROTATING_APPEND) % APPENDS_PER_LATER_BATCH == 0
            )
            if rotates:
                plan.rotations += 1
                plan.batches += 1  # the closed one
                batch_has_events = False  # the new batch holds only the carried path
            last_page = index == path_count - 1
            for _ in range(rng.choice([0, 0, 1, 2]) if not last_page else rng.choice([0, 1])):
                moment += timedelta(milliseconds=rng.randrange(0, 5_000))
                kind = rng.random()
                if kind < 0.3:
                    emit({"type": "interaction", "name": rng.choice(["a", "b"])})
                elif kind < 0.5:
                    tokens = rng.randrange(0, 5000)
                    cost = Decimal(rng.randrange(0, 100_000)) / 10_000
                    plan.tokens += tokens
                    plan.cost += cost
                    emit({"type": "llm_usage", "model": "m", "tokens": tokens, "cost": float(cost)})
                elif kind < 0.6:  # the same path again: no new path
                    emit({"type": "page_view", "path": here})
                elif kind < 0.7:
                    emit(
                        {
                            "type": "error",
                            "error_type": "js",
                            "path": f"/{plan.session_id}/p{index}",
                        }
                    )
                else:
                    emit({"type": "context", "metadata": {"k": rng.randrange(10)}})
        if batch_has_events:
            plan.batches += 1  # the segment's last batch, closed by the next gap or left open
        previous_batch_has_events = batch_has_events
    plan.open_final = previous_batch_has_events
    return plan


_BAD_LINES: list[tuple[str, str]] = [
    ("bad_json", "{not json"),
    ("bad_json", "[1, 2, 3]"),
    ("bad_json", '{"event_id": NaN}'),
    (
        "invalid_event",
        '{"event_id": "00000000-0000-4000-8000-00000000bad1", "session_id": "sess-00001", '
        '"type": "page_view", "ts": "2026-11-25T10:00:00Z"}',
    ),
    (
        "invalid_event",
        '{"event_id": "00000000-0000-4000-8000-00000000bad2", "session_id": "sess-00002", '
        '"type": "bogus", "ts": "2026-11-25T10:00:00Z"}',
    ),
    (
        "bad_timestamp",
        '{"event_id": "00000000-0000-4000-8000-00000000bad3", "session_id": "sess-00003", '
        '"type": "page_view", "path": "/x", "ts": "2026-11-25 10:00:00Z"}',
    ),
    (
        "bad_timestamp",
        '{"event_id": "00000000-0000-4000-8000-00000000bad4", "session_id": "sess-00004", '
        '"type": "page_view", "path": "/x", "ts": "1999-12-31T23:59:59Z"}',
    ),
    (
        "too_large",
        '{"event_id": "00000000-0000-4000-8000-00000000bad5", "session_id": "sess-00005", '
        '"type": "context", "ts": "2026-11-25T10:00:00Z", "metadata": {"x": "'
        + "y" * 70_000
        + '"}}',
    ),
]


def generate(seed: int, *, min_events: int) -> GeneratedFile:
    """A JSON Lines file of interleaved sessions with gaps, rotations, duplicates and bad lines."""
    rng = random.Random(seed)
    plans: dict[str, SessionPlan] = {}
    total = 0
    number = 0
    while total < min_events:
        number += 1
        plan = _plan_session(rng, number, rng.choice([20, 100, 300, 600]))
        plans[plan.session_id] = plan
        total += len(plan.lines)
    # Interleave sessions, each in its own order; sprinkle bad and blank lines.
    cursors = {sid: 0 for sid in plans}
    active = sorted(plans)
    out: list[str] = []
    rejected: Counter[str] = Counter()
    rejected_lines: dict[int, str] = {}
    events = 0
    while active:
        roll = rng.random()
        if roll < 0.002:
            out.append(rng.choice(["", "   "]))
            continue
        if roll < 0.004:
            reason, line = rng.choice(_BAD_LINES)
            out.append(line)
            rejected[reason] += 1
            rejected_lines[len(out)] = reason
            events += 1
            continue
        sid = active[rng.randrange(len(active))]
        plan = plans[sid]
        out.append(plan.lines[cursors[sid]])
        events += 1
        cursors[sid] += 1
        if cursors[sid] == len(plan.lines):
            active.remove(sid)
    return GeneratedFile("\n".join(out) + "\n", plans, rejected, rejected_lines, events)


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> tuple[GeneratedFile, Path]:
    data = generate(20261125, min_events=100_000)
    path = tmp_path_factory.mktemp("fold") / "events.jsonl"
    path.write_text(data.text, "utf-8")
    return data, path


_REJECTED_LINE = re.compile(r"^line (\d+): ([a-z_]+): .+$")


def test_large_generated_file(
    generated: tuple[GeneratedFile, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data, path = generated
    plans = data.sessions
    assert data.events >= 100_000
    assert sum(plan.rotations for plan in plans.values()) > 500
    assert any(plan.batches >= 4 for plan in plans.values())

    output = tmp_path / "batches.jsonl"
    assert main(["fold", str(path), "--gap-ms", str(GAP_MS), "-o", str(output)]) == 0
    stderr = capsys.readouterr().err.splitlines()

    reported = {}
    for line in stderr:
        match = _REJECTED_LINE.match(line)
        if match:
            reported[int(match.group(1))] = match.group(2)
    assert reported == data.rejected_lines
    summary = stderr[-1]
    accepted = sum(plan.accepted for plan in plans.values())
    duplicates = sum(plan.duplicates for plan in plans.values())
    assert f"{data.events} events: {accepted} accepted, {duplicates} duplicates" in summary
    assert f"{sum(data.rejected.values())} rejected" in summary
    for reason, count in data.rejected.items():
        assert f"{reason} {count}" in summary

    snapshots = [json.loads(line) for line in output.read_text("utf-8").splitlines()]
    keys = [(s["session_id"], s["batch_seq"]) for s in snapshots]
    assert keys == sorted(keys)
    by_session: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for snapshot in snapshots:
        by_session[snapshot["session_id"]].append(snapshot)
    assert set(by_session) == set(plans)
    assert f"{len(plans)} sessions, {len(snapshots)} batches" in summary
    for sid, plan in plans.items():
        batches = by_session[sid]
        assert [b["batch_seq"] for b in batches] == list(range(plan.batches)), sid
        rotated = [b for b in batches if b["closed"] and len(b["path_sequence"]) == 50]
        assert len(rotated) == plan.rotations, sid
        closed = sum(b["closed"] for b in batches)
        assert closed == plan.rotations + plan.gap_closings, sid
        assert (not batches[-1]["closed"]) is plan.open_final, sid
        assert sum(b["version"] - b["closed"] for b in batches) == plan.accepted, sid
        assert sum(b["llm_token_usage"] for b in batches) == plan.tokens, sid
        assert sum(Decimal(b["llm_cost_estimate"]) for b in batches) == plan.cost, sid


def test_fold_output_is_byte_identical_run_after_run(
    generated: tuple[GeneratedFile, Path], tmp_path: Path
) -> None:
    """Two processes with different hash seeds print the same bytes."""
    _, path = generated
    sample = tmp_path / "sample.jsonl"
    sample.write_bytes(b"".join(path.read_bytes().splitlines(keepends=True)[:5_000]))
    outputs = []
    for seed in ("1", "2"):
        completed = subprocess.run(
            [sys.executable, "-m", "sessionizer.cli", "fold", str(sample), "--gap-ms", "1800000"],
            capture_output=True,
            check=True,
            timeout=120,
            env={**os.environ, "PYTHONHASHSEED": seed},
        )
        outputs.append(completed.stdout)
    assert outputs[0] == outputs[1]
    assert outputs[0].count(b"\n") > 20


def _run(args: list[str], capsys: pytest.CaptureFixture[bytes]) -> tuple[int, bytes, str]:
    code = main(args)
    captured = capsys.readouterr()
    return code, captured.out, captured.err.decode("utf-8")


def test_cli_stdout_is_canonical_and_identical_twice(
    capsysbinary: pytest.CaptureFixture[bytes],
) -> None:
    example = EXAMPLES / "02-rotation.events.jsonl"
    code, first, err = _run(["fold", str(example)], capsysbinary)
    assert code == 0 and "3 batches" in err
    code, second, _ = _run(["fold", str(example)], capsysbinary)
    assert first == second
    for line in first.splitlines():
        value = json.loads(line)
        canonical = json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        assert line == canonical.encode()


def test_cli_reads_stdin_and_reports_rejected_lines_by_number(
    monkeypatch: pytest.MonkeyPatch, capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    good = (EXAMPLES / "04-gap.events.jsonl").read_bytes().splitlines()
    text = b"\n".join([good[0], b"", b"{oops", good[1], b"  ", b"[]", *good[2:]]) + b"\n"
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(text)))
    code, out, err = _run(["fold", "-", "--gap-ms", str(GAP_MS)], capsysbinary)
    assert code == 0
    assert [line for line in err.splitlines() if line.startswith("line ")] == [
        line for line in err.splitlines() if _REJECTED_LINE.match(line)
    ]
    assert re.search(r"^line 3: bad_json: ", err, re.M)
    assert re.search(r"^line 6: bad_json: ", err, re.M)
    assert "6 events: 4 accepted, 0 duplicates, 2 rejected (bad_json 2)" in err
    expected = (EXAMPLES / "04-gap.expected.jsonl").read_text("utf-8").splitlines()
    assert [json.loads(line) for line in out.splitlines()] == [json.loads(e) for e in expected]


def test_cli_gap_override(capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    example = EXAMPLES / "04-gap.events.jsonl"
    code, out, _ = _run(["fold", str(example), "--gap-ms", "0"], capsysbinary)
    assert code == 0
    batches = [json.loads(line) for line in out.splitlines()]
    assert [(b["batch_seq"], b["closed"], b["version"]) for b in batches] == [(0, False, 4)]


def test_cli_unreadable_input_fails_clearly(
    tmp_path: Path, capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    code, out, err = _run(["fold", str(tmp_path / "missing.jsonl")], capsysbinary)
    assert code != 0 and out == b""
    assert "cannot read" in err and "missing.jsonl" in err
    code, _, err = _run(["fold", str(tmp_path)], capsysbinary)
    assert code != 0 and "cannot read" in err


def test_cli_output_file(tmp_path: Path, capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    example = EXAMPLES / "01-basic-shape.events.jsonl"
    target = tmp_path / "out.jsonl"
    code, out, _ = _run(["fold", str(example), "-o", str(target)], capsysbinary)
    assert code == 0 and out == b""
    assert [json.loads(line) for line in target.read_text("utf-8").splitlines()] == [
        json.loads(line)
        for line in (EXAMPLES / "01-basic-shape.expected.jsonl").read_text("utf-8").splitlines()
    ]
    code, _, err = _run(
        ["fold", str(example), "-o", str(tmp_path / "no-such-dir" / "x")], capsysbinary
    )
    assert code != 0 and "cannot write" in err


def test_cli_help_states_the_exit_status(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["fold", "--help"])
    assert exited.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "0 when the input was read to its end, even if some lines were rejected" in text
    assert "--gap-ms" in text and "--output" in text and "--progress" in text


def test_progress_is_reported(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "many.jsonl"
    path.write_text("\n" * 200_001)
    assert main(["fold", str(path), "--progress", "-o", str(tmp_path / "out")]) == 0
    err = capsys.readouterr().err
    assert "100000 lines" in err and "200000 lines" in err
    assert "200001 lines, 0 events" in err
