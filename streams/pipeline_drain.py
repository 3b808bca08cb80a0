"""Waiting until the pipeline is drained: every raw event folded, flushed and in the table.

Drained means, read from Kafka alone (no access to the worker's process):

1. the worker group's committed offsets reach the end of the raw topic (lag 0 on every
   partition);
2. the session stream has not grown for longer than one flush interval (plus a margin): a
   batch still dirty after the last raw event is sent by the next interval flush, so once
   that much time passed without a new snapshot, none is pending;
3. the sink group's committed offsets reach the end of the session stream.

``python -m streams.pipeline_drain [--timeout S] [--pid WORKER_PID]`` runs
:func:`wait_drained` with the settings of the environment (used by ``make demo``) and prints
progress lines to stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError
from aiokafka.structs import TopicPartition

from sessionizer.errors import TransientError
from sessionizer.settings import Settings

log = logging.getLogger(__name__)

FLUSH_MARGIN_S = 3.0

Progress = Callable[[str], None]


@dataclass(frozen=True, slots=True)
class PipelineLag:
    """Per-partition lag of the worker group (raw topic) and the sink group (session stream)."""

    raw: dict[int, int]
    sink: dict[int, int]
    sessions_end: int

    @property
    def raw_total(self) -> int:
        return sum(self.raw.values())

    @property
    def sink_total(self) -> int:
        return sum(self.sink.values())

    def line(self) -> str:
        raw = " ".join(f"{p}:{n}" for p, n in sorted(self.raw.items()))
        return (
            f"worker lag {self.raw_total} [{raw}]  sink lag {self.sink_total}  "
            f"session stream end {self.sessions_end}"
        )


class LagProbe:
    """An admin client and a group-less consumer, started once, asked repeatedly."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._admin = AIOKafkaAdminClient(
            bootstrap_servers=settings.kafka_bootstrap_servers, client_id="sessionizer-drain"
        )
        self._consumer = AIOKafkaConsumer(
            bootstrap_servers=settings.kafka_bootstrap_servers,
            client_id="sessionizer-drain",
            group_id=None,
            enable_auto_commit=False,
        )

    async def __aenter__(self) -> LagProbe:
        try:
            await self._admin.start()
            await self._consumer.start()
        except (KafkaError, OSError) as exc:
            await self.__aexit__()
            raise TransientError(f"Kafka unreachable: {exc!r}") from exc
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._consumer.stop()
        await self._admin.close()

    async def _lag(self, group_id: str, topic: str) -> tuple[dict[int, int], int]:
        metadata = await self._consumer._client.fetch_all_metadata()
        partitions = sorted(metadata.partitions_for_topic(topic) or ())
        if not partitions:
            return {}, 0
        tps = [TopicPartition(topic, p) for p in partitions]
        ends = await self._consumer.end_offsets(tps)
        starts = await self._consumer.beginning_offsets(tps)
        committed = await self._admin.list_consumer_group_offsets(group_id, partitions=tps)
        lag: dict[int, int] = {}
        for tp in tps:
            meta = committed.get(tp)
            done = meta.offset if meta is not None and meta.offset >= 0 else starts[tp]
            lag[tp.partition] = max(0, ends[tp] - max(done, starts[tp]))
        return lag, sum(ends.values())

    async def measure(self) -> PipelineLag:
        s = self._settings
        try:
            raw, _ = await self._lag(s.worker_app_id, s.raw_topic)
            sink, sessions_end = await self._lag(s.sink_group_id, s.sessions_topic)
        except KafkaError as exc:
            raise TransientError(f"measuring lag failed: {exc!r}") from exc
        return PipelineLag(raw, sink, sessions_end)


async def wait_drained(
    settings: Settings,
    progress: Progress,
    *,
    timeout_s: float = 600.0,
    poll_s: float = 2.0,
    alive: Callable[[], bool] | None = None,
) -> PipelineLag:
    """Wait until drained (module docstring); :class:`TransientError` on timeout.

    ``alive``: called every poll; a false answer (the worker died) raises at once.
    """
    quiet_s = settings.flush_interval_s + FLUSH_MARGIN_S
    deadline = time.monotonic() + timeout_s
    async with LagProbe(settings) as probe:
        last_end = -1
        end_since = time.monotonic()
        while True:
            if alive is not None and not alive():
                raise TransientError("the worker stopped before the pipeline was drained")
            try:
                lag = await probe.measure()
            except TransientError as exc:
                # e.g. the group coordinator is not ready yet on a fresh broker: ask again
                if time.monotonic() > deadline:
                    raise
                log.info("lag not measurable yet (%s); retrying", exc)
                await asyncio.sleep(poll_s)
                continue
            now = time.monotonic()
            if lag.sessions_end != last_end:
                last_end, end_since = lag.sessions_end, now
            progress(lag.line())
            if lag.raw_total == 0 and lag.sink_total == 0 and now - end_since >= quiet_s:
                return lag
            if now > deadline:
                raise TransientError(f"not drained after {timeout_s:.0f} s: {lag.line()}")
            await asyncio.sleep(poll_s)


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m streams.pipeline_drain",
        description="Wait until the worker and its sink have processed everything (see the "
        "module docstring). Exit 0 when drained, 1 on timeout or when Kafka is unreachable.",
    )
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds (default 600)")
    parser.add_argument("--poll", type=float, default=2.0, help="seconds between checks")
    parser.add_argument(
        "--every", type=float, default=10.0, help="seconds between progress lines (default 10)"
    )
    parser.add_argument(
        "--pid", type=int, help="the worker's process id: give up at once when it is gone"
    )
    args = parser.parse_args(argv)
    settings = Settings()
    started = time.monotonic()
    shown = [-args.every]

    def show(line: str) -> None:
        now = time.monotonic() - started
        if now - shown[0] >= args.every:
            shown[0] = now
            print(f"[drain {now:5.0f}s] {line}", file=sys.stderr, flush=True)

    try:
        alive = None if args.pid is None else (lambda: _running(args.pid))
        lag = asyncio.run(
            wait_drained(settings, show, timeout_s=args.timeout, poll_s=args.poll, alive=alive)
        )
    except TransientError as exc:
        print(f"not drained: {exc}", file=sys.stderr)
        return 1
    print(f"[drain {time.monotonic() - started:5.0f}s] drained: {lag.line()}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
