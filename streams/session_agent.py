"""The micro-batch agent: raw records in, DLQ records, snapshots and session states out.

One call of :meth:`SessionBatchProcessor.process` handles one micro-batch of raw records read
in bulk (:mod:`streams.raw_intake`):

1. records of partitions revoked since they were fetched are left out; the delivery gate admits
   the others in offset order (:mod:`streams.delivery_gate`);
2. every admitted record is validated, and the accepted ones are folded, in log order, into
   decoded session states (a state is read from the table once, then stays cached);
3. the DLQ records and the snapshots the fold emitted (flush-now, closings) are sent, and the
   broker's acknowledgements awaited;
4. each touched session's state is staged; every ``SESSIONIZER_WORKER_STATE_WRITE_INTERVAL_S``
   all staged states are written to the table, one changelog record per session however many
   of its events and batches came in between, and their acknowledgements awaited. Only then
   does the gate let the offsets of the records folded into them be committed.

Snapshots are acknowledged before the state saying "sent" is written, so a crash can make a
snapshot be sent twice, never lost; and no offset is committed before the state holding its
record's effect is in the changelog, so a crash loses nothing (the records after the committed
offset are folded again into the last written state).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from time import monotonic
from typing import Any

from ingest.accepted_event import Rejection
from ingest.dlq_headers import SourceCoordinates, dlq_headers
from ingest.validation import validate_record
from streams.delivery_gate import DeliveryGate
from streams.faust_record_sender import FaustRecordSender
from streams.raw_record import RawRecord, record_timestamp_ms
from streams.session_fold import apply_event
from streams.session_state import new_session_state
from streams.session_table import SessionTable
from streams.snapshot import Snapshot, encode_snapshot
from streams.table_value import StoredSession
from streams.worker_metrics import WorkerMetrics

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Destinations:
    """Where the worker writes, and the fold's parameter."""

    sessions_topic: str
    dlq_topic: str
    gap_ms: int


async def send_snapshots(
    sender: FaustRecordSender, topic: str, snapshots: Sequence[Snapshot]
) -> list[Awaitable[Any]]:
    """Queue ``snapshots`` in order, keyed by session id; returns their ack awaitables."""
    acks = []
    for snapshot in snapshots:
        acks.append(
            await sender.send(
                topic,
                key=snapshot["session_id"].encode("utf-8", "surrogatepass"),
                value=encode_snapshot(snapshot),
            )
        )
    return acks


class SessionBatchProcessor:
    """Processes micro-batches; see the module docstring for the order of effects."""

    def __init__(
        self,
        *,
        sessions: SessionTable,
        sender: FaustRecordSender,
        destinations: Destinations,
        metrics: WorkerMetrics,
        lock: asyncio.Lock,
        gate: DeliveryGate,
        state_write_interval_s: float = 0.0,
    ) -> None:
        self._gate = gate
        self._broken = False  # a batch was interrupted: its effects may be half done
        self._write_interval_s = state_write_interval_s
        self._last_write = monotonic()
        self._unwritten_batches = 0
        self._sessions = sessions
        self._sender = sender
        self._to = destinations
        self._metrics = metrics
        self._lock = lock

    async def process(
        self,
        batches: Mapping[int, Sequence[RawRecord]],
        keep: Callable[[int], bool] | None = None,
    ) -> None:
        """Handle one micro-batch, partition -> records (all effects acknowledged on return).

        ``keep`` is checked under the lock: the records of a partition it refuses (revoked
        since they were fetched) are not folded.
        """
        async with self._lock:
            if self._broken:
                raise RuntimeError("an earlier micro-batch did not finish: nothing more is folded")
            if keep is not None:
                batches = {p: records for p, records in batches.items() if keep(p)}
            self._broken = True  # until the batch's effects are all acknowledged
            admission = await self._gate.admit(batches)
            if admission.admitted:
                await self._process(admission.admitted)
            self._broken = False
            self._unwritten_batches += 1
            if monotonic() - self._last_write >= self._write_interval_s:
                await self._write_states()

    async def write_states(self) -> int:
        """Write the staged states now if the write interval has passed (a timer calls this)."""
        async with self._lock:
            if self._broken or monotonic() - self._last_write < self._write_interval_s:
                return 0
            return await self._write_states()

    async def _write_states(self) -> int:
        """Write every staged state; then their records' offsets may be committed."""
        self._last_write = monotonic()
        if not self._unwritten_batches:
            return 0
        written = await self._sessions.write_staged()
        self._unwritten_batches = 0
        self._gate.mark_all_processed()
        self._metrics.values.table_writes += written
        return written

    async def _process(self, records: Sequence[RawRecord]) -> None:
        sessions = self._sessions
        values = self._metrics.values
        gap_ms = self._to.gap_ms
        touched: dict[bytes, tuple[StoredSession, int]] = {}  # key -> session, raw partition
        snapshots: list[Snapshot] = []
        acks: list[Awaitable[Any]] = []
        for record in records:
            partition, offset = record.partition, record.offset
            timestamp_ms = record_timestamp_ms(record)
            checked = validate_record(
                record.value, key=record.key, check_key=True, record_timestamp_ms=timestamp_ms
            )
            if isinstance(checked, Rejection):
                acks.append(await self._reject(record, checked, timestamp_ms))
                continue
            key: bytes = record.key  # type: ignore[assignment]  # equals session_id: checked
            entry = touched.get(key)
            stored = entry[0] if entry is not None else sessions.get(key, partition)
            if stored is None:
                stored = StoredSession(new_session_state(checked.session_id), partition)
            touched[key] = (stored, partition)
            if stored.already_applied(partition, offset):
                values.replayed += 1
                continue
            outcome = apply_event(stored.state, checked, gap_ms=gap_ms)
            stored.state = outcome.state
            stored.partition, stored.offset = partition, offset
            if outcome.duplicate:
                values.duplicates += 1
                continue
            values.accepted += 1
            if outcome.snapshots:
                snapshots.extend(outcome.snapshots)

        acks.extend(await send_snapshots(self._sender, self._to.sessions_topic, snapshots))
        if acks:
            await asyncio.gather(*acks)
        values.snapshots += len(snapshots)

        for key, (stored, partition) in touched.items():
            sessions.stage(key, stored, partition)
            sessions.mark(key, stored)
        sessions.trim()
        self._metrics.count_batch(len(records))

    async def _reject(
        self, record: RawRecord, rejection: Rejection, timestamp_ms: int | None
    ) -> Awaitable[Any]:
        self._metrics.count_rejected(rejection.reason)
        source = SourceCoordinates(record.topic, record.partition, record.offset, timestamp_ms)
        log.debug(
            "rejected %s[%d]@%d: %s: %s",
            record.topic,
            record.partition,
            record.offset,
            rejection.reason.value,
            rejection.message,
        )
        return await self._sender.send(
            self._to.dlq_topic,
            key=record.key,
            value=record.value,
            headers=dlq_headers(rejection, source),
        )

    def forget_partitions(self, partitions: set[int]) -> None:
        """Stop tracking the position of revoked partitions."""
        self._gate.forget(partitions)
