"""The worker against the real broker: same result as `sessionizer fold`, DLQ, metrics."""

from __future__ import annotations

import asyncio
import json
import re
import time
import uuid
from pathlib import Path

import aiohttp

from sessionizer.settings import Settings
from tests.integration.conftest import MakeTopic
from tests.integration.ingest_test_support import read_topic
from tests.integration.seeded_raw_events import (
    RawRecord,
    bad_records,
    generate_events,
    iso_ms,
    produce,
    write_jsonl,
)
from tests.integration.session_stream_reference import (
    fold_file_with_cli,
    stream_result,
    wait_stream_equals,
)
from tests.integration.worker_subprocess import WorkerProcess, wait_caught_up

PARTITIONS = 6
HOUR_MS = 3_600_000


def worker_settings(test_settings: Settings) -> Settings:
    return test_settings.model_copy(
        update={
            "topic_partitions": PARTITIONS,
            "flush_interval_s": 1.0,
            "worker_batch_size": 500,
            "worker_session_timeout_s": 10.0,
        }
    )


def metric(text: str, name: str, labels: str = "") -> float:
    pattern = rf"^{re.escape(name)}{re.escape(labels)} (\S+)$"
    match = re.search(pattern, text, re.MULTILINE)
    assert match, f"{name}{labels} not in /metrics"
    return float(match.group(1))


async def test_worker_catches_up_matches_fold_and_dead_letters_bad_records(
    test_settings: Settings, make_topic: MakeTopic, tmp_path: Path
) -> None:
    settings = worker_settings(test_settings)
    await make_topic(settings.raw_topic, partitions=PARTITIONS)
    start_ms = int(time.time() * 1000) - 3 * HOUR_MS
    events = generate_events(11, sessions=500, events_per_session=44, start_ms=start_ms)
    assert len(events) >= 20_000
    bad = bad_records(start_ms)
    half = len(events) // 2
    bootstrap = settings.kafka_bootstrap_servers

    # Half the events and every bad record before the worker starts (it must catch up), the
    # other half while it runs.
    await produce(bootstrap, settings.raw_topic, events[:half] + [record for record, _ in bad])
    worker = WorkerProcess(settings, tmp_path, "worker", store="rocksdb://")
    worker.start()
    try:
        await produce(bootstrap, settings.raw_topic, events[half:])
        await wait_caught_up(settings, [worker])

        write_jsonl(tmp_path / "events.jsonl", events)
        expected = fold_file_with_cli(tmp_path / "events.jsonl", settings.gap_ms)
        assert len(expected) > 500  # more batches than sessions: gaps and rotations happened
        await wait_stream_equals(settings, expected, [worker])

        # Bad records: each in the DLQ once, value unchanged, with its reason and source.
        raw = {(r.partition, r.offset): r for r in await read_topic(bootstrap, settings.raw_topic)}
        dlq = await read_topic(bootstrap, settings.dlq_topic)
        assert len(dlq) == len(bad)
        for record, reason in bad:
            found = [d for d in dlq if d.value == record.value and d.key == record.key]
            assert len(found) == 1, f"{reason}: {record.value[:60]!r} found {len(found)} times"
            headers = found[0].headers
            assert headers["error.reason"].decode() == reason, record.value[:80]
            assert headers["error.message"]
            assert headers["source.topic"].decode() == settings.raw_topic
            assert headers["source.timestamp"].decode() == str(record.timestamp_ms)
            source = raw[(int(headers["source.partition"]), int(headers["source.offset"]))]
            assert source.value == record.value

        # Metrics: the same figures on /metrics, and the INFO stats line in the log.
        url = f"http://127.0.0.1:{worker.web_port}/metrics"
        async with aiohttp.ClientSession() as http, http.get(url) as response:
            assert response.status == 200
            text = await response.text()
        assert metric(text, "sessionizer_worker_events_total") == len(events) + len(bad)
        for reason in {reason for _, reason in bad}:
            count = sum(1 for _, r in bad if r == reason)
            assert metric(text, "sessionizer_worker_rejected_total", f'{{reason="{reason}"}}') == (
                count
            )
        assert metric(text, "sessionizer_worker_duplicates_total") > 0
        assert metric(text, "sessionizer_worker_snapshots_sent_total") >= len(expected)
        assert metric(text, "sessionizer_worker_consumer_lag_total") == 0
        # RocksDB store: its memtables hold the session states written since the start.
        assert metric(text, "sessionizer_worker_rocksdb_memory_bytes", '{kind="memtables"}') > 0
        assert worker.alive(), "bad records never stop the worker"
    finally:
        status = worker.stop()
    assert status == 0, worker.log_tail()
    log_text = worker.log_path.read_text()
    assert re.search(
        r"worker stats: [\d.]+ events/s .*rejected .*duplicates .*snapshots sent "
        r".*consumer lag \d+",
        log_text,
    )


async def test_worker_refuses_a_raw_topic_with_another_partition_count(
    test_settings: Settings, make_topic: MakeTopic, tmp_path: Path
) -> None:
    settings = worker_settings(test_settings)
    await make_topic(settings.raw_topic, partitions=PARTITIONS - 3)
    worker = WorkerProcess(settings, tmp_path, "worker", store="memory://")
    worker.start()
    assert worker.process is not None
    status = await asyncio.to_thread(worker.process.wait, 60)
    assert status == 1
    output = worker.log_path.read_text()
    assert settings.raw_topic in output
    assert f"has {PARTITIONS - 3} partitions, {PARTITIONS} configured" in output


async def test_a_caught_up_worker_flushes_without_waiting_for_the_interval(
    test_settings: Settings, make_topic: MakeTopic, tmp_path: Path
) -> None:
    # Three page views send no snapshot by themselves (no 5th path, goal or end); with a
    # 120 s interval only the idle flush can bring their batch to the stream within 60 s.
    settings = worker_settings(test_settings).model_copy(update={"flush_interval_s": 120.0})
    await make_topic(settings.raw_topic, partitions=PARTITIONS)
    now_ms = int(time.time() * 1000)
    records = [
        RawRecord(
            b"idle-session",
            json.dumps(
                {
                    "event_id": str(uuid.uuid4()),
                    "session_id": "idle-session",
                    "type": "page_view",
                    "path": f"/page-{n}",
                    "ts": iso_ms(now_ms + n * 1000),
                }
            ).encode(),
            now_ms,
        )
        for n in range(3)
    ]
    worker = WorkerProcess(settings, tmp_path, "worker", store="memory://")
    worker.start()
    try:
        await produce(settings.kafka_bootstrap_servers, settings.raw_topic, records)
        deadline = time.monotonic() + 60
        snapshot: dict[str, object] = {}
        while time.monotonic() < deadline and snapshot.get("version") != 3:
            assert worker.alive(), worker.log_tail()
            snapshot = (await stream_result(settings)).get(("idle-session", 0), {})
            await asyncio.sleep(1)
    finally:
        worker.stop()
    assert snapshot.get("version") == 3, worker.log_tail()
    assert snapshot["path_sequence"] == ["/page-0", "/page-1", "/page-2"]
