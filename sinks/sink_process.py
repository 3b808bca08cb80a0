"""The worker's Postgres sink in a child process: the fold and the sink each get a core.

The worker (one Python thread doing nearly all the work) used to run the sink in its own event
loop; decoding, checking and upserting snapshots then took CPU from the fold. The child runs
exactly what ``sessionizer sink`` runs (:func:`sinks.session_stream_sink.run_sink`) with the
worker's settings, and lives no longer than the worker:

* the worker stops it with SIGTERM (the sink writes its pending batch and commits, then exits);
* it ignores SIGINT (a Ctrl-C reaches the whole process group; the worker decides when);
* it stops by itself when the worker is gone (SIGKILL, ``os._exit``): it notices its parent
  changed within :data:`PARENT_CHECK_S`;
* the worker treats the child's end, while the worker runs, as the sink failing.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import signal
import sys
from multiprocessing.process import BaseProcess

from sessionizer.settings import Settings
from sinks.session_stream_sink import run_sink

log = logging.getLogger(__name__)

PARENT_CHECK_S = 0.5
STOP_TIMEOUT_S = 30.0


def _child_main(settings: Settings, parent_pid: int) -> None:
    """Entry point of the child (a fresh interpreter: ``spawn``)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    logging.basicConfig(
        level=settings.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s [sink process]: %(message)s",
        stream=sys.stderr,
    )
    asyncio.run(_run_child(settings, parent_pid))


async def _run_child(settings: Settings, parent_pid: int) -> None:
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)

    async def watch_parent() -> None:
        while not stop.is_set():
            if os.getppid() != parent_pid:
                log.warning("the worker (pid %d) is gone: stopping the sink", parent_pid)
                stop.set()
                return
            await asyncio.sleep(PARENT_CHECK_S)

    watcher = asyncio.ensure_future(watch_parent())
    try:
        await run_sink(settings, stop)
    finally:
        watcher.cancel()


class SinkProcess:
    """Starts, watches and stops the child (an async context manager)."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._process: BaseProcess | None = None
        self._stopping = False

    async def __aenter__(self) -> SinkProcess:
        context = multiprocessing.get_context("spawn")
        process = context.Process(
            target=_child_main,
            args=(self._settings, os.getpid()),
            name="sessionizer-sink",
            daemon=False,
        )
        process.start()
        self._process = process
        log.info("sink process started (pid %s)", process.pid)
        return self

    async def wait(self) -> int | None:
        """Wait until the child ends; its exit code (None if it was never started)."""
        process = self._process
        if process is None:
            return None
        ended = asyncio.Event()
        loop = asyncio.get_running_loop()
        sentinel = process.sentinel  # readable once the child is gone
        loop.add_reader(sentinel, ended.set)
        try:
            await ended.wait()
        finally:
            loop.remove_reader(sentinel)
        process.join(1.0)
        return process.exitcode

    @property
    def stopping(self) -> bool:
        return self._stopping

    async def __aexit__(self, *exc_info: object) -> None:
        process = self._process
        if process is None:
            return
        self._stopping = True
        if process.is_alive():
            process.terminate()  # SIGTERM: the sink writes what it holds and commits
            loop = asyncio.get_running_loop()
            await loop.run_in_executor(None, process.join, STOP_TIMEOUT_S)
            if process.is_alive():
                log.warning("the sink process did not stop in %.0f s: killing it", STOP_TIMEOUT_S)
                process.kill()
                await loop.run_in_executor(None, process.join, 5.0)
        log.info("sink process ended (exit code %s)", process.exitcode)
