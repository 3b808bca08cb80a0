"""Helpers for the worker tests (not a test module).

Seeded raw events written by the test itself, producing them with the SPEC 8 record
timestamps, workers run as real subprocesses (so SIGKILL is real), waiting until the worker's
consumer group has committed everything, and the session stream reduced to the highest
version per (session_id, batch_seq).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import CoordinatorLoadInProgressError, GroupCoordinatorNotAvailableError
from aiokafka.structs import TopicPartition

from sessionizer.settings import Settings
from tests.integration.ingest_test_support import read_topic

REPO = Path(__file__).resolve().parents[2]
SESSIONIZER = REPO / ".venv" / "bin" / "sessionizer"
MINUTE_MS = 60_000

PATHS = [f"/app/page-{n}" for n in range(80)]
LABELS = ["save", "open", "close", "share", "export", "filter"]
FEATURES = ["search", "chat", "upload", "compare"]
GOALS = ["signup", "purchase", "invite"]
MODELS = ["gpt-x", "claude-y", "mistral-z"]


@dataclass(frozen=True)
class RawRecord:
    """One record to produce: key, value, record timestamp (ms)."""

    key: bytes | None
    value: bytes
    timestamp_ms: int


def iso_ms(epoch_ms: int) -> str:
    moment = datetime.fromtimestamp(epoch_ms / 1000, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{epoch_ms % 1000:03d}Z"


def _event(rng: random.Random, session_id: str, kind: str, path: str | None) -> dict[str, Any]:
    event: dict[str, Any] = {
        "event_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        "session_id": session_id,
        "type": kind,
    }
    if path is not None:
        event["path"] = path
    if kind == "interaction":
        event["name"] = rng.choice(LABELS)
    elif kind == "feature_use":
        event["name"] = rng.choice(FEATURES)
    elif kind == "goal":
        event["name"] = rng.choice(GOALS)
    elif kind == "page_load":
        event["page"] = path or "chat_response"
        event["load_ms"] = rng.randint(0, 5000)
    elif kind == "error":
        event["error_type"] = rng.choice(["TypeError", "NetworkError"])
        if rng.random() < 0.5:
            event["message"] = "boom " * rng.randint(1, 5)
    elif kind == "llm_usage":
        event["model"] = rng.choice(MODELS)
        event["tokens"] = rng.randint(1, 5000)
        event["cost"] = round(rng.uniform(0, 0.05), 6)
        if rng.random() < 0.5:
            event["prompt_tokens"] = rng.randint(0, 1000)
            event["stopped"] = rng.random() < 0.1
    elif kind == "context":
        event["metadata"] = {"plan": rng.choice(["free", "pro", None]), "n": rng.randint(0, 9)}
    return event


KINDS = [
    ("page_view", 35),
    ("interaction", 20),
    ("feature_use", 8),
    ("page_load", 8),
    ("error", 5),
    ("llm_usage", 12),
    ("context", 4),
    ("goal", 3),
]


def generate_events(
    seed: int, *, sessions: int, events_per_session: int, start_ms: int
) -> list[RawRecord]:
    """Seeded sessions, interleaved in time order; keys are session ids.

    Some sessions pause longer than the default GAP (30 min), some see over 50 paths (batch
    rotation), about 2% of events are sent twice (duplicates), times carry client skew
    (``sent_at``) and collector times (``received_at``) on part of the events.
    """
    rng = random.Random(seed)
    kinds = [k for k, w in KINDS for _ in range(w)]
    timeline: list[tuple[int, int, RawRecord]] = []
    order = 0
    for index in range(sessions):
        session_id = f"s{seed}-{index:04d}-{uuid.UUID(int=rng.getrandbits(128)).hex[:8]}"
        now = start_ms + rng.randint(0, 20 * MINUTE_MS)
        user = str(uuid.UUID(int=rng.getrandbits(128), version=4)) if rng.random() < 0.6 else None
        skew = rng.choice([0, 0, 120_000, -90_000])
        many_paths = rng.random() < 0.1
        count = rng.randint(events_per_session // 2, events_per_session * 3 // 2)
        previous: RawRecord | None = None
        for n in range(count):
            now += rng.randint(200, 20_000)
            if rng.random() < 0.01:
                now += 31 * MINUTE_MS  # longer than GAP: the batch closes
            kind = "page_view" if many_paths and rng.random() < 0.7 else rng.choice(kinds)
            if n == count - 1 and rng.random() < 0.3:
                kind = "session_end"
            path = rng.choice(PATHS) if kind == "page_view" or rng.random() < 0.3 else None
            event = _event(rng, session_id, kind, path)
            if user is not None and rng.random() < 0.3:
                event["user_id"] = user
            client_ms = now + skew
            event["ts"] = iso_ms(client_ms)
            timestamp = client_ms
            if rng.random() < 0.5:
                event["sent_at"] = iso_ms(client_ms + 150)
                event["received_at"] = iso_ms(now + 180)
                timestamp = now + 180
            record = RawRecord(
                session_id.encode(), json.dumps(event, separators=(",", ":")).encode(), timestamp
            )
            timeline.append((now, order, record))
            order += 1
            if previous is not None and rng.random() < 0.02:
                timeline.append((now + 1, order, previous))  # the same event again
                order += 1
            previous = record
    timeline.sort(key=lambda item: (item[0], item[1]))
    return [record for _, _, record in timeline]


def bad_records(start_ms: int) -> list[tuple[RawRecord, str]]:
    """One record per SPEC 2.4 case, with the reason the worker must give."""

    def valid(session_id: str, **extra: Any) -> dict[str, Any]:
        event = {
            "event_id": str(uuid.uuid4()),
            "session_id": session_id,
            "type": "page_view",
            "path": "/bad",
            "ts": iso_ms(start_ms),
        }
        event.update(extra)
        return event

    def rec(value: bytes, key: bytes | None = b"bad-session") -> RawRecord:
        return RawRecord(key, value, start_ms)

    def js(event: dict[str, Any]) -> bytes:
        return json.dumps(event).encode()

    deep: Any = 1
    for _ in range(40):
        deep = [deep]
    return [
        (rec(js(valid("bad-session", pad="x" * 70_000))), "too_large"),
        (rec(b"\xef\xbb\xbf" + js(valid("bad-session"))), "bad_json"),
        (rec(b"{not json"), "bad_json"),
        (rec(b"[1, 2, 3]"), "bad_json"),
        (rec(js(valid("bad-session", metadata={"d": deep}))), "bad_json"),
        (rec(b'{"event_id": NaN}'), "bad_json"),
        (rec(b'{"x": 1e400}'), "bad_json"),
        (rec(b'{"x": 99999999999999999999}'), "bad_json"),
        (rec(b"\xff\xfe not utf-8"), "bad_json"),
        (
            rec(js({k: v for k, v in valid("bad-session").items() if k != "event_id"})),
            "invalid_event",
        ),
        (rec(js(valid("bad-session", type="teleport"))), "invalid_event"),
        (rec(js(valid("bad-session", ts=1732530000))), "bad_timestamp"),
        (rec(js(valid("bad-session", ts="2026-11-25"))), "bad_timestamp"),
        (rec(js(valid("bad-session", ts="2026-11-25T10:00:00"))), "bad_timestamp"),
        (rec(js(valid("bad-session", ts="2026-11-25T10:00:60Z"))), "bad_timestamp"),
        (rec(js(valid("bad-session", ts="1999-12-31T23:59:59Z"))), "bad_timestamp"),
        (rec(js(valid("bad-session")), key=None), "key_mismatch"),
        (rec(js(valid("bad-session")), key=b"another-session"), "key_mismatch"),
    ]


async def produce(bootstrap: str, topic: str, records: Iterable[RawRecord]) -> None:
    """Produce in order (idempotent producer: order kept per partition), wait for all acks."""
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        acks="all",
        enable_idempotence=True,
        linger_ms=5,
        max_request_size=1_048_576,
    )
    await producer.start()
    try:
        acks = [
            await producer.send(topic, r.value, key=r.key, timestamp_ms=r.timestamp_ms)
            for r in records
        ]
        await asyncio.gather(*acks)
    finally:
        await producer.stop()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def worker_env(settings: Settings, *, store: str, data_dir: Path, web_port: int) -> dict[str, str]:
    """The environment of a worker subprocess for ``settings`` (the CLI builds Settings)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SESSIONIZER_")}
    env.update(
        {
            "KAFKA_BOOTSTRAP_SERVERS": settings.kafka_bootstrap_servers,
            "SESSIONIZER_RAW_TOPIC": settings.raw_topic,
            "SESSIONIZER_SESSIONS_TOPIC": settings.sessions_topic,
            "SESSIONIZER_DLQ_TOPIC": settings.dlq_topic,
            "SESSIONIZER_TOPIC_PARTITIONS": str(settings.topic_partitions),
            "SESSIONIZER_WORKER_APP_ID": settings.worker_app_id,
            "SESSIONIZER_WORKER_STORE": store,
            "SESSIONIZER_WORKER_DATA_DIR": str(data_dir),
            "SESSIONIZER_WORKER_WEB_PORT": str(web_port),
            "SESSIONIZER_WORKER_RUN_SINK": "false",
            "SESSIONIZER_WORKER_BATCH_SIZE": str(settings.worker_batch_size),
            "SESSIONIZER_FLUSH_INTERVAL_S": str(settings.flush_interval_s),
            "SESSIONIZER_STATS_INTERVAL_S": "2",
            "SESSIONIZER_GAP_MS": str(settings.gap_ms),
            "SESSIONIZER_WORKER_SESSION_TIMEOUT_S": str(settings.worker_session_timeout_s),
        }
    )
    return env


class WorkerProcess:
    """``sessionizer worker`` as a subprocess, its output in a log file."""

    def __init__(self, settings: Settings, folder: Path, name: str, *, store: str) -> None:
        self.name = name
        self.log_path = folder / f"{name}.log"
        self.web_port = free_port()
        self._env = worker_env(
            settings, store=store, data_dir=folder / f"{name}-data", web_port=self.web_port
        )
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [str(SESSIONIZER), "worker"],
            env=self._env,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=self.log_path.parent,
        )
        log.close()

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(30)

    def stop(self) -> int | None:
        """SIGTERM, then SIGKILL after 30 s; the exit status."""
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(30)
        return self.process.returncode

    def log_tail(self, lines: int = 60) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        return ""


async def group_lag(settings: Settings) -> int | None:
    """Raw records not yet covered by the worker group's committed offsets (None: no commit)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap_servers)
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap_servers)
    await admin.start()
    await consumer.start()
    try:
        try:
            committed = await admin.list_consumer_group_offsets(settings.worker_app_id)
        except (GroupCoordinatorNotAvailableError, CoordinatorLoadInProgressError):
            return None  # a fresh broker creates __consumer_offsets on first use: not yet
        partitions = consumer.partitions_for_topic(settings.raw_topic) or set()
        if not partitions:
            await consumer._client.force_metadata_update()
            partitions = consumer.partitions_for_topic(settings.raw_topic) or set()
        tps = [TopicPartition(settings.raw_topic, p) for p in sorted(partitions)]
        ends = await consumer.end_offsets(tps)
        lag = 0
        for tp in tps:
            meta = committed.get(tp)
            done = meta.offset if meta is not None and meta.offset >= 0 else 0
            lag += max(0, ends[tp] - done)
        return lag
    finally:
        await consumer.stop()
        await admin.close()


async def wait_caught_up(
    settings: Settings, workers: Sequence[WorkerProcess], *, timeout_s: float = 240.0
) -> None:
    """Wait until the group's committed offsets reach the end of the raw topic."""
    deadline = time.monotonic() + timeout_s
    lag: int | None = None
    while time.monotonic() < deadline:
        for worker in workers:
            assert worker.alive(), f"worker {worker.name} died:\n{worker.log_tail()}"
        lag = await group_lag(settings)
        if lag == 0:
            return
        await asyncio.sleep(1.0)
    tails = "\n".join(f"--- {w.name}\n{w.log_tail()}" for w in workers)
    raise AssertionError(f"worker group still lags by {lag} records\n{tails}")


def latest_snapshots(values: Iterable[bytes]) -> dict[tuple[str, int], dict[str, Any]]:
    """Highest version per (session_id, batch_seq) among snapshot values."""
    latest: dict[tuple[str, int], dict[str, Any]] = {}
    for value in values:
        snapshot = json.loads(value)
        key = (snapshot["session_id"], snapshot["batch_seq"])
        kept = latest.get(key)
        if kept is None or kept["version"] < snapshot["version"]:
            latest[key] = snapshot
    return latest


async def stream_result(settings: Settings) -> dict[tuple[str, int], dict[str, Any]]:
    records = await read_topic(settings.kafka_bootstrap_servers, settings.sessions_topic)
    for record in records:
        snapshot = json.loads(record.value)
        assert record.key == snapshot["session_id"].encode(), "snapshot keyed by its session"
    return latest_snapshots(record.value for record in records)


async def wait_stream_equals(
    settings: Settings,
    expected: dict[tuple[str, int], dict[str, Any]],
    workers: Sequence[WorkerProcess],
    *,
    timeout_s: float = 60.0,
) -> None:
    """Poll the session stream until it equals ``expected`` (interval flushes take time)."""
    deadline = time.monotonic() + timeout_s
    got: dict[tuple[str, int], dict[str, Any]] = {}
    while time.monotonic() < deadline:
        got = await stream_result(settings)
        if got == expected:
            return
        await asyncio.sleep(settings.flush_interval_s)
    missing = sorted(set(expected) - set(got))[:5]
    extra = sorted(set(got) - set(expected))[:5]
    differing = [k for k in expected if k in got and got[k] != expected[k]][:3]
    details = [f"missing {len(set(expected) - set(got))}: {missing}", f"extra: {extra}"]
    for key in differing:
        fields = {
            name: (expected[key][name], got[key].get(name))
            for name in expected[key]
            if expected[key][name] != got[key].get(name)
        }
        details.append(f"{key}: {fields}")
    tails = "\n".join(f"--- {w.name}\n{w.log_tail(20)}" for w in workers)
    raise AssertionError(
        f"session stream != offline fold ({len(got)} vs {len(expected)} batches)\n"
        + "\n".join(details)
        + f"\n{tails}"
    )


def offline_expected(records: Iterable[RawRecord], gap_ms: int) -> dict[tuple[str, int], Any]:
    """The offline fold (``sessionizer fold``'s engine) of the records' values, file order."""
    from streams.offline_fold import fold_lines
    from streams.snapshot import encode_snapshot

    result = fold_lines((r.value for r in records), gap_ms=gap_ms)
    return latest_snapshots(encode_snapshot(s) for s in result.snapshots)


def fold_file_with_cli(path: Path, gap_ms: int) -> dict[tuple[str, int], Any]:
    """``sessionizer fold FILE``: the reference the stream must equal."""
    done = subprocess.run(
        [str(SESSIONIZER), "fold", str(path), "--gap-ms", str(gap_ms)],
        capture_output=True,
        check=True,
        timeout=300,
    )
    return latest_snapshots(line for line in done.stdout.splitlines() if line.strip())


def write_jsonl(path: Path, records: Iterable[RawRecord]) -> None:
    with path.open("wb") as out:
        for record in records:
            out.write(record.value + b"\n")


async def scrape_metric(worker: WorkerProcess, name: str) -> float | None:
    """One value from the worker's /metrics page (None: not reachable yet)."""
    import re

    import aiohttp

    url = f"http://127.0.0.1:{worker.web_port}/metrics"
    try:
        async with aiohttp.ClientSession() as http, http.get(url) as response:
            text = await response.text()
    except aiohttp.ClientError:
        return None
    match = re.search(rf"^{re.escape(name)} (\S+)$", text, re.MULTILINE)
    return float(match.group(1)) if match else None


async def wait_events_processed(
    workers: Sequence[WorkerProcess], at_least: int, *, timeout_s: float = 180.0
) -> float:
    """Wait until the workers together report ``at_least`` consumed raw records."""
    deadline = time.monotonic() + timeout_s
    total = 0.0
    while time.monotonic() < deadline:
        total = 0.0
        for worker in workers:
            assert worker.alive(), f"worker {worker.name} died:\n{worker.log_tail()}"
            total += await scrape_metric(worker, "sessionizer_worker_events_total") or 0.0
        if total >= at_least:
            return total
        await asyncio.sleep(0.2)
    raise AssertionError(f"only {total} events processed, waited for {at_least}")
