"""Reading the raw topic in bulk, for the partitions Faust assigned and restored.

Faust's consumer still owns the group: membership, assignment (the sessions table is
co-partitioned with the raw topic), table recovery and offset commits. But it delivers records
one by one, each through tasks, queues and a stream (most of the worker's CPU when it did), so
the raw partitions are never resumed in it. A second, manually assigned consumer
(:class:`RawReader`, no group) reads them with ``getmany`` and hands whole batches to the fold.

:class:`RawPartitionHandover` decides which partitions that consumer reads. Faust pauses every
assigned partition when a rebalance starts, restores the table's partitions, then resumes the
raw ones and reads their committed offsets (``perform_seek``). The handover takes the raw
partitions out of those calls: a paused one stops being *ready* at once (before the revocation
signal reaches the worker), a resumed one becomes ready once the committed offsets are read.
Each time a partition becomes ready it gets a new *epoch*; records fetched under an older epoch
are never folded (:func:`run_intake`), and the reader is sought to the gate's expected offset of
every newly ready partition.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterable
from types import TracebackType
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError
from faust.types import TP

from sessionizer.settings import Settings
from streams.delivery_gate import DeliveryGate
from streams.raw_record import RawRecord

log = logging.getLogger(__name__)

IDLE_WAIT_S = 1.0
FETCH_RETRY_S = 1.0
FETCH_MIN_BYTES = 64 * 1024
FETCH_MAX_WAIT_MS = 100
"""A fetch waits up to FETCH_MAX_WAIT_MS for FETCH_MIN_BYTES: under light traffic the reader
asks the broker about 10 times a second for a batch instead of once per handful of records
(which cost the worker and the broker far more CPU per event than the fold). Under load the
bytes are there at once; at worst a record waits 0.1 s longer."""


class RawPartitionHandover:
    """Which raw partitions the worker's own reader may read now, each with its epoch."""

    def __init__(self, raw_topic: str) -> None:
        self._topic = raw_topic
        self._pending: set[int] = set()  # resumed by Faust, committed offsets not read yet
        self._ready: dict[int, int] = {}  # partition -> epoch
        self._epoch = 0
        self.changed = asyncio.Event()

    def ready(self) -> dict[int, int]:
        """The partitions to read now, with their epochs (a copy)."""
        return dict(self._ready)

    def is_current(self, partition: int, epoch: int) -> bool:
        return self._ready.get(partition) == epoch

    def _raw(self, tps: Iterable[Any]) -> tuple[set[int], list[Any]]:
        raw: set[int] = set()
        other: list[Any] = []
        for tp in tps:
            if tp.topic == self._topic:
                raw.add(tp.partition)
            else:
                other.append(tp)
        return raw, other

    def paused(self, tps: Iterable[Any]) -> None:
        raw, _ = self._raw(tps)
        self._pending -= raw
        if raw & self._ready.keys():
            for partition in raw:
                self._ready.pop(partition, None)
            self.changed.set()

    def resumed(self, tps: Iterable[Any]) -> list[Any]:
        """Note the raw partitions of ``tps``; returns the others (for Faust to resume)."""
        raw, other = self._raw(tps)
        self._pending |= raw - self._ready.keys()
        return other

    def offsets_read(self) -> None:
        """Faust has read the committed offsets: the pending partitions are ready."""
        if not self._pending:
            return
        for partition in sorted(self._pending):
            self._epoch += 1
            self._ready[partition] = self._epoch
        self._pending.clear()
        self.changed.set()

    def install(self, consumer: Any) -> None:
        """Take the raw partitions out of this Faust consumer's pause/resume/seek calls."""
        if getattr(consumer, "_sessionizer_handover", None) is self:
            return
        faust_pause: Callable[[Iterable[TP]], None] = consumer.pause_partitions
        faust_resume: Callable[[Iterable[TP]], None] = consumer.resume_partitions
        faust_seek: Callable[[], Awaitable[None]] = consumer.perform_seek

        def pause_partitions(tps: Iterable[TP]) -> None:
            tps = list(tps)
            self.paused(tps)
            faust_pause(tps)

        def resume_partitions(tps: Iterable[TP]) -> None:
            faust_resume(self.resumed(list(tps)))

        async def perform_seek() -> None:
            await faust_seek()
            self.offsets_read()

        consumer.pause_partitions = pause_partitions
        consumer.resume_partitions = resume_partitions
        consumer.perform_seek = perform_seek
        consumer._sessionizer_handover = self


class RawReader:
    """A manually assigned consumer of the raw topic (an async context manager)."""

    def __init__(self, settings: Settings) -> None:
        self._topic = settings.raw_topic
        self._consumer = AIOKafkaConsumer(
            bootstrap_servers=settings.kafka_bootstrap_servers,
            client_id=f"{settings.worker_app_id}-raw-reader",
            group_id=None,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_poll_records=settings.worker_batch_size,
            fetch_min_bytes=FETCH_MIN_BYTES,
            fetch_max_wait_ms=FETCH_MAX_WAIT_MS,
        )
        self.epochs: dict[int, int] = {}

    async def __aenter__(self) -> RawReader:
        await self._consumer.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._consumer.stop()

    async def follow(self, ready: dict[int, int], gate: DeliveryGate) -> None:
        """Read exactly the ``ready`` partitions, each from the gate's expected offset."""
        tps = [TopicPartition(self._topic, p) for p in sorted(ready)]
        self._consumer.assign(tps)
        for tp in tps:
            self._consumer.seek(tp, await gate.expected(TP(tp.topic, tp.partition)))
        if ready.keys() != self.epochs.keys():
            log.info("raw reader now reads %s[%s]", self._topic, ",".join(map(str, sorted(ready))))
        self.epochs = dict(ready)

    async def fetch(self, timeout_s: float, max_records: int) -> dict[int, list[RawRecord]]:
        """Up to ``max_records`` records: partition -> its records in offset order."""
        if not self.epochs:
            return {}
        batches = await self._consumer.getmany(
            timeout_ms=int(timeout_s * 1000), max_records=max_records
        )
        return {tp.partition: records for tp, records in batches.items() if records}


async def run_intake(
    reader: RawReader,
    handover: RawPartitionHandover,
    gate: DeliveryGate,
    process: Callable[[dict[int, list[RawRecord]], Callable[[int], bool]], Awaitable[None]],
    *,
    lock: asyncio.Lock,
    batch_size: int,
    batch_timeout_s: float,
    on_idle: Callable[[], Awaitable[object]] | None = None,
) -> None:
    """Fetch and fold raw batches for ever (cancel to stop).

    ``process`` gets each batch (partition -> records) and a predicate of partitions it must
    apply under ``lock`` before folding: a partition's records are folded only if it is still
    ready with the epoch they were fetched under. ``on_idle`` runs whenever a fetch waited
    ``batch_timeout_s`` and found nothing: the worker has caught up with its partitions.
    """
    while True:
        ready = handover.ready()
        if ready != reader.epochs:
            handover.changed.clear()
            async with lock:  # the gate's expected offsets are settled between batches
                await reader.follow(ready, gate)
        if not ready:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(handover.changed.wait(), IDLE_WAIT_S)
            continue
        epochs = reader.epochs
        try:
            batches = await reader.fetch(batch_timeout_s, batch_size)
        except KafkaError as exc:  # the reader goes on from the gate's offsets after a pause
            log.warning("reading the raw topic failed, retrying in %.0f s: %r", FETCH_RETRY_S, exc)
            reader.epochs = {}
            await asyncio.sleep(FETCH_RETRY_S)
            continue
        if not batches:
            if on_idle is not None:
                await on_idle()
            continue

        def current(partition: int, epochs: dict[int, int] = epochs) -> bool:
            epoch = epochs.get(partition)
            return epoch is not None and handover.is_current(partition, epoch)

        await process(batches, current)
