"""Workers for the integration tests (not a test module), run as real subprocesses.

``sessionizer worker`` in a subprocess (so SIGKILL is real), and waiting on its progress: the
consumer group's committed offsets against the raw topic's end, and the worker's /metrics page.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import CoordinatorLoadInProgressError, GroupCoordinatorNotAvailableError
from aiokafka.structs import TopicPartition

from sessionizer.settings import Settings

REPO = Path(__file__).resolve().parents[2]
SESSIONIZER = REPO / ".venv" / "bin" / "sessionizer"


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
