"""`sessionizer produce` against the real broker, run as the CLI (a subprocess)."""

from __future__ import annotations

import asyncio
import os
import sys
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

from aiokafka.admin import AIOKafkaAdminClient

from sessionizer.settings import PROJECT_ROOT, Settings
from tests.integration.conftest import MakeTopic
from tests.integration.ingest_test_support import line, page_view, read_topic, rfc3339_ms


@dataclass
class CliRun:
    returncode: int
    stdout: str
    stderr: str


async def run_produce(
    settings: Settings, *args: str, timeout_s: float = 240.0, stdin: bytes | None = None
) -> CliRun:
    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": settings.kafka_bootstrap_servers,
        "SESSIONIZER_RAW_TOPIC": settings.raw_topic,
        "SESSIONIZER_DLQ_TOPIC": settings.dlq_topic,
        "SESSIONIZER_TOPIC_PARTITIONS": str(settings.topic_partitions),
    }
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "sessionizer.cli",
        "produce",
        *args,
        cwd=PROJECT_ROOT,
        env=env,
        stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    async with asyncio.timeout(timeout_s):
        out, err = await proc.communicate(stdin)
    assert proc.returncode is not None
    return CliRun(proc.returncode, out.decode(), err.decode())


CLIENT_START = datetime(2026, 11, 25, 9, 0, tzinfo=timezone(timedelta(hours=1)))


@dataclass
class ExpectedFile:
    path: Path
    valid: list[tuple[int, bytes, str, int]]  # line number, bytes, session_id, timestamp ms
    rejected: dict[int, str]  # line number -> reason
    blank: list[int]


def write_mixed_file(path: Path, lines: int, sessions: int = 250) -> ExpectedFile:
    """``lines`` lines: valid page views (a third with received_at, some with sent_at),
    a few broken ones of each kind and some blank lines, in a known place each."""
    valid: list[tuple[int, bytes, str, int]] = []
    rejected: dict[int, str] = {}
    blank: list[int] = []
    out: list[bytes] = []
    for number in range(1, lines + 1):
        session = f"session-{number % sessions:04d}-ü"
        moment = CLIENT_START + timedelta(milliseconds=37 * number)
        ts = moment.isoformat(timespec="milliseconds")
        if number % 500 == 0:
            out.append(b"   ")
            blank.append(number)
            continue
        if number % 211 == 0:
            out.append(b'{"event_id": "not closed"')
            rejected[number] = "bad_json"
            continue
        if number % 223 == 0:
            event = page_view(session, ts, "/x")
            del event["path"]
            out.append(line(event))
            rejected[number] = "invalid_event"
            continue
        if number % 227 == 0:
            out.append(line(page_view(session, "2026-11-25 10:00:00", "/x")))
            rejected[number] = "bad_timestamp"
            continue
        extra = {}
        timestamp = rfc3339_ms(ts)
        if number % 3 == 0:
            arrival = (moment + timedelta(hours=2, microseconds=500)).astimezone(UTC)
            extra["received_at"] = arrival.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
            timestamp = rfc3339_ms(extra["received_at"])
        if number % 7 == 0:
            extra["sent_at"] = ts
        value = line(page_view(session, ts, f"/page/{number}", **extra))
        out.append(value)
        valid.append((number, value, session, timestamp))
    path.write_bytes(b"\n".join(out) + b"\n")
    return ExpectedFile(path, valid, rejected, blank)


async def test_produce_10000_lines_exactly_once_in_order_with_spec8_timestamps(
    test_settings: Settings, kafka_admin: AIOKafkaAdminClient, tmp_path: Path
) -> None:
    expected = write_mixed_file(tmp_path / "events.jsonl", 10_000)
    assert len(expected.valid) > 9_000 and len(expected.rejected) > 100

    result = await run_produce(test_settings, str(expected.path))

    assert result.returncode == 0, result.stderr
    described = await kafka_admin.describe_topics([test_settings.raw_topic])
    assert len(described[0]["partitions"]) == test_settings.topic_partitions
    records = await read_topic(test_settings.kafka_bootstrap_servers, test_settings.raw_topic)
    # exactly once: every valid line, nothing else, nothing twice
    assert sorted(r.value for r in records) == sorted(v for _, v, _, _ in expected.valid)
    # keyed by session_id, in file order per session, with SPEC 8 timestamps
    by_session: dict[str, list[tuple[bytes, int]]] = defaultdict(list)
    for _, value, session, timestamp in expected.valid:
        by_session[session].append((value, timestamp))
    got: dict[str, list[tuple[bytes, int]]] = defaultdict(list)
    partitions: dict[str, set[int]] = defaultdict(set)
    for record in records:  # partition then offset order
        assert record.key is not None
        session = record.key.decode("utf-8")
        got[session].append((record.value, record.timestamp_ms))
        partitions[session].add(record.partition)
    assert got == by_session
    assert all(len(p) == 1 for p in partitions.values())
    # rejected lines reported with their numbers and reasons, then the summary
    for number, reason in expected.rejected.items():
        assert f"line {number}: {reason}: " in result.stderr
    for number in expected.blank:
        assert f"line {number}:" not in result.stderr
    summary = (
        f"10000 lines: {len(expected.valid)} sent, {len(expected.rejected)} rejected "
        f"(bad_json {sum(1 for r in expected.rejected.values() if r == 'bad_json')}, "
    )
    assert summary in result.stderr


async def test_produce_dlq_sends_rejected_lines_unchanged_with_headers(
    test_settings: Settings, tmp_path: Path
) -> None:
    good = line(page_view("s-1", "2026-11-25T10:00:00Z", "/a"))
    bad = b'{"session_id": "s-1", "type": "page_view"'
    invalid = line({"event_id": "nope", "session_id": "s-2", "type": "page_view"})
    path = tmp_path / "dlq.jsonl"
    path.write_bytes(good + b"\n\n" + bad + b"\r\n" + invalid + b"\n")

    result = await run_produce(test_settings, "--dlq", str(path))

    assert result.returncode == 0, result.stderr
    assert "line 3:" not in result.stderr  # rejected lines go to the DLQ, not to stderr
    assert "2 to the DLQ" in result.stderr
    raw = await read_topic(test_settings.kafka_bootstrap_servers, test_settings.raw_topic)
    assert [r.value for r in raw] == [good]
    dlq = await read_topic(test_settings.kafka_bootstrap_servers, test_settings.dlq_topic)
    by_value = {r.value: r for r in dlq}
    assert set(by_value) == {bad, invalid}
    assert by_value[bad].headers["error.reason"] == b"bad_json"
    assert by_value[bad].headers["source.offset"] == b"3"
    assert by_value[bad].headers["source.topic"] == f"file:{path}".encode()
    assert by_value[invalid].headers["error.reason"] == b"invalid_event"
    assert b"event_id" in by_value[invalid].headers["error.message"]
    assert by_value[invalid].headers["source.offset"] == b"4"
    for record in dlq:
        assert set(record.headers) == {
            "error.reason",
            "error.message",
            "source.topic",
            "source.partition",
            "source.offset",
            "source.timestamp",
        }


async def test_produce_exits_non_zero_when_nothing_is_valid(
    test_settings: Settings, tmp_path: Path
) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_bytes(b"[1]\n\n{}\n")

    result = await run_produce(test_settings, str(path))

    assert result.returncode == 1
    assert "line 1: bad_json:" in result.stderr
    assert "line 3: invalid_event:" in result.stderr
    assert "nothing was sent" in result.stderr


async def test_produce_reads_stdin_and_continues_from_start_line(
    test_settings: Settings,
) -> None:
    events = [line(page_view("s-9", f"2026-11-25T10:00:0{i}Z", f"/{i}")) for i in range(5)]
    result = await run_produce(
        test_settings,
        "--start-line",
        "3",
        "-",
        stdin=b"\n".join(events),  # no final newline
    )

    assert result.returncode == 0, result.stderr
    records = await read_topic(test_settings.kafka_bootstrap_servers, test_settings.raw_topic)
    assert [r.value for r in records] == events[2:]


async def test_produce_reports_unreachable_kafka(test_settings: Settings, tmp_path: Path) -> None:
    path = tmp_path / "one.jsonl"
    path.write_bytes(line(page_view("s", "2026-11-25T10:00:00Z", "/")) + b"\n")
    nowhere = test_settings.model_copy(update={"kafka_bootstrap_servers": "127.0.0.1:9"})

    result = await run_produce(nowhere, "--timeout", "3", str(path), timeout_s=60)

    assert result.returncode == 1
    assert "Kafka" in result.stderr and "127.0.0.1:9" in result.stderr
    assert "nothing sent" in result.stderr


async def test_produce_refuses_a_topic_with_another_partition_count(
    test_settings: Settings, make_topic: MakeTopic, tmp_path: Path
) -> None:
    await make_topic(test_settings.raw_topic, partitions=test_settings.topic_partitions + 1)
    path = tmp_path / "one.jsonl"
    path.write_bytes(line(page_view("s", "2026-11-25T10:00:00Z", "/")) + b"\n")

    result = await run_produce(test_settings, str(path))

    assert result.returncode == 1
    assert f"{test_settings.topic_partitions + 1} partitions" in result.stderr
    records = await read_topic(test_settings.kafka_bootstrap_servers, test_settings.raw_topic)
    assert records == []
