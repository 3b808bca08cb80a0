"""`sessionizer export` against the real broker: faithful to what the stream sees."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from ingest.accepted_event import AcceptedEvent, Rejection, RejectReason
from ingest.kafka_producer import KafkaRecordSender
from ingest.paced_sending import send_paced
from ingest.simulated_bad_records import FILE_KINDS
from ingest.simulated_wire import SimulatedRecord
from ingest.topic_export import (
    FILLED,
    SKIPPED_EMPTY,
    SKIPPED_KEY_MISMATCH,
    SKIPPED_MULTILINE,
    export_line,
    export_topic,
    read_topic,
)
from ingest.traffic_simulator import SimulationConfig, TrafficSimulator
from ingest.validation import validate_record
from sessionizer.settings import PROJECT_ROOT, Settings
from streams.offline_fold import fold_lines
from tests.integration.conftest import MakeTopic

PARTITIONS = 3
BASE_MS = int(datetime(2026, 11, 25, 10, 0, tzinfo=UTC).timestamp() * 1000)


@dataclass
class Produced:
    settings: Settings
    topic: str
    records: list[SimulatedRecord]
    key_mismatches: int


async def _send(settings: Settings, topic: str, records: list[SimulatedRecord]) -> None:
    async with KafkaRecordSender(settings) as sender:
        sent = await send_paced(sender, topic, ((r.key, r.value, r.timestamp_ms) for r in records))
    assert sent == len(records)


@pytest.fixture
async def produced(test_settings: Settings, make_topic: MakeTopic) -> Produced:
    topic = await make_topic(partitions=PARTITIONS)
    settings = test_settings.model_copy(update={"raw_topic": topic})
    simulator = TrafficSimulator(
        SimulationConfig(
            seed=21,
            sessions=120,
            bad_share=0.04,
            duplicate_share=0.03,
            bad_kinds=(*FILE_KINDS, RejectReason.KEY_MISMATCH),
        )
    )
    records = list(simulator.records())
    await _send(settings, topic, records)
    mismatches = simulator.summary.bad.get(RejectReason.KEY_MISMATCH.value, 0)
    assert mismatches > 0
    return Produced(settings, topic, records, mismatches)


async def test_fold_of_the_export_equals_fold_of_what_was_produced(produced: Produced) -> None:
    lines: list[bytes] = []
    summary = await export_topic(produced.settings, produced.topic, lines.append)
    assert summary.records == len(produced.records)
    assert summary.outcomes[SKIPPED_KEY_MISMATCH] == produced.key_mismatches
    assert summary.written == len(produced.records) - produced.key_mismatches
    assert summary.outcomes.get(FILLED, 0) > 0  # backend events without received_at
    assert sorted(summary.partitions) == list(range(PARTITIONS))

    # The simulated file minus the records a file cannot carry (wrong key): SPEC 8 says the
    # stream's result equals fold of that file, so fold of the export must equal it too.
    reference = [r.value for r in produced.records if r.kind != RejectReason.KEY_MISMATCH.value]
    expected = fold_lines(reference, gap_ms=produced.settings.gap_ms)
    exported = fold_lines(lines, gap_ms=produced.settings.gap_ms)
    assert exported.snapshots == expected.snapshots
    assert exported.summary.rejected == expected.summary.rejected
    assert exported.summary.duplicates == expected.summary.duplicates


async def test_export_validates_as_the_stream_does(produced: Produced) -> None:
    """Each written line, folded offline, gives what the stream gets from the record."""
    partitions_seen: list[int] = []
    order: dict[str, list[str]] = defaultdict(list)
    async for record in read_topic(produced.settings, produced.topic):
        partitions_seen.append(record.partition)
        assert record.value is not None
        stream_view = validate_record(
            record.value, key=record.key, check_key=True, record_timestamp_ms=record.timestamp_ms
        )
        line, _ = export_line(record.value, record.key, record.timestamp_ms)
        if line is None:
            assert isinstance(stream_view, Rejection)
            assert stream_view.reason is RejectReason.KEY_MISMATCH
            continue
        file_view = validate_record(line)
        if isinstance(stream_view, AcceptedEvent):
            assert file_view == stream_view
            order[stream_view.session_id].append(stream_view.event_id)
        else:
            assert isinstance(file_view, Rejection)
            assert file_view.reason is stream_view.reason
    assert partitions_seen == sorted(partitions_seen), "partition 0 first, then 1, ..."
    produced_order: dict[str, list[str]] = defaultdict(list)
    for simulated in produced.records:
        if simulated.kind in ("event", "duplicate"):
            event = validate_record(simulated.value)
            assert isinstance(event, AcceptedEvent)
            produced_order[event.session_id].append(event.event_id)
    assert order == produced_order, "every session keeps its log order"


async def test_edge_values(test_settings: Settings, make_topic: MakeTopic) -> None:
    topic = await make_topic(partitions=1)
    settings = test_settings.model_copy(update={"raw_topic": topic})
    event = {
        "event_id": "00000000-0000-4000-8000-0000000000a1",
        "session_id": "s-edge",
        "type": "page_view",
        "ts": "2026-11-25T10:00:00.000Z",
        "path": "/a",
    }
    pretty = json.dumps(event, indent=2).encode()
    with_null = json.dumps(
        {**event, "event_id": "00000000-0000-4000-8000-0000000000a2", "received_at": None}
    ).encode()
    records = [
        SimulatedRecord(0, b"s-edge", pretty, BASE_MS + 123, "event"),
        SimulatedRecord(0, b"s-edge", b"", BASE_MS + 200, "bad_json"),
        SimulatedRecord(0, b"s-edge", with_null, BASE_MS + 300, "event"),
        SimulatedRecord(0, b"s-edge", b"{\n  not json", BASE_MS + 400, "bad_json"),
    ]
    await _send(settings, topic, records)
    lines: list[bytes] = []
    summary = await export_topic(settings, topic, lines.append)
    assert summary.outcomes[SKIPPED_EMPTY] == 1
    assert summary.outcomes[SKIPPED_MULTILINE] == 1
    assert summary.outcomes[FILLED] == 2
    assert summary.written == 2
    assert all(line.count(b"\n") == 1 and line.endswith(b"\n") for line in lines)
    first, second = (json.loads(line) for line in lines)
    assert first["received_at"] == "2026-11-25T10:00:00.123Z"  # the record timestamp
    assert second["received_at"] == "2026-11-25T10:00:00.300Z"  # null counts as absent
    assert {k: v for k, v in first.items() if k != "received_at"} == event


async def _run_cli(settings: Settings, *args: str) -> tuple[int, bytes, str]:
    env = {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": settings.kafka_bootstrap_servers}
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "sessionizer.cli",
        *args,
        cwd=PROJECT_ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    async with asyncio.timeout(180):
        out, err = await proc.communicate()
    assert proc.returncode is not None
    return proc.returncode, out, err.decode()


async def test_cli_writes_the_same_lines_and_a_time_range(
    produced: Produced, tmp_path: Path
) -> None:
    lines: list[bytes] = []
    await export_topic(produced.settings, produced.topic, lines.append)
    target = tmp_path / "export.jsonl"
    code, _, err = await _run_cli(
        produced.settings, "export", "--topic", produced.topic, "-o", str(target)
    )
    assert code == 0, err
    assert target.read_bytes() == b"".join(lines)
    assert f"{len(produced.records)} records read" in err

    stamps = sorted(r.timestamp_ms for r in produced.records)
    since, until = stamps[len(stamps) // 4], stamps[3 * len(stamps) // 4]
    code, out, err = await _run_cli(
        produced.settings,
        "export",
        "--topic",
        produced.topic,
        "--since",
        str(since),
        "--until",
        str(until),
    )
    assert code == 0, err
    in_range = [
        r
        for r in produced.records
        if since <= r.timestamp_ms < until and r.kind != RejectReason.KEY_MISMATCH.value
    ]
    assert len(out.splitlines()) == len(in_range)
    code, _, err = await _run_cli(produced.settings, "export", "--topic", "no-such-topic-x1")
    assert code == 1
    assert "does not exist" in err
