"""The session stream against its reference, for the worker tests (not a test module).

The stream reduced to the highest version per (session_id, batch_seq), and compared (polling)
with the offline fold of the same raw records, run in-process or as ``sessionizer fold``.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from sessionizer.settings import Settings
from tests.integration.ingest_test_support import read_topic
from tests.integration.worker_subprocess import SESSIONIZER, WorkerProcess


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


def fold_file_with_cli(path: Path, gap_ms: int) -> dict[tuple[str, int], Any]:
    """``sessionizer fold FILE``: the reference the stream must equal."""
    done = subprocess.run(
        [str(SESSIONIZER), "fold", str(path), "--gap-ms", str(gap_ms)],
        capture_output=True,
        check=True,
        timeout=300,
    )
    return latest_snapshots(line for line in done.stdout.splitlines() if line.strip())
