"""The worker's sink child process lives exactly as long as the worker.

A SIGKILLed worker runs no shutdown code: its sink process must notice and stop by itself
(no orphan keeps consuming). A sink process that dies while the worker runs stops the worker
with a failure status (as a crashed in-process sink did), so a supervisor restarts both.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from pathlib import Path

from sessionizer.settings import Settings
from sinks.migrations import migrate
from tests.integration.conftest import MakeTopic
from tests.integration.e2e_support import sink_worker
from tests.integration.test_worker import PARTITIONS, worker_settings
from tests.integration.worker_subprocess import WorkerProcess

CHILD_TIMEOUT_S = 60.0


def _sink_children(pid: int) -> list[int]:
    """Child processes of ``pid`` running multiprocessing's spawn entry (the sink process)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        parent = int(stat[stat.rindex(")") + 2 :].split()[1])
        if parent == pid and b"spawn_main" in cmdline:
            found.append(int(entry.name))
    return found


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2 :].split()[0] != "Z"


async def _sink_child_of(worker: WorkerProcess) -> int:
    assert worker.process is not None
    deadline = time.monotonic() + CHILD_TIMEOUT_S
    while time.monotonic() < deadline:
        assert worker.alive(), worker.log_tail()
        children = _sink_children(worker.process.pid)
        if children:
            assert len(children) == 1, children
            return children[0]
        await asyncio.sleep(0.2)
    raise AssertionError(f"no sink process started:\n{worker.log_tail()}")


async def test_the_sink_process_stops_with_the_worker_and_stops_it_when_it_dies(
    test_settings: Settings, make_topic: MakeTopic, tmp_path: Path
) -> None:
    settings = worker_settings(test_settings)
    await make_topic(settings.raw_topic, partitions=PARTITIONS)
    await migrate(settings.database_url, settings.db_schema)

    first = sink_worker(settings, tmp_path, "first")
    first.start()
    try:
        child = await _sink_child_of(first)
        first.kill()  # SIGKILL: the worker cannot tell its child anything
        deadline = time.monotonic() + 15.0
        while time.monotonic() < deadline:
            if not _alive(child):
                break
            await asyncio.sleep(0.2)
        assert not _alive(child), "the sink process outlived its SIGKILLed worker"
    finally:
        first.stop()

    second = sink_worker(settings, tmp_path, "second")
    second.start()
    try:
        child = await _sink_child_of(second)
        os.kill(child, signal.SIGKILL)
        assert second.process is not None
        status = await asyncio.to_thread(second.process.wait, 60)
        assert status not in (0, None), second.log_tail()
        assert "the sink process ended" in second.log_tail(200)
    finally:
        second.stop()
